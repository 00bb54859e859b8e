"""Intervals govrl computes itself: over seeds or episodes, WIS from logged weights, and the
probability of improvement over a baseline.

Every interval is a percentile bootstrap from ``scipy.stats.bootstrap`` with a fixed seed, so
the same inputs give the same interval; ``Bootstrap.describe`` says how it was drawn.
numpy and scipy are imported inside the functions, so naming this module costs nothing.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

METHOD = "percentile bootstrap (scipy.stats.bootstrap)"
_CELLS = 4_000_000  # resampled observations held at once


@dataclass(frozen=True)
class Bootstrap:
    """How intervals are drawn: level, number of resamples and the generator's seed."""

    level: float = 0.95
    resamples: int = 10_000
    seed: int = 0

    def describe(self) -> str:
        return f"{self.level:g} {METHOD}, {self.resamples} resamples, seed {self.seed}"


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its interval (bounds None when the bootstrap could not draw one)."""

    value: float
    ci_low: float | None
    ci_high: float | None
    level: float
    missing: str | None = None  # why there is no interval

    def fields(self) -> dict[str, float]:
        found = {"value": self.value}
        if self.ci_low is not None and self.ci_high is not None:
            found |= {"ci_low": self.ci_low, "ci_high": self.ci_high, "ci_level": self.level}
        return found


def _estimate(
    value: float,
    samples: Sequence[Sequence[float]],
    statistic: Callable[..., Any],
    how: Bootstrap,
    *,
    paired: bool = False,
) -> Estimate:
    """``value`` with the bootstrap interval of ``statistic`` over ``samples``.

    A percentile interval can miss a skewed estimate; the record would refuse that, so the
    interval is left out and the estimate says why.
    """
    if any(len(s) < 2 for s in samples):
        return Estimate(value, None, None, how.level, "one observation says nothing of its spread")
    low, high = _interval(samples, statistic, how, paired=paired)
    if low is None or high is None:
        why = "the statistic is undefined in some resamples (e.g. every weight 0)"
        return Estimate(value, None, None, how.level, why)
    if not low <= value <= high:
        why = f"the bootstrap interval [{low:.6g}, {high:.6g}] excludes the estimate"
        return Estimate(value, None, None, how.level, why)
    return Estimate(value, low, high, how.level)


def _interval(
    samples: Sequence[Sequence[float]],
    statistic: Callable[..., Any],
    how: Bootstrap,
    *,
    paired: bool = False,
) -> tuple[float | None, float | None]:
    import numpy as np
    from scipy.stats import bootstrap  # type: ignore[import-untyped]

    data = tuple(np.asarray(s, dtype=float) for s in samples)
    # resamples are drawn in batches, so a long episode table cannot take gigabytes
    batch = max(1, min(how.resamples, _CELLS // sum(len(s) for s in data)))
    with warnings.catch_warnings():
        # degenerate samples (identical seeds) are fine for a percentile interval
        warnings.simplefilter("ignore")
        result = bootstrap(
            data,
            statistic,
            n_resamples=how.resamples,
            confidence_level=how.level,
            method="percentile",
            paired=paired,
            vectorized=True,
            batch=batch,
            rng=np.random.default_rng(how.seed),
        )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return None, None
    return low, high


def _mean(x: Any, axis: int = -1) -> Any:
    import numpy as np

    return np.mean(x, axis=axis)


def _iqm(x: Any, axis: int = -1) -> Any:
    from scipy.stats import trim_mean

    return trim_mean(x, 0.25, axis=axis)


def mean(values: Sequence[float], how: Bootstrap) -> Estimate:
    """The mean of ``values`` with a bootstrap interval over them."""
    return _estimate(float(_mean(list(values))), [values], _mean, how)


def iqm(values: Sequence[float], how: Bootstrap) -> Estimate:
    """The interquartile mean (25% trimmed from each end), as Agarwal et al. (2021) advise."""
    return _estimate(float(_iqm(list(values))), [values], _iqm, how)


@dataclass(frozen=True)
class Weighted:
    """Weighted importance sampling on logged episodes, with its diagnostics."""

    wis: Estimate
    behaviour: float  # the mean logged return: the behaviour policy's on-policy value
    difference: Estimate  # WIS minus the behaviour value, paired on the same episodes
    ess: float  # (sum w)^2 / sum w^2
    episodes: int
    largest_share: float  # the largest weight's share of the total weight

    @property
    def relative_ess(self) -> float:
        return self.ess / self.episodes


def _wis(w: Any, r: Any, axis: int = -1) -> Any:
    import numpy as np

    total = np.sum(w, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(w * r, axis=axis) / total


def _wis_gain(w: Any, r: Any, axis: int = -1) -> Any:
    return _wis(w, r, axis) - _mean(r, axis)


def weighted(weights: Sequence[float], returns: Sequence[float], how: Bootstrap) -> Weighted:
    """WIS, its interval and its diagnostics; episodes are resampled with their weights."""
    total = math.fsum(weights)
    squares = math.fsum(w * w for w in weights)
    value = math.fsum(w * r for w, r in zip(weights, returns, strict=True)) / total
    behaviour = math.fsum(returns) / len(returns)
    pairs = [weights, returns]
    return Weighted(
        wis=_estimate(value, pairs, _wis, how, paired=True),
        behaviour=behaviour,
        difference=_estimate(value - behaviour, pairs, _wis_gain, how, paired=True),
        ess=min(total * total / squares, len(weights)),  # rounding must not pass n
        episodes=len(weights),
        largest_share=max(weights) / total,
    )


def _improvement(x: Any, y: Any, axis: int = -1) -> Any:
    from scipy.stats import mannwhitneyu

    # U counts the pairs where x beats y, ties as half
    return mannwhitneyu(x, y, axis=axis).statistic / (x.shape[axis] * y.shape[axis])


def improvement(
    candidate: Sequence[float], baseline: Sequence[float], how: Bootstrap, *, higher: bool = True
) -> Estimate:
    """P(X > Y) + P(X = Y)/2 for X a candidate and Y a baseline observation (``higher``), or
    P(X < Y) + P(X = Y)/2; each side is resampled on its own."""
    import numpy as np

    x, y = (candidate, baseline) if higher else (baseline, candidate)
    value = float(_improvement(np.asarray(x, dtype=float), np.asarray(y, dtype=float)))
    return _estimate(value, [x, y], _improvement, how)
