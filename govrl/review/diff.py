"""What changed between two revisions of a record, for a release review."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govrl.record import AssessmentRecord
from govrl.record.identity import canonical_data, record_digest
from govrl.review.checklist import ChecklistLibrary
from govrl.review.gate import ConditionItem, Decision, Evidence, decide, evidence_of
from govrl.review.policy import Policy

_KEYS = ("id", "name", "version", "scenario")


@dataclass(frozen=True)
class Revision:
    """One side of a diff: the record, where it came from, and who signed it."""

    record: AssessmentRecord
    source: Path
    signers: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return record_digest(self.record)


@dataclass(frozen=True)
class Change:
    path: str
    old: Any
    new: Any


@dataclass(frozen=True)
class MetricMove:
    key: str
    old: Evidence | None
    new: Evidence | None


@dataclass(frozen=True)
class AnswerChange:
    checklist: str
    item: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class GateChange:
    gate: str
    evidence: str
    old: str | None
    new: str | None


@dataclass
class RecordDiff:
    old: Revision
    new: Revision
    changes: list[Change]
    metrics: list[MetricMove]
    answers: list[AnswerChange]
    gates: list[GateChange]
    old_decision: Decision
    new_decision: Decision
    # conditions the old revision's decision raised and the new one's does not, and back
    closes: list[ConditionItem] = field(default_factory=list)
    opens: list[ConditionItem] = field(default_factory=list)

    @property
    def lapses(self) -> bool:
        """Any change of substance means approvals of the old revision do not cover the new."""
        return self.old.digest != self.new.digest

    def as_dict(self) -> dict[str, Any]:
        def side(revision: Revision, decision: Decision) -> dict[str, Any]:
            return {
                "file": str(revision.source),
                "digest": revision.digest,
                "signers": revision.signers,
                "verdict": decision.verdict.value,
            }

        return {
            "old": side(self.old, self.old_decision),
            "new": side(self.new, self.new_decision),
            "approval_lapses": self.lapses,
            "changes": [vars(c) for c in self.changes],
            "metrics": [
                {"key": m.key, "old": _bounds(m.old), "new": _bounds(m.new)} for m in self.metrics
            ],
            "answers": [vars(a) for a in self.answers],
            "gates": [vars(g) for g in self.gates],
            "conditions_closed": [_condition(c) for c in self.closes],
            "conditions_opened": [_condition(c) for c in self.opens],
        }


def _condition(c: ConditionItem) -> dict[str, Any]:
    return {
        "source": c.source,
        "text": c.text,
        "id": c.tracked.id if c.tracked else None,
        "owner": c.tracked.owner if c.tracked else None,
        "due": c.tracked.due.isoformat() if c.tracked else None,
    }


def condition_changes(
    old: Decision, new: Decision
) -> tuple[list[ConditionItem], list[ConditionItem]]:
    """Conditions the new decision no longer raises (closed) and those it newly raises."""
    old_keys = {_condition_key(c) for c in old.condition_items}
    new_keys = {_condition_key(c) for c in new.condition_items}
    closes = [c for c in old.condition_items if _condition_key(c) not in new_keys]
    opens = [c for c in new.condition_items if _condition_key(c) not in old_keys]
    return closes, opens


def _condition_key(c: ConditionItem) -> tuple[str, str]:
    """What a condition is about, without the numbers that move between revisions."""
    if c.source.startswith(("gate:", "evidence:")):
        return c.source, c.text.split(": ", 1)[0]  # the evidence key it judges
    if c.source.startswith("requirement:"):
        return c.source, c.text.rsplit(", found", 1)[0]
    return c.source, ""


def _bounds(e: Evidence | None) -> dict[str, Any] | None:
    if e is None:
        return None
    present = {k: v for k, v in e.fields.items() if v is not None}
    return {**present, "ci_low": e.ci_low, "ci_high": e.ci_high}


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    """A list of mappings as a dict by their identifying field, if they have a unique one."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in _KEYS:
        values = [i.get(key) for i in items]
        if all(isinstance(v, str) for v in values) and len(set(values)) == len(values):
            return {f"[{key}={v}]": i for v, i in zip(values, items, strict=True)}
    return None


def field_changes(old: Any, new: Any, path: str = "") -> list[Change]:
    """Leaf-level differences, lists of identified things matched by id rather than position."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[Change] = []
        for key in [*old, *[k for k in new if k not in old]]:
            sub = f"{path}.{key}" if path else str(key)
            found += field_changes(old.get(key), new.get(key), sub)
        return found
    if isinstance(old, list) and isinstance(new, list):
        old_keyed, new_keyed = _keyed(old), _keyed(new)
        if old_keyed is not None and new_keyed is not None:
            found = []
            for key in [*old_keyed, *[k for k in new_keyed if k not in old_keyed]]:
                found += field_changes(old_keyed.get(key), new_keyed.get(key), f"{path}{key}")
            return found
        if old == new:
            return []
        return [Change(path, old, new)]
    return [] if old == new else [Change(path, old, new)]


def _answers(record: AssessmentRecord) -> dict[tuple[str, str], str]:
    return {
        (c.id, item_id): response.answer.value
        for c in record.checklists
        for item_id, response in c.items.items()
    }


def diff_revisions(
    old: Revision,
    new: Revision,
    policy: Policy,
    library: ChecklistLibrary,
    *,
    today: dt.date | None = None,
) -> RecordDiff:
    """Fields, metrics, answers and gate outcomes that differ, and the verdict on each side."""
    changes = field_changes(canonical_data(old.record), canonical_data(new.record))
    old_ev = {e.key: e for e in evidence_of(old.record)}
    new_ev = {e.key: e for e in evidence_of(new.record)}
    moves = [
        MetricMove(key, old_ev.get(key), new_ev.get(key))
        for key in [*old_ev, *[k for k in new_ev if k not in old_ev]]
        if old_ev.get(key) != new_ev.get(key)
    ]
    old_answers, new_answers = _answers(old.record), _answers(new.record)
    answers = [
        AnswerChange(c, i, old_answers.get((c, i)), new_answers.get((c, i)))
        for c, i in sorted({*old_answers, *new_answers})
        if old_answers.get((c, i)) != new_answers.get((c, i))
    ]
    old_decision = decide(old.record, policy, library, today=today)
    new_decision = decide(new.record, policy, library, today=today)
    old_gates = {(g.gate, g.evidence): g.status.value for g in old_decision.gates}
    new_gates = {(g.gate, g.evidence): g.status.value for g in new_decision.gates}
    gates = [
        GateChange(g, e, old_gates.get((g, e)), new_gates.get((g, e)))
        for g, e in [*old_gates, *[k for k in new_gates if k not in old_gates]]
        if old_gates.get((g, e)) != new_gates.get((g, e))
    ]
    closes, opens = condition_changes(old_decision, new_decision)
    return RecordDiff(
        old, new, changes, moves, answers, gates, old_decision, new_decision, closes, opens
    )
