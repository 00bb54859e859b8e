"""Charts as inline SVG text: learning curves, intervals per subgroup, gate margins.

Every label comes from the record, so every label is XML-escaped here; the
result is trusted markup for the template. Every label is placed by its start:
WeasyPrint draws each `text-anchor="end"` or `"middle"` label as a Form XObject
shared by every page, and verifying signatures walks pages times XObjects, so
right and centre alignment are computed here from the shipped font's widths.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from markupsafe import escape

from govrl.documents.numbers import format_number
from govrl.resources import data_dir

WIDTH = 640
FONT = "font-family=\"'Govrl Sans', Inter, 'DejaVu Sans', sans-serif\""
INK = "#1d2733"
GRID = "#d9dee5"
LINE = "#1f4e79"
PASS = "#2e7d32"
FAIL = "#b3261e"
NEUTRAL = "#8a94a3"
BAND = "#2e7d32"  # a target band, drawn faint behind the data

Band = tuple[float | None, float | None]  # (low, high); either end may be open
Align = Literal["start", "middle", "end"]

# The face 'Govrl Sans' resolves to (templates/fonts.css); bold asks for 700, the
# nearest shipped weight is 600.
FACES = {"normal": "Inter-Regular.otf", "bold": "Inter-SemiBold.otf"}
# Characters the face lacks fall back to a wider system font: overestimate them, so
# that a right-aligned label moves away from the plot rather than into it.
FALLBACK_EM = 0.68
# An SVG cannot break across pages, so a long chart is drawn in parts no taller than
# this (in chart units; an A4 page of the shipped templates holds about 1,050).
PART_HEIGHT = 900.0


class _Point(Protocol):
    @property
    def step(self) -> int: ...
    @property
    def value(self) -> float: ...


@dataclass(frozen=True)
class Bar:
    """One row of an interval chart: a point estimate and its interval."""

    label: str
    value: float | None
    low: float | None
    high: float | None
    ok: bool | None = None
    band: Band | None = None  # the target band a within-band metric should stay in


@dataclass(frozen=True)
class Margin:
    """One gate result: its margin relative to the threshold, or None without evidence."""

    label: str
    relative: float | None
    text: str
    passed: bool


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick positions covering [low, high] (steps of 1, 2 or 5 times a power of ten)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _short(value: float) -> str:
    """Compact axis labels: 50M, 200k, 0.25."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor and value % (factor / 10) == 0:
            return format_number(round(value / factor, 3)).replace(",", "") + suffix
    return format_number(round(value, 10))


@functools.cache
def _advances(weight: str) -> dict[int, float]:
    """Advance widths in em, by code point, of the face charts are drawn in (empty if absent)."""
    try:
        from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

        font = TTFont(data_dir("templates") / "fonts" / FACES[weight], lazy=True)
        em = float(font["head"].unitsPerEm)
        metrics = font["hmtx"].metrics
        return {code: metrics[glyph][0] / em for code, glyph in font.getBestCmap().items()}
    except Exception:  # no font, no fontTools: every character gets the fallback width
        return {}


def text_width(content: str, *, size: float, weight: str = "normal") -> float:
    """The advance width of ``content`` at ``size``, without kerning (which only narrows it)."""
    widths = _advances("bold" if weight == "bold" else "normal")
    return size * sum(widths.get(ord(c), FALLBACK_EM) for c in content)


def _fitting(text: str, width: float, *, size: float, weight: str = "normal") -> float:
    """The font size at which ``text`` fits ``width``: ``size`` or smaller, never cut short,
    since a signed document shows every label whole."""
    wide = text_width(text, size=size, weight=weight)
    return size if wide <= width else math.floor(size * width / wide * 10) / 10


def _text(
    x: float,
    y: float,
    content: str,
    *,
    size: float = 9,
    align: Align = "start",
    fill: str = INK,
    weight: str = "normal",
    transform: str = "",
) -> str:
    """A label whose start, centre or end is at ``x``, drawn from its start."""
    if align != "start":
        width = text_width(content, size=size, weight=weight)
        x -= width / 2 if align == "middle" else width
    place = f'transform="{transform}" ' if transform else ""
    return (
        f'<text {place}x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="start" '
        f'font-weight="{weight}" fill="{fill}" {FONT}>{escape(content)}</text>'
    )


def _svg(height: float, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" '
        f'height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}" role="img">'
        + "".join(body)
        + "</svg>"
    )


def _band_edges(band: Band | None) -> list[float]:
    return [v for v in band or () if v is not None]


