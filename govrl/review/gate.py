"""Turn a record and a policy into a decision, with every reason listed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from govrl.record import AssessmentRecord
from govrl.record.governance import ItemResponse
from govrl.review.checklist import ChecklistLibrary, Item
from govrl.review.policy import EvidenceRequirement, MetricGate, OnFail, Policy
from govrl.vocabulary import Answer, Comparator, RiskTier, Severity


class Verdict(StrEnum):
    APPROVE = "approve"
    APPROVE_WITH_CONDITIONS = "approve-with-conditions"
    REJECT = "reject"


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INSUFFICIENT = "insufficient-evidence"


@dataclass(frozen=True)
class GateResult:
    """One gate applied to one piece of evidence (or to its absence)."""

    gate: str
    evidence: str
    status: Status
    effect: OnFail
    reason: str
    observed: float | None = None
    bound: str | None = None
    threshold: float | None = None
    comparator: str | None = None
    margin: float | None = None

    @property
    def blocks(self) -> bool:
        return self.status is not Status.PASS and self.effect is OnFail.REJECT

    @property
    def conditional(self) -> bool:
        return self.status is not Status.PASS and self.effect is OnFail.CONDITION


@dataclass(frozen=True)
class ItemState:
    """A checklist item as the gate sees it: open or closed, and why."""

    checklist: str
    item: Item
    severity: Severity
    response: ItemResponse | None
    open: bool
    reason: str


@dataclass
class Decision:
    verdict: Verdict
    tier: RiskTier
    policy: str
    gates: list[GateResult]
    items: list[ItemState]
    blockers: list[str]
    conditions: list[str]
    required_roles: list[str]
    decided_on: dt.date
    valid_until: dt.date
    notes: list[str] = field(default_factory=list)
    requirements: list[GateResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "tier": int(self.tier),
            "policy": self.policy,
            "decided_on": self.decided_on.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "required_roles": self.required_roles,
            "blockers": self.blockers,
            "conditions": self.conditions,
            "notes": self.notes,
            "gates": [_result_dict(g) for g in self.gates],
            "requirements": [
                {
                    "requirement": r.gate,
                    "evidence": r.evidence,
                    "status": r.status.value,
                    "effect": r.effect.value,
                    "reason": r.reason,
                }
                for r in self.requirements
            ],
            "open_items": [
                {
                    "checklist": s.checklist,
                    "item": s.item.id,
                    "severity": s.severity.value,
                    "reason": s.reason,
                }
                for s in self.items
                if s.open
            ],
        }


def _result_dict(g: GateResult) -> dict[str, Any]:
    return {
        "gate": g.gate,
        "evidence": g.evidence,
        "status": g.status.value,
        "effect": g.effect.value,
        "observed": g.observed,
        "bound": g.bound,
        "comparator": g.comparator,
        "threshold": g.threshold,
        "margin": g.margin,
        "reason": g.reason,
    }


# ---------------------------------------------------------------- evidence


@dataclass(frozen=True)
class Evidence:
    key: str
    fields: dict[str, float | None]
    ci_low: float | None = None
    ci_high: float | None = None
    behaviour_value: float | None = None
    estimator: str | None = None
    higher_is_better: bool | None = None


def evidence_of(record: AssessmentRecord) -> list[Evidence]:
    """Every judgeable number in the record, under a stable key."""
    ev = record.evaluation
    found = [
        Evidence(
            f"metrics/{m.id}",
            {"value": m.value},
            m.ci_low,
            m.ci_high,
            higher_is_better=m.higher_is_better,
        )
        for m in ev.metrics
    ]
    found += [
        Evidence(
            f"off_policy/{e.id}",
            {"value": e.value, "ess": e.ess, "episodes": _num(e.episodes)},
            e.ci_low,
            e.ci_high,
            e.behaviour_value,
            e.estimator.value,
        )
        for e in ev.off_policy
    ]
    found += [
        Evidence(f"stress/{s.id}", {"value": s.value}, s.ci_low, s.ci_high) for s in ev.stress_tests
    ]
    found += [
        Evidence(
            f"subgroups/{s.attribute}/{s.group}/{s.metric}",
            {"value": s.value, "n": _num(s.n), "ess": s.ess},
            s.ci_low,
            s.ci_high,
        )
        for s in ev.subgroups
    ]
    if ev.ood_detection is not None:
        found.append(Evidence("ood", {"auroc": ev.ood_detection.auroc}))
    return found


def _num(value: int | None) -> float | None:
    return None if value is None else float(value)


_HOLDS = {
    Comparator.GE: lambda a, b: a >= b,
    Comparator.GT: lambda a, b: a > b,
    Comparator.LE: lambda a, b: a <= b,
    Comparator.LT: lambda a, b: a < b,
}


def judge(gate: MetricGate, evidence: Evidence) -> GateResult:
    """Apply ``gate`` to one piece of evidence, on its conservative bound."""

    def result(status: Status, reason: str, **numbers: Any) -> GateResult:
        return GateResult(gate.id, evidence.key, status, gate.on_fail, reason, **numbers)

    comparator = gate.comparator
    if isinstance(gate.threshold, str):
        threshold = evidence.behaviour_value
        if threshold is None:
            return result(
                Status.INSUFFICIENT, f"{evidence.key}: no behaviour_value to compare against"
            )
    else:
        threshold = float(gate.threshold)
    wants_high = comparator in (Comparator.GE, Comparator.GT)
    if gate.field == "value":
        point = evidence.fields.get("value")
        bound_name = "ci_low" if wants_high else "ci_high"
        observed = evidence.ci_low if wants_high else evidence.ci_high
        if point is None and observed is None:
            return result(Status.INSUFFICIENT, f"{evidence.key}: no value recorded")
        if observed is None:
            return result(
                Status.INSUFFICIENT,
                f"{evidence.key}: point estimate {point:g} has no {bound_name}; "
                "a gate is judged on the confidence bound",
                observed=point,
            )
    else:
        bound_name = gate.field
        observed = evidence.fields.get(gate.field)
        if observed is None:
            return result(Status.INSUFFICIENT, f"{evidence.key}: no {gate.field} recorded")
    margin = observed - threshold if wants_high else threshold - observed
    holds = _HOLDS[comparator](observed, threshold)
    verb = "meets" if holds else "misses"
    return result(
        Status.PASS if holds else Status.FAIL,
        f"{evidence.key}: {bound_name} {observed:g} {verb} {comparator.value} {threshold:g}",
        observed=observed,
        bound=bound_name,
        threshold=threshold,
        comparator=comparator.value,
        margin=margin,
    )


def apply_gates(record: AssessmentRecord, policy: Policy) -> list[GateResult]:
    tier = record.system.risk_tier
    evidence = evidence_of(record)
    results: list[GateResult] = []
    for gate in policy.gates:
        if tier not in gate.tiers:
            continue
        matched = [
            e
            for e in evidence
            if fnmatchcase(e.key, gate.evidence)
            and (gate.estimators is None or e.estimator in gate.estimators)
        ]
        if len(matched) < gate.min_matches:
            results.append(
                GateResult(
                    gate=gate.id,
                    evidence=gate.evidence,
                    status=Status.INSUFFICIENT,
                    effect=gate.on_fail,
                    reason=(
                        f"needs {gate.min_matches} piece(s) of evidence matching "
                        f"{gate.evidence!r}, found {len(matched)}"
                    ),
                )
            )
        results.extend(judge(gate, e) for e in matched)
    return results


def check_requirements(record: AssessmentRecord, policy: Policy) -> list[GateResult]:
    """Each evidence requirement that applies to the record, met or missing."""
    tier = record.system.risk_tier
    family = record.model.family
    evidence = evidence_of(record)
    results: list[GateResult] = []
    for req in policy.requirements:
        if tier not in req.tiers or (req.families is not None and family not in req.families):
            continue
        found = sum(1 for e in evidence if _fulfils(req, e))
        effect = OnFail.REJECT if tier is RiskTier.HIGH else req.on_missing
        what = f"matching {req.evidence!r}"
        if req.estimators is not None:
            what += f" from {', '.join(e.value for e in req.estimators)}"
        if req.interval:
            what += " with a confidence interval"
        status = Status.PASS if found >= req.at_least else Status.INSUFFICIENT
        reason = f"required: {req.at_least} piece(s) of evidence {what}, found {found}"
        results.append(GateResult(req.id, req.evidence, status, effect, reason))
    return results


def _fulfils(req: EvidenceRequirement, evidence: Evidence) -> bool:
    return (
        fnmatchcase(evidence.key, req.evidence)
        and (req.estimators is None or evidence.estimator in req.estimators)
        and (not req.interval or (evidence.ci_low is not None and evidence.ci_high is not None))
    )


def direction_notes(policy: Policy, record: AssessmentRecord) -> list[str]:
    """A note for each gate whose comparator runs against its metric's stated direction."""
    tier = record.system.risk_tier
    directed = [e for e in evidence_of(record) if e.higher_is_better is not None]
    notes = []
    for gate in policy.gates:
        if tier not in gate.tiers or gate.field != "value":
            continue
        wants_high = gate.comparator in (Comparator.GE, Comparator.GT)
        for e in directed:
            if e.higher_is_better == wants_high:
                continue
            if fnmatchcase(e.key, gate.evidence):
                way = "higher" if e.higher_is_better else "lower"
                notes.append(
                    f"gate {gate.id} asks {e.key} for {gate.comparator.value} "
                    f"{gate.threshold}, but the metric is {way}-is-better: check which is meant"
                )
    return notes


