"""Reading a hotline call: a transcript of speaker-labelled turns in, a case out, no dialogue.

A call is read with the chat engine's own machinery, turn by turn, but as a transcript rather
than a chat:

- Only the customer's turns are read as the customer's words. Each is handed to the engine
  (`Engine.step`) as if the bot were waiting for the field the agent's preceding question
  asked for ("请问您的手机号是多少？" -> the phone), so an answer is parsed as the chat parses
  the answer to that question ("幺三八……" -> the phone, "上周五" -> the date, "张伟" -> the
  name), and anything else the turn says fills the other fields and the description.
- An agent's read-back ("您的手机号是138 0013 8000对吗？", "请问是张伟先生吗？") counts once the
  customer says yes: its words are read by the engine as if the customer had said them and
  the fields they state are set and listed in `confirmed`. A "no" ("不对，是139……") makes the
  customer's next words the answer for the field read back, which wins over the read-back.
  Otherwise the agent's words never reach the case.
- Speech recognition writes numbers as they were spoken; `numerals.read_out_numbers` rewrites
  digit strings read out ("幺三八零零幺三八零零零") and English number words in Arabic digits
  before anything is read. Sensitive numbers are then masked by the engine as in a chat.
- What the call did not establish is listed in the case's "missing", for the call-back; the
  calling number from the call metadata is the phone when no number was said.

Category, priority and the case's shape are the engine's (`build_case`). The vocabulary of
calls (read-back cues, question words, speaker labels) is in data/hotline.toml.

Pure: no I/O beyond reading the package's data, no clock (`now` is the call's start).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from . import catalog, classify, cues
from .engine import MAX_TEXT, Engine, _name_answer, _Turn, build_case
from .extract.amounts import find_amounts
from .extract.dates import extract_date
from .extract.names import parse_name_answer, strip_spelling
from .extract.phones import find_phones
from .extract.sensitive import find_sensitive, redact
from .fields import is_substantive
from .institution import Institution
from .model import ASK_ORDER, Hints, Slot, State
from .numerals import read_out_numbers
from .segment import Segmenter
from .text import fold, has_cjk

__all__ = ["CallReading", "masked_turn", "read_call"]

CHANNEL = "hotline"
# Fields a read-back states by value, in the order one is taken as the field read back when
# the sentence does not name it.
_VALUE_SLOTS = ("phone", "name", "amount", "incident_time", "business")
_CONFIRMABLE = ("name", "phone", "business", "incident_time", "amount", "branch", "resolution")
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])|(?<=[.])\s+(?=[A-Z\u4e00-\u9fff])")
_TITLE_END = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St)\.$")
_TRAILING = re.compile(r"[\s,，。.!！?？~…、;；:：]+$")
_LEADING = re.compile(r"^[\s,，。.!！?？~…、;；:：]+")
# Answers whose other words are about the answer ("159 0000 1111 就是现在打的这个", "No,
# that's my office phone"), not about what happened.
_NO_ACCOUNT = (None, "description", "resolution", "phone")
_PIECES = re.compile(r"[\s,，。.!！?？;；:：、]+")
_LATIN_NAME = re.compile(r"[A-Za-z][A-Za-z .'’-]*")
_CLAUSE_MARKS = frozenset(",，。.!！?？;；:：、")
_PAUSE = frozenset(" ,，。.!！?？~…、;；:：-—\"'“”")


@dataclass(frozen=True)
class CallReading:
    case: dict[str, Any]  # the same shape as engine.build_case's; "missing": for the call-back
    lang: str  # "zh" | "en"
    confirmed: tuple[str, ...]  # fields the customer confirmed on an agent's read-back
    urgent: bool  # priority == "urgent"


# ---- vocabulary -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Vocab:
    agent: frozenset[str]
    customer: frozenset[str]
    agent_part: tuple[str, ...]
    customer_part: tuple[str, ...]
    yes: tuple[str, ...]  # longest first
    no: tuple[str, ...]
    filler: tuple[str, ...]
    run_on: frozenset[str]
    filler_whole: frozenset[str]
    zh_tail: tuple[str, ...]
    en_tail: re.Pattern[str]
    en_lead: tuple[str, ...]
    strip: tuple[str, ...]
    strip_tail: tuple[str, ...]
    restate: re.Pattern[str]
    caller_number: re.Pattern[str]
    zh_titles: tuple[str, ...]
    en_titles: frozenset[str]
    readback_slot: dict[str, re.Pattern[str]]
    markers: re.Pattern[str]
    wh: re.Pattern[str]
    question_slot: dict[str, re.Pattern[str]]


def _alternation(words: Sequence[str]) -> str:
    parts = []
    for w in _longest_first(words):
        esc = re.escape(w)
        if w.isascii() and w[:1].isalnum():
            esc = r"(?<![a-z0-9'])" + esc
        if w.isascii() and w[-1:].isalnum():
            esc += r"(?![a-z0-9'])"
        parts.append(esc)
    return "|".join(parts) or r"(?!x)x"


def _pattern(words: Sequence[str]) -> re.Pattern[str]:
    return re.compile(_alternation(words))


def _longest_first(words: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({w.lower() for w in words}, key=lambda w: (-len(w), w)))


@lru_cache(maxsize=1)
def _vocab() -> _Vocab:
    raw = tomllib.loads(
        resources.files("workflow").joinpath("data", "hotline.toml").read_text("utf-8")
    )
    dialogue = cues.vocab()
    answer, readback, question = raw["answer"], raw["readback"], raw["question"]
    return _Vocab(
        agent=frozenset(w.lower() for w in raw["speaker"]["agent"]),
        customer=frozenset(w.lower() for w in raw["speaker"]["customer"]),
        agent_part=tuple(w.lower() for w in raw["speaker"]["agent_part"]),
        customer_part=tuple(w.lower() for w in raw["speaker"]["customer_part"]),
        yes=_longest_first([*dialogue.yes, *answer["yes"]]),
        no=_longest_first([*dialogue.no, *answer["no"]]),
        filler=_longest_first(answer["filler"]),
        run_on=frozenset(w.lower() for w in answer["run_on"]),
        filler_whole=frozenset(_bare(w) for w in answer["filler"]),
        zh_tail=_longest_first(readback["zh_tail"]),
        en_tail=re.compile(r"(?:^|[\s,])(?:" + _alternation(readback["en_tail"]) + r")$"),
        en_lead=_longest_first(readback["en_lead"]),
        strip=_longest_first(readback["strip"]),
        strip_tail=_longest_first(readback["strip_tail"]),
        restate=_pattern(readback["restate"]),
        caller_number=_pattern(readback["caller_number"]),
        zh_titles=_longest_first(readback["zh_titles"]),
        en_titles=frozenset(t.lower() for t in readback["en_titles"]),
        readback_slot={k: _pattern(v) for k, v in readback["slot"].items()},
        markers=_pattern(question["markers"]),
        wh=_pattern(question["wh"]),
        question_slot={k: _pattern(v) for k, v in question["slot"].items()},
    )


def _low(text: str) -> str:
    """Folded, Latin letters lower-cased: the same length as `text`, so spans carry over."""
    return "".join(ch.lower() if ch.isascii() else ch for ch in fold(text))


def _bare(text: str) -> str:
    """Lower-case, folded, without punctuation or spaces: for whole-turn matches."""
    return "".join(ch for ch in fold(text).lower() if ch not in _PAUSE)


# ---- what the agent said ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sentence:
    text: str  # numbers read out, secrets not yet masked
    tagged: bool  # shaped as a read-back: "……对吗？", "Is this Michael Chen?"
    asks: tuple[str, ...]  # the fields a question asks for, the one nearest its end first


@dataclass
class _AgentBlock:
    """The agent's turns since the customer last spoke."""

    sentences: list[_Sentence]

    @property
    def readbacks(self) -> list[_Sentence]:
        return [s for s in self.sentences if s.tagged]

    def last_question(self) -> tuple[int, tuple[str, ...]]:
        for i in range(len(self.sentences) - 1, -1, -1):
            if self.sentences[i].asks:
                return i, self.sentences[i].asks
        return -1, ()


