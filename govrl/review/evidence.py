"""The evidence in a record under stable keys, and the policy's gates and requirements on it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from govrl.record import AssessmentRecord
from govrl.review.policy import (
    EvidenceRequirement,
    MetricGate,
    OnFail,
    Per,
    Policy,
    StageRule,
)
from govrl.vocabulary import Comparator, RiskTier


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
    # target minus behaviour, paired on the same episodes: (ci_low, ci_high)
    difference: tuple[float | None, float | None] | None = None
    fetched_at: dt.datetime | None = field(default=None, compare=False)

    def count(self, name: str) -> float | None:
        """A count field, or one derived from them: ``effective_n`` and ``relative_ess``."""
        ess = self.fields.get("ess")
        size = self.fields.get("n")
        if size is None:
            size = self.fields.get("episodes")
        if name == "effective_n":
            return ess if ess is not None else size
        if name == "relative_ess":
            return None if ess is None or not size else ess / size
        return self.fields.get(name)


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
            fetched_at=_fetched(m.provenance),
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
            difference=None
            if e.difference is None
            else (e.difference.ci_low, e.difference.ci_high),
            fetched_at=_fetched(e.provenance),
        )
        for e in ev.off_policy
    ]
    found += [
        Evidence(
            f"stress/{s.id}",
            {"value": s.value},
            s.ci_low,
            s.ci_high,
            fetched_at=_fetched(s.provenance),
        )
        for s in ev.stress_tests
    ]
    found += [
        Evidence(
            f"subgroups/{s.attribute}/{s.group}/{s.metric}",
            {"value": s.value, "n": _num(s.n), "ess": s.ess},
            s.ci_low,
            s.ci_high,
            fetched_at=_fetched(s.provenance),
        )
        for s in ev.subgroups
    ]
    if ev.ood_detection is not None:
        ood = ev.ood_detection
        found.append(Evidence("ood", {"auroc": ood.auroc}, fetched_at=_fetched(ood.provenance)))
    # A hazard log entry is evidence a requirement can ask for; it has no number to gate on.
    found += [Evidence(f"hazards/{h.id}", {}) for h in record.hazards]
    return found


def _fetched(provenance: Any) -> dt.datetime | None:
    return None if provenance is None else provenance.fetched_at


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
    wants_high = comparator in (Comparator.GE, Comparator.GT)
    if isinstance(gate.threshold, str) and gate.field == "value":
        paired = _paired_difference(gate, evidence, wants_high)
        if paired is not None:
            return paired
    if isinstance(gate.threshold, str):
        threshold = evidence.behaviour_value
        if threshold is None:
            return result(
                Status.INSUFFICIENT, f"{evidence.key}: no behaviour_value to compare against"
            )
    else:
        threshold = float(gate.threshold)
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
        observed = evidence.count(gate.field)
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


def _paired_difference(gate: MetricGate, evidence: Evidence, wants_high: bool) -> GateResult | None:
    """A behaviour_value gate judged on the record's paired difference, when it has the bound."""
    if evidence.difference is None:
        return None
    low, high = evidence.difference
    observed = low if wants_high else high
    if observed is None:
        return None
    bound = "ci_low" if wants_high else "ci_high"
    holds = _HOLDS[gate.comparator](observed, 0.0)
    return GateResult(
        gate.id,
        evidence.key,
        Status.PASS if holds else Status.FAIL,
        gate.on_fail,
        f"{evidence.key}: difference from the behaviour policy (paired interval), {bound} "
        f"{observed:g} {'meets' if holds else 'misses'} {gate.comparator.value} 0",
        observed=observed,
        bound=f"difference.{bound}",
        threshold=0.0,
        comparator=gate.comparator.value,
        margin=observed if wants_high else -observed,
    )


# ---------------------------------------------------------------- scope


