"""`intake import-transcripts PATH...`: files or folders of call transcripts into cases."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from bot.core import build_core
from bot.hotline import HotlineIntake, ImportResult, ImportSummary
from bot.logs import configure_logging
from bot.settings import Settings
from channels.hotline import too_large_reason


def import_transcripts(paths: list[str], as_json: bool = False) -> int:
    """Import every file; 0 when none failed, 1 when some did, 2 on bad configuration."""
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"intake import-transcripts: bad configuration: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    core = build_core(settings)
    intake = HotlineIntake(core.sessions, core.pipeline.engine, settings, core.metrics)
    files = list(_files(paths))
    summary = ImportSummary()
    try:
        for path, problem in tqdm(files, desc="transcripts", unit="file", file=sys.stderr,
                                  disable=None):
            summary.results.append(problem or _import_one(intake, path, settings))
    finally:
        core.db.dispose()
    print(_json(summary) if as_json else _report(summary))
    return 1 if summary.count("failed") else 0


def _import_one(intake: HotlineIntake, path: Path, settings: Settings) -> ImportResult:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > settings.hotline_max_bytes:  # not even read: it cannot be a call
            return ImportResult(name, "failed",
                                reason=too_large_reason(size, settings.hotline_max_bytes))
        data = path.read_bytes()
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError as exc:
        return ImportResult(name, "failed", reason=exc.strerror or type(exc).__name__)
    try:
        return intake.ingest(data, name, file_time=mtime)
    except Exception as exc:  # one file's fault must not stop the others; say which
        return ImportResult(name, "failed", reason=f"could not be filed: {type(exc).__name__}")


def _files(paths: list[str]) -> Iterator[tuple[Path, ImportResult | None]]:
    """Files as given, folders walked (hidden entries skipped), in a stable order."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for file_name in sorted(names):
                    if not file_name.startswith("."):
                        yield Path(root) / file_name, None
        elif path.is_file():
            yield path, None
        else:
            yield path, ImportResult(given, "failed", reason="no such file or folder")


def _report(summary: ImportSummary) -> str:
    lines = [f"filed {summary.count('filed')}, skipped {summary.count('skipped')} "
             f"(already imported), failed {summary.count('failed')}"]
    for r in summary.results:
        if r.status == "filed":
            notes = [r.priority or "normal"]
            if r.missing:
                notes.append("to confirm on call-back: " + ", ".join(r.missing))
            lines.append(f"  filed    {r.source} -> {r.case_number} ({'; '.join(notes)})")
        elif r.status == "skipped":
            lines.append(f"  skipped  {r.source}: already imported as {r.case_number}")
        else:
            lines.append(f"  failed   {r.source}: {r.reason}")
    return "\n".join(lines)


def _json(summary: ImportSummary) -> str:
    return json.dumps({
        "filed": summary.count("filed"), "skipped": summary.count("skipped"),
        "failed": summary.count("failed"),
        "files": [{"file": r.source, "status": r.status, "case_number": r.case_number,
                   "priority": r.priority, "missing": list(r.missing), "reason": r.reason}
                  for r in summary.results]}, ensure_ascii=False)