def _sentences(text: str) -> list[str]:
    pieces = [p for p in _SENTENCE_END.split(text) if p and p.strip()]
    out: list[str] = []
    for piece in pieces:
        if out and _TITLE_END.search(out[-1].rstrip()):
            out[-1] = out[-1] + " " + piece  # "Mr. Chen" is one sentence
        else:
            out.append(piece)
    return out


def _read_agent(text: str) -> list[_Sentence]:
    v = _vocab()
    out = []
    for raw in _sentences(text):
        low = fold(raw).lower()
        body = _TRAILING.sub("", low)
        if not body:
            continue
        restate = v.restate.search(body) is not None
        tail = body.endswith(v.zh_tail) or v.en_tail.search(body) is not None
        # A question with no question word ("138 1234 0000?") asks to confirm what it says.
        asked = raw.rstrip().endswith(("?", "？")) or tail
        wh = v.wh.search(body) is not None
        tagged = (asked or body.startswith(v.en_lead)) and (not wh or restate)
        asks: tuple[str, ...] = ()
        if v.markers.search(low) is not None and not (tagged and restate):
            asks = _named_slots(v.question_slot, body)
        out.append(_Sentence(raw, tagged, asks))
    return out


def _named_slots(patterns: dict[str, re.Pattern[str]], text: str) -> tuple[str, ...]:
    """The slots whose words occur in `text`, the one nearest its end first."""
    last: dict[str, int] = {}
    for slot, pattern in patterns.items():
        for m in pattern.finditer(text):
            last[slot] = max(last.get(slot, -1), m.end())
    return tuple(sorted(last, key=lambda slot: -last[slot]))


