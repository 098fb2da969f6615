"""The agent console: agents, their sessions and API tokens, log-in attempts, the audit
trail, canned replies; who has a conversation and why it waits for a person.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", ID, primary_key=True, nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("disabled_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("login", name=op.f("uq_agents_login")),
    )
    op.create_table(
        "agent_sessions",
        sa.Column("id", ID, primary_key=True, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("agent_id", ID, nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("present_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_agent_sessions_token_hash")),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"],
                                name=op.f("fk_agent_sessions_agent_id_agents")),
    )
    op.create_index(op.f("ix_agent_sessions_agent_id"), "agent_sessions", ["agent_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", ID, primary_key=True, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("agent_id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"],
                                name=op.f("fk_api_tokens_agent_id_agents")),
    )
    op.create_index(op.f("ix_api_tokens_agent_id"), "api_tokens", ["agent_id"])
    op.create_table(
        "login_attempts",
        sa.Column("id", ID, primary_key=True, nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index("ix_login_attempts_login_at", "login_attempts", ["login", "at"])
    op.create_index("ix_login_attempts_address_at", "login_attempts", ["address", "at"])
    op.create_table(
        "audit_events",
        sa.Column("id", ID, primary_key=True, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(80), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_subject"), "audit_events", ["subject"])
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"])
    canned = op.create_table(
        "canned_replies",
        sa.Column("id", ID, primary_key=True, nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
        sa.UniqueConstraint("lang", "title", name=op.f("uq_canned_replies_lang_title")),
    )
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("handoff_reason", sa.String(32), nullable=True))
        batch.add_column(sa.Column("handoff_urgent", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("agent_id", ID, nullable=True))
        batch.add_column(sa.Column("taken_at", TS, nullable=True))
        batch.add_column(sa.Column("callback_reason", sa.String(64), nullable=True))
        batch.add_column(sa.Column("callback_at", TS, nullable=True))
        batch.create_foreign_key(op.f("fk_conversations_agent_id_agents"), "agents",
                                 ["agent_id"], ["id"])
        batch.create_index(op.f("ix_conversations_agent_id"), ["agent_id"])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("agent_id", ID, nullable=True))
        batch.create_foreign_key(op.f("fk_cases_agent_id_agents"), "agents",
                                 ["agent_id"], ["id"])
        batch.create_index(op.f("ix_cases_agent_id"), ["agent_id"])
    # Conversations already waiting (handoff_requested_at set before this revision) asked
    # for a person themselves: that was the only way in.
    op.execute("UPDATE conversations SET handoff_reason = 'customer_request' "
               "WHERE handoff_requested_at IS NOT NULL")
    # The canned replies a new store starts with; leads edit them in the console.
    seed = tomllib.loads(resources.files("bot.console").joinpath("data", "canned.toml")
                         .read_text("utf-8"))
    now = datetime.now(UTC)
    op.bulk_insert(canned, [{"lang": r["lang"], "title": r["title"], "text": r["text"],
                             "updated_by": "system", "updated_at": now}
                            for r in seed["reply"]])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index(op.f("ix_cases_agent_id"))
        batch.drop_constraint(op.f("fk_cases_agent_id_agents"), type_="foreignkey")
        batch.drop_column("agent_id")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index(op.f("ix_conversations_agent_id"))
        batch.drop_constraint(op.f("fk_conversations_agent_id_agents"), type_="foreignkey")
        for column in ("callback_at", "callback_reason", "taken_at", "agent_id",
                       "handoff_urgent", "handoff_reason"):
            batch.drop_column(column)
    for table in ("canned_replies", "audit_events", "login_attempts", "api_tokens",
                  "agent_sessions", "agents"):
        op.drop_table(table)