def stage_names(record: AssessmentRecord) -> list[str] | None:
    """The requested stage's name and authority, lower-cased; None when no stage is named."""
    name = record.deployment.requested_stage
    if name is None:
        return None
    stage = next((s for s in record.deployment.rollout_stages if s.name == name), None)
    names = [name] + ([stage.authority] if stage is not None and stage.authority else [])
    return [n.lower() for n in names]


def _stage_matches(patterns: list[str], names: list[str]) -> bool:
    return any(fnmatchcase(n, p.lower()) for p in patterns for n in names)


def applies(rule: MetricGate | EvidenceRequirement, record: AssessmentRecord) -> bool:
    """Whether a gate or requirement applies to the record: its tier, domain and stage.

    A record that names no requested stage is judged by stage-filtered rules too.
    """
    if record.system.risk_tier not in rule.tiers:
        return False
    if rule.domains is not None and record.system.domain not in rule.domains:
        return False
    names = stage_names(record)
    return rule.stages is None or names is None or _stage_matches(rule.stages, names)


def stage_rule(policy: Policy, record: AssessmentRecord) -> StageRule | None:
    """The first of the policy's stage rules that fits the requested stage and tier."""
    names = stage_names(record)
    if names is None:
        return None
    tier = record.system.risk_tier
    return next(
        (r for r in policy.stages if tier in r.tiers and _stage_matches(r.match, names)), None
    )


def apply_gates(record: AssessmentRecord, policy: Policy) -> list[GateResult]:
    evidence = evidence_of(record)
    results: list[GateResult] = []
    for gate in policy.gates:
        if not applies(gate, record):
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
    """Each evidence requirement that applies to the record, met or missing.

    A requirement with ``per`` gives one result per declared item, named in its reason.
    """
    tier = record.system.risk_tier
    family = record.model.family
    evidence = evidence_of(record)
    results: list[GateResult] = []
    for req in policy.requirements:
        if not applies(req, record) or (req.families is not None and family not in req.families):
            continue
        effect = OnFail.REJECT if tier is RiskTier.HIGH else req.on_missing
        if req.per is not None:
            results += _per_item(req, record, evidence, effect)
            continue
        pattern = req.evidence or "*"
        found = sum(1 for e in evidence if _fulfils(req, e, pattern))
        what = f"matching {pattern!r}"
        if req.estimators is not None:
            what += f" from {', '.join(e.value for e in req.estimators)}"
        if req.interval:
            what += " with a confidence interval"
        status = Status.PASS if found >= req.at_least else Status.INSUFFICIENT
        reason = f"required: {req.at_least} piece(s) of evidence {what}, found {found}"
        results.append(GateResult(req.id, pattern, status, effect, reason))
    return results


def _per_item(
    req: EvidenceRequirement, record: AssessmentRecord, evidence: list[Evidence], effect: OnFail
) -> list[GateResult]:
    ev = record.evaluation
    declared: list[tuple[str, str, int]] = []  # (item, what is needed, how many found)
    if req.per is Per.SENSITIVE_ATTRIBUTE:
        for attr in record.intended_use.sensitive_attributes:
            rows = [e for e in evidence if e.key.startswith(f"subgroups/{attr}/")]
            found = sum(1 for e in rows if _fulfils(req, e, req.evidence or "subgroups/*"))
            declared.append((attr, f"subgroup results for sensitive attribute {attr!r}", found))
    elif req.per is Per.FAILURE_MODE:
        for mode in record.reward.failure_modes:
            probes = {f"stress/{t.id}" for t in ev.stress_tests if mode.id in t.failure_modes}
            found = sum(
                1 for e in evidence if e.key in probes and _fulfils(req, e, req.evidence or "*")
            )
            declared.append((mode.id, f"a stress test probing failure mode {mode.id!r}", found))
    else:
        monitored = [m.oversight_metric for m in record.monitoring.metrics]
        for metric in record.reward.oversight_metrics:
            found = monitored.count(metric.name)
            declared.append(
                (metric.name, f"a monitoring metric for oversight metric {metric.name!r}", found)
            )
    results = []
    for item, what, found in declared:
        if req.interval and req.per is not Per.OVERSIGHT_METRIC:
            what += " with a confidence interval"
        status = Status.PASS if found >= req.at_least else Status.INSUFFICIENT
        reason = f"required: {what} ({req.at_least} or more), found {found}"
        results.append(GateResult(req.id, f"{req.per}:{item}", status, effect, reason))
    return results


