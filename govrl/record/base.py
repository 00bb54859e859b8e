"""The strict base model and the small types every section shares."""

# The record's model modules leave out `from __future__ import annotations`: pydantic reads
# each field's type at class creation, and an annotation kept as a string is compiled and
# evaluated again there.

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from govrl.safetext import name_problem
from govrl.vocabulary import SourceKind

SCHEMA_VERSION = "1.0"


def _plain_name(value: str) -> str:
    """A name shows as it is stored: no control characters, escape sequences or bidi controls."""
    problem = name_problem(value)
    if problem:
        raise PydanticCustomError("unsafe_name", "the name {problem}", {"problem": problem})
    return value


Text = Annotated[StrictStr, Field(min_length=1, max_length=20_000)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_plain_name)]
Identifier = Annotated[
    StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,127}$", max_length=128)
]
Sha256 = Annotated[StrictStr, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
Number = Annotated[StrictFloat, Field(allow_inf_nan=False)]
Probability = Annotated[StrictFloat, Field(ge=0, le=1)]
Count = Annotated[StrictInt, Field(ge=0)]
Email = Annotated[StrictStr, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]


def empty_list() -> list[Any]:
    """A new empty list, the default of a list field.

    Defaults come from plain functions rather than ``list`` and ``dict``: pydantic reads each
    default factory's signature, and a builtin's is parsed from text, which is slow.
    """
    return []


def empty_dict() -> dict[Any, Any]:
    """A new empty mapping, the default of a mapping field."""
    return {}


class StrictModel(BaseModel):
    """Unknown keys are errors; values are validated on assignment too.

    A model's validator is built when the model is first used, so validating a record builds
    one validator for all its sections rather than one per model at import.
    """

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        use_enum_values=False,
        ser_json_inf_nan="strings",
        defer_build=True,
    )


class Contact(StrictModel):
    name: Name
    role: Name | None = None
    email: Email | None = None
    organisation: Name | None = None


class Provenance(StrictModel):
    """Where one piece of evidence came from, precisely enough to fetch it again."""

    source: SourceKind
    tracking_uri: Text | None = None
    experiment: Name | None = None
    run_id: Identifier | None = None
    model_name: Name | None = None
    model_version: Name | None = None
    metric_key: Name | None = None
    artifact_path: Text | None = None
    artifact_sha256: Sha256 | None = None
    fetched_at: dt.datetime | None = None
    note: Text | None = None
    value_sha256: Sha256 | None = Field(
        default=None,
        description="digest of the collected values and this provenance (fetch time aside), "
        "taken at collection: a value edited by hand afterwards no longer matches it",
    )


def collected_digest(evidence: dict[str, Any], provenance: Provenance) -> str:
    """The digest binding collected values to where they came from (RFC 8785 JSON, SHA-256)."""
    import rfc8785

    source = provenance.model_dump(
        mode="json", exclude={"value_sha256", "fetched_at"}, exclude_none=True
    )
    canonical = rfc8785.dumps({"evidence": evidence, "provenance": source})
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


class CollectedEvidence(BaseModel):
    """An entry govrl may have collected: its evidence fields are bound to its provenance.

    A value changed after collection fails validation, naming the entry, so a hand edit can
    never pass for collected evidence; removing ``value_sha256`` marks the entry as edited.
    """

    model_config = ConfigDict(defer_build=True)  # built on first use, as StrictModel is

    EVIDENCE: ClassVar[tuple[str, ...]] = ()

    def evidence_values(self) -> dict[str, Any]:
        """The evidence fields, in JSON terms, as the digest covers them."""
        return self.model_dump(mode="json", include=set(self.EVIDENCE), exclude_none=True)

    def current_digest(self) -> str | None:
        """The digest these values and this provenance have now (None without provenance)."""
        provenance = getattr(self, "provenance", None)
        return None if provenance is None else collected_digest(self.evidence_values(), provenance)

    @model_validator(mode="after")
    def _not_edited_after_collection(self) -> Self:
        provenance = getattr(self, "provenance", None)
        if provenance is None or provenance.value_sha256 is None:
            return self
        if self.current_digest() != provenance.value_sha256:
            present = [name for name in self.EVIDENCE if getattr(self, name) is not None]
            raise PydanticCustomError(
                "edited_after_collection",
                "edited after collection: {fields} no longer match provenance.value_sha256, "
                "the digest taken when {source} was collected; restore the collected values, "
                "or remove value_sha256 and say in provenance.note who changed what and why",
                {
                    "fields": ", ".join(present) or "its values",
                    "source": _source_of(provenance),
                    "field": present[0] if present else "provenance",
                },
            )
        return self


def _source_of(provenance: Provenance) -> str:
    if provenance.run_id:
        key = f" {provenance.metric_key}" if provenance.metric_key else ""
        return f"run {provenance.run_id}{key}"
    return provenance.artifact_path or provenance.source.value


class Bounds(StrictModel):
    """A value with an optional confidence interval, judged on its bounds."""

    value: Number | None = None
    ci_low: Number | None = None
    ci_high: Number | None = None
    ci_level: Annotated[StrictFloat, Field(gt=0, lt=1)] | None = None

    @model_validator(mode="after")
    def _interval_ordered(self) -> Self:
        if self.ci_low is not None and self.ci_high is not None and self.ci_low > self.ci_high:
            raise PydanticCustomError(
                "interval_order",
                "ci_low ({low}) is above ci_high ({high})",
                {"low": self.ci_low, "high": self.ci_high, "field": "ci_low"},
            )
        if (self.ci_low is not None or self.ci_high is not None) and self.ci_level is None:
            raise PydanticCustomError(
                "interval_level",
                "a confidence interval needs its ci_level (e.g. 0.95)",
                {"field": "ci_level"},
            )
        if self.value is not None:
            if self.ci_low is not None and self.value < self.ci_low:
                raise PydanticCustomError(
                    "value_outside_interval",
                    "the point estimate {value} is below its own ci_low ({low})",
                    {"value": self.value, "low": self.ci_low, "field": "value"},
                )
            if self.ci_high is not None and self.value > self.ci_high:
                raise PydanticCustomError(
                    "value_outside_interval",
                    "the point estimate {value} is above its own ci_high ({high})",
                    {"value": self.value, "high": self.ci_high, "field": "value"},
                )
        return self


def duplicates(values: Iterable[Any]) -> list[Any]:
    """The values that occur more than once, in first-seen order."""
    seen: set[Any] = set()
    repeated: list[Any] = []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


def unique_by(what: str, *fields: str) -> AfterValidator:
    """A list validator: no two entries share ``fields`` (the entries themselves if none)."""
    key: Callable[[Any], Any] = attrgetter(*fields) if fields else (lambda value: value)

    def check(values: list[Any]) -> list[Any]:
        require_unique(map(key, values), what)
        return values

    return AfterValidator(check)


def require_unique(values: Iterable[Any], what: str) -> None:
    """Raise a located error if any ``what`` repeats."""
    repeated = duplicates(values)
    if repeated:
        raise PydanticCustomError(
            "duplicate_id",
            "{what} must be unique; repeated: {repeated}",
            {"what": what, "repeated": ", ".join(map(str, repeated))},
        )
