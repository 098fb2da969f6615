"""The customer's name, from free text ("我是张伟，…", "I'm Emma Clarke") or from the answer to
"what is your name?".

A Chinese name is a known surname (single or compound) plus one or two characters, or a
surname plus a polite title as given ("张先生"). When the name runs straight into the rest of
the sentence ("我是张伟昨天在…") the boundary is found with function characters and jieba
segmentation. An English name is one to four capitalised words after a cue.
Every match satisfies `text[start:end] == name`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

import jieba

from workflow.segment import default_segmenter
from workflow.text import fold

__all__ = ["NameMatch", "extract_name", "parse_name_answer", "strip_spelling"]


@dataclass(frozen=True)
class NameMatch:
    """A name found in text; `text[start:end] == name`."""

    name: str
    start: int
    end: int


@functools.lru_cache(maxsize=1)
def _surnames() -> tuple[frozenset[str], frozenset[str]]:
    """(single-character, compound) surnames from workflow/data/surnames.txt, read once."""
    try:
        raw = resources.files("workflow").joinpath("data/surnames.txt").read_text("utf-8")
    except (OSError, ValueError):
        raw = ""
    names = [line.strip() for line in raw.splitlines() if line.strip() and not line.startswith("#")]
    return (
        frozenset(n for n in names if len(n) == 1),
        frozenset(n for n in names if len(n) >= 2),
    )


def _tokenizer() -> jieba.Tokenizer:
    """The engine's shared, read-only tokenizer with the finance dictionary."""
    return default_segmenter().load()


def _word_freq(word: str) -> int:
    return int(_tokenizer().FREQ.get(word) or 0)


# Characters that are (almost) never part of a given name but start or glue the rest of a
# sentence: particles, pronouns, common verbs and time words ("张伟昨天", "许晴要投诉").
_STOP_FULL = frozenset(
    "的了是在要想说和跟给被把也都又还就从我你他她它们这那吗呢吧啊呀哦嗯么什怎啥没不很太对"
    "向于因所但而有去来今昨前刚已电手号卡投诉用客户账款元块钱到过着得让请帮"
    "，。！？、；：,.!?;: "
)
# In a delimited name ("我是张伟，") only plain particles and pronouns rule it out.
_STOP_SMALL = frozenset("的了是在吗呢吧啊呀哦嗯么我你他她它们这那不没很太贷款账钱")
_TITLES = ("先生", "女士", "小姐", "太太", "老师", "经理", "阿姨", "师傅", "总")
# Words that follow a cue but are not names; also caught by the jieba frequency check.
_NOT_NAMES = frozenset(
    "客户 用户 本人 持卡人 储户 老客户 匿名 保密 不知道 不告诉你 不想说 随便 钱包 房产 房租 "
    "余额 黄金 白金 金卡 浦发 华夏 平安 招商 兴业 民生 光大 中信".split()
)
_WEEKDAY = re.compile(r"周[一二三四五六日天末]")
# A place or organisation follows: "我是江苏人", "我是华夏银行的".
_AFTER_NOT_NAME = re.compile(r"人|省|市|县|区|镇|村|籍|银行|公司|集团|大学|医院")
_COMMON_WORD_FREQ = 500  # jieba frequency above which a 2-3 character string is a word
_RARE_FREQ = 50  # below this a string with no known surname may still be a name


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


_RUN_LOOKAHEAD = 12  # a name is at most 4 characters; a short look past it is enough


def _cjk_run(text: str, pos: int) -> int:
    """End of the run of CJK characters starting at `pos`, looking at most 12 ahead."""
    end = pos
    limit = min(len(text), pos + _RUN_LOOKAHEAD)
    while end < limit and _is_cjk(text[end]):
        end += 1
    return end


def _surname_len(run: str) -> int:
    single, compound = _surnames()
    if run[:2] in compound:
        return 2
    if run[:1] in single:
        return 1
    return 0


