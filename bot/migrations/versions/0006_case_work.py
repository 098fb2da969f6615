"""Working cases to closure: agents marked available for automatic assignment, service
options a lead turns on (automatic assignment), deadline extensions, when the customer
rated, and the encrypted copies of ID-card and card numbers a lead may reveal.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("available", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("extension_level", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("extension_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("paused_days", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "options",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sensitive_values",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", _ID, sa.ForeignKey("conversations.id"), nullable=True),
        sa.Column("message_id", _ID, sa.ForeignKey("messages.id"), nullable=True),
        sa.Column("case_id", _ID, sa.ForeignKey("cases.id"), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("masked", sa.String(64), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sensitive_values_conversation_id", "sensitive_values",
                    ["conversation_id"])
    op.create_index("ix_sensitive_values_case_id", "sensitive_values", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_sensitive_values_case_id", "sensitive_values")
    op.drop_index("ix_sensitive_values_conversation_id", "sensitive_values")
    op.drop_table("sensitive_values")
    op.drop_table("options")
    with op.batch_alter_table("cases") as batch:
        for column in ("rated_at", "paused_days", "extension_reason", "extension_level"):
            batch.drop_column(column)
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("available")
