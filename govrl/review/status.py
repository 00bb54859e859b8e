"""Where an assessment stands: progress per section, framework coverage, gate preview."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from govrl.record import AssessmentRecord
from govrl.review.checklist import ChecklistLibrary
from govrl.review.gate import Decision, ItemState, decide
from govrl.review.policy import Policy
from govrl.vocabulary import Answer, Framework


@dataclass(frozen=True)
class SectionProgress:
    checklist: str
    section: str
    title: str
    applicable: int
    answered: int
    open: int


@dataclass(frozen=True)
class CoverageUnit:
    """One article, function or control, and how its applicable items stand.

    ``addressed`` items are closed by an answer; ``not_applicable`` ones were answered
    not-applicable and are counted apart, never as addressed; the rest are open.
    """

    framework: Framework
    unit: str
    addressed: int
    not_applicable: int
    total: int

    @property
    def open(self) -> int:
        return self.total - self.addressed - self.not_applicable

    @property
    def fully_addressed(self) -> bool:
        return self.open == 0 and self.addressed > 0


@dataclass
class StatusReport:
    sections: list[SectionProgress]
    coverage: list[CoverageUnit]
    decision: Decision
    # the frameworks coverage is shown for, and where that list came from
    frameworks: list[Framework] = field(default_factory=list)
    frameworks_from: str | None = None  # "record", "policy", or None: none declared

    @property
    def applicable(self) -> int:
        return sum(s.applicable for s in self.sections)

    @property
    def answered(self) -> int:
        return sum(s.answered for s in self.sections)

    def as_dict(self) -> dict[str, Any]:
        return {
            "answered": self.answered,
            "applicable": self.applicable,
            "sections": [vars(s) for s in self.sections],
            "frameworks": [f.value for f in self.frameworks],
            "frameworks_from": self.frameworks_from,
            "coverage": [
                {
                    "framework": c.framework.value,
                    "unit": c.unit,
                    "addressed": c.addressed,
                    "not_applicable": c.not_applicable,
                    "open": c.open,
                    "total": c.total,
                    "fully_addressed": c.fully_addressed,
                }
                for c in self.coverage
            ],
            "gate": self.decision.as_dict(),
        }


_ARTICLE = re.compile(r"^(Art\. \d+|Annex [IVX]+)")
_NIST = re.compile(r"^(GOVERN|MAP|MEASURE|MANAGE)\b")


def coverage_unit(framework: Framework, ref: str) -> str:
    """The unit coverage is counted in: an EU AI Act article, a NIST AI RMF function."""
    pattern = {Framework.EU_AI_ACT: _ARTICLE, Framework.NIST_AI_RMF: _NIST}.get(framework)
    match = pattern.match(ref) if pattern else None
    return match.group(1) if match else ref


def applicable_frameworks(
    record: AssessmentRecord, policy: Policy
) -> tuple[list[Framework], str | None]:
    """The frameworks that apply: the record's, else the policy's, else none declared."""
    declared = record.system.regulatory.frameworks
    if declared is not None:
        return list(declared), "record"
    if policy.frameworks is not None:
        return list(policy.frameworks), "policy"
    return [], None


def _coverage(states: list[ItemState], frameworks: list[Framework]) -> list[CoverageUnit]:
    counts: dict[tuple[Framework, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for state in states:
        seen: set[tuple[Framework, str]] = set()
        not_applicable = (
            state.response is not None and state.response.answer is Answer.NOT_APPLICABLE
        )
        for mapping in state.item.mappings:
            if mapping.framework not in frameworks:
                continue
            key = (mapping.framework, coverage_unit(mapping.framework, mapping.ref))
            if key in seen:
                continue
            seen.add(key)
            counts[key][2] += 1
            if not_applicable:
                counts[key][1] += 1
            elif not state.open:
                counts[key][0] += 1
    order = {f: n for n, f in enumerate(Framework)}
    return [
        CoverageUnit(framework, unit, addressed, not_applicable, total)
        for (framework, unit), (addressed, not_applicable, total) in sorted(
            counts.items(), key=lambda kv: (order[kv[0][0]], _natural(kv[0][1]))
        )
    ]


def _natural(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def status(
    record: AssessmentRecord, policy: Policy, library: ChecklistLibrary, **decide_args: Any
) -> StatusReport:
    """Progress, coverage and the decision the policy would give today."""
    decision = decide(record, policy, library, **decide_args)
    progress: dict[tuple[str, str], list[int]] = {}
    for state in decision.items:
        counts = progress.setdefault((state.checklist, state.item.section), [0, 0, 0])
        counts[0] += 1
        counts[1] += state.response is not None
        counts[2] += state.open
    sections = [
        SectionProgress(checklist, section, library.get(checklist).section_title(section), *counts)
        for (checklist, section), counts in progress.items()
    ]
    frameworks, source = applicable_frameworks(record, policy)
    coverage = _coverage(decision.items, frameworks)
    return StatusReport(sections, coverage, decision, frameworks, source)