def _is_common_word(word: str) -> bool:
    if word in _NOT_NAMES or _WEEKDAY.match(word):
        return True
    if _word_freq(word) >= _COMMON_WORD_FREQ:
        return True
    return len(word) == 3 and _word_freq(word[:2]) >= 2 * _COMMON_WORD_FREQ


def _token_boundaries(run: str) -> set[int]:
    bounds: set[int] = set()
    pos = 0
    for token in _tokenizer().cut(run, HMM=True):
        pos += len(token)
        bounds.add(pos)
    return bounds


def _zh_name_at(
    text: str, pos: int, required: str | None = None, lenient: bool = False
) -> tuple[int, int] | None:
    """Span of a Chinese name starting at `pos` (spaces and colons skipped), or None.

    `required`: the name must start with this surname ("我姓李，李娜"). `lenient`: after an
    explicit cue ("姓名：") accept a delimited 2-3 character name with an unlisted surname.
    """
    while pos < len(text) and text[pos] in " \t:：":
        pos += 1
    end = _cjk_run(text, pos)
    run = text[pos:end]
    if len(run) < 2:
        return None
    if required is not None and not run.startswith(required):
        return None
    s = len(required) if required else _surname_len(run)
    if s == 0:
        if lenient and 2 <= len(run) <= 3 and not _STOP_FULL.intersection(run):
            if not _is_common_word(run):
                return pos, end
        return None
    rest = run[s:]
    for title in _TITLES:
        if rest.startswith(title):
            # "张先生" is accepted as the name the customer gives.
            return pos, pos + s + len(title)
    if 1 <= len(rest) <= 2:  # delimited: the run is exactly surname + given name
        if _STOP_SMALL.intersection(rest) or _is_common_word(run):
            return None
        if end < len(text) and _AFTER_NOT_NAME.match(text, end):
            return None
        return pos, end
    if not rest:
        return None
    # The name runs into the sentence: choose a 2- or 1-character given name whose end is
    # followed by a function character or falls on a jieba word boundary.
    bounds: set[int] | None = None
    for g in (2, 1):
        given = rest[:g]
        if _STOP_FULL.intersection(given):
            continue
        nxt = rest[g]
        if nxt not in _STOP_FULL:
            if bounds is None:
                bounds = _token_boundaries(run)
            if s + g not in bounds:
                continue
        name = run[: s + g]
        if _is_common_word(name) or _AFTER_NOT_NAME.match(run, s + g):
            continue
        return pos, pos + s + g
    return None


# --- Cues ------------------------------------------------------------------------------------
_ZH_SURNAME_CUE = re.compile(r"(?:我|本人|免贵)?姓(?!名)")
_ZH_AFTER_SURNAME = re.compile(r"[\s,，、。;；]*(?:名叫|叫|全名是|全名|名字是|名字叫|是)?[\s:：]*")
_ZH_EXPLICIT_CUE = re.compile(r"(?:我的)?(?:姓名|名字|全名)(?:是|叫|为)?[\s:：]*")
_ZH_CUE = re.compile(r"(?:我名叫|我叫|本人叫|我是|本人是|本人|这里是|我系)[\s:：]*")
_EN_CUE = re.compile(
    r"(?<![A-Za-z])(?i:i['’]?m|i am|my name['’]?s|my name is|this is|name is|name\s*:|call me)"
    r"\s+"
)
_EN_WORD = re.compile(
    r"(?:Mr|Mrs|Ms|Miss|Dr)\.?(?=\s)|[A-Z][a-z]*['’][A-Z][a-z]+|[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
)
_EN_STOP = frozenset(
    """i very not so really writing calling here just sorry angry happy unhappy upset the a an
    your my our in at on from with trying going looking still also now fine good ok okay glad
    afraid sure customer client member bank chinese english frustrated disappointed furious
    done tired fed annoyed confused worried concerned unable having contacting reaching
    complaining ridiculous unacceptable terrible what why how when where who yes no hi hello
    dear thanks thank please today yesterday tomorrow urgent it this that there monday tuesday
    wednesday thursday friday saturday sunday january february march april may june july
    august september october november december and or but don't dont know none nothing skip
    anonymous private secret refuse won't wont tell you me is are was be want need to of for
    not_given n/a na nope unknown name number phone card account credit debit loan help human
    agent operator person staff manager complaint hotline service services support refund
    money hey thx asap cancel stop quit later wait hmm could can would shall should might
    must do does did have has had am were whose which whom let""".split()
)


