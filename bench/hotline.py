"""Hotline benchmark: reading calls and parsing transcripts, and how both grow.

    python -m bench.hotline [--corpus tests/data/hotline]

Prints: the time to read each corpus call (median, max); `read_call` on long calls of 400,
3,200 and 8,000 customer turns (time per turn should stay flat: nothing may grow with the
call read so far); and `parse_transcript` on adversarial files of the largest size accepted
(one huge turn, thousands of continuation lines, a single huge WebVTT cue, 5,000 JSON turns).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from channels.hotline import MAX_TRANSCRIPT_BYTES, InvalidTranscript, parse_transcript
from workflow.segment import default_segmenter
from workflow.transcript import read_call

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=timezone(timedelta(hours=8)))
CLAUSES = (
    "我上周五在南山支行的ATM取了两千块", "钱没吐出来但是卡里扣了", "打了三次客服电话都没人接",
    "柜员态度特别差", "我的信用卡昨天晚上被人盗刷了两笔", "一共一万二", "都不是我本人操作的",
    "你们的理财经理说保本", "结果亏了三万多", "年费我明明申请过减免", "账单上还是扣了六百",
    "手机银行转账一直显示处理中", "我要求把钱退回来", "希望你们尽快给我一个说法",
)
PROMPTS = ("嗯，您继续说。", "请问是什么时候发生的？", "还有别的情况吗？")


def best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def long_call(turns: int) -> list[tuple[str, str]]:
    rng = random.Random(turns)
    call = [("agent", "您好，请问有什么可以帮您？")]
    for i in range(turns):
        if i % 4 == 3:
            call.append(("agent", rng.choice(PROMPTS)))
        call.append(("customer", "，".join(rng.sample(CLAUSES, rng.randint(1, 3))) + "。"))
    return call


def corpus(folder: Path) -> None:
    times = []
    for path in sorted(folder.iterdir()):
        transcript = parse_transcript(path.read_bytes())
        turns = [(t.speaker, t.text) for t in transcript.turns]
        now = transcript.started_at or NOW
        read_call(turns, now)  # warm
        times.append(best_of(3, lambda turns=turns, now=now: read_call(turns, now)))
    print(f"corpus: {len(times)} calls, read_call median {statistics.median(times) * 1e3:.1f} ms,"
          f" max {max(times) * 1e3:.1f} ms")


def scaling() -> None:
    print("read_call on long calls (customer turns -> seconds, ms per turn):")
    for turns in (400, 3200, 8000):
        call = long_call(turns)
        seconds = best_of(1 if turns > 1000 else 3, lambda call=call: read_call(call, NOW))
        print(f"  {turns:6d} turns  {seconds:7.2f} s  {seconds / turns * 1e3:6.2f} ms/turn")


def adversarial() -> None:
    """Files just under the size limit, made of what makes a careless parser slow: turns built
    from thousands of continuation lines or cue lines, thousands of turns, long turns."""
    size = MAX_TRANSCRIPT_BYTES - 1024

    def fill(unit: str, head: str = "") -> bytes:
        body = head + unit * ((size - len(head.encode())) // len(unit.encode()))
        return body.encode()

    # Each turn: a label, then continuation lines up to just under the longest turn allowed.
    text_turn = "客户：开始\n" + "又说一句\n" * 3500
    vtt_cue = "00:00:00.000 --> 00:00:09.000\n<v Customer>" + "more words\n" * 1500 + "\n"
    json_turns = {"turns": [{"speaker": "customer", "text": "我的卡被盗刷了，" * 12}] * 4900}
    cases = {
        "text, continuation lines": fill(text_turn),
        "WebVTT, many-line cues": fill(vtt_cue, "WEBVTT\n\n"),
        "JSON, 4,900 turns": json.dumps(json_turns, ensure_ascii=False).encode(),
        "text, 4,900 turns": ("客户：" + "我的卡被盗刷了，" * 16 + "\n").encode() * 4900,
        # Each of these once took hours at this size: a voice tag never closed, a voice or
        # a speaker label of a million blanks.
        "WebVTT, unclosed <v": ("WEBVTT\n\n00:01.000 --> 00:02.000\n"
                                + "<v a" * (size // 4 - 10)).encode(),
        "WebVTT, blank voice": ("WEBVTT\n\n00:01.000 --> 00:02.000\n<v" + " " * (size - 50)
                                + "x").encode(),
        "JSON, blank speaker": json.dumps({"turns": [{"speaker": "客户" + " " * (size - 100)
                                                      + "!", "text": "x"}]}).encode(),
    }
    print(f"parse_transcript on files of up to {size / 1e6:.1f} MB:")
    for name, data in cases.items():
        outcome = "parsed"

        def parse(data: bytes = data) -> None:
            nonlocal outcome
            try:
                outcome = f"{len(parse_transcript(data).turns)} turns"
            except InvalidTranscript as exc:
                outcome = f"refused: {exc.detail}"

        seconds = best_of(2, parse)
        print(f"  {name:26s} {seconds:6.2f} s  ({len(data) / 1e6:.1f} MB, {outcome})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "hotline")
    args = parser.parse_args()
    default_segmenter().load()
    corpus(args.corpus)
    scaling()
    adversarial()


if __name__ == "__main__":
    main()
