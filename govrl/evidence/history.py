"""A metric history in a few numbers and a curve of at most a few hundred points.

A history held whole is summarised as it is. One too long to hold is thinned as it streams in
(``thin``, ``thin_pages``): only the points its summary needs are kept, each ranked among all
of the history's points, and ``summarise`` gives the same summary from them as from the whole
history, with one exception. A within-band metric's best is sought among the kept points
(first, last, evenly spread, both extremes and the final window), since the band is settled
only later; it is the best over every point whenever a point of the final window lies in the
band, every point lies on one side of it, or the history holds no more than ``points`` points.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import operator
import struct
import tempfile
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

from govrl.evidence.interface import Point
from govrl.vocabulary import Direction

WINDOW = 10
MAX_POINTS = 200
LEFT_OUT: Point = (-1, 0, math.nan)  # stands in for each point a thinned history left out
_SPOOLED = struct.Struct("<qqd")  # step, timestamp, value
_READ_BACK = 256  # points read back from the spool at a time, per page
_BATCH = 1024  # points handed to a curve at a time


def _tidy(x: float) -> float:
    # A mean or spread computed here carries float noise in its last digits; six
    # significant digits are more than a reviewer reads and keep the YAML short.
    return float(f"{x:.6g}")


def ordered(points: Iterable[Point]) -> list[Point]:
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
    points: Sequence[Point],
    *,
    direction: Direction | None,
    target: tuple[float | None, float | None] = (None, None),
    window: int = WINDOW,
    max_points: int = MAX_POINTS,
) -> dict[str, Any]:
    """The record's HistorySummary, as plain data, for finite points with non-negative steps.

    ``points`` is a whole history, or the kept points of a thinned one. ``target`` is the band
    (low, high) of a within-band metric.
    """
    if not points:
        raise ValueError("an empty history has no summary")
    ranked = [p for p in points if isinstance(p, Ranked)]
    if len(ranked) == len(points) and len(ranked) < ranked[0].outline.count:
        return _from_thinned(ranked, direction, target, window, max_points)
    series = ordered(points)
    values = [p[2] for p in series]
    best = best_index(values, direction, *target)
    tail = values[-min(window, len(values)) :]
    drawn = [series[i] for i in downsample(len(series), best, max_points)]
    return _summary(series[-1], values[best], tail, drawn)


def _from_thinned(
    points: list[Ranked],
    direction: Direction | None,
    target: tuple[float | None, float | None],
    window: int,
    max_points: int,
) -> dict[str, Any]:
    outline = points[0].outline
    if any(p.outline is not outline for p in points):
        raise ValueError("the points come from more than one thinned history")
    if window > outline.window or max_points != outline.limit:
        raise ValueError(
            f"the history was thinned for a window of {outline.window} and "
            f"{outline.limit} points, not {window} and {max_points}"
        )
    kept = sorted(points, key=lambda p: p.rank)
    values = [p[2] for p in kept]
    best = kept[best_index(values, direction, *target)]
    first_of_tail = outline.count - min(window, outline.count)
    tail = [p[2] for p in kept if p.rank >= first_of_tail]
    at = {p.rank: p for p in kept}
    drawn = [at[i] for i in downsample(outline.count, best.rank, max_points)]
    return _summary(kept[-1], best[2], tail, drawn)


def _summary(last: Point, best: float, tail: list[float], drawn: Sequence[Point]) -> dict[str, Any]:
    mean = math.fsum(tail) / len(tail)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in tail) / len(tail))
    return {
        "steps": last[0],  # the last point in logging order has the highest step
        "last": last[2],
        "best": best,
        "window": len(tail),
        "window_mean": _tidy(mean),
        "window_std": _tidy(std),
        "window_min": min(tail),
        "window_max": max(tail),
        "points": [{"step": p[0], "value": p[2]} for p in drawn],
    }


def usable(points: Iterable[Point]) -> tuple[list[Point], int]:
    """The points a summary can hold (finite, step >= 0) and how many were dropped."""
    given = points if isinstance(points, Collection) else list(points)
    kept = [p for p in given if p[0] >= 0 and math.isfinite(p[2])]
    return kept, len(given) - len(kept)


# ------------------------------------------------------------------ thinned histories


@dataclass(frozen=True)
class Outline:
    """What a history was thinned for: its usable points, the window and the points drawn."""

    count: int
    window: int
    limit: int


class Ranked(tuple[int, int, float]):
    """A kept point of a thinned history, with its rank among the history's usable points."""

    rank: int
    outline: Outline

    def __new__(cls, point: Point, rank: int, outline: Outline) -> Ranked:
        made = super().__new__(cls, point)
        made.rank, made.outline = rank, outline
        return made

    def __getnewargs__(self) -> tuple[Point, int, Outline]:
        return (self[0], self[1], self[2]), self.rank, self.outline