def _en_name_at(text: str, pos: int) -> tuple[int, int] | None:
    """Span of 1-4 capitalised words starting at `pos`, the first not a stop word."""
    words: list[tuple[int, int]] = []
    while len(words) < 4:
        m = _EN_WORD.match(text, pos)
        if m is None:
            break
        after = text[m.end() : m.end() + 1]
        if after and (after.isalnum() or after in "'’"):
            break  # "Mc" of "McDonald's"-like tokens or a word glued to digits
        if m.group().lower() in _EN_STOP:
            break
        words.append((m.start(), m.end()))
        nxt = re.match(r" (?=[A-Z])", text[m.end() :])
        if nxt is None:
            break
        pos = m.end() + 1
    if not words:
        return None
    if text[words[0][0] : words[0][1]].rstrip(".") in ("Mr", "Mrs", "Ms", "Miss", "Dr"):
        if len(words) == 1:
            return None
    return words[0][0], words[-1][1]


def _cue_spans(folded: str) -> list[tuple[int, int, str]]:
    """(cue start, cue end, kind) of every name cue, in order of position."""
    cues: list[tuple[int, int, str]] = []
    for m in _ZH_SURNAME_CUE.finditer(folded):
        cues.append((m.start(), m.end(), "surname"))
    for m in _ZH_EXPLICIT_CUE.finditer(folded):
        cues.append((m.start(), m.end(), "explicit"))
    for m in _ZH_CUE.finditer(folded):
        cues.append((m.start(), m.end(), "zh"))
    for m in _EN_CUE.finditer(folded):
        cues.append((m.start(), m.end(), "en"))
    cues.sort(key=lambda c: (c[0], -c[1]))
    return cues


def _name_after_cue(folded: str, end: int, kind: str) -> tuple[int, int] | None:
    if kind == "surname":
        # "我姓李，李娜" / "我姓王，叫王建国": the full name must follow the surname.
        run_end = _cjk_run(folded, end)
        run = folded[end:run_end]
        s = _surname_len(run)
        if s == 0 and 1 <= len(run) <= 2:
            s = len(run)  # an unlisted surname, still needs the full name after it
        if s == 0:
            return None
        surname = run[:s]
        after = _ZH_AFTER_SURNAME.match(folded, end + s)
        start = after.end() if after else end + s
        if start == end + s:
            # No delimiter: "我姓李叫李娜" is covered by the optional 叫; "我姓李娜" is not a cue.
            return None
        return _zh_name_at(folded, start, required=surname)
    if kind == "en":
        span = _en_name_at(folded, end)
        if span is None and end < len(folded) and _is_cjk(folded[end]):
            span = _zh_name_at(folded, end)
        return span
    return _zh_name_at(folded, end, lenient=(kind == "explicit"))


def extract_name(text: str) -> NameMatch | None:
    """A name the customer gives for themselves inside free text, or None.

    zh: "我是张伟，", "我叫黄磊 电话…", "本人王建国", "我姓李，李娜", "姓名：张三", "我是张先生".
    en: "I'm Emma Clarke", "my name is Sara Li", "this is Michael Chen", "Name: David Wong".
    Not a name: "我是客户", "我是来投诉的", "我姓李" alone, "I'm very angry". Never raises.
    """
    if not isinstance(text, str) or not text:
        return None
    folded = fold(text)
    for _, end, kind in _cue_spans(folded):
        span = _name_after_cue(folded, end, kind)
        if span is not None:
            s, e = span
            return NameMatch(name=text[s:e], start=s, end=e)
    return None