def _fulfils(req: EvidenceRequirement, evidence: Evidence, pattern: str) -> bool:
    return (
        fnmatchcase(evidence.key, pattern)
        and (req.estimators is None or evidence.estimator in req.estimators)
        and (not req.interval or (evidence.ci_low is not None and evidence.ci_high is not None))
    )


def direction_notes(policy: Policy, record: AssessmentRecord) -> list[str]:
    """A note for each gate whose comparator runs against its metric's stated direction."""
    directed = [e for e in evidence_of(record) if e.higher_is_better is not None]
    notes = []
    for gate in policy.gates:
        if not applies(gate, record) or gate.field != "value":
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


def vacuous_gates(
    policy: Policy,
    tier: RiskTier,
    gates: list[GateResult],
    record: AssessmentRecord | None = None,
) -> list[str]:
    """A note for each applicable gate that matched no evidence and so judged nothing."""
    judged = {g.gate for g in gates}
    return [
        f"gate {gate.id} matched no evidence for {gate.evidence!r}; nothing was judged"
        for gate in policy.gates
        if (applies(gate, record) if record is not None else tier in gate.tiers)
        and gate.id not in judged
    ]


def _listing(keys: list[str]) -> str:
    """A few evidence keys by name; many as a count per section."""
    if len(keys) <= 5:
        return ", ".join(keys)
    sections: dict[str, int] = {}
    for key in keys:
        section = key.split("/", 1)[0]
        sections[section] = sections.get(section, 0) + 1
    return f"{len(keys)} pieces (" + ", ".join(f"{n} {s}" for s, n in sections.items()) + ")"


STALE_SOURCE = "evidence:stale"  # what a record's conditions[].raised_by names to track it


def evidence_dates(
    record: AssessmentRecord, policy: Policy, today: dt.date
) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Stale evidence as (source, condition text): one condition naming every item older than
    the policy allows, so one tracked entry (``evidence:stale``) can carry it; evidence and
    answers dated after ``today``; and, when the policy limits evidence's age, a note naming
    the evidence with no fetch date, whose age nothing shows."""
    stale: dict[dt.date, list[str]] = {}
    out_of_order: list[str] = []
    undated: list[str] = []
    max_age = policy.max_evidence_age_days
    for e in evidence_of(record):
        if e.fetched_at is None:
            undated.append(e.key)
            continue
        fetched = e.fetched_at.date()
        age = (today - fetched).days
        if age < 0:
            out_of_order.append(
                f"evidence {e.key} was fetched on {fetched}, after the decision date {today}: "
                "dates out of order"
            )
        elif max_age is not None and age > max_age:
            stale.setdefault(fetched, []).append(e.key)
    conditions = []
    if stale:
        parts = [
            f"{_listing(keys)} fetched on {fetched}, {(today - fetched).days} days before"
            for fetched, keys in sorted(stale.items())
        ]
        conditions.append(
            (
                STALE_SOURCE,
                f"evidence older than the policy's {max_age} days at the decision date "
                f"{today}: {'; '.join(parts)}. Collect it again",
            )
        )
    for attached in record.checklists:
        for item_id, response in attached.items.items():
            answered = response.answered_at.date()
            if answered > today:
                out_of_order.append(
                    f"{attached.id} {item_id} was answered on {answered}, after the decision "
                    f"date {today}: dates out of order"
                )
    notes = []
    if max_age is not None and undated:
        notes.append(
            f"{_listing(undated)} state no fetch date (provenance.fetched_at), so the policy's "
            f"{max_age}-day limit on evidence's age could not be checked for them"
        )
    return conditions, out_of_order, notes
