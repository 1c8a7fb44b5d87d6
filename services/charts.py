"""Server-rendered SVG charts from plain numbers: no JavaScript, no internet, nothing the CSP refuses.

Only SVG presentation attributes (fill, stroke, font-size…) are used, never a `style` attribute, which the
Content-Security-Policy (style-src 'self') would block. Text is escaped; the caller passes it translated.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil, floor

from markupsafe import Markup, escape

# A viewBox about a phone's width, so its text stays readable there; a desk shows it scaled up, capped by CSS.
WIDTH = 340
HEIGHT = 230
LEFT, RIGHT, TOP, BOTTOM = 36, 10, 48, 42
PAD = 14  # keeps the end points and their labels off the axes
AXIS = "#8f959e"
GRID = "#e4e6ea"
INK = "#1f2329"
MUTED = "#646a73"


def _line(x1: float, y1: float, x2: float, y2: float, color: str) -> str:
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{color}" stroke-width="1"/>'


def nice_ticks(lo: int, hi: int, max_ticks: int = 5) -> list[int]:
    """Round integer ticks from lo to hi (both included when they fall on the step)."""
    if hi <= lo:
        return [lo]
    span = hi - lo
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500):
        if span / step <= max_ticks - 1:
            break
    first = ceil(lo / step) * step
    return list(range(first, hi + 1, step))


def score_range(values: Sequence[int | None], floor_at: int, top_at: int) -> tuple[int, int]:
    """A y range for scores: at least floor_at..top_at, widened in tens to hold every value."""
    known = [v for v in values if v is not None]
    lo = min([floor_at, *known])
    hi = max([top_at, *known])
    return floor(lo / 10) * 10, ceil(hi / 10) * 10


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[int | None],
    *,
    y_min: int,
    y_max: int,
    ticks: Sequence[int] | None = None,
    sublabels: Sequence[str] | None = None,
    invert: bool = False,
    stroke: str = "#b3261e",
    hollow_last: bool = False,
    point_titles: Sequence[str] | None = None,
    description: str = "",
) -> Markup:
    """An SVG line chart of `values` (None = no data: the line breaks) over `labels`.

    `invert` puts y_min at the top (a rank chart: 1st is best). `hollow_last` draws the last point hollow
    (the current month is live and provisional). `point_titles` are the hover texts of the points.
    """
    n = len(values)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    span = max(y_max - y_min, 1)

    def x(i: int) -> float:
        inner = plot_w - 2 * PAD
        return LEFT + PAD + (inner / 2 if n <= 1 else inner * i / (n - 1))

    def y(v: int) -> float:
        share = (v - y_min) / span if invert else (y_max - v) / span
        return TOP + PAD / 2 + (plot_h - PAD) * share

    cid = escape(chart_id)
    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" id="{cid}"'
        f' role="img" aria-labelledby="{cid}-title {cid}-desc">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(description)}</desc>',
        f'<text x="4" y="20" font-size="15" font-weight="700" fill="{INK}">{escape(title)}</text>',
    ]
    for t in ticks if ticks is not None else nice_ticks(y_min, y_max):
        if not y_min <= t <= y_max:
            continue
        ty = round(y(t), 1)
        parts.append(_line(LEFT, ty, WIDTH - RIGHT, ty, GRID))
        parts.append(
            f'<text x="{LEFT - 5}" y="{ty + 4}" font-size="13" text-anchor="end" fill="{MUTED}">{t}</text>'
        )
    base = TOP + plot_h
    parts.append(_line(LEFT, base, WIDTH - RIGHT, base, AXIS))
    parts.append(_line(LEFT, TOP, LEFT, base, AXIS))

    for i, label in enumerate(labels):
        lx = round(x(i), 1)
        parts.append(
            f'<text x="{lx}" y="{base + 18}" font-size="13" text-anchor="middle" fill="{MUTED}">'
            f"{escape(label)}</text>"
        )
        sub = sublabels[i] if sublabels and i < len(sublabels) else ""
        if sub:
            parts.append(
                f'<text x="{lx}" y="{base + 34}" font-size="12" text-anchor="middle" fill="{MUTED}">'
                f"{escape(sub)}</text>"
            )

    # The line breaks at a month without data rather than pretending a value.
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, v in enumerate(values):
        if v is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{round(x(i), 1)},{round(y(v), 1)}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            parts.append(
                f'<polyline points="{" ".join(seg)}" fill="none" stroke="{stroke}" stroke-width="2.5"'
                ' stroke-linejoin="round" stroke-linecap="round"/>'
            )

    value_size = 13 if n <= 7 else 12  # a full year's labels must not touch each other
    for i, v in enumerate(values):
        if v is None:
            continue
        px, py = round(x(i), 1), round(y(v), 1)
        hollow = hollow_last and i == n - 1
        fill = "#fff" if hollow else stroke
        tip = point_titles[i] if point_titles and i < len(point_titles) else str(v)
        parts.append(
            f'<circle cx="{px}" cy="{py}" r="4" fill="{fill}" stroke="{stroke}" stroke-width="2"'
            ' class="point">'
            f"<title>{escape(tip)}</title></circle>"
        )
        parts.append(
            f'<text x="{px}" y="{round(py - 9, 1)}" font-size="{value_size}" font-weight="700"'
            f' text-anchor="middle" fill="{INK}" class="value">{v}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