def learning_curve(points: Sequence[_Point], *, y_label: str, band: Band | None = None) -> str:
    """A metric's logged history against training steps, over its target band if it has one."""
    height, left, right, top, bottom = 210.0, 62.0, 16.0, 14.0, 34.0
    xs = [float(p.step) for p in points]
    ys = [float(p.value) for p in points]
    x_ticks = nice_ticks(min(xs), max(xs))
    y_ticks = nice_ticks(min([*ys, *_band_edges(band)]), max([*ys, *_band_edges(band)]))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def sx(v: float) -> float:
        return left + (v - x0) / ((x1 - x0) or 1) * (WIDTH - left - right)

    def sy(v: float) -> float:
        return height - bottom - (v - y0) / ((y1 - y0) or 1) * (height - top - bottom)

    body = []
    if band is not None:
        low = y0 if band[0] is None else band[0]
        high = y1 if band[1] is None else band[1]
        body.append(
            f'<rect class="band" x="{left}" y="{sy(high):.1f}" width="{WIDTH - left - right}" '
            f'height="{max(sy(low) - sy(high), 1):.1f}" fill="{BAND}" fill-opacity="0.12"/>'
        )
        body.append(_text(left + 4, sy(high) + 9, "target band", size=7, fill=BAND))
    for t in y_ticks:
        body.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" '
            f'stroke="{GRID}" stroke-width="0.6"/>'
        )
        body.append(_text(left - 5, sy(t) + 3, _short(t), align="end", size=8))
    for t in x_ticks:
        body.append(_text(sx(t), height - bottom + 12, _short(t), align="middle", size=8))
    body.append(
        f'<line x1="{left}" x2="{WIDTH - right}" y1="{height - bottom}" '
        f'y2="{height - bottom}" stroke="{INK}" stroke-width="0.8"/>'
    )
    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, ys, strict=True))
    body.append(f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="1.6"/>')
    body += [
        f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="1.8" fill="{LINE}"/>'
        for x, y in zip(xs, ys, strict=True)
    ]
    body.append(
        _text(
            sx(xs[-1]) - 4,
            sy(ys[-1]) - 6,
            format_number(ys[-1]),
            align="end",
            size=8,
            weight="bold",
        )
    )
    body.append(_text((left + WIDTH - right) / 2, height - 4, "training step", align="middle"))
    centre = (top + height - bottom) / 2
    turn = f"translate(11 {centre:.1f}) rotate(-90)"
    y_size = _fitting(y_label, 2 * (centre - 4), size=8.5)  # centred, 4 from the top edge
    body.append(_text(0, 0, y_label, size=y_size, align="middle", transform=turn))
    return _svg(height, body)


def _parts(count: int, row: float, margins: float) -> list[range]:
    """The rows of each part of a chart, so that no part is taller than PART_HEIGHT."""
    per = max(int((PART_HEIGHT - margins) // row), 1)
    starts = range(0, count, per) or range(1)  # no rows: one empty chart
    return [range(i, min(i + per, count)) for i in starts]


def interval_bars(
    bars: Sequence[Bar], *, reference: float | None = None, reference_label: str = "overall"
) -> str:
    """Horizontal bars to each point estimate, with its interval as a whisker.

    ``reference`` (the overall value, or the behaviour policy's) is drawn as a dashed line.
    Long charts come as several SVGs on one scale, each with its own axis.
    """
    row, label_w, right, bottom = 20.0, 240.0, 56.0, 24.0
    top = 6.0 if reference is None else 18.0  # room for the reference's label above the rows
    values = [v for b in bars for v in (b.value, b.low, b.high) if v is not None]
    values += [v for b in bars for v in _band_edges(b.band)]
    values += [] if reference is None else [reference]
    ticks = nice_ticks(min([0.0, *values]), max([0.0, *values])) if values else [0.0, 1.0]
    lo, hi = ticks[0], ticks[-1]

    def sx(v: float) -> float:
        return label_w + (v - lo) / ((hi - lo) or 1) * (WIDTH - label_w - right)

    origin = sx(min(max(0.0, lo), hi))

    def draw(bar: Bar, y: float) -> list[str]:
        colour = LINE if bar.ok is None else PASS if bar.ok else FAIL
        body = []
        if bar.band is not None:
            a = sx(lo if bar.band[0] is None else bar.band[0])
            b = sx(hi if bar.band[1] is None else bar.band[1])
            body.append(
                f'<rect class="band" x="{a:.1f}" y="{y - row / 2 + 1:.1f}" '
                f'width="{max(b - a, 1):.1f}" height="{row - 2:.1f}" fill="{BAND}" '
                f'fill-opacity="0.14"/>'
            )
        size = _fitting(bar.label, label_w - 10, size=9)
        body.append(_text(label_w - 6, y + 3, bar.label, size=size, align="end"))
        if bar.value is not None:
            x = sx(bar.value)
            body.append(
                f'<rect x="{min(origin, x):.1f}" y="{y - 5:.1f}" width="{abs(x - origin):.1f}" '
                f'height="10" fill="{colour}" fill-opacity="0.28"/>'
            )
        if bar.low is not None and bar.high is not None:
            a, b = sx(bar.low), sx(bar.high)
            body.append(
                f'<path d="M{a:.1f} {y:.1f}H{b:.1f}M{a:.1f} {y - 4:.1f}V{y + 4:.1f}'
                f'M{b:.1f} {y - 4:.1f}V{y + 4:.1f}" stroke="{INK}" stroke-width="1"/>'
            )
        if bar.value is not None:
            body.append(f'<circle cx="{sx(bar.value):.1f}" cy="{y:.1f}" r="2.6" fill="{colour}"/>')
            body.append(_text(WIDTH - right + 6, y + 3, format_number(bar.value), size=8))
        return body

    def part(rows: Sequence[Bar]) -> str:
        height = top + bottom + row * len(rows)
        body = []
        for t in ticks:
            body.append(
                f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{top}" y2="{height - bottom}" '
                f'stroke="{GRID}" stroke-width="0.6"/>'
            )
            body.append(_text(sx(t), height - bottom + 12, _short(t), align="middle", size=8))
        if reference is not None:
            x = sx(reference)
            body.append(
                f'<line class="reference" x1="{x:.1f}" x2="{x:.1f}" y1="{top - 3}" '
                f'y2="{height - bottom}" stroke="{INK}" stroke-width="0.9" '
                f'stroke-dasharray="3 2"/>'
            )
            caption = f"{reference_label} {format_number(reference)}"
            size = _fitting(caption, WIDTH - label_w - 2, size=7.5)
            width = text_width(caption, size=size)
            start = max(label_w, min(WIDTH - 2 - width, x - width / 2))  # centred, kept inside
            body.append(_text(start, top - 6, caption, size=size))
        for i, bar in enumerate(rows):
            body += draw(bar, top + row * i + row / 2)
        return _svg(height, body)

    parts = _parts(len(bars), row, top + bottom)
    return "".join(part([bars[i] for i in rows]) for rows in parts)


def gate_margins(margins: Sequence[Margin]) -> str:
    """Diverging bars: how far each judged bound sits past (or short of) its threshold.

    Long charts come as several SVGs, each with its own axis.
    """
    row, label_w, right, top, bottom = 17.0, 300.0, 56.0, 6.0, 24.0
    mid = label_w + (WIDTH - label_w - right) / 2
    half = (WIDTH - label_w - right) / 2

    def part(rows: Sequence[Margin]) -> str:
        height = top + bottom + row * len(rows)
        body = []
        for t in (-1.0, -0.5, 0.0, 0.5, 1.0):
            x = mid + t * half
            body.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{height - bottom}" '
                f'stroke="{INK if t == 0 else GRID}" stroke-width="{0.8 if t == 0 else 0.6}"/>'
            )
            tick = f"{t * 100:+.0f}%" if t else "0"
            body.append(_text(x, height - bottom + 12, tick, align="middle", size=8))
        for i, m in enumerate(rows):
            y = top + row * i + row / 2
            size = _fitting(m.label, label_w - 10, size=8)
            body.append(_text(label_w - 6, y + 3, m.label, align="end", size=size))
            if m.relative is None:
                body.append(_text(mid + 4, y + 3, "no evidence", size=8, fill=NEUTRAL))
                continue
            r = max(-1.0, min(1.0, m.relative))
            x = mid + r * half
            colour = PASS if m.passed else FAIL
            body.append(
                f'<rect x="{min(mid, x):.1f}" y="{y - 5:.1f}" width="{max(abs(x - mid), 1):.1f}" '
                f'height="10" fill="{colour}" fill-opacity="0.8"/>'
            )
            body.append(_text(WIDTH - right + 6, y + 3, m.text, size=8, fill=colour))
        return _svg(height, body)

    parts = _parts(len(margins), row, top + bottom)
    return "".join(part([margins[i] for i in rows]) for rows in parts)
