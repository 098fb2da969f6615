"""Call-back flags on cases, how an outbox row goes out, and imported hotline calls.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("callback_reason", sa.String(64), nullable=True))
        batch.add_column(sa.Column("callback_at", TS, nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("via", sa.String(16), nullable=True))
    op.create_table(
        "call_transcripts",
        sa.Column("id", ID, primary_key=True, nullable=False),
        sa.Column("call_key", sa.String(200), nullable=False),
        sa.Column("call_id", sa.String(128), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("caller", sa.String(32), nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("source", sa.String(500), nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("turns", sa.JSON(), nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_transcripts")),
        sa.UniqueConstraint("call_key", name=op.f("uq_call_transcripts_call_key")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_call_transcripts_case_id_cases")),
    )
    op.create_index(op.f("ix_call_transcripts_case_id"), "call_transcripts", ["case_id"])
    op.create_index(op.f("ix_call_transcripts_content_hash"), "call_transcripts",
                    ["content_hash"])


def downgrade() -> None:
    op.drop_index(op.f("ix_call_transcripts_content_hash"), table_name="call_transcripts")
    op.drop_index(op.f("ix_call_transcripts_case_id"), table_name="call_transcripts")
    op.drop_table("call_transcripts")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("via")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("callback_at")
        batch.drop_column("callback_reason")
