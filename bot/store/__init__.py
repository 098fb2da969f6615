"""The case store: SQLAlchemy models, the database connection and migrations.

Each table has one owner module that reads and writes it; everything else calls that module.
"""
