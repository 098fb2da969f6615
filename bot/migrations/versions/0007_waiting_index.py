"""The queue of conversations waiting for a person, indexed: how many wait ahead of a
customer is asked at every handoff, and without the index it read every conversation.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WAITING = sa.text("status = 'bot' AND handoff_requested_at IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_conversations_waiting", "conversations",
                    ["handoff_urgent", "handoff_requested_at"],
                    sqlite_where=_WAITING, postgresql_where=_WAITING)


def downgrade() -> None:
    op.drop_index("ix_conversations_waiting", table_name="conversations")
