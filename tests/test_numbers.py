"""One number formatter: a value to the precision of its interval, intervals with their zeros."""

from __future__ import annotations

import pytest

from govrl.documents.numbers import MISSING, decimals_for, format_interval, format_number


@pytest.mark.parametrize(
    ("value", "low", "high", "shown"),
    [
        (146.13073010932047, 139.2, 151.9, "146.1"),  # the interval was recorded to 0.1
        (0.224, 0.210, 0.238, "0.224"),
        (0.2, 0.21, 0.238, "0.200"),  # trailing zeros kept to the interval's precision
        (-3.14159, -3.2, -3.1, "-3.1"),  # negative
        (-0.00001, -0.1, 0.1, "0.0"),  # rounds to zero: no "-0.0"
        (11400.0, 11050.0, 11780.0, "11,400"),  # grouped, no decimals the interval lacks
        (1.5e12, 1.4e12, 1.6e12, "1,500,000,000,000"),  # very large
        (2e16, 1e16, 3e16, "2e16"),  # beyond fixed notation
        (1.23e-7, 1.1e-7, 1.4e-7, "1.2e-7"),  # very small
        (2.0, 2.0, 2.0, "2"),  # zero-width interval: the recorded digits
        (0.125, 0.125, 0.125, "0.125"),
        # raw float ends: three significant figures of the width, no more
        (146.13073010932047, 139.20401324, 151.9332, "146.1"),
        (3, 1, 5, "3"),  # integers stay integers
        (0.0, 0.0, 0.06, "0.00"),
    ],
)
def test_a_value_to_the_precision_of_its_interval(
    value: float, low: float, high: float, shown: str
) -> None:
    assert format_number(value, low, high) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, MISSING),
        (True, "true"),
        (5, "5"),
        (12345678, "12,345,678"),
        (0.05, "0.05"),
        (0.30000000000000004, "0.3"),  # float noise goes
        (146.13073010932047, "146.131"),  # no interval: at most six significant figures
        (-48.1, "-48.1"),
        (1e20, "1e20"),
        (1e-9, "1e-9"),
        (0, "0"),
        (0.0, "0"),
    ],
)
def test_a_value_without_an_interval(value: float | None, shown: str) -> None:
    assert format_number(value) == shown


@pytest.mark.parametrize(
    ("low", "high", "shown"),
    [
        (0.21, 0.238, "[0.210, 0.238]"),
        (139.2, 151.9, "[139.2, 151.9]"),
        (6.55, 9.3, "[6.55, 9.30]"),
        (-1.5, 2, "[-1.5, 2.0]"),
        (None, 3.0, f"[{MISSING}, 3]"),
        (None, None, MISSING),
    ],
)
def test_an_interval_keeps_both_ends_to_the_same_decimals(
    low: float | None, high: float | None, shown: str
) -> None:
    assert format_interval(low, high) == shown


def test_the_precision_an_interval_supports() -> None:
    assert decimals_for(None, None) is None
    assert decimals_for(0.21, 0.238) == 3
    assert decimals_for(139.2, 151.9) == 1
    assert decimals_for(11050.0, 11780.0) == 0
    assert decimals_for(2.0, 2.0) == 0


def test_non_finite_values_cannot_reach_a_document_but_do_not_crash() -> None:
    # The record models refuse NaN and infinities; the formatter still answers in words.
    assert format_number(float("nan")) == "nan"
    assert format_number(float("inf"), 0.0, 1.0) == "inf"