class Thinned(Collection[Point]):
    """A history thinned as it streamed in: the points its summary needs, ranked and in order,
    then ``LEFT_OUT`` once for each point left out as not finite or before step 0, so that a
    reader who filters the points as they come counts the same as from the whole history."""

    def __init__(self, kept: list[Ranked], dropped: int, count: int) -> None:
        self.kept, self.dropped, self.count = kept, dropped, count

    def __len__(self) -> int:
        return len(self.kept) + self.dropped

    def __iter__(self) -> Iterator[Point]:
        yield from self.kept
        yield from itertools.repeat(LEFT_OUT, self.dropped)

    def __contains__(self, item: object) -> bool:
        return item in self.kept or (self.dropped > 0 and item == LEFT_OUT)


class Curve:
    """A history's usable points, given in logging order a batch at a time, thinned as they
    come to what its summary needs: ``count`` must be known before the first."""

    def __init__(self, count: int, window: int, limit: int) -> None:
        self.outline = Outline(count, window, limit)
        grid = set(downsample(count, 0, limit)) | set(range(count - min(window, count), count))
        self._grid = sorted(grid)
        self._kept: dict[int, Point] = {}
        self._seen = 0
        # (value, rank, point) of the first and the latest highest, and of the lowest
        self._extremes: list[tuple[float, int, Point] | None] = [None] * 4

    def extend(self, batch: Sequence[Point]) -> None:
        """Take the next points, in logging order."""
        if not batch:
            return
        start, end = self._seen, self._seen + len(batch)
        for rank in self._grid[bisect_left(self._grid, start) : bisect_left(self._grid, end)]:
            self._kept[rank] = batch[rank - start]
        values = [p[2] for p in batch]
        top, bottom = max(values), min(values)
        first_top, first_bottom = values.index(top), values.index(bottom)
        backwards = values[::-1]
        latest_top = len(values) - 1 - backwards.index(top)
        latest_bottom = len(values) - 1 - backwards.index(bottom)
        found = (
            (top, first_top, operator.gt),
            (top, latest_top, operator.ge),
            (bottom, first_bottom, operator.lt),
            (bottom, latest_bottom, operator.le),
        )
        for slot, (value, index, better) in enumerate(found):
            held = self._extremes[slot]
            if held is None or better(value, held[0]):
                self._extremes[slot] = (value, start + index, batch[index])
        self._seen = end

    def thinned(self, dropped: int) -> Thinned:
        """The kept points, once every point has been given."""
        if self._seen != self.outline.count:
            raise ValueError(f"{self._seen} points given of the {self.outline.count} announced")
        for held in self._extremes:
            if held is not None:
                self._kept[held[1]] = held[2]
        kept = [Ranked(self._kept[rank], rank, self.outline) for rank in sorted(self._kept)]
        return Thinned(kept, dropped, self.outline.count)


def thin(points: Iterable[Point], window: int, limit: int) -> Thinned:
    """A whole history, in any order, thinned to what its summary needs."""
    series, dropped = usable(points)
    series.sort()  # tuples sort by step, timestamp, value: logging order
    return _thinned(series, dropped, window, limit)


def _thinned(series: list[Point], dropped: int, window: int, limit: int) -> Thinned:
    curve = Curve(len(series), window, limit)
    curve.extend(series)
    return curve.thinned(dropped)


def thin_pages(pages: Iterable[Sequence[Point]], window: int, limit: int) -> Thinned:
    """A history that arrives page by page, in any order, thinned in memory bounded by a page.

    A history of one page is thinned as it is. Longer ones are spooled to a temporary file,
    each page sorted, and the sorted pages merged back into logging order; the spool holds
    24 bytes a point and is gone when this returns.
    """
    dropped = 0
    first: list[Point] | None = None
    spans: list[tuple[int, int]] = []  # (offset, points) of each spooled page
    with contextlib.ExitStack() as stack:
        spool: IO[bytes] | None = None
        for page in pages:
            kept, lost = usable(page)
            dropped += lost
            kept.sort()
            if spool is None and first is None:
                first = kept
                continue
            if spool is None:
                spool = stack.enter_context(tempfile.TemporaryFile(prefix="govrl-history-"))
                spans.append(_spool(spool, first or []))
                first = None
            spans.append(_spool(spool, kept))
        if spool is None:
            return _thinned(first or [], dropped, window, limit)
        curve = Curve(sum(size for _, size in spans), window, limit)
        merged = heapq.merge(*(_unspool(spool, *span) for span in spans))
        while batch := list(itertools.islice(merged, _BATCH)):
            curve.extend(batch)
        return curve.thinned(dropped)


def _spool(spool: IO[bytes], points: list[Point]) -> tuple[int, int]:
    offset = spool.seek(0, 2)
    try:
        spool.write(b"".join(itertools.starmap(_SPOOLED.pack, points)))
    except struct.error:
        raise OverflowError("a step or timestamp does not fit in 64 bits") from None
    return offset, len(points)


def _unspool(spool: IO[bytes], offset: int, size: int) -> Iterator[Point]:
    for start in range(0, size, _READ_BACK):
        spool.seek(offset + start * _SPOOLED.size)
        data = spool.read(min(_READ_BACK, size - start) * _SPOOLED.size)
        yield from cast(Iterator[Point], _SPOOLED.iter_unpack(data))