def _strip_readback(text: str) -> str:
    """The statement a read-back makes, without its tag ("对吗") and lead-in ("请问是")."""
    v = _vocab()
    low = _low(text)
    end = len(_TRAILING.sub("", low))
    tail = next((t for t in v.zh_tail if low.endswith(t, 0, end)), None)
    if tail is not None:
        end -= len(tail)
    else:
        m = v.en_tail.search(low[:end])
        if m is not None:
            end = m.start()
    end = len(_TRAILING.sub("", low[:end]))
    while True:
        word = next((w for w in v.strip_tail if low.endswith(w, 0, end)), None)
        if word is None or len(word) >= end:
            break
        end = len(_TRAILING.sub("", low[: end - len(word)]))
    start = 0
    changed = True
    while changed:
        changed = False
        start = len(low) - len(_LEADING.sub("", low[start:])) if start < end else start
        for word in v.strip:
            if low.startswith(word, start, end) and _boundary(low, start + len(word), word):
                start += len(word)
                changed = True
                break
    return text[start:end].strip()


def _boundary(text: str, at: int, word: str) -> bool:
    """A Latin word must end at a word boundary; a Chinese one may run on."""
    if not word[-1:].isascii() or not word[-1:].isalnum():
        return True
    return at >= len(text) or not (text[at].isascii() and text[at].isalnum())


def _readback_target(text: str, now: datetime) -> str | None:
    """The field a read-back states: the one it names, else the first whose value it holds."""
    v = _vocab()
    found = _values(text, now)
    low = fold(text).lower()
    named = [s for s in _VALUE_SLOTS if s in found and v.readback_slot[s].search(low)]
    if named:
        return named[0]
    return next((s for s in _VALUE_SLOTS if s in found), None)


def _values(text: str, now: datetime) -> set[str]:
    """Which value-bearing fields `text` holds (cheap checks, no segmentation)."""
    out = set()
    if find_phones(text):
        out.add("phone")
    if find_amounts(text):
        out.add("amount")
    if extract_date(text, now) is not None:
        out.add("incident_time")
    stripped = _strip_readback(text)
    if stripped and len(stripped) <= 40:
        # A name stands alone ("Michael Chen?") or is named as one ("请问是张伟先生本人吗？");
        # a form of address before the sentence goes on ("刘先生，我们就……") is no read-back.
        named = _vocab().readback_slot["name"].search(fold(text).lower()) is not None
        one_clause = not any(ch in _CLAUSE_MARKS for ch in stripped)
        if parse_name_answer(stripped) or (named and one_clause and _name_answer(stripped)):
            out.add("name")
    if _vocab().readback_slot["business"].search(fold(text).lower()):
        out.add("business")
    return out


# ---- what the customer said ---------------------------------------------------------------------


