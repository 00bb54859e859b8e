"""Evaluation tables (JSON or CSV artifacts) read into typed rows, with located errors."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from govrl.errors import InputError, Problem

FLOAT_FIELDS = frozenset(
    {
        "value",
        "ci_low",
        "ci_high",
        "ci_level",
        "ess",
        "behaviour_value",
        "baseline",
        "auroc",
        "false_alarm_rate",
        "detection_rate",
        "target_low",
        "target_high",
        "criterion_threshold",
        "difference_value",
        "difference_ci_low",
        "difference_ci_high",
        "difference_ci_level",
        "return",
        "weight",
        "behaviour_prob",
        "target_prob",
    }
)
INT_FIELDS = frozenset({"n", "episodes"})
# Per-episode tables govrl computes from (govrl.evidence.computed), with their columns.
SAMPLE_TABLES = {
    "episodes": frozenset({"metric", "return", "episode"}),
    "weights": frozenset({"id", "return", "weight", "behaviour_prob", "target_prob", "episode"}),
}
BOOL_FIELDS = frozenset({"passed", "higher_is_better"})
LABEL_FIELDS = frozenset({"episode"})  # a number or a name, kept as text
LIST_FIELDS = frozenset({"failure_modes"})  # comma-separated in CSV, a list or text in JSON
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


def _bad(source: str, row: int, column: str | None, message: str) -> InputError:
    return InputError(
        [Problem(message, source, None, f"row {row}" + (f" {column}" if column else ""))]
    )


def coerce(field: str, raw: Any, *, source: str, row: int) -> Any:
    """``raw`` as the type the record wants for ``field``; text from CSV is parsed."""
    text = raw.strip() if isinstance(raw, str) else None
    if field in BOOL_FIELDS:
        if isinstance(raw, bool):
            return raw
        if text is not None and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        if isinstance(raw, int | float) and raw in (0, 1):
            return bool(raw)
        raise _bad(source, row, field, f"must be true or false (got {raw!r})")
    if field in LIST_FIELDS:
        if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            return [item.strip() for item in raw if item.strip()]
        if text is not None:
            return [item.strip() for item in text.split(",") if item.strip()]
        raise _bad(
            source, row, field, f"must be a list of ids, or ids separated by commas (got {raw!r})"
        )
    if field in FLOAT_FIELDS or field in INT_FIELDS:
        if isinstance(raw, bool):
            raise _bad(source, row, field, f"must be a number (got {raw!r})")
        try:
            number = float(text) if text is not None else float(raw)
        except (TypeError, ValueError):
            raise _bad(source, row, field, f"must be a number (got {raw!r})") from None
        if not math.isfinite(number):
            raise _bad(source, row, field, f"must be a finite number (got {raw!r})")
        if field in INT_FIELDS:
            if not number.is_integer():
                raise _bad(source, row, field, f"must be a whole number (got {raw!r})")
            return int(number)
        return number
    if field in LABEL_FIELDS and isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    if text is None:
        raise _bad(source, row, field, f"must be text (got {raw!r})")
    return text


def read_table(
    name: str, content: bytes, *, source: str, allowed: frozenset[str]
) -> list[dict[str, Any]]:
    """Rows of a ``.json`` (objects) or ``.csv`` table; empty cells and nulls are absent."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError([Problem("is not UTF-8 text", source)]) from None
    if name.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                [Problem(f"is not valid JSON: {exc.msg}", source, exc.lineno)]
            ) from None
        raw_rows = [data] if isinstance(data, dict) else data
        if not isinstance(raw_rows, list) or not all(isinstance(r, dict) for r in raw_rows):
            raise InputError([Problem("must hold a list of objects, one per entry", source)])
    else:
        try:
            raw_rows = [
                {k: v for k, v in row.items() if v not in (None, "")}
                for row in csv.DictReader(io.StringIO(text))
            ]
        except csv.Error as exc:
            raise InputError([Problem(f"is not valid CSV: {exc}", source)]) from None
    rows: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_rows, start=1):
        unknown = sorted(str(k) for k in raw if k not in allowed)
        if unknown:
            raise _bad(
                source,
                index,
                None,
                f"unknown column(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}",
            )
        rows.append(
            {k: coerce(k, v, source=source, row=index) for k, v in raw.items() if v is not None}
        )
    return rows
