"""A case's life after filing: its statuses and moves, assignment, deadlines, notes, telling
the customer, and the console's case pages."""
