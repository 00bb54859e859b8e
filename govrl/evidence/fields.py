"""The fields of each evaluation section, and how a source's flat fields become the record's.

Tags and table columns are flat (``target_low``, ``criterion_comparator``,
``difference_ci_low``); the record nests them (``target: {low}``, ``criterion:
{comparator}``, ``difference: {ci_low}``). docs/collect.md lists both.
"""

from __future__ import annotations

import math
from typing import Any

from govrl.vocabulary import Comparator, Direction

METRICS, OFF_POLICY, STRESS, SUBGROUPS, OOD = (
    "metrics",
    "off_policy",
    "stress_tests",
    "subgroups",
    "ood_detection",
)
SECTIONS = (METRICS, OFF_POLICY, STRESS, SUBGROUPS, OOD)
BOUNDS = ("value", "ci_low", "ci_high", "ci_level")
DIFFERENCE = tuple(f"difference_{name}" for name in BOUNDS)
EVIDENCE_FIELDS = {
    METRICS: BOUNDS,
    OFF_POLICY: (*BOUNDS, "ess", "episodes", "behaviour_value", *DIFFERENCE),
    STRESS: (*BOUNDS, "baseline", "passed"),
    SUBGROUPS: (*BOUNDS, "n", "ess"),
    OOD: ("auroc", "false_alarm_rate", "detection_rate"),
}
# The record's descriptions: the record keeps its own where the source states none.
DESCRIPTIVE_FIELDS = {
    METRICS: ("name", "description", "direction", "target", "unit", "split"),
    OFF_POLICY: ("estimator", "target", "notes"),
    STRESS: ("scenario", "kind", "description", "metric", "failure_modes", "criterion"),
    SUBGROUPS: (),
    OOD: ("method", "evaluated_on", "on_detection"),
}
# The same descriptions as tags and table columns state them.
SOURCE_FIELDS = {
    METRICS: ("name", "description", "direction", "target_low", "target_high", "unit", "split")
    + ("higher_is_better",),  # the legacy flag, read as the direction it means
    OFF_POLICY: DESCRIPTIVE_FIELDS[OFF_POLICY],
    STRESS: ("scenario", "kind", "description", "metric", "failure_modes")
    + ("criterion_comparator", "criterion_threshold"),
    SUBGROUPS: (),
    OOD: DESCRIPTIVE_FIELDS[OOD],
}
IDENTITY_FIELDS = {
    METRICS: ("id",),
    OFF_POLICY: ("id",),
    STRESS: ("id",),
    SUBGROUPS: ("attribute", "group", "metric"),
    OOD: (),
}
_DIRECTIONS = ", ".join(d.value for d in Direction)
_COMPARATORS = ", ".join(c.value for c in Comparator)


class BadField(ValueError):
    """A flat field whose value the record cannot take; the caller says where it was."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.field = field
        self.message = message


def _number(field: str, raw: Any) -> float:
    if isinstance(raw, bool):
        raise BadField(field, f"must be a number (got {raw!r})")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise BadField(field, f"must be a number (got {raw!r})") from None
    if not math.isfinite(number):
        raise BadField(field, f"must be a finite number (got {raw!r})")
    return number


def _flag(field: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text not in ("true", "false"):
        raise BadField(field, f"must be true or false (got {raw!r})")
    return text == "true"


def _direction(data: dict[str, Any]) -> None:
    stated = data.pop("direction", None)
    direction = None
    if stated is not None:
        try:
            direction = Direction(str(stated).strip().lower())
        except ValueError:
            raise BadField("direction", f"must be one of {_DIRECTIONS} (got {stated!r})") from None
    if "higher_is_better" in data:
        flag = _flag("higher_is_better", data.pop("higher_is_better"))
        meant = Direction.HIGHER if flag else Direction.LOWER
        if direction not in (None, meant):
            raise BadField(
                "higher_is_better", f"is {str(flag).lower()}, but direction says {direction.value}"
            )
        direction = meant
    band = {
        end: _number(f"target_{end}", data.pop(f"target_{end}"))
        for end in ("low", "high")
        if f"target_{end}" in data
    }
    if band:
        direction = direction or Direction.BAND  # a band means within-band
        if direction is not Direction.BAND:
            raise BadField(
                f"target_{next(iter(band))}",
                f"is for a within-band metric, but direction says {direction.value}",
            )
        if band.get("low", -math.inf) > band.get("high", math.inf):
            raise BadField("target_low", f"({band['low']}) is above target_high ({band['high']})")
        data["target"] = band
    elif direction is Direction.BAND:
        raise BadField("direction", "is within-band, but no target_low or target_high says where")
    if direction is not None:
        data["direction"] = direction.value


def _criterion(data: dict[str, Any]) -> None:
    comparator = data.pop("criterion_comparator", None)
    threshold = data.pop("criterion_threshold", None)
    if comparator is None and threshold is None:
        return
    if comparator is None:
        raise BadField(
            "criterion_comparator", f"is missing: criterion_threshold needs one of {_COMPARATORS}"
        )
    if threshold is None:
        raise BadField("criterion_threshold", "is missing: criterion_comparator needs a number")
    text = str(comparator).strip()
    if text not in {c.value for c in Comparator}:
        raise BadField(
            "criterion_comparator", f"must be one of {_COMPARATORS} (got {comparator!r})"
        )
    data["criterion"] = {"comparator": text, "threshold": _number("criterion_threshold", threshold)}


def nest(section: str, flat: dict[str, Any]) -> dict[str, Any]:
    """``flat`` with its flat fields nested as the record holds them; BadField names a bad one."""
    data = dict(flat)
    if section == METRICS:
        _direction(data)
    elif section == STRESS:
        _criterion(data)
        modes = data.get("failure_modes")
        if isinstance(modes, str):
            data["failure_modes"] = [m.strip() for m in modes.split(",") if m.strip()]
    elif section == OFF_POLICY:
        difference = {
            name.removeprefix("difference_"): _number(name, data.pop(name))
            for name in DIFFERENCE
            if name in data
        }
        if difference:
            data["difference"] = difference
    return data


def layer(section: str, data: dict[str, Any], update: dict[str, Any]) -> None:
    """Put ``update`` over ``data``; a metric's direction and target are replaced together."""
    if section == METRICS and ("direction" in update or "target" in update):
        data.pop("direction", None)
        data.pop("target", None)
    data.update(update)
