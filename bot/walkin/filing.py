"""Walk-in complaints: what branch staff type at the counter, prefilled by the engine and
filed as a case with channel `branch`, the same numbers and deadlines as every other case.

No HTTP here: the pages (routes.py) hand in the form as a mapping and get back the form to
show, or the case filed. The engine reads the customer's words exactly as it reads a chat
message; on filing, the final fields go through the engine's `build_case` again, so category,
priority and their reasons follow the engine's rules on what staff confirmed.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from workflow.classify import BUSINESS_LINES, classify_business
from workflow.deadlines import due_date
from workflow.engine import Engine, build_case
from workflow.extract.phones import find_phones
from workflow.extract.sensitive import find_sensitive, redact
from workflow.model import Hints, Slot, State
from workflow.text import detect_language

from ..console.rules import Actor
from ..pipeline import Pipeline
from ..store import audit, cases, customers
from ..store.models import Case

CHANNEL = "branch"
# What each field may hold (the store's columns; the engine reads 4000 characters).
LIMITS = {"description": 4000, "name": 200, "phone": 32, "branch": 200, "resolution": 1000}
CURRENCIES = ("CNY", "USD", "EUR", "GBP", "HKD", "JPY")
MAX_AMOUNT = Decimal("9999999999999999.99")  # Numeric(18, 2)
_READ_CAP = 20000  # characters read of any one form value (the body limit bounds the rest)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AMOUNT_NOISE = re.compile(r"[,，\s¥￥元]")


@dataclass(frozen=True)
class Form:
    """The form as staff see it: every value a string, ID and card numbers masked."""

    description: str = ""
    name: str = ""
    phone: str = ""
    business: str = ""
    incident_time: str = ""
    amount: str = ""
    currency: str = "CNY"
    branch: str = ""
    resolution: str = ""
    language: str = ""  # the customer's language, as the engine detected it
    # The words the engine read the date from ("昨天") and the date it read: kept on the
    # case only while staff leave that date as it was.
    incident_time_text: str = ""
    incident_time_from: str = ""

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> Form:
        values: dict[str, str] = {}
        for f in fields(cls):
            raw = data.get(f.name)
            if raw is None or not isinstance(raw, str):
                continue
            text = raw.replace("\x00", "")[:_READ_CAP].strip()
            values[f.name] = _masked(text)
        values["currency"] = (values.get("currency") or "CNY").upper()
        return cls(**values)


@dataclass(frozen=True)
class Preview:
    """What the engine makes of the form now: its labels and the words behind them."""

    category: str
    secondary: tuple[str, ...]
    priority: str
    reasons: dict[str, Any]
    missing: tuple[str, ...]
    suggested_business: str | None = None  # what the engine read from the words


@dataclass(frozen=True)
class Filed:
    number: str
    due_date: date
    priority: str
    missing: tuple[str, ...]


class Invalid(Exception):
    """The form cannot be filed: field -> key of the message in [walkin] (problem_*)."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__(", ".join(f"{k}: {v}" for k, v in problems.items()))


def _masked(text: str) -> str:
    spans = find_sensitive(text)
    return redact(text, spans) if spans else text


# ---- prefill ----------------------------------------------------------------------------


def prefill(engine: Engine, form: Form, now: datetime) -> Form:
    """The form with what the engine reads in the customer's words filled into the fields
    staff left empty (what they typed stays). `now`: local time in the institution's zone,
    which "昨天" is read against. Raises Invalid when there are no words to read."""
    problems = _text_problems(form, only=("description",))
    if problems:
        raise Invalid(problems)
    step = engine.step(None, form.description, now, Hints(channel=CHANNEL))
    found = build_case(step.state)
    values: dict[str, str] = {}

    def fill(name: str, value: Any) -> None:
        if value is not None and str(value).strip() and not getattr(form, name):
            values[name] = _masked(str(value))

    for name in ("name", "phone", "business", "branch", "resolution"):
        fill(name, found.get(name))
    if not form.incident_time and found.get("incident_time"):
        values["incident_time"] = values["incident_time_from"] = str(found["incident_time"])
        values["incident_time_text"] = _masked(str(found.get("incident_time_text") or ""))
    if not form.amount and found.get("amount") is not None:
        values["amount"] = _plain_amount(Decimal(str(found["amount"])))
        values["currency"] = str(found.get("currency") or "CNY")
    if not form.language:
        values["language"] = step.state.lang
    return replace(form, **values)


