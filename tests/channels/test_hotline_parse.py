"""Hotline transcripts: format detection, the three formats and their variants, decoding,
every rejection and its reason, the content hash, and the corpus in tests/data/hotline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from channels.base import InvalidPayload
from channels.hotline import (
    MAX_TRANSCRIPT_BYTES,
    InvalidTranscript,
    Transcript,
    Turn,
    content_hash,
    parse_transcript,
    speaker_role,
)
from channels.hotline.parse import MAX_META_CHARS, MAX_TURN_CHARS, MAX_TURNS

DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS = DATA / "hotline"
BAD = DATA / "hotline_bad"
CST = timezone(timedelta(hours=8))


def reason(data: bytes | str, **kwargs: int) -> str:
    with pytest.raises(InvalidTranscript) as info:
        parse_transcript(data, **kwargs)
    return info.value.detail


def pairs(t: Transcript) -> list[tuple[str, str]]:
    return [(turn.speaker, turn.text) for turn in t.turns]


# ---- speakers -------------------------------------------------------------------------------

@pytest.mark.parametrize("label", [
    "agent", "Agent", "AGENT", "Agent 007", "agent007", "Agent-12", "Agent Li", "operator",
    "Operator", "CSR", "csr 3", "Rep", "representative", "Representative", "Customer Service",
    "Customer Service Rep", "customer service agent", "advisor", "supervisor", "坐席", "座席",
    "客服", "话务员", "接线员", "客服代表", "客服专员", "工作人员", "坐席1号", "坐席 2", "客服小王",
    "坐席(工号8012)", "客服（工号8012）", "客户经理", "主管", "ａｇｅｎｔ",
])
def test_agent_labels(label: str) -> None:
    assert speaker_role(label) == "agent"


@pytest.mark.parametrize("label", [
    "Customer Care", "Customer Support", "Customer Services", "Customer Service(s)",
    "Customer Centre", "Customer Center", "Customer Team", "customer care agent",
    "Customer Support Team", "Customer Care (Li)", "Customer Services 3", "Client Services",
    "Client Care", "Client Support", "User Support", "User Services", "user service",
    "客户服务", "客服中心", "用户服务", "客户服务中心", "客户服务部", "用户服务中心", "客户支持",
])
def test_the_customers_desk_is_the_agent(label: str) -> None:
    assert speaker_role(label) == "agent"


@pytest.mark.parametrize(("label", "role"), [
    ("Caller ID", None), ("caller id", None), ("Caller Number", None),
    ("Customer Service's", None),        # not a customer called "Service's"
    ("Customer Care team lead", None),
    ("Customer Carey", "customer"), ("Caller Idris", "customer"), ("User Teams", "customer"),
    ("Customer Servicing", "customer"), ("客户张先生", "customer"), ("用户", "customer"),
])
def test_a_speaker_word_only_counts_whole(label: str, role: str | None) -> None:
    assert speaker_role(label) == role


def test_a_long_label_is_no_label() -> None:
    assert speaker_role("Agent " + "x" * 100) is None
    assert speaker_role("客户" + " " * 100_000 + "!") is None


@pytest.mark.parametrize("label", [
    "customer", "Customer", "CUSTOMER", "Customer 1", "Customer Zhang", "Customer (Mr Li)",
    "caller", "Caller", "client", "Client", "user", "complainant", "客户", "用户", "来电人",
    "来电者", "来电客户", "顾客", "投诉人", "持卡人", "客户张先生", "客户(张先生)", " 客户 ",
])
def test_customer_labels(label: str) -> None:
    assert speaker_role(label) == "customer"


@pytest.mark.parametrize("label", [
    "", "Speaker 1", "说话人1", "A", "B", "Bob", "agents", "customers", "report", "username",
    "customer service was awful", "用户体验太差了吧", "Note", "system", "机器人",
])
def test_unknown_labels(label: str) -> None:
    assert speaker_role(label) is None


# ---- JSON -----------------------------------------------------------------------------------

FULL_JSON = {
    "call_id": "HL-1", "caller": "+8613800138000", "started_at": "2026-11-28T10:00:00+08:00",
    "agent_id": "A01", "language": "zh-CN",
    "turns": [
        {"speaker": "agent", "text": "您好，请问有什么可以帮您？", "start": 0, "end": 2.5},
        {"speaker": "customer", "text": "我的卡被盗刷了", "start": 3, "end": 5.25},
    ],
}


def test_json_full() -> None:
    t = parse_transcript(json.dumps(FULL_JSON, ensure_ascii=False).encode())
    assert t == Transcript(
        format="json",
        turns=(Turn("agent", "您好，请问有什么可以帮您？", 0.0, 2.5),
               Turn("customer", "我的卡被盗刷了", 3.0, 5.25)),
        call_id="HL-1", caller="+8613800138000",
        started_at=datetime(2026, 11, 28, 10, 0, tzinfo=CST), agent_id="A01", language="zh-CN")


def test_json_only_turns() -> None:
    t = parse_transcript('{"turns": [{"speaker": "customer", "text": "hello"}]}')
    assert t.format == "json"
    assert t.turns == (Turn("customer", "hello"),)
    assert (t.call_id, t.caller, t.started_at, t.agent_id, t.language) == (None,) * 5


def test_json_with_bom_and_leading_whitespace() -> None:
    body = json.dumps(FULL_JSON, ensure_ascii=False)
    assert parse_transcript(b"\xef\xbb\xbf" + body.encode()).call_id == "HL-1"
    assert parse_transcript("\n\n  " + body).call_id == "HL-1"
    assert parse_transcript("\ufeff" + body).call_id == "HL-1"


def test_json_speaker_aliases_and_whitespace() -> None:
    t = parse_transcript(json.dumps({"turns": [
        {"speaker": "Agent", "text": "  hi  there "}, {"speaker": "客户", "text": "喂"},
        {"speaker": "caller", "text": "yes"}, {"speaker": "operator", "text": "ok"}]}))
    assert pairs(t) == [("agent", "hi there"), ("customer", "喂"), ("customer", "yes"),
                        ("agent", "ok")]


def test_json_skips_empty_turns() -> None:
    t = parse_transcript(json.dumps({"turns": [
        {"speaker": "agent", "text": ""}, {"speaker": "customer", "text": "   "},
        {"speaker": "customer"}, {"speaker": "customer", "text": None},
        {"speaker": "customer", "text": "real words"}]}))
    assert pairs(t) == [("customer", "real words")]


def test_json_numeric_ids_become_strings() -> None:
    t = parse_transcript(json.dumps({"call_id": 20261015031, "caller": 13800138000,
                                     "turns": [{"speaker": "agent", "text": "x"}]}))
    assert (t.call_id, t.caller) == ("20261015031", "13800138000")


def test_json_blank_metadata_is_none() -> None:
    t = parse_transcript(json.dumps({"call_id": " ", "caller": "", "started_at": "",
                                     "turns": [{"speaker": "agent", "text": "x"}]}))
    assert (t.call_id, t.caller, t.started_at) == (None, None, None)


def test_json_timestamps_as_strings() -> None:
    t = parse_transcript(json.dumps({"turns": [
        {"speaker": "agent", "text": "x", "start": "00:01:23", "end": "00:01:25.5"}]}))
    assert (t.turns[0].start, t.turns[0].end) == (83.0, 85.5)


@pytest.mark.parametrize(("data", "expected"), [
    ('{"turns": [\n{"speaker": "agent",\n "text": "x" "start": 1}]}', "broken JSON at line 3: "),
    ('{"turns": [', "broken JSON at line 1: "),
    ('{"turns": [{"speaker": "agent", "text": "x"}]', "broken JSON at line 1: "),
    ("{'turns': []}", "broken JSON at line 1: "),
])
def test_json_broken(data: str, expected: str) -> None:
    assert reason(data).startswith(expected)


@pytest.mark.parametrize(("data", "expected"), [
    ("{}", 'not a transcript: no non-empty "turns" list'),
    ('{"call_id": "x"}', 'not a transcript: no non-empty "turns" list'),
    ('{"turns": []}', 'not a transcript: no non-empty "turns" list'),
    ('{"turns": "hello"}', 'not a transcript: no non-empty "turns" list'),
    ('{"turns": {"speaker": "agent"}}', 'not a transcript: no non-empty "turns" list'),
    ('[{"speaker": "agent", "text": "x"}]',
     'not a transcript: the JSON is not an object with "turns"'),
    ('{"turns": [{"speaker": "agent", "text": ""}]}', "not a transcript: no turn has any text"),
    ('{"turns": ["hello"]}', "turn 1 must be an object"),
    ('{"turns": [{"text": "x"}]}', "turn 1: speaker is missing"),
    ('{"turns": [{"speaker": "agent", "text": "a"}, {"speaker": "bot", "text": "b"}]}',
     "turn 2: unknown speaker 'bot'"),
    ('{"turns": [{"speaker": "Speaker 1", "text": "b"}]}', "turn 1: unknown speaker 'Speaker 1'"),
    ('{"turns": [{"speaker": "agent", "text": 5}]}', "turn 1: text must be a string"),
    ('{"turns": [{"speaker": "agent", "text": "x", "start": -1}]}',
     "turn 1: start must be a number of seconds"),
    ('{"turns": [{"speaker": "agent", "text": "x", "end": "soon"}]}',
     "turn 1: end must be a number of seconds"),
    ('{"turns": [{"speaker": "agent", "text": "x", "start": true}]}',
     "turn 1: start must be a number of seconds"),
    ('{"turns": [{"speaker": "agent", "text": "x", "start": 5, "end": 4}]}',
     "turn 1: ends before it starts"),
    ('{"call_id": ["x"], "turns": [{"speaker": "agent", "text": "x"}]}',
     "call_id must be a string"),
    ('{"caller": {"n": 1}, "turns": [{"speaker": "agent", "text": "x"}]}',
     "caller must be a string"),
    ('{"turns": [{"speaker": "Caller ID", "text": "x"}]}', "turn 1: unknown speaker 'Caller ID'"),
    ('{"turns": [{"speaker": "agent", "text": "x", "start": NaN}]}',
     "turn 1: start must be a number of seconds"),
    ('{"turns": [{"speaker": "agent", "text": "x", "end": Infinity}]}',
     "turn 1: end must be a number of seconds"),
    ('{"turns": [{"speaker": "agent", "text": "x", "start": 1e999}]}',
     "turn 1: start must be a number of seconds"),
    ('{"turns": [{"speaker": "agent", "text": "x", "start": 1' + "0" * 400 + "}]}",
     "turn 1: start must be a number of seconds"),
    ('{"call_id": ' + "1" * 5000 + ', "turns": [{"speaker": "agent", "text": "x"}]}',
     "broken JSON: a number has too many digits"),
])
def test_json_rejections(data: str, expected: str) -> None:
    assert reason(data) == expected


@pytest.mark.parametrize("data", [
    '{"turns": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"turns": [{"speaker": "agent", "text": "x"}], "extra": ' + '{"a": ' * 100_000 + "1"
    + "}" * 100_000 + "}",
    '{"turns": ' + "[" * 100_000,       # and never closed
])
def test_json_nested_too_deeply(data: str) -> None:
    assert reason(data) == "broken JSON: nested too deeply"


def test_json_nesting_a_real_file_might_have_is_fine() -> None:
    deep = '{"turns": [{"speaker": "agent", "text": "x", "extra": ' + "[" * 200 + "]" * 200 + "}]}"
    assert pairs(parse_transcript(deep)) == [("agent", "x")]


def _with_started_at(value: object) -> str:
    return json.dumps({"started_at": value, "turns": [{"speaker": "agent", "text": "x"}]})


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-28T10:00:00+08:00", datetime(2026, 11, 28, 10, tzinfo=CST)),
    ("2026-11-28 10:00:00+08:00", datetime(2026, 11, 28, 10, tzinfo=CST)),
    ("2026-11-28T02:00:00Z", datetime(2026, 11, 28, 2, tzinfo=UTC)),
    ("2026-11-28T10:00:00.250+08:00", datetime(2026, 11, 28, 10, 0, 0, 250000, tzinfo=CST)),
    ("20261128T100000+0800", datetime(2026, 11, 28, 10, tzinfo=CST)),
    (None, None),
])
def test_started_at_accepted(value: str | None, expected: datetime | None) -> None:
    t = parse_transcript(_with_started_at(value))
    assert t.started_at == expected
    if t.started_at is not None:
        assert t.started_at.utcoffset() is not None


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-28T10:00:00", "started_at has no UTC offset: '2026-11-28T10:00:00'"),
    ("2026-11-28", "started_at has no UTC offset: '2026-11-28'"),
    ("yesterday", "started_at is not an ISO 8601 date-time: 'yesterday'"),
    ("28/11/2026 10:00 +08:00", "started_at is not an ISO 8601 date-time: "),
    (1764295200, "started_at must be an ISO 8601 date-time string with an offset"),
])
def test_started_at_rejected(value: object, expected: str) -> None:
    assert reason(_with_started_at(value)).startswith(expected)


# ---- speaker-labelled text ------------------------------------------------------------------

def test_text_headers_and_turns() -> None:
    t = parse_transcript(
        "call_id: HL-7\ncaller: 13800138000\nstarted_at: 2026-11-28T10:00:00+08:00\n"
        "agent_id: A9\nlanguage: zh\n\n坐席：您好\n客户：我要投诉\n")
    assert t.format == "text"
    assert (t.call_id, t.caller, t.agent_id, t.language) == ("HL-7", "13800138000", "A9", "zh")
    assert t.started_at == datetime(2026, 11, 28, 10, tzinfo=CST)
    assert pairs(t) == [("agent", "您好"), ("customer", "我要投诉")]


@pytest.mark.parametrize("header", [
    "Call ID: HL-7\nCaller: +86 138 0013 8000\nStarted At: 2026-11-28T10:00:00+08:00\n",
    "CALL_ID：HL-7\nCALLER：+86 138 0013 8000\nSTARTED_AT：2026-11-28T10:00:00+08:00\n",
    "call-id: HL-7\ncaller-number: +86 138 0013 8000\nstart time: 2026-11-28T10:00:00+08:00\n",
    "通话编号：HL-7\n来电号码：+86 138 0013 8000\n开始时间：2026-11-28T10:00:00+08:00\n",
])
def test_text_header_variants(header: str) -> None:
    t = parse_transcript(header + "坐席：您好\n")
    assert (t.call_id, t.caller) == ("HL-7", "+86 138 0013 8000")
    assert t.started_at == datetime(2026, 11, 28, 10, tzinfo=CST)


def test_text_caller_header_versus_caller_speaking() -> None:
    t = parse_transcript("Caller: 010-62345678\nCaller: Hi, my card was stolen\nAgent: ok\n")
    assert t.caller == "010-62345678"
    assert pairs(t) == [("customer", "Hi, my card was stolen"), ("agent", "ok")]
    t = parse_transcript("Caller: Hello there\nAgent: Hi\n")
    assert t.caller is None
    assert pairs(t)[0] == ("customer", "Hello there")


def test_text_header_lines_after_the_first_turn_are_speech() -> None:
    t = parse_transcript("客户：我想说\ncall_id: 123\n")
    assert t.call_id is None
    assert pairs(t) == [("customer", "我想说 call_id: 123")]


def test_text_bad_started_at_header() -> None:
    assert reason("started_at: 2026-11-28 10:00\n坐席：您好\n") == (
        "started_at has no UTC offset: '2026-11-28 10:00' (e.g. 2026-11-28T10:00:00+08:00)")


@pytest.mark.parametrize(("line", "speaker", "text"), [
    ("坐席：您好", "agent", "您好"),
    ("坐席:您好", "agent", "您好"),
    ("客服：请问您贵姓", "agent", "请问您贵姓"),
    ("客户：我姓王", "customer", "我姓王"),
    ("客户 : 我姓王", "customer", "我姓王"),
    ("Agent: Hello", "agent", "Hello"),
    ("AGENT : Hello", "agent", "Hello"),
    ("Customer: Hi", "customer", "Hi"),
    ("customer:Hi", "customer", "Hi"),
    ("用户：你好", "customer", "你好"),
    ("来电人：你好", "customer", "你好"),
    ("话务员：您好", "agent", "您好"),
    ("Operator: Hello", "agent", "Hello"),
    ("CSR: Hello", "agent", "Hello"),
    ("Representative: Hello", "agent", "Hello"),
    ("Client: Hi", "customer", "Hi"),
    ("Caller: Hi", "customer", "Hi"),
    ("Agent 007: Hello", "agent", "Hello"),
    ("坐席(工号8012)：您好", "agent", "您好"),
    ("客服小王：您好", "agent", "您好"),
    ("Customer Service: Hello", "agent", "Hello"),
    ("Customer Care: Hello", "agent", "Hello"),
    ("Client Services: Hello", "agent", "Hello"),
    ("User Support: Hello", "agent", "Hello"),
    ("客户服务：您好", "agent", "您好"),
    ("用户服务：您好", "agent", "您好"),
    ("客户：卡号是：6222 0000", "customer", "卡号是：6222 0000"),
])
def test_text_label_variants(line: str, speaker: str, text: str) -> None:
    assert pairs(parse_transcript(line)) == [(speaker, text)]


@pytest.mark.parametrize(("line", "start", "end"), [
    ("[00:01:23] 客户：我的卡丢了", 83.0, None),
    ("00:01:23 客户：我的卡丢了", 83.0, None),
    ("(00:01:23) 客户：我的卡丢了", 83.0, None),
    ("【00:01:23】客户：我的卡丢了", 83.0, None),
    ("[01:23] 客户：我的卡丢了", 83.0, None),
    ("[00:01:23.500] 客户：我的卡丢了", 83.5, None),
    ("[00:01:23,5] 客户：我的卡丢了", 83.5, None),
    ("[00:01:23 - 00:01:30] 客户：我的卡丢了", 83.0, 90.0),
    ("[00:01:23 --> 00:01:30] 客户：我的卡丢了", 83.0, 90.0),
    ("客户 [00:01:23]：我的卡丢了", 83.0, None),
    ("客户 00:01:23：我的卡丢了", 83.0, None),
    ("客户：[00:01:23] 我的卡丢了", 83.0, None),
    ("客户：00:01:23 我的卡丢了", 83.0, None),
    ("客户：我的卡丢了", None, None),
])
def test_text_timestamps(line: str, start: float | None, end: float | None) -> None:
    t = parse_transcript(line)
    assert t.turns == (Turn("customer", "我的卡丢了", start, end),)


def test_text_time_of_day_after_the_colon_stays_text() -> None:
    t = parse_transcript("客户：10:30 我在ATM取钱")
    assert t.turns == (Turn("customer", "10:30 我在ATM取钱"),)


def test_text_continuation_lines_and_blank_lines() -> None:
    t = parse_transcript(
        "坐席：您好\n\n客户：我的卡\n被人盗刷了\n   \n一共两千五百块\n"
        "Agent: I see\nthat is bad\nCustomer: yes\n")
    assert pairs(t) == [("agent", "您好"), ("customer", "我的卡被人盗刷了一共两千五百块"),
                        ("agent", "I see that is bad"), ("customer", "yes")]


def test_text_unlabelled_lines_that_look_like_labels_continue() -> None:
    t = parse_transcript(
        "客户：我跟你说\n客户说他也遇到过\nCustomer service was awful: nobody answered\n"
        "时间：昨天下午\n10:30我在ATM取的钱\n")
    assert pairs(t) == [("customer", "我跟你说客户说他也遇到过 Customer service was awful: "
                                     "nobody answered 时间：昨天下午 10:30我在ATM取的钱")]


def test_text_label_alone_on_its_line() -> None:
    t = parse_transcript(
        "坐席\n您好\n客户\n我要投诉\nCustomer  0:03\nmy card\nAgent 00:00:07\nok\n")
    assert t.turns == (Turn("agent", "您好"), Turn("customer", "我要投诉"),
                       Turn("customer", "my card", 3.0), Turn("agent", "ok", 7.0))


def test_text_preamble_lines_are_ignored() -> None:
    t = parse_transcript("=== 通话录音转写 ===\n录音时长 3分钟\n坐席：您好\n")
    assert pairs(t) == [("agent", "您好")]


def test_text_crlf_and_cr() -> None:
    assert pairs(parse_transcript("坐席：您好\r\n客户：喂\r\n")) == [
        ("agent", "您好"), ("customer", "喂")]
    assert pairs(parse_transcript("坐席：您好\r客户：喂\r")) == [
        ("agent", "您好"), ("customer", "喂")]


def test_text_label_without_text_is_skipped() -> None:
    assert pairs(parse_transcript("坐席：\n客户：喂\n")) == [("customer", "喂")]


@pytest.mark.parametrize(("data", "expected"), [
    ("喂你好\n我想问一下我的信用卡账单\n", "not a transcript: no speaker-labelled turns"),
    ("Speaker 1: hello\nSpeaker 2: hi\n",
     "not a transcript: no speaker-labelled turns (unknown speaker 'Speaker 1')"),
    ("说话人1：你好\n说话人2：喂\n",
     "not a transcript: no speaker-labelled turns (unknown speaker '说话人1')"),
    ("A: hello\nB: hi\n", "not a transcript: no speaker-labelled turns (unknown speaker 'A')"),
    ("[00:00:01] Caller ID: 13800138000\n", "line 1: unknown speaker 'Caller ID'"),
    ("call_id: 1\ncaller: 13800138000\n", "not a transcript: no speaker-labelled turns"),
    ("坐席：\n客户：\n", "not a transcript: no turn has any text"),
    ("坐席：您好\n[00:00:05] Speaker 2：你好\n", "line 2: unknown speaker 'Speaker 2'"),
    ("[00:00:01] 坐席：您好\n\n00:00:05 机器人：请按1\n", "line 3: unknown speaker '机器人'"),
    ("坐席：您好\n[00:00:09 - 00:00:05] 客户：喂\n", "line 2: ends before it starts"),
    ("1\n00:00:01,000 --> 00:00:02,500\n客户：你好\n",
     "unknown format: subtitle cue timings at line 2 without a WEBVTT header"),
    ("<?xml version='1.0'?><call><turn>hi</turn></call>",
     "unknown format: markup (XML or HTML), not a transcript"),
    ("<html><body>客户：你好</body></html>",
     "unknown format: markup (XML or HTML), not a transcript"),
])
def test_text_rejections(data: str, expected: str) -> None:
    assert reason(data) == expected


# ---- WebVTT ---------------------------------------------------------------------------------

VTT = """WEBVTT

