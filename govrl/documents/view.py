"""The presentation view: what a document shows, derived from a record and its decision."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from markupsafe import Markup

from govrl.documents import charts
from govrl.documents.numbers import format_number
from govrl.record import AssessmentRecord
from govrl.record.base import Bounds, Provenance
from govrl.review.gate import GateResult, ItemState, Status
from govrl.review.status import CoverageUnit, StatusReport
from govrl.vocabulary import Framework, Severity

TIER_LABELS = {
    1: "Tier 1: low stakes",
    2: "Tier 2: a human approves each action",
    3: "Tier 3: high risk, or acts on its own",
}
VERDICT_LABELS = {
    "approve": "Approve",
    "approve-with-conditions": "Approve with conditions",
    "reject": "Reject",
}
STATUS_LABELS = {
    Status.PASS: "pass",
    Status.FAIL: "fail",
    Status.INSUFFICIENT: "insufficient evidence",
}
FRAMEWORK_LABELS = {
    Framework.EU_AI_ACT: "EU AI Act",
    Framework.NIST_AI_RMF: "NIST AI RMF",
    Framework.ISO_42001: "ISO/IEC 42001",
    Framework.REWARD_REPORTS: "Reward Reports",
    Framework.FDA_GMLP: "FDA GMLP",
    Framework.OTHER: "Other",
}
ROLE_LABELS = {
    "owner": "System owner",
    "domain-expert": "Domain expert",
    "ethics-fairness": "Ethics and fairness reviewer",
    "independent-validator": "Independent validator",
}


@dataclass(frozen=True)
class Chart:
    title: str
    caption: str
    svg: Markup


@dataclass(frozen=True)
class GateRow:
    gate: str
    evidence: str
    status: str
    outcome: str
    effect: str
    observed: str
    bound: str
    test: str
    margin: str
    reason: str


@dataclass(frozen=True)
class SectionRow:
    checklist: str
    title: str
    applicable: int
    answered: int
    open: int
    blocking: int


@dataclass(frozen=True)
class OpenItem:
    checklist: str
    item: str
    section: str
    severity: str
    question: str
    reason: str
    blocks: bool


@dataclass(frozen=True)
class CoverageGroup:
    framework: str
    units: list[CoverageUnit]


@dataclass(frozen=True)
class Signer:
    role: str
    label: str
    box_id: str


@dataclass
class View:
    """Everything a template needs; the record itself for the narrative sections."""

    kind: str
    title: str
    record: AssessmentRecord
    digest: str
    govrl_version: str
    date: str
    policy: str
    verdict: str
    verdict_label: str
    tier: int
    tier_label: str
    valid_until: str
    blockers: list[str]
    conditions: list[str]
    notes: list[str]
    gates: list[GateRow]
    sections: list[SectionRow]
    open_items: list[OpenItem]
    coverage: list[CoverageGroup]
    signers: list[Signer]
    learning_curves: list[Chart] = field(default_factory=list)
    subgroup_charts: list[Chart] = field(default_factory=list)
    gate_chart: Chart | None = None
    policy_digest: str | None = None  # SHA-256 of the policy file's bytes
    template: str | None = None  # the template folder's digest


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role.replace("-", " ").capitalize())


def signature_box_id(role: str) -> str:
    """The HTML id of a role's signature box; the PDF field sits on it."""
    return f"sig-{role}"


def interval(b: Bounds) -> str:
    """``[low, high]`` with the level, or a dash when there is no interval."""
    if b.ci_low is None and b.ci_high is None:
        return "—"
    level = f" ({format_number(round(b.ci_level * 100, 4))}%)" if b.ci_level else ""
    return f"[{format_number(b.ci_low)}, {format_number(b.ci_high)}]{level}"


def provenance(p: Provenance | None) -> str:
    """One line saying where a number came from, precisely enough to fetch it again."""
    if p is None:
        return "not recorded"
    parts = [p.source.value]
    for label, value in (
        ("experiment", p.experiment),
        ("run", p.run_id),
        ("model", p.model_name and f"{p.model_name}/{p.model_version or '?'}"),
        ("metric", p.metric_key),
        ("artifact", p.artifact_path),
        ("", p.artifact_sha256),
        ("fetched", p.fetched_at and timestamp(p.fetched_at)),
        ("note", p.note),
    ):
        if value:
            parts.append(f"{label} {value}" if label else value)
    return " · ".join(parts)