# --- Answers to "what is your name?" ---------------------------------------------------------
_ANSWER_LEAD = re.compile(
    r"^(?:(?:嗯|哦|好的|好|行|可以|免贵|我是|我叫|叫我|就是|是|姓名|名字|"
    r"(?i:it['’]?s|it is|i['’]?m|i am|my name['’]?s|my name is|name is|name|this is|call me|"
    r"sure|ok|okay|yes|hi|hello))[\s,，:：.。!！]*)+"
)
_ANSWER_TAIL = re.compile(r"[\s,，.。!！~～…啊呀吧哈呢哦嘛]+$")
_MAX_ANSWER = 30
_EN_ANSWER = re.compile(r"[A-Za-z][A-Za-z'’\-.]*(?: [A-Za-z][A-Za-z'’\-.]*){0,3}")


def parse_name_answer(text: str) -> NameMatch | None:
    """The name in a reply to "what is your name?", or None when the reply is not a name.

    "我姓李，李娜" → 李娜, "我叫王建国" → 王建国, "张伟" → 张伟, "Emma Clarke",
    "my name is David Wong" → David Wong, "it's Sara" → Sara. None for "不知道",
    "I don't know", "为什么要告诉你", digits, or long text without a cue. Never raises.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    found = extract_name(text)
    if found is not None:
        return found
    folded = fold(text)
    start, end = 0, len(folded)
    while start < end and folded[start].isspace():
        start += 1
    lead = _ANSWER_LEAD.match(folded, start)
    if lead and lead.end() > start:
        start = lead.end()
    digit = re.search(r"[0-9]", folded[start:end])
    if digit:
        # "李娜 13800138000": keep the part before the number, if it is set apart.
        cut = start + digit.start()
        if cut == start or folded[cut - 1] not in " ,，、;；:：\t":
            return None
        end = cut
    tail = _ANSWER_TAIL.search(folded[start:end])
    if tail:
        end = start + tail.start()
    end = _before_spelling(folded, start, end)
    if start >= end or end - start > _MAX_ANSWER:
        return None
    body = folded[start:end]
    if body.startswith("姓") and body[1:] in _surnames()[0] | _surnames()[1]:
        return None  # "免贵姓张": the surname alone is not the name
    if all(_is_cjk(c) for c in body):
        span = _zh_answer(folded, start, end)
    elif _EN_ANSWER.fullmatch(body):
        span = _en_answer(body, start)
    else:
        span = None
    if span is None:
        return None
    s, e = span
    return NameMatch(name=text[s:e], start=s, end=e)


# A name spelled out after it: "Sara Li. S-A-R-A, Li.", "Daniel Okafor. O K A F O R.",
# "Michael Brandt. Brandt with a D T at the end", "Grace Leung, that's L-E-U-N-G".
_SPELL_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’]*(?:[-.][A-Za-z][A-Za-z'’]*)*\.?|[^\sA-Za-z]+")
_LETTER_RUN = re.compile(r"[A-Za-z](?:[-.][A-Za-z])+\.?")
# Words that go with a spelling without spelling anything ("with a D T at the end",
# "that's double L", "spelt R-A-M-A-N, the surname").
_SPELL_WORDS = frozenset(
    """spelled spelt spelling spell that's thats that is it's its it with a an at the end ending
    start starts starting beginning begins and as in like then letters letter first last
    surname family given name my double triple capital i'm im sorry yes yeah no sir
    madam""".split()
)
_SPELL_REPEAT = {"double": 2, "triple": 3}
_SPELL_PUNCT = re.compile(r"[.,;:!?()\-–—'’\"“”]+")


def _is_initial(token: str) -> bool:
    return len(token.rstrip(".")) == 1 and token[0].isupper()


def _spelling(tokens: list[str], words: set[str]) -> bool:
    """Do `tokens` only spell out (some of) the name `words`, with at least one letter?"""
    groups: list[str] = []
    current = ""
    repeat = 1
    for token in tokens:
        low = token.lower().rstrip(".")
        letters = None
        if _LETTER_RUN.fullmatch(token):
            letters = re.sub(r"[^a-z]", "", low)
        elif len(low) == 1 and low.isalpha() and (token[0].isupper() or low not in "ai"):
            letters = low
        if letters is not None:
            current += letters[0] * repeat + letters[1:]
            repeat = 1
            continue
        if repeat != 1:
            return False  # "double" not followed by a letter
        if current:
            groups.append(current)
            current = ""
        if _SPELL_PUNCT.fullmatch(token) or low in words:
            continue
        if low in _SPELL_REPEAT:
            repeat = _SPELL_REPEAT[low]
            continue
        if low not in _SPELL_WORDS:
            return False
    if current:
        groups.append(current)
    return bool(groups) and all(any(g in w for w in words) for g in groups)


def _before_spelling(folded: str, start: int, end: int) -> int:
    """End of a name spelled out after it ("Sara Li. S-A-R-A, Li." -> "Sara Li")."""
    tokens = [(m.group(), m.start(), m.end()) for m in _SPELL_TOKEN.finditer(folded, start, end)]
    for k in range(1, min(4, len(tokens) - 1) + 1):
        name = tokens[:k]
        if not all(t[0][:1].isalpha() and (len(t[0].rstrip(".")) > 1 or _is_initial(t[0]))
                   for t in name):
            break
        rest = [t[0] for t in tokens[k:]]
        name_end = name[-1][2]
        if name[-1][0].endswith(".") and len(name[-1][0]) > 2:
            name_end -= 1  # "Okafor." ends the sentence, the dot is no part of the name
        words = {re.sub(r"[^a-z'’-]", "", t[0].lower()) for t in name}
        words = {w for w in words if len(w) > 1}
        if words and _spelling(rest, words):
            return name_end
    return end


def strip_spelling(text: str, name: str) -> str:
    """`text` without the spelling of `name` said after it ("Daniel Okafor. O K A F O R." ->
    "Daniel Okafor"); `text` itself when what follows the name is not its spelling."""
    if not isinstance(text, str) or not isinstance(name, str) or not name.strip():
        return text if isinstance(text, str) else ""
    folded = fold(text)
    at = folded.find(fold(name))
    if at < 0:
        return text
    after = at + len(name)
    rest = [m.group() for m in _SPELL_TOKEN.finditer(folded, after)]
    words = {w for w in re.split(r"[\s.]+", fold(name).lower()) if len(w) > 1}
    if rest and words and _spelling(rest, words):
        return text[:after]
    return text


def _zh_answer(folded: str, start: int, end: int) -> tuple[int, int] | None:
    body = folded[start:end]
    if not 2 <= len(body) <= 7:
        return None
    span = _zh_name_at(folded[:end], start)
    if span is not None and (span[1] == end or folded[span[1] : end] in _TITLES):
        return span  # "张伟" or "张伟先生" (the name without the title)
    # Asked for the name, a surname and a one- or two-character given name is the name even
    # where the characters also make a common word ("白雪", "李俊", "高明", "夏天").
    surname = _surname_len(body)
    if surname and 1 <= len(body) - surname <= 2 and body not in _NOT_NAMES \
            and not _WEEKDAY.match(body) and not _STOP_SMALL.intersection(body[surname:]):
        return start, end
    if len(body) > 5:
        return None
    # An unlisted surname ("仉伟"): a short run without function characters that is neither
    # a dictionary word nor built from one ("快点", "转人工").
    if len(body) <= 3 and not _STOP_FULL.intersection(body) and not _is_common_word(body):
        pairs = [body[i : i + 2] for i in range(len(body) - 1)]
        if _word_freq(body) < _RARE_FREQ and all(_word_freq(p) < _RARE_FREQ for p in pairs):
            return start, end
    return None


def _en_answer(body: str, start: int) -> tuple[int, int] | None:
    words = body.split(" ")
    if any(w.lower().strip(".") in _EN_STOP for w in words):
        return None
    if not any(c.isalpha() for c in body):
        return None
    return start, start + len(body)
