"""Turn a record and a policy into a decision, with every reason listed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from govrl.record import AssessmentRecord
from govrl.record.assessment import unverified_hazards
from govrl.record.governance import ItemResponse, TrackedCondition
from govrl.review.checklist import ChecklistLibrary, Item
from govrl.review.evidence import (
    Evidence,
    GateResult,
    Status,
    applies,
    apply_gates,
    check_requirements,
    direction_notes,
    evidence_dates,
    evidence_of,
    judge,
    stage_names,
    stage_rule,
    vacuous_gates,
)
from govrl.review.policy import Policy, TierRule
from govrl.vocabulary import Answer, RiskTier, Severity

__all__ = [  # the evidence names are re-exported: callers import them from here
    "ConditionItem",
    "Decision",
    "Evidence",
    "GateResult",
    "ItemState",
    "Status",
    "Verdict",
    "applies",
    "apply_gates",
    "check_requirements",
    "decide",
    "direction_notes",
    "evidence_dates",
    "evidence_of",
    "item_states",
    "judge",
    "missing_checklists",
    "stage_names",
    "stage_rule",
    "vacuous_gates",
]


class Verdict(StrEnum):
    APPROVE = "approve"
    APPROVE_WITH_CONDITIONS = "approve-with-conditions"
    REJECT = "reject"


@dataclass(frozen=True)
class ItemState:
    """A checklist item as the gate sees it: open or closed, and why."""

    checklist: str
    item: Item
    severity: Severity
    response: ItemResponse | None
    open: bool
    reason: str  # short enough for one line; ``detail`` holds it in full
    detail: str = ""

    @property
    def full_reason(self) -> str:
        return self.detail or self.reason


@dataclass(frozen=True)
class ConditionItem:
    """A condition the decision raises, with its tracking from the record where it has one.

    ``source`` is what raises it, in the form a record's ``conditions[].raised_by`` uses:
    ``gate:<id>``, ``requirement:<id>`` or ``item:<checklist>/<item>``. ``text`` is the
    reason in full, never shortened. ``tracked`` is the record's entry for it, or None when
    the record does not track it yet (no owner, no due date).
    """

    source: str
    text: str
    tracked: TrackedCondition | None = None
    overdue: bool = False


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
    condition_items: list[ConditionItem] = field(default_factory=list)
    # conditions the record tracks that this decision no longer raises: closed
    closed_conditions: list[TrackedCondition] = field(default_factory=list)
    policy_digest: str | None = None
    stage: str | None = None  # the rollout stage judged (deployment.requested_stage)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "tier": int(self.tier),
            "policy": self.policy,
            "policy_digest": self.policy_digest,
            "stage": self.stage,
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
            "condition_items": [_condition_dict(c) for c in self.condition_items],
            "closed_conditions": [c.model_dump(mode="json") for c in self.closed_conditions],
        }


def _condition_dict(c: ConditionItem) -> dict[str, Any]:
    t = c.tracked
    return {
        "source": c.source,
        "text": c.text,
        "id": t.id if t else None,
        "owner": t.owner if t else None,
        "due": t.due.isoformat() if t else None,
        "closed_by": t.closed_by if t else None,
        "overdue": c.overdue,
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
            is_open, reason, detail = _openness(response, severity, unanswered_is_open)
            states.append(
                ItemState(checklist.id, item, severity, response, is_open, reason, detail)
            )
    return states, notes


def _openness(
    response: ItemResponse | None, severity: Severity, unanswered_is_open: bool
) -> tuple[bool, str, str]:
    """Whether an item is open, with its reason shortened to a line and in full."""
    if response is None:
        return unanswered_is_open, "not answered", "not answered"
    if response.answer is Answer.NOT_APPLICABLE:
        return False, f"not applicable: {response.reason}", f"not applicable: {response.reason}"
    if response.answer is Answer.YES:
        if severity is not Severity.MINOR and not response.evidence:
            return True, "answered yes without evidence", "answered yes without evidence"
        return False, "yes", "yes"
    reason = full = f"answered {response.answer.value}"
    if response.notes:
        note = " ".join(response.notes.split())
        reason += f": {note[:157]}..." if len(note) > 160 else f": {note}"
        full += f": {note}"
    return True, reason, full


def missing_checklists(record: AssessmentRecord, library: ChecklistLibrary) -> list[str]:
    attached = {c.id for c in record.checklists}
    return [c.id for c in library.for_domain(record.system.domain) if c.id not in attached]


# ---------------------------------------------------------------- decision


def _tracks(raised_by: str, source: str) -> bool:
    """Whether a record's ``raised_by`` names ``source``; a trailing ``*`` matches a prefix."""
    if raised_by.endswith("*"):
        return source.startswith(raised_by[:-1])
    return raised_by == source


