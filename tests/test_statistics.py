"""The intervals govrl computes, checked against numpy and closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from govrl.evidence.statistics import Bootstrap, improvement, iqm, mean, weighted

HOW = Bootstrap(level=0.95, resamples=4000, seed=0)


def numpy_bootstrap(
    values: np.ndarray, statistic: object, seed: int = 12345
) -> tuple[float, float]:
    """An independent percentile bootstrap: resample, apply, take the 2.5% and 97.5% points."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(20_000, len(values)))
    stats = statistic(values[picks], axis=1)  # type: ignore[operator]
    low, high = np.quantile(stats, [0.025, 0.975])
    return float(low), float(high)


def test_the_mean_and_its_interval_match_an_independent_bootstrap() -> None:
    returns = np.random.default_rng(7).normal(40.0, 5.0, size=300)
    found = mean(list(returns), HOW)
    low, high = numpy_bootstrap(returns, np.mean)
    assert found.value == pytest.approx(returns.mean())
    assert found.ci_low == pytest.approx(low, abs=0.08)
    assert found.ci_high == pytest.approx(high, abs=0.08)
    # and the normal approximation agrees with both, for a mean of 300 draws
    half = 1.96 * returns.std(ddof=1) / np.sqrt(len(returns))
    assert found.ci_low == pytest.approx(returns.mean() - half, abs=0.1)
    assert found.fields()["ci_level"] == 0.95


def test_identical_seeds_give_a_zero_width_interval() -> None:
    found = mean([41.5, 41.5, 41.5], HOW)
    assert (found.value, found.ci_low, found.ci_high) == (41.5, 41.5, 41.5)


def test_one_observation_gives_a_value_without_an_interval() -> None:
    found = mean([3.0], HOW)
    assert found.fields() == {"value": 3.0}


def test_the_same_inputs_give_the_same_interval_and_the_seed_is_what_fixes_it() -> None:
    values = [10.0, 12.5, 11.0, 9.0, 14.0]
    first, again = mean(values, HOW), mean(values, HOW)
    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)
    other = mean(values, Bootstrap(level=0.95, resamples=4000, seed=1))
    assert (other.ci_low, other.ci_high) != (first.ci_low, first.ci_high)
    assert HOW.describe() == (
        "0.95 percentile bootstrap (scipy.stats.bootstrap), 4000 resamples, seed 0"
    )


def test_the_interquartile_mean_trims_a_quarter_from_each_end() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 100.0]
    found = iqm(values, HOW)
    assert found.value == pytest.approx(np.mean(sorted(values)[2:6]))  # 3..6, the outlier gone


def test_equal_weights_make_wis_the_mean_return_and_ess_the_episode_count() -> None:
    returns = [1.0, 4.0, 2.5, 0.0, 3.0, 7.0]
    found = weighted([0.7] * len(returns), returns, HOW)
    assert found.wis.value == pytest.approx(np.mean(returns))
    assert found.ess == pytest.approx(len(returns))
    assert found.ess <= found.episodes == len(returns)
    assert found.relative_ess == pytest.approx(1.0)
    assert found.largest_share == pytest.approx(1 / len(returns))
    assert found.behaviour == pytest.approx(np.mean(returns))
    # the paired difference is 0 in every resample
    assert found.difference.fields() == {
        "value": pytest.approx(0.0),
        "ci_low": pytest.approx(0.0),
        "ci_high": pytest.approx(0.0),
        "ci_level": 0.95,
    }
    assert found.wis.ci_low == pytest.approx(
        numpy_bootstrap(np.array(returns), np.mean)[0], abs=0.2
    )


def test_wis_ess_and_the_largest_share_follow_their_formulas() -> None:
    rng = np.random.default_rng(3)
    w = rng.lognormal(0.0, 1.0, size=200)
    r = rng.normal(5.0, 2.0, size=200)
    found = weighted(list(w), list(r), HOW)
    assert found.wis.value == pytest.approx(np.sum(w * r) / np.sum(w))
    assert found.ess == pytest.approx(np.sum(w) ** 2 / np.sum(w**2))
    assert found.largest_share == pytest.approx(w.max() / w.sum())
    assert found.difference.value == pytest.approx(found.wis.value - r.mean())
    picks = np.random.default_rng(5).integers(0, 200, size=(20_000, 200))
    stats = np.sum(w[picks] * r[picks], axis=1) / np.sum(w[picks], axis=1)
    low, high = np.quantile(stats, [0.025, 0.975])
    assert found.wis.ci_low == pytest.approx(low, abs=0.05)
    assert found.wis.ci_high == pytest.approx(high, abs=0.05)


def test_probability_of_improvement_counts_pairs_and_ties_half() -> None:
    x = np.array([3.0, 5.0, 5.0, 8.0])
    y = np.array([1.0, 5.0, 6.0])
    pairs = (x[:, None] > y[None, :]).mean() + 0.5 * (x[:, None] == y[None, :]).mean()
    found = improvement(list(x), list(y), HOW)
    assert found.value == pytest.approx(pairs)
    assert found.ci_low is not None and found.ci_low <= found.value <= (found.ci_high or 0)
    lower = improvement(list(x), list(y), HOW, higher=False)
    assert lower.value == pytest.approx(1 - pairs)


def test_a_candidate_better_in_every_pair_has_probability_one_with_no_doubt() -> None:
    found = improvement([10.0, 11.0, 12.0], [1.0, 2.0, 3.0], HOW)
    assert (found.value, found.ci_low, found.ci_high) == (1.0, 1.0, 1.0)


def test_wis_without_a_defined_interval_says_why_rather_than_inventing_one() -> None:
    found = weighted([0.0] * 7 + [5.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], HOW)
    assert found.wis.value == 8.0 and found.ess == pytest.approx(1.0)
    assert found.wis.fields() == {"value": 8.0}
    assert found.wis.missing is not None and "undefined in some resamples" in found.wis.missing
