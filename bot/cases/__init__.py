"""A case's life after filing: its statuses and moves, assignment, notes, telling the
customer (issue 12, being built)."""
