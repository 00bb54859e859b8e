"""A metric history in a few numbers and a curve of at most a few hundred points."""

from __future__ import annotations

import math
from typing import Any

from govrl.evidence.interface import Point
from govrl.vocabulary import Direction

WINDOW = 10
MAX_POINTS = 200


def _tidy(x: float) -> float:
    # A mean or spread computed here carries float noise in its last digits; six
    # significant digits are more than a reviewer reads and keep the YAML short.
    return float(f"{x:.6g}")


def ordered(points: list[Point]) -> list[Point]:
    """Points in logging order: by step, then timestamp, then value (as MLflow sorts)."""
    return sorted(points, key=lambda p: (p[0], p[1], p[2]))


def downsample(count: int, keep: int, limit: int) -> list[int]:
    """At most ``limit`` indices spread evenly over ``count``; first, last and ``keep`` always."""
    if count <= limit:
        return list(range(count))
    spread = limit - 1  # leave room for ``keep``
    chosen = {round(i * (count - 1) / (spread - 1)) for i in range(spread)}
    chosen.add(keep)
    return sorted(chosen)


def best_index(
    values: list[float],
    direction: Direction | None,
    low: float | None = None,
    high: float | None = None,
) -> int:
    """Where the best value is: the highest, the lowest, or the one nearest the band.

    Without a direction the highest counts as best. Within a band, several points may
    lie inside it; the latest of the nearest is the one most like the final policy.
    """
    if direction is Direction.BAND:
        gaps = [
            max(0.0, (low - v) if low is not None else 0.0, (v - high) if high is not None else 0.0)
            for v in values
        ]
        nearest = min(gaps)
        return max(i for i, gap in enumerate(gaps) if gap == nearest)
    pick = min if direction is Direction.LOWER else max
    return values.index(pick(values))


def summarise(
    points: list[Point],
    *,
    direction: Direction | None,
    target: tuple[float | None, float | None] = (None, None),
    window: int = WINDOW,
    max_points: int = MAX_POINTS,
) -> dict[str, Any]:
    """The record's HistorySummary, as plain data, for finite points with non-negative steps.

    ``target`` is the band (low, high) of a within-band metric.
    """
    series = ordered(points)
    if not series:
        raise ValueError("an empty history has no summary")
    values = [p[2] for p in series]
    best = best_index(values, direction, *target)
    tail = values[-min(window, len(values)) :]
    mean = math.fsum(tail) / len(tail)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in tail) / len(tail))
    return {
        "steps": max(p[0] for p in series),
        "last": values[-1],
        "best": values[best],
        "window": len(tail),
        "window_mean": _tidy(mean),
        "window_std": _tidy(std),
        "window_min": min(tail),
        "window_max": max(tail),
        "points": [
            {"step": series[i][0], "value": series[i][2]}
            for i in downsample(len(series), best, max_points)
        ],
    }


def usable(points: list[Point]) -> tuple[list[Point], int]:
    """The points a summary can hold (finite, step >= 0) and how many were dropped."""
    kept = [p for p in points if p[0] >= 0 and math.isfinite(p[2])]
    return kept, len(points) - len(kept)
