"""The assessment record: every section, and the rules that span sections."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from govrl.record.agent import ModelSpec
from govrl.record.base import StrictModel, unique_by
from govrl.record.context import IntendedUse, System
from govrl.record.evaluation import Evaluation
from govrl.record.governance import (
    ChangelogEntry,
    ChecklistResponses,
    Deployment,
    Monitoring,
    PolicyBinding,
    TrackedCondition,
)
from govrl.record.reward import RewardSpec
from govrl.vocabulary import Autonomy, Estimator, Propensities, RiskTier

CROSS_FIELD = "cross_field"
# Estimators that weight logged episodes by the behaviour policy's action probabilities.
WEIGHTED_ESTIMATORS = frozenset(
    {
        Estimator.IS,
        Estimator.WIS,
        Estimator.PDIS,
        Estimator.WPDIS,
        Estimator.DR,
        Estimator.WDR,
        Estimator.MAGIC,
        Estimator.HCOPE,
    }
)


class AssessmentRecord(StrictModel):
    """One pre-deployment assessment of one version of an RL system."""

    schema_version: Literal["1.0"] = "1.0"
    system: System
    intended_use: IntendedUse
    model: ModelSpec
    reward: RewardSpec
    evaluation: Evaluation
    checklists: Annotated[list[ChecklistResponses], unique_by("checklist ids", "id")] = Field(
        default_factory=list
    )
    deployment: Deployment
    monitoring: Monitoring
    changelog: list[ChangelogEntry] = Field(min_length=1)
    conditions: Annotated[list[TrackedCondition], unique_by("condition ids", "id")] = Field(
        default_factory=list,
        description="conditions of approval with owner, due date and what closes them",
    )
    policy: PolicyBinding | None = Field(
        default=None, description="the policy this record is judged by, bound by its digest"
    )

    @model_validator(mode="after")
    def _cross_section_rules(self) -> AssessmentRecord:
        problems = cross_section_problems(self)
        if problems:
            raise PydanticCustomError(
                CROSS_FIELD,
                "; ".join(f"{path}: {message}" for path, message in problems),
                {"problems": problems},
            )
        return self


def cross_section_problems(record: AssessmentRecord) -> list[tuple[str, str]]:
    """Rules that tie one section to another, each as (field path, message)."""
    problems: list[tuple[str, str]] = []
    tier = record.system.risk_tier
    autonomy = record.intended_use.autonomy
    if tier is RiskTier.HIGH:
        if autonomy is None:
            problems.append(
                ("intended_use.autonomy", "a tier-3 system must state its level of autonomy")
            )
        if not record.deployment.fallback:
            problems.append(("deployment.fallback", "a tier-3 system must describe its fallback"))
        if not record.deployment.human_override:
            problems.append(
                (
                    "deployment.human_override",
                    "a tier-3 system must describe how a human overrides it",
                )
            )
    if autonomy in (Autonomy.AUTONOMOUS, Autonomy.HUMAN_ON_THE_LOOP) and tier is not RiskTier.HIGH:
        problems.append(
            (
                "system.risk_tier",
                f"a system that acts on its own ({autonomy.value}) is tier 3, not tier {int(tier)}",
            )
        )
    if record.system.regulatory.high_risk and tier is not RiskTier.HIGH:
        problems.append(
            ("system.risk_tier", "a system classified high-risk by regulation is tier 3")
        )
    behaviour = record.model.behaviour_policy
    if behaviour is not None and behaviour.propensities is Propensities.UNKNOWN:
        for index, estimate in enumerate(record.evaluation.off_policy):
            if estimate.estimator in WEIGHTED_ESTIMATORS:
                problems.append(
                    (
                        f"evaluation.off_policy[{index}].estimator",
                        f"{estimate.estimator.value} weights episodes by propensities, but "
                        "model.behaviour_policy.propensities is unknown; log or estimate them, "
                        "or use a direct method",
                    )
                )
    problems += _reference_problems(record)
    if tier is RiskTier.HIGH:
        for index, metric in enumerate(record.evaluation.metrics):
            if metric.direction is None:
                problems.append(
                    (
                        f"evaluation.metrics[{index}].direction",
                        "a tier-3 metric must state its direction: higher-is-better, "
                        "lower-is-better or within-band",
                    )
                )
    for index in range(1, len(record.changelog)):
        before, entry = record.changelog[index - 1], record.changelog[index]
        if entry.date < before.date:
            problems.append(
                (
                    f"changelog[{index}].date",
                    f"{entry.date} is earlier than the entry before it ({before.date}); "
                    "list revisions oldest first",
                )
            )
    versions = [entry.version for entry in record.changelog]
    if record.system.version not in versions:
        problems.append(
            (
                "changelog",
                f"no entry for the current version {record.system.version!r}; "
                "add one saying who changed what and why",
            )
        )
    last_change = max(entry.date for entry in record.changelog)
    if record.monitoring.next_review <= last_change:
        problems.append(
            (
                "monitoring.next_review",
                f"{record.monitoring.next_review} is not after the latest revision ({last_change})",
            )
        )
    return problems


def _reference_problems(record: AssessmentRecord) -> list[tuple[str, str]]:
    """Names one section uses for another's entries must exist there."""
    problems: list[tuple[str, str]] = []
    modes = {mode.id for mode in record.reward.failure_modes}
    for index, test in enumerate(record.evaluation.stress_tests):
        for ref in test.failure_modes:
            if ref not in modes:
                problems.append(
                    (
                        f"evaluation.stress_tests[{index}].failure_modes",
                        f"{ref!r} is not the id of any reward.failure_modes entry",
                    )
                )
    oversight = {metric.name for metric in record.reward.oversight_metrics}
    for index, monitored in enumerate(record.monitoring.metrics):
        named = monitored.oversight_metric
        if named is not None and named not in oversight:
            problems.append(
                (
                    f"monitoring.metrics[{index}].oversight_metric",
                    f"{named!r} is not the name of any reward.oversight_metrics entry",
                )
            )
    return problems
