"""A case's life after filing: the status machine's first status is `new` (was `open`), the
outcome told on resolving, the review flag and the customer's rating.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("outcome", sa.Text(), nullable=True))
        batch.add_column(sa.Column("review_requested", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("rating", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rating_comment", sa.Text(), nullable=True))
    op.execute("UPDATE cases SET status = 'new' WHERE status = 'open'")


def downgrade() -> None:
    op.execute("UPDATE cases SET status = 'open' WHERE status = 'new'")
    with op.batch_alter_table("cases") as batch:
        for column in ("rating_comment", "rating", "review_requested", "outcome"):
            batch.drop_column(column)
