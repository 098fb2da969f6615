"""Charts drawn on the server as inline SVG: no script, no library, nothing fetched; the
console's CSP allows them (presentation attributes and classes only, no style attribute).
Every chart is also shown as a table by the page."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR_HEIGHT = 22
LABEL_WIDTH = 130
WIDTH = 440
COLUMN_AREA = 180


def _fmt(n: float) -> str:
    return f"{n:g}"


def _open(kind: str, chart: str, title: str, width: float, height: float) -> list[str]:
    return [f'<svg class="chart {kind}" data-chart="{escape(chart)}" role="img" '
            f'viewBox="0 0 {_fmt(width)} {_fmt(height)}" width="{_fmt(width)}" '
            f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
            f"<title>{escape(title)}</title>"]


def bars(items: Sequence[tuple[str, int]], *, title: str, chart: str) -> Markup:
    """Horizontal bars, one per (label, value), longest first as given."""
    peak = max((v for _, v in items), default=0) or 1
    height = max(1, len(items)) * BAR_HEIGHT + 8
    room = WIDTH - LABEL_WIDTH - 60
    parts = _open("bars", chart, title, WIDTH, height)
    for i, (label, value) in enumerate(items):
        y = 4 + i * BAR_HEIGHT
        length = room * value / peak
        parts.append(
            f'<g class="bar" data-label="{escape(label)}" data-value="{value}">'
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{_fmt(round(length, 1))}" '
            f'height="{BAR_HEIGHT - 6}" rx="2"/>'
            f'<text class="value" x="{_fmt(round(LABEL_WIDTH + length + 6, 1))}" '
            f'y="{y + 15}">{value}</text></g>')
    if not items:
        parts.append(f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" class="empty">—</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(items: Sequence[tuple[str, int]], *, title: str, chart: str) -> Markup:
    """Vertical columns over time, one per (label, value); every few labels shown."""
    n = max(1, len(items))
    peak = max((v for _, v in items), default=0) or 1
    width = max(560, 70 + n * 8)
    step = (width - 70) / n  # room on the right for the last date's label
    every = max(1, round(n / 12))
    parts = [*_open("columns", chart, title, width, COLUMN_AREA + 40),
             f'<line class="axis" x1="40" y1="{COLUMN_AREA + 4}" x2="{_fmt(width - 6)}" '
             f'y2="{COLUMN_AREA + 4}"/>',
             f'<text class="tick" x="34" y="14" text-anchor="end">{peak}</text>',
             f'<text class="tick" x="34" y="{COLUMN_AREA + 4}" text-anchor="end">0</text>']
    for i, (label, value) in enumerate(items):
        x = 44 + i * step
        h = COLUMN_AREA * value / peak
        parts.append(
            f'<g class="bar" data-label="{escape(label)}" data-value="{value}">'
            f'<rect x="{_fmt(round(x, 1))}" y="{_fmt(round(COLUMN_AREA + 4 - h, 1))}" '
            f'width="{_fmt(round(max(step - 2, 1), 1))}" height="{_fmt(round(h, 1))}">'
            f"<title>{escape(label)}: {value}</title></rect></g>")
        if i % every == 0:
            middle = _fmt(round(x + step / 2, 1))
            parts.append(f'<text class="tick" x="{middle}" y="{COLUMN_AREA + 22}" '
                         f'text-anchor="middle">'
                         f"{escape(label[5:] if len(label) == 10 else label)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))