def preview(form: Form, actor: Actor | None = None) -> Preview:
    """The engine's classification of the form as it stands (invalid values left out)."""
    state = _state(form, _lenient(form), actor)
    built = build_case(state)
    suggested = classify_business(_words(form))
    return Preview(category=built["category"], secondary=tuple(built["secondary_categories"]),
                   priority=built["priority"], reasons=built["reasons"],
                   missing=tuple(built["missing"]),
                   suggested_business=suggested.value if suggested else None)


# ---- filing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checked:
    name: str | None
    phone: str | None  # E.164
    business: str | None
    incident_time: date | None
    amount: Decimal | None
    currency: str | None
    branch: str | None
    resolution: str | None
    language: str


def check(form: Form, today: date) -> _Checked:
    """The form's values, normalised; raises Invalid with every problem at once."""
    problems = _text_problems(form)
    for required in ("name", "branch"):
        if not getattr(form, required):
            problems.setdefault(required, "problem_required")
    checked = _lenient(form, today, problems)
    if checked.phone is None:
        problems.setdefault("phone", "problem_phone" if form.phone else "problem_required")
    if checked.business is None:
        problems.setdefault("business", "problem_business" if form.business
                            else "problem_required")
    if problems:
        raise Invalid(problems)
    return checked


def file_case(pipeline: Pipeline, actor: Actor, form: Form, address: str | None = None
              ) -> Filed:
    """Validate the form and file its case, in one transaction: the customer (found or
    created by the phone typed, within walk-ins only), the case with its `filed` event by
    this agent, a call-back when required fields are left open, the audit, the consoles
    told, and automatic assignment when it is on. Raises Invalid (nothing stored)."""
    settings = pipeline.settings
    now = pipeline.clock()
    today = now.astimezone(settings.zone).date()
    checked = check(form, today)
    draft = build_case(_state(form, checked, actor))
    with pipeline.transaction() as session:
        customer_id = _customer(session, checked, now)
        number = cases.next_number(session, today, settings.case_prefix)
        due = due_date(today, settings.answer_days)
        case = cases.file(session, draft, number=number, customer_id=customer_id,
                          conversation_id=None, channel=CHANNEL, now=now, due=due,
                          actor=actor.label, received=today)
        if case.missing:
            # The customer has left the counter: someone calls to complete the case.
            cases.flag_callback(session, case, "fields_missing", now,
                                detail=", ".join(case.missing), actor=actor.label)
        audit.record(session, actor=actor.label, action="walk_in_filed",
                     subject=f"case:{number}", now=now, address=address,
                     detail={"branch": case.branch, "priority": case.priority})
        pipeline.notify(session, "filed", None, urgent=case.priority == "urgent")
        _assign(session, case, now)
        filed = Filed(number, due, case.priority, tuple(case.missing or ()))
    pipeline.metrics.cases_filed.labels(CHANNEL, filed.priority).inc()
    return filed


def _customer(session: Session, checked: _Checked, now: datetime) -> int:
    """A walk-in customer is found by the phone typed at the counter among walk-ins only.
    A typed number is a claim: it is kept on the case and the customer's own record and
    links no one on any other channel (only a phone a channel verified does)."""
    assert checked.phone is not None
    identity = customers.identity_for(session, CHANNEL, checked.phone, now, checked.name)
    customers.confirm_phone(session, identity.customer_id, checked.name, checked.phone, now)
    return identity.customer_id


