"""Satisfaction after a case is resolved: the question, reading the answer, the review offer.

Pure, like the engine: the shell calls `ask` when a case is resolved (the state remembers the
question), and the engine's step gives each later message to `answer` first. The dialogue:

    rating   1-5 (digits, Chinese digits, stars, 满意 / satisfied ...) -> RatingGiven;
             1-2 -> offer a review (stage review); 3-5 -> thanks, a comment welcome (stage
             comment) unless one came with the score;  anything else -> asked once more, then
             the message goes on as an ordinary one
    comment  no / 不用了 -> done;  text -> RatingComment
    review   yes / 复核 -> ReviewRequested (the shell reopens the case for review and calls
             the engine's `resume` with ReviewOpened);  no -> done;  text -> a comment, the
             offer stays
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from . import catalog, cues
from .model import (
    QuickReply,
    RatingComment,
    RatingGiven,
    Reply,
    ReviewRequested,
    State,
    Step,
)
from .text import fold

MAX_COMMENT = 1000
RETRIES = 1  # a message that is no rating is asked about once more, then read as usual
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_UNIT = r"\s*(?:分|星|颗星|stars?\b|/\s*5)?"
# A digit 1-5 not part of a longer number; a Chinese digit only alone or with its unit
# ("一般" is no score).
_LEAD = re.compile(rf"^\s*(?P<digit>[1-5])(?!\d){_UNIT}", re.IGNORECASE)
_LEAD_CN = re.compile(r"^\s*(?P<cn>[一二两三四五])\s*(?:分|星|颗星)?"
                      r"(?=$|[\s,，.。!！:：;；、\-—~])")
_STARS = re.compile(r"^\s*(?P<stars>[★⭐]{1,5})")
_SEPARATORS = " \t\r\n,，.。!！:：;；、-—~"
_PARTICLES = "吧啊呀呢了哦嘛的啦哈"


@dataclass(frozen=True)
class _Vocab:
    scores: tuple[tuple[str, int], ...]  # longest first: 非常不满意 before 不满意 before 满意
    review: frozenset[str]


@lru_cache(maxsize=1)
def _vocab() -> _Vocab:
    raw = tomllib.loads(resources.files("workflow").joinpath("data", "feedback.toml")
                        .read_text("utf-8"))
    scores = sorted(((fold(k).lower(), int(v)) for k, v in raw["score"].items()),
                    key=lambda kv: len(kv[0]), reverse=True)
    return _Vocab(tuple(scores), frozenset(fold(w).lower() for w in raw["review"]["words"]))


def parse_rating(text: str) -> tuple[int, str | None] | None:
    """(score 1-5, the comment after it) of an answer to the satisfaction question."""
    folded = fold(text).strip()
    m = _LEAD.match(folded)
    if m:
        return int(m.group("digit")), _comment(folded[m.end():])
    m = _LEAD_CN.match(folded)
    if m:
        return _CN_DIGITS[m.group("cn")], _comment(folded[m.end():])
    m = _STARS.match(folded)
    if m:
        return len(m.group("stars")), _comment(folded[m.end():])
    lowered = folded.lower()
    for word, score in _vocab().scores:
        if lowered.startswith(word):
            rest = folded[len(word):]
            if word.isascii() and (rest[:1].isalnum() or rest[:2].strip().isalnum()):
                continue  # "good" in "goodness" or "good job": not a rating by itself
            return score, _comment(rest)
    return None


def _comment(rest: str) -> str | None:
    rest = rest.strip(_SEPARATORS)
    if not rest.strip(_PARTICLES):
        return None  # "还行吧": the particle is no comment
    return rest[:MAX_COMMENT]


def wants_review(text: str) -> bool:
    n = fold(text).lower().strip(_SEPARATORS)
    return n in _vocab().review or cues.is_yes(text)


def ask(state: State, number: str) -> Step:
    """The satisfaction question after case `number` was resolved; the state remembers it."""
    st = state.copy()
    st.feedback = {"case": number, "stage": "rating", "tries": 0}
    return Step(st, (rating_question(st.lang, number),))


def rating_question(lang: str, number: str) -> Reply:
    return Reply(catalog.text(lang, "feedback.ask", number=number), _score_buttons(lang))


def answer(state: State, text: str) -> tuple[list[Reply], list[Any]] | None:
    """Read `text` as the answer to the pending feedback question: (replies, events), or None
    when it is no answer and should be read as an ordinary message. Updates `state`."""
    fb = state.feedback
    if not fb:
        return None
    lang, number = state.lang, str(fb.get("case") or "")
    stage = fb.get("stage")
    if stage == "rating":
        parsed = parse_rating(text)
        if parsed is None:
            if int(fb.get("tries") or 0) >= RETRIES or len(fold(text).strip()) > 20:
                state.feedback = None  # a new subject: let the bot read it as usual
                return None
            fb["tries"] = int(fb.get("tries") or 0) + 1
            return [Reply(catalog.text(lang, "feedback.again"), _score_buttons(lang))], []
        score, comment = parsed
        events: list[Any] = [RatingGiven(number, score, comment)]
        if score <= 2:
            state.feedback = {"case": number, "stage": "review", "tries": 0, "score": score}
            return [Reply(catalog.text(lang, "feedback.low"), _review_buttons(lang))], events
        if comment:
            state.feedback = None
            return [Reply(catalog.text(lang, "feedback.thanks"))], events
        state.feedback = {"case": number, "stage": "comment", "tries": 0, "score": score}
        return [Reply(catalog.text(lang, "feedback.comment_invite"), _skip_button(lang))], events
    if stage == "comment":
        state.feedback = None
        if cues.is_no(text) or _is_skip(lang, text):
            return [Reply(catalog.text(lang, "feedback.done"))], []
        return ([Reply(catalog.text(lang, "feedback.comment_thanks"))],
                [RatingComment(number, text.strip()[:MAX_COMMENT])])
    if stage == "review":
        if wants_review(text):
            state.feedback = None
            return [], [ReviewRequested(number, int(fb.get("score") or 0))]
        if cues.is_no(text) or _is_skip(lang, text):
            state.feedback = None
            return [Reply(catalog.text(lang, "feedback.no_review"))], []
        if int(fb.get("tries") or 0) >= RETRIES:
            state.feedback = None
            return None
        fb["tries"] = int(fb.get("tries") or 0) + 1
        # What they wrote explains the rating: kept as its comment; the offer stays open.
        return ([Reply(catalog.text(lang, "feedback.review_again"), _review_buttons(lang))],
                [RatingComment(number, text.strip()[:MAX_COMMENT])])
    state.feedback = None
    return None


def _score_buttons(lang: str) -> tuple[QuickReply, ...]:
    return tuple(QuickReply(catalog.text(lang, f"feedback.score_{n}"), str(n))
                 for n in (5, 4, 3, 2, 1))


def _review_buttons(lang: str) -> tuple[QuickReply, ...]:
    review, skip = catalog.text(lang, "feedback.review_label"), catalog.text(lang, "feedback.skip")
    return QuickReply(review, review), QuickReply(skip, skip)


def _skip_button(lang: str) -> tuple[QuickReply, ...]:
    skip = catalog.text(lang, "feedback.skip")
    return (QuickReply(skip, skip),)


def _is_skip(lang: str, text: str) -> bool:
    return fold(text).strip(_SEPARATORS).lower() == \
        fold(catalog.text(lang, "feedback.skip")).lower()
