"""How numbers read in a document: to the precision their interval supports, grouped for the eye.

Every number a document shows goes through ``format_number``: a measured value with its
confidence interval keeps as many decimals as the interval was recorded with (at most three
significant figures of its width), and the interval's two ends keep the same decimals, so
``[0.210, 0.238]`` never reads ``[0.21, 0.238]``.
"""

from __future__ import annotations

import math
from decimal import Decimal

MISSING = "—"
# A value without an interval: at most this many significant figures (float noise goes).
PLAIN_DIGITS = 6
# The width of an interval supports this many significant figures, and no more.
WIDTH_DIGITS = 3
# Below this magnitude (and above the next) fixed decimals stop being readable.
SMALL, LARGE = 1e-4, 1e15


def _recorded_decimals(value: float) -> int:
    """The decimals ``value`` was recorded with: its shortest round-tripping text's."""
    exponent = Decimal(repr(float(value))).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def _width_decimals(low: float, high: float) -> int:
    """Decimals that give the interval's width ``WIDTH_DIGITS`` significant figures."""
    width = abs(high - low)
    return WIDTH_DIGITS - 1 - math.floor(math.log10(width))


def decimals_for(low: float | None, high: float | None) -> int | None:
    """How many decimals an interval ``[low, high]`` supports; None without an interval."""
    ends = [float(v) for v in (low, high) if v is not None and math.isfinite(v)]
    if not ends:
        return None
    recorded = max(_recorded_decimals(v) for v in ends)
    if len(ends) == 2 and ends[0] != ends[1]:
        return max(0, min(recorded, _width_decimals(ends[0], ends[1])))
    return min(recorded, PLAIN_DIGITS)


def _fixed(value: float, decimals: int) -> str:
    text = f"{value:,.{decimals}f}"
    # -0.0001 to one decimal is zero, not "-0.0"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


def _plain(value: float) -> str:
    """A value with no interval: the recorded digits, up to ``PLAIN_DIGITS`` significant."""
    rounded = float(f"{value:.{PLAIN_DIGITS}g}")
    if rounded.is_integer() and abs(rounded) < LARGE:
        return f"{int(rounded):,}"
    if abs(rounded) < SMALL or abs(rounded) >= LARGE:
        return _scientific(rounded, PLAIN_DIGITS)
    return _fixed(rounded, _recorded_decimals(rounded))


def _scientific(value: float, digits: int) -> str:
    """``1.2e-07`` style, without trailing zeros in the mantissa."""
    mantissa, _, exponent = f"{value:.{max(digits - 1, 0)}e}".partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def format_number(
    value: float | int | None,
    low: float | int | None = None,
    high: float | int | None = None,
) -> str:
    """``value`` as a document shows it: to the precision of its interval ``[low, high]``
    when it has one, else its recorded digits (at most six significant); integers grouped."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if not math.isfinite(value):
        return str(value)
    decimals = decimals_for(low, high)
    if isinstance(value, int) and (decimals is None or decimals == 0):
        return f"{value:,}"
    if decimals is None:
        return _plain(float(value))
    magnitude = abs(float(value))
    if magnitude and ((magnitude < SMALL and decimals > PLAIN_DIGITS) or magnitude >= LARGE):
        # Significant figures as the interval supports them, in scientific notation.
        digits = max(1, math.floor(math.log10(magnitude)) + 1 + decimals)
        return _scientific(float(value), digits)
    return _fixed(float(value), decimals)


def format_interval(low: float | int | None, high: float | int | None) -> str:
    """``[low, high]``, both ends to the same decimals; a dash when there is no interval."""
    if low is None and high is None:
        return MISSING
    return f"[{format_number(low, low, high)}, {format_number(high, low, high)}]"
