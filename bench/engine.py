"""Engine benchmark: time of one step over the dev set's messages, and cold start.

    python -m bench.engine [--dialogues ../shared/eval/dev.jsonl] [--rounds 30]

Cold start is measured in fresh interpreters: import, dictionary loading and the first
reply to a first message, as a service sees it after a restart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from workflow.deadlines import due_date
from workflow.engine import Engine
from workflow.model import WAIT_CONFIRM, CaseFiled, FileCase, HandoffQueued, HandoffRequested

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = ROOT.parent / "shared" / "eval" / "dev.jsonl"

_COLD = """
import time
t0 = time.perf_counter()
from datetime import datetime
from workflow.engine import Engine
engine = Engine()
engine.segmenter.load()
text = "我是张伟，手机13912345678。昨天在南山支行ATM取款2000元没出钞"
step = engine.step(None, text, datetime(2026, 11, 28))
assert step.replies
print(time.perf_counter() - t0)
"""


def cold_start(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _COLD], capture_output=True, text=True,
                             check=True, cwd=ROOT)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def step_times(dialogues: list[dict], rounds: int) -> list[float]:
    engine = Engine()
    engine.warm_up()
    times: list[float] = []
    for _ in range(rounds):
        for d in dialogues:
            now = datetime.fromisoformat(d["now"])
            answers = d.get("answers", {})
            dont_know = "不知道" if d.get("lang") == "zh" else "I don't know"
            message, state = d["opening"], None
            for _turn in range(30):
                t0 = time.perf_counter()
                step = engine.step(state, message, now)
                times.append(time.perf_counter() - t0)
                if any(isinstance(e, FileCase) for e in step.events):
                    engine.resume(step.state, CaseFiled("BN1", due_date(now.date()).isoformat()),
                                  now)
                    break
                for event in step.events:
                    if isinstance(event, HandoffRequested):  # no agent online: the bot goes on
                        step = engine.resume(step.state, HandoffQueued(event.reason, 0, None),
                                             now)
                state = step.state
                w = step.waiting_for
                message = ("确认" if d.get("lang") == "zh" else "yes") if w == WAIT_CONFIRM \
                    else answers.get(w, dont_know)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialogues", type=Path, default=DEFAULT_SET)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--cold-runs", type=int, default=5)
    args = parser.parse_args()
    dialogues = [json.loads(line) for line in args.dialogues.read_text("utf-8").splitlines()
                 if line.strip()]
    times = step_times(dialogues, args.rounds)
    cold = cold_start(args.cold_runs)
    print(f"engine step: {len(times)} steps over {len(dialogues)} dialogues x {args.rounds}")
    median, p99 = statistics.median(times) * 1e3, percentile(times, 0.99) * 1e3
    print(f"  median {median:.3f} ms   p99 {p99:.3f} ms   max {max(times) * 1e3:.3f} ms")
    print(f"cold start (import + dictionaries + first reply), {len(cold)} fresh interpreters:")
    print(f"  median {statistics.median(cold):.3f} s   max {max(cold):.3f} s   "
          f"first {cold[0]:.3f} s")


if __name__ == "__main__":
    main()
