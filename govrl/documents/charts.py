"""Charts as inline SVG text: learning curves, intervals per subgroup, gate margins.

Every label comes from the record, so every label is XML-escaped here; the
result is trusted markup for the template.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from markupsafe import escape

from govrl.documents.numbers import format_number

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


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(
    x: float,
    y: float,
    content: str,
    *,
    size: float = 9,
    anchor: str = "start",
    fill: str = INK,
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
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
        body.append(_text(left - 5, sy(t) + 3, _short(t), anchor="end", size=8))
    for t in x_ticks:
        body.append(_text(sx(t), height - bottom + 12, _short(t), anchor="middle", size=8))
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
            anchor="end",
            size=8,
            weight="bold",
        )
    )
    body.append(_text((left + WIDTH - right) / 2, height - 4, "training step", anchor="middle"))
    body.append(
        f'<text transform="translate(11 {(top + height - bottom) / 2:.1f}) rotate(-90)" '
        f'font-size="8.5" text-anchor="middle" fill="{INK}" {FONT}>'
        f"{escape(_clip(y_label, 40))}</text>"
    )
    return _svg(height, body)


def interval_bars(bars: Sequence[Bar]) -> str:
    """Horizontal bars to each point estimate, with its interval as a whisker."""
    row, label_w, right, top, bottom = 20.0, 240.0, 56.0, 6.0, 24.0
    height = top + bottom + row * len(bars)
    values = [v for b in bars for v in (b.value, b.low, b.high) if v is not None]
    values += [v for b in bars for v in _band_edges(b.band)]
    ticks = nice_ticks(min([0.0, *values]), max([0.0, *values])) if values else [0.0, 1.0]
    lo, hi = ticks[0], ticks[-1]

    def sx(v: float) -> float:
        return label_w + (v - lo) / ((hi - lo) or 1) * (WIDTH - label_w - right)

    body = []
    for t in ticks:
        body.append(
            f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{top}" y2="{height - bottom}" '
            f'stroke="{GRID}" stroke-width="0.6"/>'
        )
        body.append(_text(sx(t), height - bottom + 12, _short(t), anchor="middle", size=8))
    origin = sx(min(max(0.0, lo), hi))
    for i, bar in enumerate(bars):
        y = top + row * i + row / 2
        colour = LINE if bar.ok is None else PASS if bar.ok else FAIL
        if bar.band is not None:
            a = sx(lo if bar.band[0] is None else bar.band[0])
            b = sx(hi if bar.band[1] is None else bar.band[1])
            body.append(
                f'<rect class="band" x="{a:.1f}" y="{y - row / 2 + 1:.1f}" '
                f'width="{max(b - a, 1):.1f}" height="{row - 2:.1f}" fill="{BAND}" '
                f'fill-opacity="0.14"/>'
            )
        body.append(_text(label_w - 6, y + 3, _clip(bar.label, 52), anchor="end"))
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
    return _svg(height, body)


def gate_margins(margins: Sequence[Margin]) -> str:
    """Diverging bars: how far each judged bound sits past (or short of) its threshold."""
    row, label_w, right, top, bottom = 17.0, 300.0, 56.0, 6.0, 24.0
    height = top + bottom + row * len(margins)
    mid = label_w + (WIDTH - label_w - right) / 2
    half = (WIDTH - label_w - right) / 2
    body = []
    for t in (-1.0, -0.5, 0.0, 0.5, 1.0):
        x = mid + t * half
        body.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{height - bottom}" '
            f'stroke="{INK if t == 0 else GRID}" stroke-width="{0.8 if t == 0 else 0.6}"/>'
        )
        body.append(
            _text(
                x, height - bottom + 12, f"{t * 100:+.0f}%" if t else "0", anchor="middle", size=8
            )
        )
    for i, m in enumerate(margins):
        y = top + row * i + row / 2
        body.append(_text(label_w - 6, y + 3, _clip(m.label, 64), anchor="end", size=8))
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
