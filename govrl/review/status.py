"""Where an assessment stands: progress per section, framework coverage, gate preview."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from govrl.record import AssessmentRecord
from govrl.review.checklist import ChecklistLibrary
from govrl.review.gate import Decision, ItemState, decide
from govrl.review.policy import Policy
from govrl.vocabulary import Framework


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
    """One article, function or control, and how many of its items are closed."""

    framework: Framework
    unit: str
    closed: int
    total: int

    @property
    def covered(self) -> bool:
        return self.closed == self.total


@dataclass
class StatusReport:
    sections: list[SectionProgress]
    coverage: list[CoverageUnit]
    decision: Decision

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
            "coverage": [
                {
                    "framework": c.framework.value,
                    "unit": c.unit,
                    "closed": c.closed,
                    "total": c.total,
                    "covered": c.covered,
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


def _coverage(states: list[ItemState]) -> list[CoverageUnit]:
    counts: dict[tuple[Framework, str], list[int]] = defaultdict(lambda: [0, 0])
    for state in states:
        seen: set[tuple[Framework, str]] = set()
        for mapping in state.item.mappings:
            key = (mapping.framework, coverage_unit(mapping.framework, mapping.ref))
            if key in seen:
                continue
            seen.add(key)
            counts[key][1] += 1
            counts[key][0] += 0 if state.open else 1
    order = {f: n for n, f in enumerate(Framework)}
    return [
        CoverageUnit(framework, unit, closed, total)
        for (framework, unit), (closed, total) in sorted(
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
    return StatusReport(sections, _coverage(decision.items), decision)
