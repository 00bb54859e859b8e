"""The mapping file: how a team's metric keys, names and tables map into the record."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, StrictBool, StrictFloat, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from govrl.evidence.history import MAX_POINTS, WINDOW
from govrl.record.base import Identifier, Name, StrictModel, Text
from govrl.record.evaluation import Criterion, TargetBand
from govrl.vocabulary import Direction, Estimator, StressKind

_GLOB = set("*?[")


class Directed(StrictModel):
    """A metric's direction and band, stated together.

    The legacy ``higher_is_better: true|false`` is read as the direction it means; a
    ``target`` without a direction means within-band.
    """

    direction: Direction | None = None
    target: TargetBand | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_flag(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "higher_is_better" in data:
            flag = data.pop("higher_is_better")
            if not isinstance(flag, bool):
                raise PydanticCustomError(
                    "legacy_flag",
                    "must be true or false (got {got}); "
                    "better: direction: higher-is-better or lower-is-better",
                    {"got": flag, "field": "higher_is_better"},
                )
            meant = (Direction.HIGHER if flag else Direction.LOWER).value
            if data.get("direction") not in (None, meant):
                raise PydanticCustomError(
                    "legacy_flag",
                    "is {direction}, but higher_is_better: {flag} says otherwise; keep direction",
                    {
                        "flag": str(flag).lower(),
                        "direction": data["direction"],
                        "field": "direction",
                    },
                )
            data["direction"] = meant
        if data.get("target") is not None and data.get("direction") is None:
            data["direction"] = Direction.BAND.value
        return data

    @model_validator(mode="after")
    def _band_with_target(self) -> Self:
        if (self.direction is Direction.BAND) != (self.target is not None):
            raise PydanticCustomError(
                "band_target",
                "a target goes with direction within-band, and within-band needs a target",
                {"field": "target"},
            )
        return self


class MetricRule(Directed):
    """A metric key (or glob) outside the convention to collect into evaluation.metrics."""

    key: Name
    id: Identifier | None = None
    name: Name | None = None
    description: Text | None = None
    unit: Name | None = None
    split: Name | None = None
    value: Literal["last", "best"] = "last"
    history: StrictBool = True
    per_run: StrictBool = Field(
        default=False, description="one entry per run, its id ending in the run's name"
    )

    @model_validator(mode="after")
    def _id_for_exact_keys(self) -> Self:
        if self.id is not None and _GLOB & set(self.key):
            raise PydanticCustomError(
                "rule_id", "id names one metric; a key pattern matches many", {"field": "id"}
            )
        return self

    def matches(self, key: str) -> bool:
        return fnmatchcase(key, self.key) if _GLOB & set(self.key) else key == self.key


class MetricText(Directed):
    name: Name | None = None
    description: Text | None = None
    unit: Name | None = None
    split: Name | None = None


class EstimateText(StrictModel):
    estimator: Estimator | None = None
    target: Name | None = None
    notes: Text | None = None


class StressText(StrictModel):
    scenario: Name | None = None
    kind: StressKind | None = None
    description: Text | None = None
    metric: Name | None = None
    failure_modes: list[Identifier] | None = None
    criterion: Criterion | None = None


class DetectorText(StrictModel):
    method: Text | None = None
    evaluated_on: Text | None = None
    on_detection: Text | None = None


class Describe(StrictModel):
    """Descriptive fields per collected entry id; they win over the source's own."""

    metrics: dict[Identifier, MetricText] = Field(default_factory=dict)
    off_policy: dict[Identifier, EstimateText] = Field(default_factory=dict)
    stress_tests: dict[Identifier, StressText] = Field(default_factory=dict)
    ood_detection: DetectorText | None = None


class Prefixes(StrictModel):
    """The first segment of a metric key that sends it to a record section."""

    eval: Name = "eval"
    ope: Name = "ope"
    stress: Name = "stress"
    subgroup: Name = "subgroup"
    ood: Name = "ood"

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        values = list(self.model_dump().values())
        if len(set(values)) != len(values) or any("/" in v for v in values):
            raise PydanticCustomError(
                "prefixes", "prefixes must be distinct single key segments (no '/')"
            )
        return self


class BootstrapSettings(StrictModel):
    """How govrl draws the intervals it computes (the level is ``ci_level``, else 0.95)."""

    resamples: Annotated[StrictInt, Field(ge=100, le=1_000_000)] = 10_000
    seed: Annotated[StrictInt, Field(ge=0)] = 0


class Mapping(StrictModel):
    """Overrides of the collection convention; every field has the documented default."""

    prefixes: Prefixes = Field(default_factory=Prefixes)
    artifact_dir: Name = "govrl"
    metrics: list[MetricRule] = Field(default_factory=list)
    describe: Describe = Field(default_factory=Describe)
    ignore: list[Name] = Field(default_factory=list, description="metric key globs to leave out")
    ci_level: Annotated[StrictFloat, Field(gt=0, lt=1)] | None = Field(
        default=None, description="the level of intervals that do not state their own"
    )
    window: Annotated[StrictInt, Field(ge=1, le=10_000)] = WINDOW
    points: Annotated[StrictInt, Field(ge=3, le=2000)] = MAX_POINTS
    bootstrap: BootstrapSettings = Field(default_factory=BootstrapSettings)

    def rule_for(self, key: str) -> MetricRule | None:
        return next((rule for rule in self.metrics if rule.matches(key)), None)

    def ignored(self, key: str) -> bool:
        return any(fnmatchcase(key, pattern) for pattern in self.ignore)


def load_mapping(path: Path | None) -> Mapping:
    """The mapping at ``path``, or the convention's defaults when there is none."""
    if path is None:
        return Mapping()
    from govrl.yamlio import load
    from govrl.yamlmodel import validate_document

    return validate_document(Mapping, load(path), "mapping")