def _lead(text: str) -> tuple[str | None, str]:
    """("yes" | "no" | None, the rest): the yes or no a reply starts with, fillers skipped.

    A one-character word ("是", "对", "不") counts only before a pause or the end, so "是139……"
    is an answer, not a yes; the last yes or no of the lead decides ("对，不对，是139……").
    """
    v = _vocab()
    low = _low(text)
    pos, verdict = 0, None
    while True:
        while pos < len(low) and low[pos] in _PAUSE:
            pos += 1
        if pos >= len(low):
            break
        hit = None
        for kind, words in (("no", v.no), ("yes", v.yes), (None, v.filler)):
            for word in words:
                if not low.startswith(word, pos):
                    continue
                end = pos + len(word)
                if end >= len(low) or low[end] in _PAUSE or word in v.run_on:
                    hit = (kind, end)
                    break
            if hit:
                break
        if hit is None:
            break
        if hit[0] is not None:
            verdict = hit[0]
        pos = hit[1]
    return verdict, text[pos:].strip()


def _is_filler(text: str) -> bool:
    bare = _bare(text)
    return not bare or bare in _vocab().filler_whole


def _speaker(label: Any) -> str | None:
    v = _vocab()
    name = str(label).strip().lower() if label is not None else ""
    if name in v.agent:
        return "agent"
    if name in v.customer:
        return "customer"
    if any(part in name for part in v.agent_part):
        return "agent"
    if any(part in name for part in v.customer_part):
        return "customer"
    return None


# ---- the engine, as a call reads it -------------------------------------------------------------


class _CallEngine(Engine):
    """The chat engine with the dialogue turned off: a call has no commands and no questions.

    "算了" or "人工" said on the phone is talk, not a button; what the bot would ask next is
    not asked (the caller's state stays "collecting", waiting for what the agent asked).
    """

    def _command(self, turn: _Turn, text: str) -> bool:
        return False

    def _advance(self, turn: _Turn) -> None:
        return None

    def _prompt(self, turn: _Turn, quiet_when_idle: bool = False) -> None:
        return None