NOTE
call_id: HL-9
caller: +8613800138000
started_at: 2026-11-28T10:00:00+08:00
agent_id: A7
language: zh

1
00:00:01.000 --> 00:00:03.500
<v 坐席>您好，请问有什么可以帮您？</v>

2
00:00:04.000 --> 00:00:09.250 align:start position:10%
<v 客户>我的卡
被盗刷了</v>

01:02:03.004 --> 01:02:05.000
<v Customer>one <i>more</i> thing</v>
"""


def test_vtt_full() -> None:
    t = parse_transcript(VTT.encode())
    assert t == Transcript(
        format="webvtt",
        turns=(Turn("agent", "您好，请问有什么可以帮您？", 1.0, 3.5),
               Turn("customer", "我的卡被盗刷了", 4.0, 9.25),
               Turn("customer", "one more thing", 3723.004, 3725.0)),
        call_id="HL-9", caller="+8613800138000",
        started_at=datetime(2026, 11, 28, 10, tzinfo=CST), agent_id="A7", language="zh")


@pytest.mark.parametrize(("voice", "speaker"), [
    ("<v 客户>", "customer"), ("<v Customer>", "customer"), ("<v Agent 007>", "agent"),
    ("<v.loud 客户>", "customer"), ("<v.first.loud Agent>", "agent"), ("<v  坐席 >", "agent"),
    ("<v Caller>", "customer"), ("<v 客服专员>", "agent"), ("<v Representative>", "agent"),
    ("<v Customer Support>", "agent"), ("<v Customer Care Agent>", "agent"),
    ("<v 客户服务>", "agent"),
])
def test_vtt_voices(voice: str, speaker: str) -> None:
    t = parse_transcript(f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n{voice}你好\n")
    assert pairs(t) == [(speaker, "你好")]


def test_vtt_strips_tags_and_unescapes() -> None:
    t = parse_transcript(
        "WEBVTT\n\n00:01.000 --> 00:02.000\n"
        "<v Agent><c.yellow>Fees</c> &amp; <b>charges</b> <00:00:01.500>are &lt;5%&gt;"
        "&nbsp;ok</v>\n")
    assert pairs(t) == [("agent", "Fees & charges are <5%>\xa0ok")]
    assert (t.turns[0].start, t.turns[0].end) == (1.0, 2.0)


def test_vtt_several_voices_in_one_cue() -> None:
    t = parse_transcript(
        "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Agent>Name?</v>\n<v Customer>Li Na.</v>\n")
    assert t.turns == (Turn("agent", "Name?", 1.0, 4.0), Turn("customer", "Li Na.", 1.0, 4.0))


def test_vtt_cue_without_voice_continues_the_previous_speaker() -> None:
    t = parse_transcript(
        "WEBVTT\n\n00:01.000 --> 00:02.000\n<v 客户>我的卡\n\n00:02.000 --> 00:03.000\n被吞了\n")
    assert pairs(t) == [("customer", "我的卡"), ("customer", "被吞了")]


def test_vtt_label_in_cue_text() -> None:
    t = parse_transcript("WEBVTT\n\n00:01.000 --> 00:02.000\n坐席：您好\n\n"
                         "00:02.000 --> 00:03.000\nCustomer: hi\n")
    assert pairs(t) == [("agent", "您好"), ("customer", "hi")]


def test_vtt_header_variants_and_other_blocks() -> None:
    t = parse_transcript(
        "\ufeffWEBVTT - 安和银行热线\nKind: captions\n\nSTYLE\n::cue { color: red }\n\n"
        "REGION\nid:fred\n\nNOTE 这是一条注释\n\nNOTE call_id: HL-3\n来电号码：13900001111\n"
        "just a comment line\n\n00:00.000 --> 00:01.000\n<v 坐席>您好\n\n"
        "NOTE\nstarted_at: 2026-11-28T10:00:00+08:00\n\n"
        "00:01.000 --> 00:02.000\n<v 客户>   \n")
    assert (t.call_id, t.caller) == ("HL-3", "13900001111")
    assert t.started_at == datetime(2026, 11, 28, 10, tzinfo=CST)
    assert pairs(t) == [("agent", "您好")]


def test_vtt_crlf() -> None:
    t = parse_transcript(VTT.replace("\n", "\r\n").encode())
    assert len(t.turns) == 3 and t.call_id == "HL-9"


@pytest.mark.parametrize(("data", "expected"), [
    ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Bob>hello\n", "line 4: unknown speaker 'Bob'"),
    ("WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\n<v 客户>a\n\n2\n00:00:03.000 --> "
     "00:00:04.000\n<v 说话人2>b\n", "line 9: unknown speaker '说话人2'"),
    ("WEBVTT\n\n00:01.000 --> 00:02.000\n<v>hello\n", "line 4: unknown speaker ''"),
    ("WEBVTT\n\n00:01.000 --> 00:02.000\nhello\n", "line 4: cue has no speaker (<v Name>)"),
    ("WEBVTT\n\nhello there\n<v Agent>hi\n", "line 4: malformed cue, expected 'start --> end'"),
    ("WEBVTT\n\n1\n", "line 4: malformed cue, expected 'start --> end'"),
    ("WEBVTT\n\n00:05.000 --> 00:02.000\n<v Agent>hi\n", "line 3: cue ends before it starts"),
    ("WEBVTT\n\nNOTE\ncall_id: 1\n", "not a transcript: no cue has any text"),
    ("WEBVTT\n", "not a transcript: no cue has any text"),
    ("WEBVTT\n\n00:01.000 --> 00:02.000\n<v Agent></v>\n", "not a transcript: no cue has any text"),
    ("WEBVTT\n\nNOTE\nstarted_at: 2026-11-28 10:00\n\n00:01.000 --> 00:02.000\n<v Agent>hi\n",
     "started_at has no UTC offset: '2026-11-28 10:00' (e.g. 2026-11-28T10:00:00+08:00)"),
    ("WEBVTT\n\n" + "1" * 5000 + ":00:01.000 --> 00:00:02.000\n<v Agent>hi\n",
     "line 3: malformed cue, expected 'start --> end'"),
    ("WEBVTT\n\n00:01.000 --> 00:02.000\n<v Caller ID>hi\n",
     "line 4: unknown speaker 'Caller ID'"),
])
def test_vtt_rejections(data: str, expected: str) -> None:
    assert reason(data) == expected


def test_webvtt_must_be_the_whole_first_word() -> None:
    # "WEBVTTX" is no header: the file is read as text and has no labels
    assert reason("WEBVTTX\n\n00:01.000 --> 00:02.000\n<v Agent>hi\n").startswith(
        "unknown format: subtitle cue timings")


# ---- unknown speakers are echoed cut short --------------------------------------------------

LONG_LABEL = "Bob" * 40_000     # 120 KB


@pytest.mark.parametrize(("data", "where"), [
    (json.dumps({"turns": [{"speaker": LONG_LABEL, "text": "x"}]}), "turn 1"),
    (f"WEBVTT\n\n00:01.000 --> 00:02.000\n<v {LONG_LABEL}>hi\n", "line 4"),
])
def test_unknown_speaker_is_cut_to_40_characters(data: str, where: str) -> None:
    assert reason(data) == f"{where}: unknown speaker {LONG_LABEL[:40] + '...'!r}"


def test_unknown_speaker_of_40_characters_is_shown_whole() -> None:
    label = "x" * 40
    assert reason(json.dumps({"turns": [{"speaker": label, "text": "y"}]})) == (
        f"turn 1: unknown speaker '{label}'")
    assert reason(json.dumps({"turns": [{"speaker": label + "z", "text": "y"}]})) == (
        f"turn 1: unknown speaker '{label}...'")


# ---- limits ---------------------------------------------------------------------------------

def test_limits() -> None:
    assert (MAX_TURNS, MAX_TURN_CHARS) == (5000, 20000)
    assert MAX_META_CHARS == {"call_id": 128, "agent_id": 64, "caller": 32, "language": 16}


def _json_turns(n: int, text: str = "x") -> str:
    return json.dumps({"turns": [{"speaker": "customer", "text": text}] * n})


def test_too_many_turns() -> None:
    assert len(parse_transcript(_json_turns(5000)).turns) == 5000
    assert reason(_json_turns(5001)) == "too many turns: 5001 > 5000"
    assert reason("客户：a\n" * 5001) == "too many turns: 5001 > 5000"
    assert reason("WEBVTT\n\n" + "00:01.000 --> 00:02.000\n<v 客户>a\n\n" * 5001) == (
        "too many turns: 5001 > 5000")


def test_turns_without_text_do_not_count() -> None:
    data = json.dumps({"turns": [{"speaker": "agent", "text": ""}]
                       + [{"speaker": "customer", "text": "x"}] * 5000})
    assert len(parse_transcript(data).turns) == 5000
    assert len(parse_transcript("客户：\n" + "客户：a\n" * 5000).turns) == 5000


def test_turn_too_long() -> None:
    assert len(parse_transcript(_json_turns(1, "x" * 20000)).turns[0].text) == 20000
    assert reason(_json_turns(2, "x" * 20001)) == (
        "turn 1: text too long: 20001 characters > 20000")
    assert len(parse_transcript("客户：" + "a" * 20000).turns[0].text) == 20000
    # continuation lines count with the spaces that join them: 4 lines of 5000 and 3 spaces
    assert reason("坐席：您好\n客户：" + "a" * 5000 + ("\n" + "a" * 5000) * 3) == (
        "line 2: turn too long: 20003 characters > 20000")
    cjk = "客户：" + "我" * 5000 + ("\n" + "我" * 5000) * 3     # no spaces between CJK lines
    assert len(parse_transcript(cjk).turns[0].text) == 20000
    assert reason("WEBVTT\n\n00:01.000 --> 00:02.000\n<v Agent>hi\n\n"
                  "00:02.000 --> 00:03.000\n<v 客户>" + "我" * 20001 + "\n") == (
        "line 7: turn too long: 20001 characters > 20000")


@pytest.mark.parametrize(("key", "limit"), sorted(MAX_META_CHARS.items()))
def test_metadata_longer_than_its_column(key: str, limit: int) -> None:
    def with_meta(value: object) -> str:
        return json.dumps({key: value, "turns": [{"speaker": "agent", "text": "x"}]})

    assert getattr(parse_transcript(with_meta("9" * limit)), key) == "9" * limit
    assert getattr(parse_transcript(with_meta(f"  {'9' * limit}  ")), key) == "9" * limit
    assert reason(with_meta("9" * (limit + 1))) == f"{key} longer than {limit} characters"
    assert reason(with_meta(int("9" * (limit + 1)))) == f"{key} longer than {limit} characters"
    assert reason(f"WEBVTT\n\nNOTE\n{key}: {'9' * (limit + 1)}\n\n"
                  "00:01.000 --> 00:02.000\n<v Agent>hi\n") == (
        f"{key} longer than {limit} characters")


def test_text_header_longer_than_its_column() -> None:
    assert reason(f"call_id: {'x' * 129}\n坐席：您好\n") == "call_id longer than 128 characters"
    assert reason(f"language: {'x' * 17}\n坐席：您好\n") == "language longer than 16 characters"
    assert parse_transcript(f"agent_id: {'x' * 64}\n坐席：您好\n").agent_id == "x" * 64


# ---- time: every path is linear -------------------------------------------------------------

def _long_text(size: int) -> str:
    """One labelled line, then unlabelled continuation lines: one turn as long as the file."""
    head, line = "客户：我的卡被盗刷了\n", "charged\n"
    return head + line * ((size - len(head.encode())) // len(line))


def _long_cue(size: int) -> str:
    head, line = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Customer>first\n", "charged\n"
    return head + line * ((size - len(head)) // len(line))


def _many_turns(size: int) -> str:
    """JSON of 104 bytes a turn: 20,000 turns in 2 MB."""
    turn = {"speaker": "customer", "text": "x" * 40, "start": 1.5, "end": 2.25}
    assert len(json.dumps(turn) + ", ") == 104
    return json.dumps({"call_id": "HL-1", "turns": [turn] * (size * 20_000 // TWO_MB)})


TWO_MB = MAX_TRANSCRIPT_BYTES


@pytest.mark.parametrize(("data", "expected"), [
    (_long_text(TWO_MB), "line 1: turn too long: "),
    (_long_cue(TWO_MB), "line 4: turn too long: "),
    (_many_turns(TWO_MB), "too many turns: 20000 > 5000"),
    # an unclosed <v scanned to the end for each "<v", a voice of a million blanks, a speaker
    # label of a million blanks: each took hours before
    ("WEBVTT\n\n00:01.000 --> 00:02.000\n" + "<v a" * (TWO_MB // 4 - 10),
     "line 4: cue has no speaker (<v Name>)"),
    ("WEBVTT\n\n00:01.000 --> 00:02.000\n<v" + " " * (TWO_MB - 50) + "x",
     "line 4: cue has no speaker (<v Name>)"),
    (json.dumps({"turns": [{"speaker": "客户" + " " * (TWO_MB - 100) + "!", "text": "x"}]}),
     "turn 1: unknown speaker '客户"),
    ('{"turns": ' + "[" * (TWO_MB // 2 - 10) + "]" * (TWO_MB // 2 - 10) + "}",
     "broken JSON: nested too deeply"),
])
def test_adversarial_2_mb_files_are_refused_with_a_reason(data: str, expected: str) -> None:
    # How long they take is measured by `python -m bench.hotline` (0.1-0.4 s each).
    assert len(data.encode()) <= MAX_TRANSCRIPT_BYTES
    assert reason(data).startswith(expected)


def test_content_hash_of_many_turns_of_one_speaker_is_that_of_their_words() -> None:
    t = Transcript("json", (Turn("customer", "x" * 400),) * 5000)
    assert content_hash(t) == content_hash(Transcript("json", (Turn("customer", "x" * 2_000_000),)))


# ---- decoding and size ----------------------------------------------------------------------

TEXT = "坐席：您好，请问有什么可以帮您？\n客户：我的信用卡被盗刷了两千五百块\n"
EXPECTED_TEXT = [("agent", "您好，请问有什么可以帮您？"),
                 ("customer", "我的信用卡被盗刷了两千五百块")]


@pytest.mark.parametrize("data", [
    TEXT,
    TEXT.encode("utf-8"),
    b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
    TEXT.encode("utf-16"),                          # with the platform's BOM
    b"\xff\xfe" + TEXT.encode("utf-16-le"),
    b"\xfe\xff" + TEXT.encode("utf-16-be"),
    b"\xff\xfe\x00\x00" + TEXT.encode("utf-32-le"),
    TEXT.encode("gb18030"),
    TEXT.encode("gbk"),
])
def test_encodings(data: bytes | str) -> None:
    assert pairs(parse_transcript(data)) == EXPECTED_TEXT


def test_stray_control_characters_are_dropped() -> None:
    assert pairs(parse_transcript("坐席：您\x07好\n客户：喂\x1b\n")) == [
        ("agent", "您好"), ("customer", "喂")]


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "empty file"),
    ("", "empty file"),
    (b"   \n\t\r\n  ", "empty file"),
    (b"\xef\xbb\xbf", "empty file"),
    (b"\xef\xbb\xbf  \n", "empty file"),
    ("\u3000\n", "empty file"),
    (b"\xff\xfe", "empty file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file: NUL bytes"),
    (TEXT.encode("utf-16-le"), "binary file: NUL bytes"),     # UTF-16 without its BOM
    ("坐席：您好\x00", "binary file: NUL bytes"),
    (bytes(range(1, 32)) * 20, "binary file: mostly control characters"),
    (b"\xff\xff\xff\xfe\x80\x80\x80" * 10, "binary file: neither UTF-8, UTF-16 nor GB18030 text"),
    (b"\xff\xfe\x00\xd8", "binary file: not valid UTF-16-LE after its byte-order mark"),
])
def test_decoding_rejections(data: bytes | str, expected: str) -> None:
    assert reason(data) == expected


def test_too_large() -> None:
    assert MAX_TRANSCRIPT_BYTES == 2 * 1024 * 1024
    big = b"a" * int(3.2 * 1024 * 1024)
    assert reason(big) == "too large: 3.2 MB > 2 MB"
    assert reason("客" * 1_200_000) == "too large: 3.4 MB > 2 MB"   # 3 bytes a character
    assert reason(b"a" * (MAX_TRANSCRIPT_BYTES + 1)) == "too large: 2097153 bytes > 2097152 bytes"
    assert reason(TEXT.encode(), max_bytes=20) == "too large: 101 bytes > 20 bytes"
    assert reason(b"x" * 3000, max_bytes=2048) == "too large: 2.9 KB > 2 KB"


def test_size_limit_is_inclusive() -> None:
    data = TEXT.encode()
    assert pairs(parse_transcript(data, max_bytes=len(data))) == EXPECTED_TEXT
    padded = data + b" " * (MAX_TRANSCRIPT_BYTES - len(data))
    assert pairs(parse_transcript(padded)) == EXPECTED_TEXT


def test_invalid_transcript_is_an_invalid_payload() -> None:
    with pytest.raises(InvalidPayload) as info:
        parse_transcript(b"")
    assert isinstance(info.value, InvalidTranscript)
    assert info.value.detail == str(info.value) == "empty file"


# ---- content hash ---------------------------------------------------------------------------

SAME_CALL = [
    '{"call_id": "1", "turns": [{"speaker": "agent", "text": "您好，请问有什么可以帮您？", '
    '"start": 0, "end": 2}, {"speaker": "customer", "text": "我的卡 被吞了"}, '
    '{"speaker": "customer", "text": "Please help"}]}',
    "started_at: 2026-11-28T10:00:00+08:00\n[00:00:01] 坐席：您好，请问有什么可以帮您？\n"
    "客户：我的卡被吞了\nplease   help\n",
    "WEBVTT\n\n00:00.000 --> 00:02.000\n<v Agent 1>您好，请问\n有什么可以帮您？\n\n"
    "00:03.000 --> 00:04.000\n<v 客户>我的卡被吞了\n\n00:04.000 --> 00:05.000\nPLEASE HELP\n",
]


def test_content_hash_is_the_same_for_one_call_in_any_format() -> None:
    hashes = {content_hash(parse_transcript(data)) for data in SAME_CALL}
    assert len(hashes) == 1
    (digest,) = hashes
    assert re.fullmatch(r"[0-9a-f]{64}", digest)


def test_content_hash_is_pinned() -> None:
    t = Transcript("json", (Turn("agent", "您好"), Turn("customer", "我的卡被吞了")))
    assert content_hash(t) == (
        "eac81a729ed92d7c27f0b3f470dfda063395275fcd8ac3a2ffac67d17215f13e")


def test_content_hash_ignores_metadata_and_timings() -> None:
    turns = (Turn("agent", "您好"), Turn("customer", "我的卡被吞了"))
    timed = (Turn("agent", "您好", 0.0, 1.0), Turn("customer", " 我的卡被吞了 ", 2.0, 3.0))
    assert content_hash(Transcript("json", turns)) == content_hash(
        Transcript("text", timed, call_id="x", caller="1", agent_id="A", language="zh"))


def test_content_hash_tells_calls_apart() -> None:
    base = content_hash(Transcript("json", (Turn("agent", "您好"), Turn("customer", "喂"))))
    swapped = content_hash(Transcript("json", (Turn("customer", "您好"), Turn("agent", "喂"))))
    other = content_hash(Transcript("json", (Turn("agent", "您好"), Turn("customer", "喂喂"))))
    moved = content_hash(Transcript("json", (Turn("agent", "您好喂"),)))
    assert len({base, swapped, other, moved}) == 4


# ---- purity ---------------------------------------------------------------------------------

def test_hotline_imports_only_the_standard_library_and_channels_base() -> None:
    code = (
        "import sys; before = set(sys.modules); import channels.hotline; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "print(sorted(m for m in new if m not in sys.stdlib_module_names))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2]).stdout
    assert out.strip() == "['channels']"


# ---- the corpus -----------------------------------------------------------------------------

EXPECTED: dict[str, dict[str, object]] = json.loads(
    (CORPUS.parent / "hotline_expected.json").read_text(encoding="utf-8"))
FILES = sorted(p.name for p in CORPUS.iterdir())
FORMAT_OF_SUFFIX = {".json": "json", ".txt": "text", ".vtt": "webvtt"}
BUSINESS = {"deposit", "debit_card", "credit_card", "loan", "wealth", "insurance", "payment",
            "other"}
REQUIRED = ("name", "phone", "business", "description", "incident_time", "resolution")
KEYS = {"call_id", "name", "phone", "business", "incident_time", "amount", "currency",
        "category", "priority", "missing"}


def test_corpus_size_and_spread() -> None:
    assert set(FILES) == set(EXPECTED)
    assert len(FILES) >= 24
    formats = [FORMAT_OF_SUFFIX[Path(f).suffix] for f in FILES]
    assert all(formats.count(f) >= 6 for f in ("json", "text", "webvtt"))
    assert sum(f.startswith("en_") for f in FILES) >= 8
    gold = EXPECTED.values()
    assert sum(g["call_id"] is None for g in gold) >= 3
    assert sum(g["priority"] == "urgent" for g in gold) >= 2
    assert {g["business"] for g in gold} == BUSINESS
    assert {g.get("category") for g in gold} >= {"product", "service", "process"}
    assert {m for g in gold for m in g["missing"]} >= {"name", "incident_time"}


@pytest.mark.parametrize("name", FILES)
def test_corpus_file_parses(name: str) -> None:
    t = parse_transcript((CORPUS / name).read_bytes())
    gold = EXPECTED[name]
    assert t.format == FORMAT_OF_SUFFIX[Path(name).suffix]
    assert {turn.speaker for turn in t.turns} == {"agent", "customer"}
    assert t.call_id == gold["call_id"]
    if t.started_at is not None:
        assert t.started_at.utcoffset() is not None
        if gold["incident_time"] is not None:
            assert date.fromisoformat(str(gold["incident_time"])) <= t.started_at.date()
    english = name.startswith("en_")
    customer_text = "".join(turn.text for turn in t.turns if turn.speaker == "customer")
    assert english == customer_text.isascii()


@pytest.mark.parametrize("name", FILES)
def test_corpus_gold_is_well_formed(name: str) -> None:
    gold = EXPECTED[name]
    assert set(gold) <= KEYS and KEYS - {"category"} <= set(gold)
    missing = gold["missing"]
    assert isinstance(missing, list) and list(missing) == [f for f in REQUIRED if f in missing]
    for field in ("name", "phone", "incident_time"):
        assert (gold[field] is None) == (field in missing)
    assert gold["phone"] is None or re.fullmatch(r"\+[1-9]\d{7,14}", str(gold["phone"]))
    assert gold["business"] in BUSINESS
    assert gold["incident_time"] is None or date.fromisoformat(str(gold["incident_time"]))
    assert gold["priority"] in {"urgent", "high", "normal", "low"}
    assert gold.get("category", "product") in {"product", "service", "process"}
    amount = gold["amount"]
    assert (amount is None) == (gold["currency"] is None)
    assert amount is None or (isinstance(amount, int | float) and amount > 0)
    assert gold["currency"] in (None, "CNY", "USD", "HKD")


def test_corpus_without_call_id_have_distinct_hashes() -> None:
    hashes = [content_hash(parse_transcript((CORPUS / f).read_bytes())) for f in FILES]
    assert len(set(hashes)) == len(hashes)


def test_corpus_without_started_at_name_their_dates_in_full() -> None:
    # the importer's clock is then the file's time: gold dates must not depend on it
    for name in FILES:
        t = parse_transcript((CORPUS / name).read_bytes())
        if t.started_at is None and EXPECTED[name]["incident_time"] is not None:
            assert "二零二六年" in "".join(turn.text for turn in t.turns), name


def test_corpus_phone_falls_back_to_the_caller() -> None:
    # where the customer never says a number, the gold phone is the caller's number
    for name in ("zh_credit_card_annual_fee.txt", "en_marketing_calls.txt",
                 "en_installment_rate_hk.vtt"):
        t = parse_transcript((CORPUS / name).read_bytes())
        assert t.caller is not None
        assert re.sub(r"[^\d+]", "", t.caller).removeprefix("+").removeprefix("86") in str(
            EXPECTED[name]["phone"]).replace("+86", "").replace("+", "")


@pytest.mark.parametrize(("name", "expected"), [
    ("broken.json", "broken JSON at line 4: Expecting ',' delimiter (column 3)"),
    ("empty.txt", "empty file"),
    ("no_speakers.txt", "not a transcript: no speaker-labelled turns"),
])
def test_bad_files(name: str, expected: str) -> None:
    assert reason((BAD / name).read_bytes()) == expected


def test_an_unpaired_surrogate_escape_is_refused_but_a_pair_is_read() -> None:
    bad = '{"turns": [{"speaker": "customer", "text": "bad \\ud800 text"}]}'
    assert reason(bad) == "broken JSON: text with an unpaired surrogate escape"
    good = '{"turns": [{"speaker": "customer", "text": "ok \\ud83d\\ude00"}]}'
    assert parse_transcript(good).turns[0].text == "ok 😀"
