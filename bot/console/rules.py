"""Who may do what in the console, and what the queue promises: plain functions over plain
data, so the rules are tested without HTTP or a store.

A conversation is *waiting* when the bot has queued it for a person and no agent has it yet;
*held* when an agent has it (the bot is silent); otherwise the bot has it, or it is closed.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

ROLES = ("agent", "lead")
# What a person needs on average to take up and settle one waiting conversation; the wait
# estimate the customer is given scales it by the queue ahead and the agents online.
MINUTES_PER_CONVERSATION = 4
ONLINE_WITHIN = timedelta(seconds=90)  # an open console reports in every 30 s
# WeChat's customer-service API reaches a user only within 48 hours of their last message;
# a reply queued at the edge would expire on the way, hence the margin.
WECHAT_WINDOW = timedelta(hours=48) - timedelta(minutes=5)
PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


@dataclass(frozen=True)
class Actor:
    """The agent acting, as the rules see them."""

    id: int
    login: str
    name: str
    role: str
    lang: str = "zh"

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"

    @property
    def label(self) -> str:
        """How the audit trail and the message store name them."""
        return f"agent:{self.login}"


@dataclass(frozen=True)
class Situation:
    """A conversation as far as the rules care."""

    status: str  # bot | handoff | closed
    waiting: bool  # queued for a person
    holder_id: int | None = None
    holder_name: str | None = None
    case_agent_id: int | None = None  # the agent its case is assigned to, if any


class Refused(Exception):
    """Not allowed. `code` names the reason in the console's catalogs (data/ui.*.toml,
    [refused]); `status` is the HTTP answer: 403 forbidden, 404 not found, 409 conflict,
    422 invalid."""

    def __init__(self, code: str, status: int = 403, **values: str) -> None:
        self.code, self.status, self.values = code, status, values
        self.message = text("en", f"refused.{code}", **values)
        super().__init__(self.message)

    def in_language(self, lang: str) -> str:
        return text(lang, f"refused.{self.code}", **self.values)


# The packages whose pages the console shows: each keeps its own texts in
# data/*.<lang>.toml (one top-level table per file, so keys never clash) and its own
# templates folder (see web.py).
FEATURES = ("bot.console", "bot.cases", "bot.walkin", "bot.reports")


@lru_cache(maxsize=2)
def catalog(lang: str) -> dict[str, Any]:
    """The console's texts in `lang` (zh | en), from every feature's data files."""
    lang = lang if lang in ("zh", "en") else "zh"
    merged: dict[str, Any] = {}
    for package in FEATURES:
        folder = resources.files(package).joinpath("data")
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(f".{lang}.toml"):
                _merge(merged, tomllib.loads(entry.read_text("utf-8")))
    return merged


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def text(lang: str, key: str, **values: Any) -> str:
    """One console text; a missing key shows itself rather than failing the page."""
    node: Any = catalog(lang)
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, str):
        return key
    return node.format(**values) if values else node


def may_view(actor: Actor, s: Situation) -> None:
    """A lead sees everything; an agent the queue and their own conversations."""
    if actor.is_lead:
        return
    if s.holder_id is not None and s.holder_id != actor.id:
        raise Refused("held_by", 403, name=s.holder_name or "?")
    if s.holder_id == actor.id or s.waiting:
        return
    if s.case_agent_id is not None and s.case_agent_id != actor.id:
        raise Refused("case_elsewhere")
    if s.case_agent_id == actor.id:
        return
    raise Refused("not_yours")


def may_take(actor: Actor, s: Situation) -> None:
    """Take a waiting conversation; a lead may also step into one the bot has."""
    if s.holder_id is not None:
        if s.holder_id == actor.id:
            raise Refused("yours_already", 409)
        raise Refused("held_by", 409, name=s.holder_name or "?")
    if s.status == "closed":
        raise Refused("closed", 409)
    if not s.waiting and not actor.is_lead:
        raise Refused("not_waiting", 409)


def may_reply(actor: Actor, s: Situation) -> None:
    if s.holder_id != actor.id:
        raise Refused("take_first", 409)


def may_release(actor: Actor, s: Situation) -> None:
    """Hand back to the bot: the agent who has it, or a lead."""
    if s.holder_id is None:
        raise Refused("not_held", 409)
    if s.holder_id != actor.id and not actor.is_lead:
        raise Refused("held_by", 403, name=s.holder_name or "?")


def may_close(actor: Actor, s: Situation) -> None:
    if s.status == "closed":
        raise Refused("closed", 409)
    if s.holder_id is None and not (actor.is_lead and s.waiting):
        raise Refused("take_first", 409)
    if s.holder_id is not None and s.holder_id != actor.id and not actor.is_lead:
        raise Refused("held_by", 403, name=s.holder_name or "?")


def may_reassign(actor: Actor, s: Situation, target_id: int, target_active: bool) -> None:
    if not actor.is_lead:
        raise Refused("lead_only")
    if not target_active:
        raise Refused("agent_disabled", 409)
    if s.status == "closed":
        raise Refused("closed", 409)
    if s.holder_id == target_id:
        raise Refused("same_agent", 409)


def may_edit_canned(actor: Actor) -> None:
    if not actor.is_lead:
        raise Refused("lead_only")


def estimate_wait(ahead: int, agents_online: int) -> int | None:
    """Minutes until a person joins, roughly; None with no agent online."""
    if agents_online <= 0:
        return None
    return max(1, math.ceil((ahead + 1) * MINUTES_PER_CONVERSATION / agents_online))


def out_of_reach(channel: str, last_inbound: datetime | None, now: datetime) -> str | None:
    """Why a reply cannot reach the customer on their channel now, or None if it can."""
    if channel == "wechat" and (last_inbound is None or now - last_inbound > WECHAT_WINDOW):
        return "window_closed"
    if channel == "hotline":
        return "hotline"
    return None


def fill_placeholders(text: str, values: dict[str, str | None]) -> str:
    """A canned reply with its {placeholders} filled; one without a value stays visible for
    the agent to complete before sending."""
    out = text
    for key, value in values.items():
        if value:
            out = out.replace("{" + key + "}", value)
    return out


def queue_key(urgent: bool, waiting_since: datetime) -> tuple[int, datetime]:
    """Waiting conversations: urgent first, then the longest waiting."""
    return (0 if urgent else 1, waiting_since)


def case_key(priority: str, overdue: bool, due: object, filed: datetime) -> tuple:
    """Open cases: overdue first, then by priority, then the earliest due."""
    return (0 if overdue else 1, PRIORITY_ORDER.get(priority, 9), due, filed)
