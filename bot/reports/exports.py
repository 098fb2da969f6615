"""Exports of a period's cases and of its regulatory report, as CSV or XLSX (openpyxl).

What people read in them is masked: ID-card and bank-card numbers in every text column, as
the console shows them. A cell that a spreadsheet would run as a formula (a customer's words
can start with =, +, -, @) is written as text: quoted with an apostrophe in CSV, typed as
text in XLSX (where characters a worksheet cannot hold are dropped).
Cases are read in pages from the database and written as they come: an export of any size
holds one page in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cases.views import mask
from ..store.models import Case
from . import regulatory as jrt
from .figures import Period, regulatory, where
from .regulatory import Table

FORMATS = ("csv", "xlsx")
KINDS = ("cases", "regulatory")
PAGE = 1000
# Columns of the cases export: (header, attribute); texts are masked.
CASE_COLUMNS = (
    ("number", "number"), ("filed_at", "filed_at"), ("received_on", "filed_on"),
    ("channel", "channel"), ("status", "status"), ("priority", "priority"),
    ("category", "category"), ("business", "business"), ("name", "name"),
    ("phone", "phone"), ("description", "description"), ("incident_time", "incident_time"),
    ("amount", "amount"), ("currency", "currency"), ("branch", "branch"),
    ("resolution", "resolution"), ("due_date", "due_date"),
    ("first_response_at", "first_response_at"), ("resolved_at", "resolved_at"),
    ("outcome", "outcome"), ("rating", "rating"), ("filed_by_bot", "filed_by_bot"),
    ("callback_reason", "callback_reason"),
)
_MASKED = {"name", "description", "branch", "resolution", "outcome"}
REGULATORY_HEADERS = ("channel_code", "channel", "business_type_code", "business_type",
                      "reason_code", "reason", "count")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe(value: Any) -> Any:
    """A value as a CSV cell: text a spreadsheet would run as a formula (starting with one
    of _FORMULA, or with spaces before =, +, -, @) quoted with an apostrophe."""
    if isinstance(value, str) and (value.startswith(_FORMULA)
                                   or value.lstrip(" \n").startswith(_FORMULA[:4])):
        return "'" + value
    return value


def _xlsx(sheet: Any, value: Any) -> Any:
    """A value as an XLSX cell: characters a worksheet cannot hold (control characters a
    customer's message may carry) dropped; text stays text, a leading "=" included."""
    if not isinstance(value, str):
        return value
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value.startswith("="):  # openpyxl would write it as a formula
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def case_headers(table: Table, lang: str) -> list[str]:
    dims = [table.title(d, lang) for d in jrt.DIMENSIONS]
    return [h for h, _ in CASE_COLUMNS] + [f"{d} ({k})" for d in dims for k in ("code", "label")]


def case_rows(session: Session, period: Period, table: Table, lang: str, zone: tzinfo
              ) -> Iterator[list[Any]]:
    """The period's cases in order of receipt, one list of cells each, read PAGE at a time
    (keyset pages: no offset scans)."""
    columns = [getattr(Case, attr) for _, attr in CASE_COLUMNS]
    extra = (Case.reg_channel, Case.reg_business, Case.reg_reason)
    last = 0
    while True:
        rows = session.execute(select(Case.id, *columns, *extra)
                               .where(*where(period), Case.id > last)
                               .order_by(Case.id).limit(PAGE)).all()
        if not rows:
            return
        for row in rows:
            cells: list[Any] = []
            for (header, _), value in zip(CASE_COLUMNS, row[1:1 + len(CASE_COLUMNS)],
                                          strict=True):
                cells.append(_cell(header, value, zone))
            for dimension, key in zip(jrt.DIMENSIONS, row[1 + len(CASE_COLUMNS):],
                                      strict=True):
                entry = table.entry(dimension, key)
                cells.extend([entry.code, entry.label(lang)])
            yield cells
        last = rows[-1][0]


def _cell(header: str, value: Any, zone: tzinfo) -> Any:
    if value is None:
        return None
    if header in _MASKED:
        return mask(value)
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if header == "amount" else str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def regulatory_rows(session: Session, period: Period, table: Table, lang: str
                    ) -> list[list[Any]]:
    out = []
    for row in regulatory(session, period):
        cells: list[Any] = []
        for dimension in jrt.DIMENSIONS:
            entry = table.entry(dimension, row[dimension])
            cells.extend([entry.code, entry.label(lang)])
        out.append([*cells, row["count"]])
    return out


def write_csv(headers: list[str], rows: Iterator[list[Any]] | list[list[Any]], out: Any,
              progress: Callable[[int], None] | None = None) -> int:
    """CSV with a UTF-8 byte-order mark (spreadsheets read the Chinese right); rows written."""
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    n = 0
    for row in rows:
        writer.writerow(["" if c is None else safe(c) for c in row])
        n += 1
        if progress is not None:
            progress(1)
    return n


def write_xlsx(path: Path, sheets: list[tuple[str, list[str], Any]],
               progress: Callable[[int], None] | None = None) -> int:
    """An XLSX workbook of (title, headers, rows) sheets, written row by row (openpyxl's
    write-only mode); strings are written as text, never as formulas. Rows written."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    n = 0
    for title, headers, rows in sheets:
        sheet = book.create_sheet(title=title[:31])
        sheet.append(headers)
        for row in rows:
            sheet.append([_xlsx(sheet, v) for v in row])
            n += 1
            if progress is not None:
                progress(1)
    book.save(str(path))
    return n