def timestamp(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.strftime("%Y-%m-%d %H:%M")


def _derived(value: float | None) -> float | None:
    """A computed number (a margin) without float noise such as -1.5999999999999996."""
    return None if value is None else float(f"{value:.10g}")


def _gate_row(g: GateResult) -> GateRow:
    test = ""
    if g.comparator:
        test = f"{g.bound or 'value'} {g.comparator} {format_number(g.threshold)}"
    return GateRow(
        gate=g.gate,
        evidence=g.evidence,
        status=g.status.value,
        outcome=STATUS_LABELS[g.status],
        effect="blocks" if g.blocks else "condition" if g.conditional else "",
        observed=format_number(g.observed),
        bound=g.bound or "",
        test=test,
        margin=format_number(_derived(g.margin)),
        reason=g.reason,
    )


def _sections(report: StatusReport, blocking: set[Severity]) -> list[SectionRow]:
    blocked: dict[tuple[str, str], int] = defaultdict(int)
    for s in report.decision.items:
        if s.open and s.severity in blocking:
            blocked[(s.checklist, s.item.section)] += 1
    return [
        SectionRow(
            s.checklist,
            s.title,
            s.applicable,
            s.answered,
            s.open,
            blocked[(s.checklist, s.section)],
        )
        for s in report.sections
    ]


def _open_items(states: list[ItemState], blocking: set[Severity]) -> list[OpenItem]:
    return [
        OpenItem(
            s.checklist,
            s.item.id,
            s.item.section,
            s.severity.value,
            s.item.question,
            s.reason,
            s.severity in blocking,
        )
        for s in states
        if s.open
    ]


def _coverage(units: list[CoverageUnit]) -> list[CoverageGroup]:
    grouped: dict[Framework, list[CoverageUnit]] = defaultdict(list)
    for unit in units:
        grouped[unit.framework].append(unit)
    return [CoverageGroup(FRAMEWORK_LABELS[f], grouped[f]) for f in Framework if f in grouped]


def _margin(g: GateResult) -> charts.Margin:
    label = f"{g.gate} · {g.evidence}"
    if g.margin is None or g.threshold is None:
        return charts.Margin(label, None, "", passed=False)
    relative = g.margin / abs(g.threshold) if g.threshold else g.margin
    sign = "+" if g.margin > 0 else ""
    text = sign + format_number(_derived(g.margin))
    return charts.Margin(label, relative, text, g.status is Status.PASS)


def _charts(view: View, gates: list[GateResult]) -> None:
    ev = view.record.evaluation
    for metric in ev.metrics:
        if metric.history is not None and len(metric.history.points) >= 2:
            svg = charts.learning_curve(metric.history.points, y_label=metric.unit or metric.name)
            h = metric.history
            caption = (
                f"{len(h.points)} logged points over {format_number(h.steps)} steps; "
                f"last {format_number(h.last)}, best {format_number(h.best)}; final window "
                f"of {h.window}: mean {format_number(h.window_mean)} "
                f"± {format_number(h.window_std)}."
            )
            view.learning_curves.append(Chart(metric.name, caption, Markup(svg)))
    by_metric: dict[str, list[charts.Bar]] = defaultdict(list)
    for s in ev.subgroups:
        by_metric[s.metric].append(
            charts.Bar(f"{s.attribute}: {s.group}", s.value, s.ci_low, s.ci_high, ok=None)
        )
    for metric_name, bars in by_metric.items():
        if len(bars) < 2:
            continue  # one group alone is in the table; a chart adds nothing
        caption = "Point estimates with their confidence intervals, per subgroup."
        view.subgroup_charts.append(Chart(metric_name, caption, Markup(charts.interval_bars(bars))))
    if gates:
        view.gate_chart = Chart(
            "Gate margins",
            "How far each judged bound lies past its threshold (right, passes) or short of "
            "it (left, fails), relative to the threshold and clipped at 100%; the figure at "
            "the right is the margin in the evidence's own unit.",
            Markup(charts.gate_margins([_margin(g) for g in gates])),
        )


def build_view(
    record: AssessmentRecord,
    report: StatusReport,
    *,
    kind: str,
    digest: str,
    govrl_version: str,
    blocking: set[Severity],
    policy_digest: str | None = None,
    template: str | None = None,
) -> View:
    """The view of one document of ``kind`` for ``record`` under ``report``'s decision."""
    decision = report.decision
    title = "Model card" if kind == "model-card" else "Deployment approval"
    view = View(
        kind=kind,
        title=title,
        record=record,
        digest=digest,
        govrl_version=govrl_version,
        date=decision.decided_on.isoformat(),
        policy=decision.policy,
        verdict=decision.verdict.value,
        verdict_label=VERDICT_LABELS[decision.verdict.value],
        tier=int(decision.tier),
        tier_label=TIER_LABELS[int(decision.tier)],
        valid_until=decision.valid_until.isoformat(),
        blockers=list(decision.blockers),
        conditions=list(decision.conditions),
        notes=list(decision.notes),
        gates=[_gate_row(g) for g in decision.gates],
        sections=_sections(report, blocking),
        open_items=_open_items(decision.items, blocking),
        coverage=_coverage(report.coverage),
        signers=[
            Signer(role, role_label(role), signature_box_id(role))
            for role in decision.required_roles
        ],
        policy_digest=policy_digest,
        template=template,
    )
    _charts(view, decision.gates)
    return view