def track_conditions(
    record: AssessmentRecord,
    raised: list[tuple[str, str]],
    still_raised: list[str],
    today: dt.date,
) -> tuple[list[ConditionItem], list[TrackedCondition]]:
    """Each raised (source, text) with the record's tracking; and the tracked ones now closed.

    A tracked condition is closed when nothing in ``still_raised`` (every source the
    decision raises, blockers included) matches it.
    """
    items = []
    for source, text in raised:
        tracked = next((c for c in record.conditions if _tracks(c.raised_by, source)), None)
        overdue = tracked is not None and tracked.due < today
        items.append(ConditionItem(source, text, tracked, overdue))
    closed = [
        c for c in record.conditions if not any(_tracks(c.raised_by, s) for s in still_raised)
    ]
    return items, closed


def untracked_notes(items: list[ConditionItem]) -> list[str]:
    """A note for each condition whose source the record's conditions do not track."""
    untracked = list(dict.fromkeys(c.source for c in items if c.tracked is None))
    return [
        f"condition from {source} has no owner or due date: add it to the record's conditions"
        for source in untracked
    ]


def binding_note(record: AssessmentRecord, policy: Policy) -> str | None:
    """A note when the policy judging the record is not the one the record names."""
    bound = record.policy
    if bound is None or bound.digest == policy.digest:
        return None
    return (
        f"judged under {policy.label} {policy.digest or '(no file digest)'}, not the policy "
        f"the record names: {bound.id} {bound.digest}"
    )


def rule_for(policy: Policy, record: AssessmentRecord) -> TierRule:
    """The tier's rule for the record, with the requested stage's signers and validity where
    a stage rule of the policy overrides them. Signing, verifying and rendering ask this too,
    so every step requires the same roles."""
    rule = policy.tiers[record.system.risk_tier]
    override = stage_rule(policy, record)
    if override is None:
        return rule
    update: dict[str, object] = {}
    if override.signers:
        update["signers"] = list(override.signers)
    if override.validity_days is not None:
        update["validity_days"] = override.validity_days
    return rule.model_copy(update=update)


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
    rule = rule_for(policy, record)
    gates = apply_gates(record, policy)
    required = check_requirements(record, policy)
    states, notes = item_states(record, library, unanswered_is_open=policy.unanswered_is_open)
    notes = vacuous_gates(policy, tier, gates, record) + direction_notes(policy, record) + notes
    blocking: list[tuple[str, str]] = []  # (source, text)
    raised: list[tuple[str, str, str]] = []  # (source, short text, full text)
    for kind, results in (("requirement", required), ("gate", gates)):
        for g in results:
            text = g.reason + f" [{g.gate}]"
            if g.blocks:
                blocking.append((f"{kind}:{g.gate}", text))
            elif g.conditional:
                raised.append((f"{kind}:{g.gate}", text, text))
    for missing in missing_checklists(record, library):
        blocking.append(
            (
                f"checklist:{missing}",
                f"checklist {missing} applies to this domain but is not attached",
            )
        )
    for hazard, key in unverified_hazards(record):
        blocking.append(
            (
                f"hazard:{hazard}",
                f"hazard {hazard} is verified by {key}, which the record does not hold"
                " [hazard-log]",
            )
        )
    stale, out_of_order, undated = evidence_dates(record, policy, today)
    notes += undated
    blocking += [("dates", text) for text in out_of_order]
    for state in states:
        if not state.open:
            continue
        source = f"item:{state.checklist}/{state.item.id}"
        label = f"{state.checklist} {state.item.id} ({state.severity.value})"
        short, full = f"{label}: {state.reason}", f"{label}: {state.full_reason}"
        if state.severity in rule.blocking:
            blocking.append((source, full))
        elif state.severity in rule.conditions:
            raised.append((source, short, full))
    raised += [(source, text, text) for source, text in stale]
    blockers = [text for _, text in blocking]
    conditions = [short for _, short, _ in raised]
    condition_items, closed = track_conditions(
        record,
        [(source, full) for source, _, full in raised],
        [source for source, _ in blocking] + [source for source, _, _ in raised],
        today,
    )
    if tier is RiskTier.HIGH:
        notes += untracked_notes(condition_items)
    notes += [
        f"condition {c.tracked.id} ({c.source}) was due on {c.tracked.due} and is still open"
        for c in condition_items
        if c.overdue and c.tracked is not None
    ]
    note = binding_note(record, policy)
    if note is not None:
        notes.append(note)
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
        condition_items=condition_items,
        closed_conditions=closed,
        policy_digest=policy.digest,
        stage=record.deployment.requested_stage,
    )
