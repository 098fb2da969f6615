"""Initial schema: customers, channel identities, conversations, messages, cases, outbox.

Revision ID: 0001
Revises:
Create Date: 2025-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model types, so later model changes do not rewrite history.
# BigInteger ids on PostgreSQL, INTEGER (rowid alias) on SQLite.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# bot.store.models.UTCDateTime is stored as this.
TS = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", ID, primary_key=True, nullable=False)


def _fk(column: str, table: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=op.f(f"fk_{table}_{column}_{referred}")
    )


def _pk(table: str, column: str = "id") -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(column, name=op.f(f"pk_{table}"))


def _index(table: str, *columns: str, name: str | None = None) -> None:
    op.create_index(op.f(name or f"ix_{table}_{columns[0]}"), table, list(columns), unique=False)


def upgrade() -> None:
    op.create_table(
        "customers",
        _id(),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("phone_confirmed_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _pk("customers"),
    )
    _index("customers", "phone")

    op.create_table(
        "channel_identities",
        _id(),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _pk("channel_identities"),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_channel_identities_channel_external_id")
        ),
        _fk("customer_id", "channel_identities", "customers"),
    )
    _index("channel_identities", "customer_id")

    op.create_table(
        "conversations",
        _id(),
        sa.Column("identity_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("handoff_requested_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _pk("conversations"),
        sa.UniqueConstraint("identity_id", name=op.f("uq_conversations_identity_id")),
        _fk("identity_id", "conversations", "channel_identities"),
        _fk("customer_id", "conversations", "customers"),
    )
    _index("conversations", "customer_id")

    op.create_table(
        "messages",
        _id(),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=True),
        sa.Column("reply_to_id", ID, nullable=True),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("quick_replies", sa.JSON(), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=True),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _pk("messages"),
        sa.UniqueConstraint("channel", "external_id", name=op.f("uq_messages_channel_external_id")),
        _fk("conversation_id", "messages", "conversations"),
        _fk("reply_to_id", "messages", "messages"),
    )
    _index("messages", "conversation_id", "id", name="ix_messages_conversation_id_id")
    _index("messages", "reply_to_id")

    op.create_table(
        "case_counters",
        sa.Column("day", sa.String(8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        _pk("case_counters", "day"),
    )

    op.create_table(
        "cases",
        _id(),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("business", sa.String(32), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("incident_time", sa.Date(), nullable=True),
        sa.Column("incident_time_text", sa.String(200), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(18, 2), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("branch", sa.String(200), nullable=True),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("secondary_categories", sa.JSON(), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("regulatory", sa.JSON(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("filed_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _pk("cases"),
        sa.UniqueConstraint("number", name=op.f("uq_cases_number")),
        _fk("customer_id", "cases", "customers"),
        _fk("conversation_id", "cases", "conversations"),
    )
    _index("cases", "customer_id")
    _index("cases", "conversation_id")
    _index("cases", "priority")
    _index("cases", "status", "due_date", name="ix_cases_status_due_date")

    op.create_table(
        "case_events",
        _id(),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("at", TS, nullable=False),
        _pk("case_events"),
        _fk("case_id", "case_events", "cases"),
    )
    _index("case_events", "case_id")

    op.create_table(
        "outbox",
        _id(),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _pk("outbox"),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
        _fk("message_id", "outbox", "messages"),
        _fk("conversation_id", "outbox", "conversations"),
    )
    _index("outbox", "conversation_id")
    _index("outbox", "status", "next_attempt_at", name="ix_outbox_status_next_attempt_at")

    op.create_table(
        "channel_state",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _pk("channel_state", "key"),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes (and on PostgreSQL its id sequence) with it.
    for table in (
        "channel_state",
        "outbox",
        "case_events",
        "cases",
        "case_counters",
        "messages",
        "conversations",
        "channel_identities",
        "customers",
    ):
        op.drop_table(table)