def vacuous_gates(policy: Policy, tier: RiskTier, gates: list[GateResult]) -> list[str]:
    """A note for each applicable gate that matched no evidence and so judged nothing."""
    judged = {g.gate for g in gates}
    return [
        f"gate {gate.id} matched no evidence for {gate.evidence!r}; nothing was judged"
        for gate in policy.gates
        if tier in gate.tiers and gate.id not in judged
    ]


# ---------------------------------------------------------------- checklists


def item_states(
    record: AssessmentRecord, library: ChecklistLibrary, *, unanswered_is_open: bool = True
) -> tuple[list[ItemState], list[str]]:
    """Every applicable item of every attached checklist, open or closed; plus notes."""
    tier = record.system.risk_tier
    states: list[ItemState] = []
    notes: list[str] = []
    for attached in record.checklists:
        checklist = library.get(attached.id)
        if attached.version != checklist.version:
            notes.append(
                f"checklist {attached.id} was answered at version {attached.version}; "
                f"the current version is {checklist.version}"
            )
        for item in checklist.applicable(tier):
            severity = item.severity_at(tier)
            response = attached.items.get(item.id)
            is_open, reason = _openness(response, severity, unanswered_is_open)
            states.append(ItemState(checklist.id, item, severity, response, is_open, reason))
    return states, notes


