"""The assessment record: every section, and the rules that span sections."""

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from govrl.record.agent import ModelSpec
from govrl.record.base import StrictModel, empty_list, unique_by
from govrl.record.context import IntendedUse, System
from govrl.record.dossier import (
    OOD_KEY,
    Hazard,
    RegisteredDocument,
    Reviewer,
    TechnicalFile,
    is_record_key,
)
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
        default_factory=empty_list
    )
    deployment: Deployment
    monitoring: Monitoring
    changelog: list[ChangelogEntry] = Field(min_length=1)
    conditions: Annotated[list[TrackedCondition], unique_by("condition ids", "id")] = Field(
        default_factory=empty_list,
        description="conditions of approval with owner, due date and what closes them",
    )
    policy: PolicyBinding | None = Field(
        default=None, description="the policy this record is judged by, bound by its digest"
    )
    hazards: Annotated[list[Hazard], unique_by("hazard ids", "id")] = Field(
        default_factory=empty_list,
        description="the hazard log: each hazard's cause, controls, verifying evidence, "
        "residual risk and monitoring signal",
    )
    reviewers: list[Reviewer] = Field(
        default_factory=empty_list,
        description="who reviewed the assessment, and their independence",
    )
    documents: Annotated[list[RegisteredDocument], unique_by("document refs", "ref")] = Field(
        default_factory=empty_list, description="the evidence register: cited documents and digests"
    )
    technical: TechnicalFile | None = Field(
        default=None, description="Annex IV facts the other sections do not hold"
    )

    @model_validator(mode="after")
    def _cross_section_rules(self) -> Self:
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
    problems += _hazard_problems(record)
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


def evidence_keys(record: AssessmentRecord) -> set[str]:
    """The keys the gates know the record's evidence by (see govrl.review.evidence)."""
    ev = record.evaluation
    keys = {f"metrics/{m.id}" for m in ev.metrics}
    keys |= {f"off_policy/{e.id}" for e in ev.off_policy}
    keys |= {f"stress/{s.id}" for s in ev.stress_tests}
    keys |= {f"subgroups/{s.attribute}/{s.group}/{s.metric}" for s in ev.subgroups}
    if ev.ood_detection is not None:
        keys.add(OOD_KEY)
    return keys


def _keyed(ref: str) -> bool:
    """Whether ``ref`` has the shape of an evidence key, whether or not the record has it."""
    if ref == OOD_KEY:
        return True
    head, _, rest = ref.partition("/")
    if head == "subgroups":
        return len(rest.split("/")) == 3 and all(rest.split("/"))
    return bool(rest) and "/" not in rest


def unverified_hazards(record: AssessmentRecord) -> list[tuple[str, str]]:
    """(hazard id, key) for each record key a hazard is verified by that the record lacks:
    evidence left out, or not collected yet. The gate blocks on these; validation does not,
    so a hazard log can be written before the evidence is collected."""
    keys = evidence_keys(record)
    return [
        (hazard.id, ref)
        for hazard in record.hazards
        for ref in hazard.verified_by
        if is_record_key(ref) and ref not in keys
    ]


def _hazard_problems(record: AssessmentRecord) -> list[tuple[str, str]]:
    """Each hazard is controlled, its control is verified, and what it names exists."""
    problems: list[tuple[str, str]] = []
    constraints = {c.name for c in record.model.safety_constraints}
    modes = {mode.id for mode in record.reward.failure_modes}
    monitored = {m.name for m in record.monitoring.metrics}
    for index, hazard in enumerate(record.hazards):
        at = f"hazards[{index}]"
        if not hazard.controls:
            problems.append(
                (f"{at}.controls", f"hazard {hazard.id!r} has no control; name at least one")
            )
        if not hazard.verified_by:
            problems.append(
                (
                    f"{at}.verified_by",
                    f"hazard {hazard.id!r} has no evidence that its controls work; name a "
                    "record key (stress/ID, metrics/ID, ...) or a document",
                )
            )
        for ref in hazard.verified_by:
            if is_record_key(ref) and not _keyed(ref):
                problems.append(
                    (
                        f"{at}.verified_by",
                        f"{ref!r} is not a record key: use metrics/ID, off_policy/ID, "
                        "stress/ID, subgroups/ATTRIBUTE/GROUP/METRIC or ood",
                    )
                )
        for c_index, control in enumerate(hazard.controls):
            if control.constraint is not None and control.constraint not in constraints:
                problems.append(
                    (
                        f"{at}.controls[{c_index}].constraint",
                        f"{control.constraint!r} is not the name of any "
                        "model.safety_constraints entry",
                    )
                )
        if hazard.failure_mode is not None and hazard.failure_mode not in modes:
            problems.append(
                (
                    f"{at}.failure_mode",
                    f"{hazard.failure_mode!r} is not the id of any reward.failure_modes entry",
                )
            )
        for name in hazard.monitoring:
            if name not in monitored:
                problems.append(
                    (f"{at}.monitoring", f"{name!r} is not the name of any monitoring metric")
                )
    return problems
