"""Evaluation evidence: metrics, off-policy estimates, stress tests, subgroups, OOD."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, StrictBool, StrictFloat, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from govrl.record.base import (
    Bounds,
    Count,
    Identifier,
    Name,
    Number,
    Probability,
    Provenance,
    StrictModel,
    Text,
    unique_by,
)
from govrl.vocabulary import Comparator, Estimator, StressKind


class HistoryPoint(StrictModel):
    step: Count
    value: Number


class HistorySummary(StrictModel):
    """A metric's history, summarised, with enough points to draw its curve."""

    steps: Count
    last: Number
    best: Number
    window: Annotated[StrictInt, Field(ge=1)] = Field(description="points in the final window")
    window_mean: Number
    window_std: Annotated[StrictFloat, Field(ge=0)]
    window_min: Number
    window_max: Number
    points: list[HistoryPoint] = Field(default_factory=list, max_length=2000)


class Metric(Bounds):
    id: Identifier
    name: Name
    description: Text | None = None
    higher_is_better: StrictBool = True
    unit: Name | None = None
    split: Name | None = Field(default=None, description="data or scenario it was measured on")
    history: HistorySummary | None = None
    provenance: Provenance | None = None


class OffPolicyEstimate(Bounds):
    """One estimator's value for the evaluated policy, from logged data."""

    id: Identifier
    estimator: Estimator
    target: Name = Field(description="what is estimated, e.g. 'expected return'")
    ess: Annotated[StrictFloat, Field(ge=0)] | None = Field(
        default=None, description="effective sample size behind the estimate"
    )
    episodes: Count | None = None
    behaviour_value: Number | None = Field(
        default=None, description="the behaviour (incumbent) policy's value on the same data"
    )
    notes: Text | None = None
    provenance: Provenance | None = None

    @model_validator(mode="after")
    def _ess_within_episodes(self) -> Self:
        _check_ess(self.ess, self.episodes, "episodes")
        return self


def _check_ess(ess: float | None, count: int | None, what: str) -> None:
    """An effective sample size never exceeds the sample it is drawn from."""
    if ess is not None and count is not None and ess > count:
        raise PydanticCustomError(
            "ess_above_sample",
            "effective sample size {ess} exceeds the {count} {what} it rests on",
            {"ess": ess, "count": count, "what": what, "field": "ess"},
        )


class Criterion(StrictModel):
    """A pass criterion, met when the conservative bound satisfies it."""

    comparator: Comparator
    threshold: Number

    def conservative(self, result: Bounds) -> tuple[str, float | None]:
        """The bound this criterion is judged on (ci_low for >, ci_high for <), or the value."""
        wants_high = self.comparator in (Comparator.GE, Comparator.GT)
        name, bound = ("ci_low", result.ci_low) if wants_high else ("ci_high", result.ci_high)
        return (name, bound) if bound is not None else ("value", result.value)

    def holds(self, observed: float) -> bool:
        return {
            Comparator.GE: observed >= self.threshold,
            Comparator.GT: observed > self.threshold,
            Comparator.LE: observed <= self.threshold,
            Comparator.LT: observed < self.threshold,
        }[self.comparator]


class StressTest(Bounds):
    id: Identifier
    scenario: Name
    kind: StressKind
    description: Text | None = None
    metric: Name
    baseline: Number | None = Field(default=None, description="same metric without the stress")
    criterion: Criterion | None = None
    passed: StrictBool | None = None
    provenance: Provenance | None = None

    @model_validator(mode="after")
    def _passed_meets_criterion(self) -> Self:
        if self.criterion is None or self.passed is not True:
            return self
        name, observed = self.criterion.conservative(self)
        if observed is not None and not self.criterion.holds(observed):
            raise PydanticCustomError(
                "passed_contradicts_criterion",
                "marked passed, but its {name} {observed} does not meet its criterion "
                "{comparator} {threshold}",
                {
                    "name": name,
                    "observed": observed,
                    "comparator": self.criterion.comparator.value,
                    "threshold": self.criterion.threshold,
                    "field": "passed",
                },
            )
        return self


class SubgroupResult(Bounds):
    attribute: Name = Field(description="e.g. 'age band', 'region'")
    group: Name
    metric: Name
    n: Count | None = None
    ess: Annotated[StrictFloat, Field(ge=0)] | None = None
    provenance: Provenance | None = None

    @model_validator(mode="after")
    def _ess_within_n(self) -> Self:
        _check_ess(self.ess, self.n, "subjects (n)")
        return self


class OODDetection(StrictModel):
    method: Text
    evaluated_on: Text
    auroc: Probability | None = None
    false_alarm_rate: Probability | None = None
    detection_rate: Probability | None = None
    on_detection: Text = Field(description="what the system does when a state is flagged")
    provenance: Provenance | None = None


class Evaluation(StrictModel):
    metrics: Annotated[list[Metric], unique_by("metric ids", "id")] = Field(default_factory=list)
    off_policy: Annotated[list[OffPolicyEstimate], unique_by("off-policy estimate ids", "id")] = (
        Field(default_factory=list)
    )
    stress_tests: Annotated[list[StressTest], unique_by("stress test ids", "id")] = Field(
        default_factory=list
    )
    subgroups: Annotated[
        list[SubgroupResult],
        unique_by("subgroup, group and metric", "attribute", "group", "metric"),
    ] = Field(default_factory=list)
    ood_detection: OODDetection | None = None
    limitations: list[Text] = Field(default_factory=list)
    negative_results: list[Text] = Field(default_factory=list)
