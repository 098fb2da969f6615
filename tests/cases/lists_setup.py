"""Cases put straight into the service's store for the list tests: a due date days away,
a priority, an assignee, a status, as a test's setup (the pipeline files them the same way,
through `bot.store.cases.file`)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bot.store import agents, cases, customers
from bot.store.models import Case, CaseEvent
from tests.service.conftest import LiveServer

ROW = re.compile(r'<tr class="[^"]*" data-case="([^"]+)"')


def today(live: LiveServer) -> date:
    return datetime.now(UTC).astimezone(live.settings.zone).date()


def put_case(live: LiveServer, *, due_in: int, priority: str = "normal",
             agent: str | None = None, status: str = "new", review: bool = False,
             channel: str = "webchat", name: str = "测试客户") -> str:
    """A filed case due `due_in` days from today (negative: overdue); its number."""
    now = datetime.now(UTC)
    with live.service.sessions.begin() as session:
        identity = customers.identity_for(session, channel, uuid.uuid4().hex, now)
        number = f"TS{uuid.uuid4().hex[:10].upper()}"
        draft = {"name": name, "phone": "+8613800138000", "business": "deposit",
                 "description": "柜员多收了手续费", "priority": priority, "language": "zh"}
        case = cases.file(session, draft, number=number, customer_id=identity.customer_id,
                          conversation_id=None, channel=channel, now=now,
                          due=today(live) + timedelta(days=due_in))
        case.status, case.review_requested = status, review
        if agent is not None:
            found = agents.by_login(session, agent)
            assert found is not None
            case.agent_id = found.id
    return number


def rows(html: str) -> list[str]:
    """The case numbers of a list page, top to bottom."""
    return ROW.findall(html)


def count(html: str, view: str) -> int:
    found = re.search(rf'<b data-count="{view}">(\d+)</b>', html)
    assert found, f"no count for {view}"
    return int(found.group(1))


def case_of(live: LiveServer, number: str) -> Case:
    with live.service.sessions() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        assert case is not None
        session.expunge(case)
        return case


def events_of(live: LiveServer, number: str, action: str) -> list[CaseEvent]:
    with live.service.sessions() as session:
        found = list(session.scalars(select(CaseEvent).join(Case, CaseEvent.case_id == Case.id)
                                     .where(Case.number == number, CaseEvent.action == action)
                                     .order_by(CaseEvent.id)))
        for event in found:
            session.expunge(event)
        return found