@dataclass
class _Reader:
    engine: _CallEngine
    now: datetime
    lang: str
    state: State
    confirmed: dict[str, Any]  # field -> the value confirmed
    caller: str | None  # the calling number, E.164
    decided: set[str] = field(default_factory=set)  # fields answered or confirmed outright
    _read_backs: dict[str, str | None] = field(default_factory=dict)

    def read_back(self, sentence: str) -> tuple[str, str | None]:
        """(the statement a read-back makes, the field it states), once per sentence."""
        statement = _strip_readback(sentence)
        if statement not in self._read_backs:
            self._read_backs[statement] = _readback_target(statement, self.now)
        return statement, self._read_backs[statement]

    def hear(self, text: str, targets: tuple[str, ...]) -> bool:
        """One customer utterance, read as the answer to the first of `targets` (the field
        the agent asked for) or to nothing; the other fields asked with it ("您的姓名和联系方式？")
        are then read from it too, when it did not already give them."""
        targets = tuple(t for t in targets if t in ASK_ORDER and self._answers(text, t))
        target = targets[0] if targets else None
        st = self.state
        before = _slot_key(st.slots.get(target)) if target else None
        vague = st.slots.get("incident_time")
        if vague is not None and vague.status == "vague":
            del st.slots["incident_time"]  # a date said now gives way to "去年"/"a while ago"
        self.state = st = self._step(st, text, target)
        if vague is not None and vague.status == "vague" and "incident_time" not in st.slots:
            st.slots["incident_time"] = vague
        slot = st.slots.get(target) if target else None
        if target is not None and slot is not None and _slot_key(slot) != before:
            self.decided.add(target)
        if (target not in _NO_ACCOUNT and slot is not None
                and _slot_key(slot) != before and slot.value is not None):
            # The answer to another question that also tells what happened belongs in the
            # account too (the chat keeps answers apart; a call is one account).
            self._describe(text, slot)
        answered = target is not None and _slot_key(slot) != before
        if target is not None and not answered and is_substantive(text, []):
            # Not the answer asked for, but an account: "卡被吞了还扣了钱" after "您的手机号？".
            self._account(redact(text, find_sensitive(text)))
        for other in targets[1:]:
            if other in ("description", "resolution") or st.value(other) is not None:
                continue
            found = self._step(st.copy(), text, other).slots.get(other)
            if found is not None and found.value is not None:
                st.slots[other] = found
                answered = True
        return answered

    def _step(self, st: State, text: str, target: str | None) -> State:
        st.stage, st.waiting_for, st.asked = "collecting", target, {}
        hints = Hints(channel=CHANNEL, lang=self.lang)
        return self.engine.step(st, text, self.now, hints).state

    def _answers(self, text: str, target: str) -> bool:
        if cues.is_dont_know(text):
            return False  # left for the call-back
        if target == "description":
            return is_substantive(text, [])
        if target == "resolution":
            return len(_bare(text)) >= 2 and not (cues.is_yes(text) or cues.is_no(text))
        return True

    def _describe(self, text: str, slot: Slot) -> None:
        clean = redact(text, find_sensitive(text))
        rest = clean
        if isinstance(slot.value, str) and has_cjk(slot.value):
            # "刘洋 文刀刘 海洋的洋": the pieces that spell the name out go with it.
            pieces = _PIECES.split(rest)
            rest = " ".join(p for p in pieces if not set(p) & set(slot.value))
        elif isinstance(slot.value, str) and _LATIN_NAME.fullmatch(slot.value):
            # "Michael Brandt. Brandt with a D T at the end": so does the spelling.
            rest = strip_spelling(rest, slot.value)
        for part in (str(slot.value), slot.text, *slot.extra.get("reasons", [])):
            if part and len(part) < len(rest):
                rest = rest.replace(part, " ")
        if is_substantive(rest, []):
            self._account(clean)

    def _account(self, clean: str) -> None:
        """Add the customer's (masked) words to the account, once."""
        st = self.state
        if clean not in st.description:
            st.description.append(clean)
        if not st.filled("description"):
            st.slots["description"] = Slot(value=clean.strip(), text=clean)

    def confirm(self, sentence: _Sentence) -> None:
        """The customer said yes to a read-back: what it states counts as theirs."""
        statement, target = self.read_back(sentence.text)
        if not statement:
            return
        v = _vocab()
        low = fold(sentence.text).lower()
        restate = v.restate.search(low) is not None
        # A restatement is read as an account (its fields found in passing), a value read
        # back as the answer to the question for that field.
        found = self._step(
            State(lang=self.lang, channel=CHANNEL), statement, None if restate else target
        )
        st = self.state
        for name, slot in found.slots.items():
            if slot.value is None or name == "description":
                continue
            if name == "name" and _same_person(st.value("name"), slot.value):
                slot = st.slots["name"]  # "刘先生" confirms 刘洋, it does not replace him
            st.slots[name] = slot
            if name != "business" or (target == "business" and not restate):
                # A line a read-back mentions in passing ("overcharged interest", "您是说取款时…")
                # is no answer: the whole account still decides it, as it would the same words
                # alone (the confirmation stands if the account agrees).
                self.decided.add(name)
            if name in _CONFIRMABLE:
                self.confirmed[name] = slot.value
        if "phone" not in found.slots:
            phones = find_phones(statement) if target == "phone" else []
            if len(phones) == 1:
                # "您的来电号码是138……对吗？": the number read back, though a chat would take
                # a number the customer was called from for someone else's.
                st.slots["phone"] = Slot(value=phones[0].e164, text=phones[0].text)
                self.confirmed["phone"] = phones[0].e164
            elif self.caller and v.caller_number.search(low):
                # "我们就用您来电的这个号码联系您，可以吗？" - "可以"
                st.slots["phone"] = Slot(value=self.caller, text="", extra={"source": "caller"})
                self.confirmed["phone"] = self.caller
            if "phone" in self.confirmed:
                self.decided.add("phone")
        if restate and found.description:
            for text in found.description:
                if text not in st.description:
                    st.description.append(text)
            if "description" not in st.slots:
                first = found.description[0]
                st.slots["description"] = Slot(value=first, text=first)
            self.confirmed["description"] = None


def _same_person(known: Any, read_back: Any) -> bool:
    """Is `read_back` a polite form of the name already known ("刘先生" of 刘洋, "Mr. Miller")?"""
    if not isinstance(known, str) or not isinstance(read_back, str) or known == read_back:
        return False
    v = _vocab()
    low = fold(read_back).lower().strip()
    for title in v.zh_titles:
        if low.endswith(title) and len(low) > len(title):
            return known.startswith(read_back[: len(low) - len(title)])
    words = re.findall(r"[a-z'’-]+", low)
    if len(words) >= 2 and words[0] in v.en_titles:
        return fold(known).lower().split()[-1:] == words[-1:]
    return False


