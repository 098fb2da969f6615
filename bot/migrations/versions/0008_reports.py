"""Reports: each case's day of receipt (in the institution's zone), whether the bot filed it
without a person, when a person first answered and when it was resolved, and its three
JR/T 0169 dimensions as columns the reports group by; the key terms of each case and the
groups of similar complaints the reports' refresh finds.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_REPORT_COLUMNS = ["filed_on", "category", "business", "channel", "priority", "status"]
# A person answers the customer: a status move, a call-back, an extension told to them.
_RESPONSES = ("status_changed", "callback", "extended")



def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("filed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("filed_by_bot", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("first_response_at", _TS, nullable=True))
        batch.add_column(sa.Column("resolved_at", _TS, nullable=True))
        batch.add_column(sa.Column("reg_channel", sa.String(32), nullable=True))
        batch.add_column(sa.Column("reg_business", sa.String(32), nullable=True))
        batch.add_column(sa.Column("reg_reason", sa.String(32), nullable=True))
        batch.add_column(sa.Column("terms_at", _TS, nullable=True))
    _backfill()
    op.create_index("ix_cases_report", "cases", _REPORT_COLUMNS)
    op.create_index("ix_cases_regulatory", "cases",
                    ["filed_on", "reg_channel", "reg_business", "reg_reason"])
    op.create_table(
        "case_terms",
        sa.Column("case_id", _ID, sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("term", sa.String(40), primary_key=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=False),
        sa.Column("business", sa.String(32), nullable=True),
    )
    op.create_index("ix_case_terms_filed_on_term", "case_terms", ["filed_on", "term"])
    op.create_table(
        "clusters",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("business", sa.String(32), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("first_on", sa.Date(), nullable=False),
        sa.Column("last_on", sa.Date(), nullable=False),
        sa.Column("branches", sa.JSON(), nullable=False),
        sa.Column("latest", sa.JSON(), nullable=False),
        sa.Column("recent", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Integer(), nullable=False),
        sa.Column("growing", sa.Boolean(), nullable=False),
        sa.Column("major", sa.Boolean(), nullable=False),
        sa.Column("computed_at", _TS, nullable=False),
        sa.Column("alerted_at", _TS, nullable=True),
    )
    op.create_table(
        "cluster_cases",
        sa.Column("cluster_id", _ID, sa.ForeignKey("clusters.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("case_id", _ID, sa.ForeignKey("cases.id"), primary_key=True),
    )
    op.create_index("ix_cluster_cases_case_id", "cluster_cases", ["case_id"])


def _backfill() -> None:
    """The new columns for cases filed before them (small stores: row by row is enough)."""
    bind = op.get_bind()
    zone = _zone()
    cases = sa.table("cases", sa.column("id"), sa.column("filed_at", _TS),
                     sa.column("channel"), sa.column("status"), sa.column("regulatory", sa.JSON),
                     sa.column("conversation_id"), sa.column("filed_on", sa.Date),
                     sa.column("filed_by_bot", sa.Boolean), sa.column("first_response_at", _TS),
                     sa.column("resolved_at", _TS), sa.column("reg_channel"),
                     sa.column("reg_business"), sa.column("reg_reason"))
    events = sa.table("case_events", sa.column("case_id"), sa.column("actor"),
                      sa.column("action"), sa.column("after", sa.JSON), sa.column("at", _TS),
                      sa.column("id"))
    messages = sa.table("messages", sa.column("conversation_id"), sa.column("sender"),
                        sa.column("created_at", _TS))
    first: dict[int, datetime] = {}
    resolved: dict[int, datetime | None] = {}
    for case_id, actor, action, after, at in bind.execute(
            sa.select(events.c.case_id, events.c.actor, events.c.action, events.c.after,
                      events.c.at).where(events.c.action.in_(_RESPONSES))
            .order_by(events.c.id)):
        at = _aware(at)
        if actor.startswith("agent:") and case_id not in first:
            first[case_id] = at
        if action == "status_changed":
            status = (after or {}).get("status")
            if status == "resolved":
                resolved[case_id] = at
            elif status in ("reopened", "review_requested"):
                resolved[case_id] = None
    rows = bind.execute(sa.select(cases.c.id, cases.c.filed_at, cases.c.channel,
                                  cases.c.status, cases.c.regulatory,
                                  cases.c.conversation_id)).all()
    calls = sa.table("call_transcripts", sa.column("case_id"), sa.column("started_at", _TS))
    started = {case_id: _aware(at) for case_id, at in bind.execute(
        sa.select(calls.c.case_id, calls.c.started_at)
        .where(calls.c.case_id.is_not(None), calls.c.started_at.is_not(None)))}
    for case_id, filed_at, channel, status, regulatory, conversation_id in rows:
        filed_at = _aware(filed_at)
        person = channel in ("hotline", "branch")
        if not person and conversation_id is not None:
            person = bind.execute(sa.select(sa.func.count()).select_from(messages).where(
                messages.c.conversation_id == conversation_id,
                messages.c.sender.like("agent:%"),
                messages.c.created_at <= filed_at)).scalar_one() > 0
            # An agent's message after filing answers the case too (as responded_in_...).
            said = bind.execute(sa.select(sa.func.min(messages.c.created_at)).where(
                messages.c.conversation_id == conversation_id,
                messages.c.sender.like("agent:%"),
                messages.c.created_at >= filed_at)).scalar_one()
            if said is not None and (case_id not in first or _aware(said) < first[case_id]):
                first[case_id] = _aware(said)
        reg: dict[str, Any] = regulatory if isinstance(regulatory, dict) else {}
        bind.execute(cases.update().where(cases.c.id == case_id).values(
            filed_on=started.get(case_id, filed_at).astimezone(zone).date(),
            filed_by_bot=not person,
            first_response_at=filed_at if channel in ("hotline", "branch")
            else first.get(case_id),
            resolved_at=resolved.get(case_id) if status in ("resolved", "closed") else None,
            reg_channel=reg.get("channel"), reg_business=reg.get("business_type"),
            reg_reason=reg.get("reason")))


def _zone() -> ZoneInfo:
    """The institution's zone as the service reads it (environment or .env)."""
    try:
        from bot.settings import Settings

        return Settings().zone
    except Exception:  # a setting the service would refuse anyway: the environment's zone
        return ZoneInfo(os.environ.get("INTAKE_TIMEZONE") or "Asia/Shanghai")


def _aware(at: datetime) -> datetime:
    if isinstance(at, str):  # SQLite through a plain table() hands back text
        at = datetime.fromisoformat(at)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def downgrade() -> None:
    op.drop_index("ix_cluster_cases_case_id", "cluster_cases")
    op.drop_table("cluster_cases")
    op.drop_table("clusters")
    op.drop_index("ix_case_terms_filed_on_term", "case_terms")
    op.drop_table("case_terms")
    op.drop_index("ix_cases_regulatory", "cases")
    op.drop_index("ix_cases_report", "cases")
    with op.batch_alter_table("cases") as batch:
        for column in ("terms_at", "reg_reason", "reg_business", "reg_channel", "resolved_at",
                       "first_response_at", "filed_by_bot", "filed_on"):
            batch.drop_column(column)