def _openness(
    response: ItemResponse | None, severity: Severity, unanswered_is_open: bool
) -> tuple[bool, str]:
    if response is None:
        return unanswered_is_open, "not answered"
    if response.answer is Answer.NOT_APPLICABLE:
        return False, f"not applicable: {response.reason}"
    if response.answer is Answer.YES:
        if severity is not Severity.MINOR and not response.evidence:
            return True, "answered yes without evidence"
        return False, "yes"
    reason = f"answered {response.answer.value}"
    if response.notes:
        note = " ".join(response.notes.split())
        reason += f": {note[:157]}..." if len(note) > 160 else f": {note}"
    return True, reason


def missing_checklists(record: AssessmentRecord, library: ChecklistLibrary) -> list[str]:
    attached = {c.id for c in record.checklists}
    return [c.id for c in library.for_domain(record.system.domain) if c.id not in attached]


# ---------------------------------------------------------------- decision


def decide(
    record: AssessmentRecord,
    policy: Policy,
    library: ChecklistLibrary,
    *,
    today: dt.date | None = None,
) -> Decision:
    """The policy's verdict on the record, with every reason that led to it."""
    today = today or dt.date.today()
    tier = record.system.risk_tier
    rule = policy.tiers[tier]
    gates = apply_gates(record, policy)
    required = check_requirements(record, policy)
    states, notes = item_states(record, library, unanswered_is_open=policy.unanswered_is_open)
    notes = vacuous_gates(policy, tier, gates) + direction_notes(policy, record) + notes
    blockers = [g.reason + f" [{g.gate}]" for g in required + gates if g.blocks]
    conditions = [g.reason + f" [{g.gate}]" for g in required + gates if g.conditional]
    for missing in missing_checklists(record, library):
        blockers.append(f"checklist {missing} applies to this domain but is not attached")
    for state in states:
        if not state.open:
            continue
        text = f"{state.checklist} {state.item.id} ({state.severity.value}): {state.reason}"
        if state.severity in rule.blocking:
            blockers.append(text)
        elif state.severity in rule.conditions:
            conditions.append(text)
    if blockers:
        verdict = Verdict.REJECT
    elif conditions:
        verdict = Verdict.APPROVE_WITH_CONDITIONS
    else:
        verdict = Verdict.APPROVE
    return Decision(
        verdict=verdict,
        tier=tier,
        policy=f"{policy.id}@{policy.version}",
        gates=gates,
        items=states,
        blockers=blockers,
        conditions=conditions,
        required_roles=list(rule.signers),
        decided_on=today,
        valid_until=today + dt.timedelta(days=rule.validity_days),
        notes=notes,
        requirements=required,
    )
