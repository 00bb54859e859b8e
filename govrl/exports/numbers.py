"""How the exports write numbers and intervals."""

from __future__ import annotations

from govrl.record.base import Bounds


def num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def interval(b: Bounds) -> str:
    if b.ci_low is None and b.ci_high is None:
        return "–"
    level = f" ({b.ci_level:.0%})" if b.ci_level else ""
    return f"[{num(b.ci_low)}, {num(b.ci_high)}]{level}"