def _assign(session: Session, case: Case, now: datetime) -> None:
    """Automatic assignment (bot/cases/assignment.py), where the service has it."""
    if importlib.util.find_spec("bot.cases.assignment") is None:
        return
    hook = getattr(importlib.import_module("bot.cases.assignment"), "on_filed", None)
    if hook is not None:
        hook(session, case, now)


# ---- inside -----------------------------------------------------------------------------


def _text_problems(form: Form, only: tuple[str, ...] | None = None) -> dict[str, str]:
    problems: dict[str, str] = {}
    for name, limit in LIMITS.items():
        if only is not None and name not in only:
            continue
        value = getattr(form, name)
        if name == "description" and not value:
            problems[name] = "problem_required"
        elif len(value) > limit:
            problems[name] = "problem_too_long"
    return problems


def _lenient(form: Form, today: date | None = None,
             problems: dict[str, str] | None = None) -> _Checked:
    """Every value that reads; what does not is None (and a problem, when collecting)."""
    problems = problems if problems is not None else {}
    phones = find_phones(form.phone, default_region="CN") if form.phone else []
    business = form.business if form.business in BUSINESS_LINES else None
    incident: date | None = None
    if form.incident_time:
        if _ISO_DATE.match(form.incident_time):
            try:
                incident = date.fromisoformat(form.incident_time)
            except ValueError:
                incident = None
        if incident is None or incident.year < 1900:
            incident = None
            problems.setdefault("incident_time", "problem_date")
        elif today is not None and incident > today:
            incident = None
            problems.setdefault("incident_time", "problem_future")
    amount: Decimal | None = None
    currency: str | None = None
    if form.amount:
        try:
            amount = Decimal(_AMOUNT_NOISE.sub("", form.amount))
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
            amount = None
            problems.setdefault("amount", "problem_amount")
        else:
            amount = amount.quantize(Decimal("0.01"))
        if form.currency not in CURRENCIES:
            problems.setdefault("currency", "problem_currency")
        else:
            currency = form.currency
    language = form.language if form.language in ("zh", "en") else \
        detect_language(form.description)
    return _Checked(
        name=form.name or None,
        phone=phones[0].e164 if phones else None,
        business=business,
        incident_time=incident,
        amount=amount if currency else None,
        currency=currency if amount is not None else None,
        branch=form.branch or None,
        resolution=form.resolution or None,
        language=language)


def _words(form: Form) -> str:
    return "\n".join(part for part in (form.description, form.resolution) if part)


def _state(form: Form, checked: _Checked, actor: Actor | None) -> State:
    """The engine's state for these fields, as if the customer had said them in a chat:
    `build_case` on it gives the case draft with the engine's labels and reasons."""
    slots: dict[str, Slot] = {}
    if form.description:
        slots["description"] = Slot(form.description, form.description)
    if checked.name:
        slots["name"] = Slot(checked.name, checked.name)
    if checked.phone:
        slots["phone"] = Slot(checked.phone, form.phone)
    if checked.business:
        found = classify_business(_words(form))
        # The words the engine heard, when it agrees; else who chose the line.
        reasons = list(found.reasons) if found and found.value == checked.business else \
            ([actor.label] if actor else [])
        slots["business"] = Slot(checked.business, "", extra={"reasons": reasons})
    if checked.incident_time:
        iso = checked.incident_time.isoformat()
        said = form.incident_time_text if form.incident_time_from == iso else ""
        slots["incident_time"] = Slot(iso, said or iso)
    if checked.amount is not None:
        slots["amount"] = Slot(str(checked.amount), form.amount,
                               extra={"currency": checked.currency or "CNY"})
    if checked.resolution:
        slots["resolution"] = Slot(checked.resolution, checked.resolution)
    if checked.branch:
        slots["branch"] = Slot(checked.branch, checked.branch)
    return State(lang=checked.language, channel=CHANNEL, slots=slots,
                 description=[form.description] if form.description else [])


def _plain_amount(value: Decimal) -> str:
    return str(value.to_integral_value()) if value == value.to_integral_value() else str(value)
