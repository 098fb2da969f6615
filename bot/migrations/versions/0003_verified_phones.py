"""A customer's phone as verified by the channel (not merely typed): the only link between
identities.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing customers start unverified: phones confirmed by typing before this revision
    # were claims, and they link no one from now on.
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("phone_verified_at", sa.DateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("phone_verified_at")
