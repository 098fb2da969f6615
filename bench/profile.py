"""Where one message's CPU goes: the pipeline in-process, without HTTP, under cProfile.

    python -m bench.profile [--db sqlite|postgresql] [--dialogues 200] [--top 25]

Plays dev-set dialogues (as bench/e2e.py's customers do: answering what `waiting_for` asks)
straight into `Pipeline.handle` on a fresh store, first without the profiler for the CPU
time per message, then under cProfile. Prints the CPU per message, the engine step's share
(from the service's own histogram), how the profiled time splits between the engine
(`workflow/`), the service's code (`bot/`), SQLAlchemy, the database driver and the rest,
and the functions with the most time of their own. cProfile slows Python code more than C
code, so the shares are a guide, the unprofiled CPU per message the figure.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench import common
from bench.e2e import DEFAULT_PG_ADMIN, postgres_database
from bot.core import Core, build_core
from bot.settings import Settings
from channels.base import Inbound


def play(core: Core, dialogues: list[common.Dialogue], count: int) -> int:
    """`count` dialogues to their end; the number of messages handled."""
    messages = 0
    for i in range(count):
        d = dialogues[i % len(dialogues)]
        lang = d.get("lang", "zh")
        visitor = uuid.uuid4().hex
        text = d["opening"]
        for turn in range(common.MAX_TURNS):
            inbound = Inbound(channel="webchat", user_id=visitor, message_id=f"{visitor}.{turn}",
                              text=text, timestamp=datetime.now(UTC), lang=lang)
            handled = core.pipeline.handle(inbound, answered_inline=True)
            messages += 1
            waiting = handled.waiting_for
            if waiting is None:
                break
            text = common.confirm_word(lang) if waiting == "confirm" else \
                d.get("answers", {}).get(waiting, common.dont_know(lang))
    return messages


def _group(filename: str) -> str:
    if "/workflow/" in filename:
        return "engine (workflow/)"
    if "/bot/" in filename:
        return "service (bot/)"
    if "sqlalchemy" in filename:
        return "SQLAlchemy"
    if "jieba" in filename:
        return "engine (jieba)"
    if "psycopg" in filename:
        return "database driver (psycopg; its waits for the server included)"
    if filename == "~":
        return "built-ins and C (driver calls, regex, json...)"
    return "other Python (stdlib, prometheus, phonenumbers...)"


def _histogram_mean(histogram: object) -> float:
    total = count = 0.0
    for metric in histogram.collect():  # type: ignore[attr-defined]
        for sample in metric.samples:
            if sample.name.endswith("_sum"):
                total = sample.value
            elif sample.name.endswith("_count"):
                count = sample.value
    return total / count if count else float("nan")


def run(url: str, args: argparse.Namespace, dialogues: list[common.Dialogue]) -> None:
    core = build_core(Settings(database_url=url, _env_file=None))
    try:
        play(core, dialogues, 20)  # warm: caches, prepared statements, lazy imports
        wall, cpu = time.perf_counter(), time.process_time()
        n = play(core, dialogues, args.dialogues)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        step = _histogram_mean(core.metrics.step_seconds)
        print(f"  {n} messages: {cpu / n * 1e3:.2f} ms CPU and {wall / n * 1e3:.2f} ms wall "
              f"per message (in-process, no HTTP; the writer thread included)")
        print(f"  engine step: {step * 1e3:.2f} ms mean ({step / (cpu / n) * 100:.0f}% of the "
              "CPU per message)")
        # The writer thread does the work: profile it there, commits included.
        profiler = cProfile.Profile()
        write = core.pipeline.writer._write

        def profiled(batch: list[object]) -> None:
            profiler.enable()
            try:
                write(batch)  # type: ignore[arg-type]
            finally:
                profiler.disable()

        core.pipeline.writer._write = profiled  # type: ignore[method-assign]
        play(core, dialogues, max(1, args.dialogues // 2))
    finally:
        core.db.dispose()
    stats = pstats.Stats(profiler)
    groups: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for (filename, line, name), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        groups[_group(filename)] += tottime
        own[f"{Path(filename).name}:{line}({name})"] += tottime
    total = sum(groups.values()) or 1.0
    print("  profiled time by part:")
    for part, seconds in groups.most_common():
        print(f"    {seconds / total * 100:5.1f}%  {part}")
    print(f"  the {args.top} functions with the most time of their own:")
    for where, seconds in own.most_common(args.top):
        print(f"    {seconds / total * 100:5.1f}%  {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--dialogues", type=int, default=200, help="dialogues measured")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    parser.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN)
    parser.add_argument("--dialogue-file", type=Path, default=common.DEFAULT_SET)
    args = parser.parse_args()
    dialogues = [json.loads(line) for line in
                 args.dialogue_file.read_text("utf-8").splitlines() if line.strip()]
    print(f"one message's CPU: {args.dialogues} dev-set dialogues through Pipeline.handle "
          f"on {args.db}")
    if args.db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="intake-profile-") as tmp:
            run(f"sqlite:///{tmp}/intake.db", args, dialogues)
    else:
        with postgres_database(args.pg_admin_url) as url:
            run(url, args, dialogues)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
