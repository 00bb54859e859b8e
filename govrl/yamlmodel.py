"""Turn a YAML document into a model, or into problems a person can act on."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from govrl.errors import InputError, Problem
from govrl.yamlio import Document, Location, dotted

M = TypeVar("M", bound=BaseModel)

_PLAIN = {
    "missing": "is required but missing",
    "extra_forbidden": "is not a known field",
    "string_type": "must be text",
    "float_type": "must be a number",
    "int_type": "must be a whole number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping of fields",
    "model_attributes_type": "must be a mapping of fields",
    "date_type": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "datetime_type": "must be a date and time (YYYY-MM-DDTHH:MM:SSZ)",
    "string_too_short": "must not be empty",
    "finite_number": "must be a finite number",
}


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    text = _PLAIN.get(kind)
    if text is None:
        text = error["msg"]
        text = text[:1].lower() + text[1:]
        text = text.removeprefix("value error, ")
    if kind.endswith("_type") or kind in ("enum", "literal_error", "string_pattern_mismatch"):
        shown = repr(error.get("input"))
        text += f" (got {shown[:60]}{'…' if len(shown) > 60 else ''})"
    return text


def problems_from(exc: ValidationError, doc: Document) -> list[Problem]:
    """Each pydantic error as a Problem naming file, line and field path."""
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc: Location = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        located = ctx.get("problems")
        if located:
            for path, message in located:
                problems.append(Problem(message, doc.source, _line_of_path(doc, path), path))
            continue
        if "field" in ctx:  # a model-level rule that names the field it is about
            loc = (*loc, ctx["field"])
        problems.append(Problem(_message(error), doc.source, doc.line_of(loc), dotted(loc) or None))
    return problems


def _line_of_path(doc: Document, path: str) -> int | None:
    loc: list[str | int] = []
    for part in path.replace("]", "").split("."):
        name, *indices = part.split("[")
        loc.append(name)
        loc.extend(int(i) for i in indices)
    return doc.line_of(tuple(loc))


def validate_document(model: type[M], doc: Document, what: str) -> M:
    """Validate ``doc`` as ``model``; raise InputError listing every problem."""
    if not isinstance(doc.data, dict):
        kind = "empty" if doc.data is None else f"a {type(doc.data).__name__}"
        raise InputError(
            [Problem(f"a {what} must be a YAML mapping, but the file is {kind}", doc.source, 1)]
        )
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(problems_from(exc, doc), what=what) from None