def _slot_key(slot: Slot | None) -> tuple[Any, ...] | None:
    return None if slot is None else (slot.value, slot.status, slot.text)


def _normalise(text: Any) -> str:
    raw = text if isinstance(text, str) else ""
    return read_out_numbers(raw.replace("\x00", "")[:MAX_TEXT]).strip()


def _call_language(turns: list[tuple[str, str]]) -> str:
    """Chinese when most of the customer's turns are (Chinese on a tie, as the brief puts first)."""
    votes = {"zh": 0, "en": 0}
    for who in ("customer", "agent"):
        for speaker, text in turns:
            if speaker != who or _is_filler(text):
                continue
            if has_cjk(text):
                votes["zh"] += 1
            elif re.search(r"[A-Za-z]{2,}", text):
                votes["en"] += 1
        if votes["zh"] or votes["en"]:
            break
    return "en" if votes["en"] > votes["zh"] else "zh"


def _caller_phone(caller: str | None) -> str | None:
    if not isinstance(caller, str) or not caller.strip():
        return None
    found = find_phones(fold(caller).strip())
    return found[0].e164 if found else None


def masked_turn(text: str) -> str:
    """A turn as kept with the case: ID-card and card numbers masked, also when read out
    digit by digit ("六二二二零二……"), in which case the digits are written out."""
    spoken = read_out_numbers(text)
    if spoken != text:
        hidden = find_sensitive(spoken)
        if hidden:
            return redact(spoken, hidden)
    found = find_sensitive(text)
    return redact(text, found) if found else text


_TAIL_DIGITS = re.compile(r"\d[\d \-]*$")
_HEAD_DIGITS = re.compile(r"^\s*\d[\d \-]*")


def masked_turns(turns: Sequence[tuple[str, str]]) -> list[str]:
    """Every turn as kept with the case (`masked_turn`), and a card or ID number read out
    across two turns ("6222 0212 3456" / "7890 123", after "您的卡号是多少") masked in both."""
    texts = [text for _, text in turns]
    out = [masked_turn(text) for text in texts]
    for i in range(len(texts) - 1):
        tail = _TAIL_DIGITS.search(texts[i])
        head = _HEAD_DIGITS.match(texts[i + 1])
        if tail is None or head is None:
            continue
        # The turn before says what the number is ("卡号是多少？"): read it with the two halves.
        context = (texts[i - 1] if i > 0 else "")[-40:]
        prefix = context + "\n" + texts[i][:tail.start()]
        joined = prefix + tail.group(0) + " " + head.group(0)
        split = len(prefix) + len(tail.group(0))  # where the second turn's digits begin
        for span in find_sensitive(joined):
            if not span.start < split < span.end or span.start < len(prefix):
                continue
            first = joined[span.start:split]
            second = joined[split + 1:span.end]
            digits = sum(c.isdigit() for c in first + second)
            keep = 4 if digits > 8 else 0  # the last four stay, as `redact` leaves them
            hidden_first, left = _star(first, digits - keep)
            hidden_second, _ = _star(second, left)
            out[i] = out[i][:len(out[i]) - len(first)] + hidden_first \
                if out[i].endswith(first) else out[i]
            if out[i + 1].startswith(second.lstrip()):
                lead = len(texts[i + 1]) - len(texts[i + 1].lstrip())
                out[i + 1] = out[i + 1][:lead] + hidden_second.lstrip() + \
                    out[i + 1][lead + len(second.lstrip()):]
    return out


def _star(piece: str, count: int) -> tuple[str, int]:
    """`piece` with its first `count` digits starred; the starring still to do."""
    chars = list(piece)
    for k, c in enumerate(chars):
        if count <= 0:
            break
        if c.isdigit():
            chars[k] = "*"
            count -= 1
    return "".join(chars), count


