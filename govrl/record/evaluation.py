"""Evaluation evidence: metrics, off-policy estimates, stress tests, subgroups, OOD."""

from typing import Annotated, ClassVar, Self

from pydantic import Field, StrictBool, StrictFloat, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from govrl.record.base import (
    Bounds,
    CollectedEvidence,
    Count,
    Identifier,
    Name,
    Number,
    Probability,
    Provenance,
    StrictModel,
    Text,
    empty_list,
    unique_by,
)
from govrl.vocabulary import Comparator, Direction, Estimator, StressKind

BOUND_FIELDS = ("value", "ci_low", "ci_high", "ci_level")


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
    points: list[HistoryPoint] = Field(default_factory=empty_list, max_length=2000)


class TargetBand(StrictModel):
    """The range a within-band metric should stay in; either end may be open."""

    low: Number | None = None
    high: Number | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.low is None and self.high is None:
            raise PydanticCustomError("empty_band", "a target band needs low, high or both")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise PydanticCustomError(
                "band_order",
                "target low ({low}) is above target high ({high})",
                {"low": self.low, "high": self.high, "field": "low"},
            )
        return self

    def contains(self, low: float, high: float) -> bool:
        """Whether the whole interval [low, high] lies inside the band."""
        return (self.low is None or low >= self.low) and (self.high is None or high <= self.high)


class Metric(Bounds, CollectedEvidence):
    EVIDENCE: ClassVar[tuple[str, ...]] = (*BOUND_FIELDS, "history")

    id: Identifier
    name: Name
    description: Text | None = None
    direction: Direction | None = Field(
        default=None,
        description="higher-is-better, lower-is-better, or within-band (with target); "
        "required at tier 3",
    )
    target: TargetBand | None = Field(
        default=None, description="for a within-band metric: the range it should stay in"
    )
    unit: Name | None = None
    split: Name | None = Field(default=None, description="data or scenario it was measured on")
    history: HistorySummary | None = None
    provenance: Provenance | None = None

    @model_validator(mode="after")
    def _band_with_target(self) -> Self:
        if self.direction is Direction.BAND and self.target is None:
            raise PydanticCustomError(
                "band_without_target",
                "a within-band metric needs its target (low, high or both)",
                {"field": "target"},
            )
        if self.target is not None and self.direction is not Direction.BAND:
            raise PydanticCustomError(
                "target_without_band",
                "a target band is only for a metric whose direction is within-band",
                {"field": "direction"},
            )
        return self

    @property
    def higher_is_better(self) -> bool | None:
        """True or False for a one-way metric; None for a band or an unstated direction."""
        return {Direction.HIGHER: True, Direction.LOWER: False}.get(self.direction)  # type: ignore[arg-type]


class OffPolicyEstimate(Bounds, CollectedEvidence):
    """One estimator's value for the evaluated policy, from logged data."""

    EVIDENCE: ClassVar[tuple[str, ...]] = (
        *BOUND_FIELDS,
        *("ess", "episodes", "behaviour_value", "difference"),
    )

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
    difference: Bounds | None = Field(
        default=None,
        description="this estimate minus the behaviour policy's value, paired on the same "
        "episodes, with its interval; gates against behaviour_value judge it when given",
    )
    notes: Text | None = None
    provenance: Provenance | None = None

    @property
    def relative_ess(self) -> float | None:
        """ESS as a share of the episodes it rests on."""
        if self.ess is None or not self.episodes:
            return None
        return self.ess / self.episodes

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


class StressTest(Bounds, CollectedEvidence):
    EVIDENCE: ClassVar[tuple[str, ...]] = (*BOUND_FIELDS, "baseline", "passed")

    id: Identifier
    scenario: Name
    kind: StressKind
    description: Text | None = None
    metric: Name
    baseline: Number | None = Field(default=None, description="same metric without the stress")
    failure_modes: Annotated[list[Identifier], unique_by("failure modes")] = Field(
        default_factory=empty_list, description="ids of the reward.failure_modes this test probes"
    )
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


class SubgroupResult(Bounds, CollectedEvidence):
    EVIDENCE: ClassVar[tuple[str, ...]] = (*BOUND_FIELDS, "n", "ess")

    attribute: Name = Field(description="e.g. 'age band', 'region'")
    group: Name
    metric: Name
    n: Count | None = None
    ess: Annotated[StrictFloat, Field(ge=0)] | None = None
    provenance: Provenance | None = None

    @property
    def effective_n(self) -> float | None:
        """The evidence behind the result: its ESS where it has one, its n otherwise."""
        return self.ess if self.ess is not None else None if self.n is None else float(self.n)

    @property
    def relative_ess(self) -> float | None:
        if self.ess is None or not self.n:
            return None
        return self.ess / self.n

    @model_validator(mode="after")
    def _ess_within_n(self) -> Self:
        _check_ess(self.ess, self.n, "subjects (n)")
        return self


class OODDetection(StrictModel, CollectedEvidence):
    EVIDENCE: ClassVar[tuple[str, ...]] = ("auroc", "false_alarm_rate", "detection_rate")

    method: Text
    evaluated_on: Text
    auroc: Probability | None = None
    false_alarm_rate: Probability | None = None
    detection_rate: Probability | None = None
    on_detection: Text = Field(description="what the system does when a state is flagged")
    provenance: Provenance | None = None


class Evaluation(StrictModel):
    metrics: Annotated[list[Metric], unique_by("metric ids", "id")] = Field(
        default_factory=empty_list
    )
    off_policy: Annotated[list[OffPolicyEstimate], unique_by("off-policy estimate ids", "id")] = (
        Field(default_factory=empty_list)
    )
    stress_tests: Annotated[list[StressTest], unique_by("stress test ids", "id")] = Field(
        default_factory=empty_list
    )
    subgroups: Annotated[
        list[SubgroupResult],
        unique_by("subgroup, group and metric", "attribute", "group", "metric"),
    ] = Field(default_factory=empty_list)
    ood_detection: OODDetection | None = None
    limitations: list[Text] = Field(default_factory=empty_list)
    negative_results: list[Text] = Field(default_factory=empty_list)
