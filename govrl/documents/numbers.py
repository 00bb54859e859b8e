"""How numbers read in a document: exact to what was recorded, grouped for the eye."""

from __future__ import annotations

import math

MISSING = "—"


def format_number(value: float | int | None) -> str:
    """The shortest text that gives back the recorded value, with thousands grouped."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    text = repr(float(value))
    if "e" in text:
        return text
    _, _, fraction = text.partition(".")
    if fraction == "0":
        return f"{int(value):,}"
    return f"{value:,.{len(fraction)}f}"