def read_call(
    turns: Sequence[tuple[str, str]],
    now: datetime,
    *,
    caller: str | None = None,
    lang: str | None = None,
    segmenter: Segmenter | None = None,
    institution: Institution | None = None,
) -> CallReading:
    """Read a transcribed call into a case, without a dialogue.

    `turns` are (speaker, text), speaker "agent" or "customer"; `now` (aware) is the call's
    start and the clock relative dates are resolved against; `caller` the calling number from
    the call metadata, the phone when none is said; `lang` ("zh", "en", "zh-CN", ...) overrides
    the language detected from the customer's turns.
    """
    heard: list[tuple[str, str]] = []
    for turn in turns or ():
        if isinstance(turn, str) or not isinstance(turn, Sequence) or len(turn) < 2:
            continue
        who = _speaker(turn[0])
        text = _normalise(turn[1])
        if who is not None and text:
            heard.append((who, text))
    tag = lang.split("-")[0].split("_")[0].strip().lower() if isinstance(lang, str) else None
    call_lang = tag if tag in catalog.LANGUAGES else _call_language(heard)
    reader = _Reader(
        engine=_CallEngine(segmenter, institution),
        now=now,
        lang=call_lang,
        state=State(lang=call_lang, channel=CHANNEL),
        confirmed={},
        caller=_caller_phone(caller),
    )

    block: _AgentBlock | None = None
    pending: tuple[str, ...] = ()  # the fields the customer's next words answer
    for who, text in heard:
        if who == "agent":
            sentences = _read_agent(text)
            if block is None:
                block = _AgentBlock(sentences)
            else:
                block.sentences.extend(sentences)
            continue
        verdict, rest = _lead(text)
        if verdict is None and (not rest or _is_filler(rest)):
            continue  # "呃", "喂": nothing said yet, the agent's question or read-back stands
        target = pending
        if block is not None:
            target, pending = _targets(block, verdict, reader)
            if verdict == "yes":
                for sentence in block.readbacks:
                    reader.confirm(sentence)
            block = None
        if not rest or _is_filler(rest):
            continue  # "嗯", "对": the question asked (or the "no") waits for its answer
        answered = reader.hear(text if verdict == "no" else rest, target)
        # A question not answered stays open past a turn that says nothing ("算了", "稍等").
        pending = () if answered or is_substantive(rest, []) else target

    st = reader.state
    if "business" not in reader.decided:
        _classify_business(st)
    if st.value("phone") is None and reader.caller is not None:
        st.slots["phone"] = Slot(value=reader.caller, text="", extra={"source": "caller"})
    st.lang = call_lang
    st.stage, st.waiting_for = "collecting", None
    case = build_case(st)
    confirmed = tuple(
        s for s in (*_CONFIRMABLE, "description") if s in reader.confirmed and _still(st, s, reader)
    )
    return CallReading(
        case=case, lang=call_lang, confirmed=confirmed, urgent=case["priority"] == "urgent"
    )


def _classify_business(st: State) -> None:
    """The business line of the whole account, unless the customer named it when asked.

    A chat takes the first line a message names and asks when none does; a call is read
    whole, so the line is the one the customer's whole account is about ("去网点存钱，结果被推销了
    一份分红险" is about the insurance), and "other" when the account names none.
    """
    if not st.description:
        return
    account = "\n".join(st.description)
    resolution = st.value("resolution")
    if isinstance(resolution, str) and resolution not in account:
        account += "\n" + resolution
    label = classify.classify_business(account)
    if label is not None:
        st.slots["business"] = Slot(
            value=label.value, text=account, extra={"reasons": list(label.reasons)}
        )
    elif st.value("business") is None:
        st.slots["business"] = Slot(value="other", text=account, extra={"reasons": []})


def _still(st: State, slot: str, reader: _Reader) -> bool:
    """A confirmation stands while the field keeps the value confirmed (a later fix wins)."""
    if slot == "description":
        return True
    return st.value(slot) == reader.confirmed[slot]


def _targets(
    block: _AgentBlock, verdict: str | None, reader: _Reader
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the fields the reply answers, those a later reply answers if this one says no more).

    A question asked after the last read-back is answered. Otherwise a reply without a yes
    restates or corrects the field read back ("是139……", "我是张薇"), and after a bare "不对"
    the next words correct it; after a yes, what follows is read as it comes ("Yes, speaking"
    is not a name).
    """
    q_at, asks = block.last_question()
    rb_at = max((i for i, s in enumerate(block.sentences) if s.tagged), default=-1)
    if rb_at >= 0 and rb_at >= q_at:
        _, read_back = reader.read_back(block.sentences[rb_at].text)
        if read_back is not None:
            if verdict == "yes":
                return (), ()
            return (read_back,), ((read_back,) if verdict == "no" else ())
    return asks, asks
