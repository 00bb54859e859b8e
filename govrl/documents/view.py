"""The presentation view: what a document shows, derived from a record and its decision."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace

from markupsafe import Markup

from govrl.documents import charts, dossier_view
from govrl.documents.dossier_view import DocumentControl, HazardRow, Register, ReviewerRow, Term
from govrl.documents.numbers import format_interval, format_number
from govrl.record import AssessmentRecord
from govrl.record.base import Bounds, Provenance
from govrl.record.evaluation import Metric
from govrl.record.governance import RolloutStage, TrackedCondition
from govrl.review.evidence import evidence_of
from govrl.review.gate import Decision, GateResult, ItemState, Status
from govrl.review.status import CoverageUnit, StatusReport
from govrl.vocabulary import Comparator, Direction, Framework, Severity

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
class GateGroup:
    """One gate's rows: each failing, unjudged or marginal one, and a count of the rest."""

    gate: str
    shown: list[GateRow]
    passing: int  # rows that pass clearly, counted rather than listed
    total: int
    closest: str  # the smallest margin among those counted, in the evidence's unit

    @property
    def failing(self) -> int:
        return sum(1 for r in self.shown if r.status != Status.PASS.value)


@dataclass(frozen=True)
class ResultLine:
    """A primary result on page one: an estimate with its interval, against what it must beat."""

    label: str
    key: str
    estimate: str
    interval: str
    against: str
    reading: str
    ok: bool | None


@dataclass(frozen=True)
class Summary:
    """What page one says before any detail; blockers and conditions in full, those one gate
    raises for several pieces of evidence on one line."""

    results: list[ResultLine]
    worst_subgroup: str | None
    failed_stress: list[str]
    negative_results: list[str]
    blockers: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)


_RAISED_BY = re.compile(r"^(?P<text>.*) \[(?P<gate>[A-Za-z0-9][A-Za-z0-9_.-]*)\]$", re.DOTALL)


def by_gate(texts: list[str]) -> list[str]:
    """Reasons ending ``[gate]``, joined into one line per gate that raised several."""
    grouped: dict[str, list[str]] = defaultdict(list)
    order: list[tuple[str, str]] = []  # ("gate", id) or ("text", text), in first-seen order
    for text in texts:
        found = _RAISED_BY.match(text)
        if found is None:
            order.append(("text", text))
            continue
        gate = found.group("gate")
        if gate not in grouped:
            order.append(("gate", gate))
        grouped[gate].append(found.group("text"))
    lines = []
    for what, value in order:
        if what == "text":
            lines.append(value)
        elif len(grouped[value]) == 1:
            lines.append(f"{grouped[value][0]} [{value}]")
        else:
            lines.append(f"{value}, {len(grouped[value])} pieces: " + "; ".join(grouped[value]))
    return lines


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
class CoverageLine:
    """One framework unit in words: "Art. 9: 3 addressed, 1 not applicable, 0 open"."""

    unit: str
    addressed: int
    not_applicable: int
    open: int
    state: str  # addressed, open, or not-applicable (every item answered not applicable)

    @property
    def text(self) -> str:
        return f"{self.addressed} addressed, {self.not_applicable} not applicable, {self.open} open"


@dataclass(frozen=True)
class CoverageGroup:
    framework: str
    units: list[CoverageLine]

    @property
    def fully_addressed(self) -> int:
        return sum(1 for u in self.units if u.state == "addressed")


@dataclass(frozen=True)
class Scope:
    """The rollout stage an approval is asked for, and how far the policy reaches in it."""

    stage: str
    exposure: str
    authority: str | None
    sites: list[str]
    population: str | None
    traffic_share: str | None
    duration: str | None
    exit_criteria: str


@dataclass(frozen=True)
class ConditionRow:
    """A condition of approval with its tracking; untracked ones have no owner or due date."""

    text: str
    source: str = ""
    id: str | None = None
    description: str | None = None
    owner: str | None = None
    due: str | None = None
    closed_by: str | None = None
    overdue: bool = False

    @property
    def tracked(self) -> bool:
        return self.id is not None


@dataclass(frozen=True)
class ProvenanceRow:
    """Where one piece of evidence came from: the appendix the evidence tables refer to."""

    key: str
    source: str
    run: str
    fetched: str
    detail: str


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
    condition_rows: list[ConditionRow]
    closed_conditions: list[ConditionRow]
    gates: list[GateRow]
    gate_groups: list[GateGroup]
    summary: Summary
    sections: list[SectionRow]
    open_items: list[OpenItem]
    coverage: list[CoverageGroup]
    signers: list[Signer]
    learning_curves: list[Chart] = field(default_factory=list)
    subgroup_charts: list[Chart] = field(default_factory=list)
    gate_chart: Chart | None = None
    band_chart: Chart | None = None
    policy_digest: str | None = None  # SHA-256 of the policy file's bytes
    template: str | None = None  # the template folder's digest
    stage: str | None = None  # the rollout stage judged and asked for
    scope: Scope | None = None
    frameworks_declared: bool = False  # the record names the frameworks that apply to it
    draft: bool = False
    draft_problems: list[str] = field(default_factory=list)  # what `validate` still finds
    hazards: list[HazardRow] = field(default_factory=list)
    register: Register = field(default_factory=Register)
    reviewers: list[ReviewerRow] = field(default_factory=list)
    glossary: list[Term] = field(default_factory=list)
    control: DocumentControl | None = None
    provenance: list[ProvenanceRow] = field(default_factory=list)


TITLES = {
    "model-card": "Model card",
    "approval": "Deployment approval",
    "technical-documentation": "Technical documentation",
    "reward-report": "Reward report",
}


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
    return f"{format_interval(b.ci_low, b.ci_high)}{level}"


def measured(b: Bounds, name: str = "value") -> str:
    """A number of ``b`` (its value, or e.g. its ``baseline``) to the precision of its interval."""
    value = getattr(b, name)
    return format_number(value, b.ci_low, b.ci_high)


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


def _provenance_row(key: str, p: Provenance | None) -> ProvenanceRow:
    if p is None:
        return ProvenanceRow(key, "not recorded", "—", "—", "")
    model = p.model_name and f"model {p.model_name}/{p.model_version or '?'}"
    detail = [
        x
        for x in (
            p.experiment and f"experiment {p.experiment}",
            model,
            p.metric_key and f"metric {p.metric_key}",
            p.artifact_path and f"artifact {p.artifact_path}",
            p.artifact_sha256,
            p.note,
        )
        if x
    ]
    fetched = timestamp(p.fetched_at) if p.fetched_at else "not recorded"
    return ProvenanceRow(key, p.source.value, p.run_id or "—", fetched, " · ".join(detail))


def provenance_rows(record: AssessmentRecord) -> list[ProvenanceRow]:
    """Every piece of evidence by its record key, with its source, run and fetch time."""
    ev = record.evaluation
    rows = [_provenance_row(f"metrics/{m.id}", m.provenance) for m in ev.metrics]
    rows += [_provenance_row(f"off_policy/{e.id}", e.provenance) for e in ev.off_policy]
    rows += [_provenance_row(f"stress/{t.id}", t.provenance) for t in ev.stress_tests]
    rows += [
        _provenance_row(f"subgroups/{g.attribute}/{g.group}/{g.metric}", g.provenance)
        for g in ev.subgroups
    ]
    if ev.ood_detection is not None:
        rows.append(_provenance_row("ood", ev.ood_detection.provenance))
    return rows


def percent(share: float | None) -> str | None:
    """A share (0..1) as a percentage: 0.05 is "5%"."""
    return None if share is None else f"{format_number(round(share * 100, 6))}%"


def direction(metric: Metric) -> str:
    """Which way a metric improves, in words; a within-band metric names its band."""
    if metric.direction is Direction.HIGHER:
        return "higher is better"
    if metric.direction is Direction.LOWER:
        return "lower is better"
    band = metric.target
    if metric.direction is Direction.BAND and band is not None:
        if band.low is not None and band.high is not None:
            return f"target {format_number(band.low)} to {format_number(band.high)}"
        if band.low is not None:
            return f"target at least {format_number(band.low)}"
        return f"target at most {format_number(band.high)}"
    return "direction not stated"


ARROWS = {Direction.HIGHER: "↑", Direction.LOWER: "↓", Direction.BAND: "↔"}


def timestamp(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.strftime("%Y-%m-%d %H:%M")


def _derived(value: float | None) -> float | None:
    """A computed number (a margin) without float noise such as -1.5999999999999996."""
    return None if value is None else float(f"{value:.10g}")


Precision = dict[str, tuple[float | None, float | None]]
# A passing margin smaller than this share of its threshold is shown as marginal.
MARGINAL = 0.1


def _precision(record: AssessmentRecord) -> Precision:
    """Each evidence key's interval, which sets how precisely its numbers are shown."""
    return {e.key: (e.ci_low, e.ci_high) for e in evidence_of(record)}


def _gate_number(g: GateResult, value: float | None, precision: Precision) -> str:
    """An observed bound or margin to its evidence's precision; a count as recorded."""
    if g.bound and g.bound.endswith(("ci_low", "ci_high", "value")):
        low, high = precision.get(g.evidence, (None, None))
        return format_number(value, low, high)
    if g.bound == "relative_ess" and value is not None:
        # a ratio govrl computes, not a recorded number: three significant figures say it
        return format_number(float(f"{value:.3g}"))
    return format_number(value)


def _legible_reason(g: GateResult, precision: Precision) -> str:
    """A gate's reason with its numbers to its evidence's precision; the gate writes them in
    full (``%g``), which shows a computed ratio as 0.0115719."""
    if None in (g.observed, g.threshold, g.comparator, g.bound) or g.status is Status.INSUFFICIENT:
        return g.reason
    verb = "meets" if g.status is Status.PASS else "misses"
    raw = f"{g.evidence}: {g.bound} {g.observed:g} {verb} {g.comparator} {g.threshold:g}"
    if g.reason != raw:
        return g.reason  # a reason of another shape says its numbers its own way
    observed = _gate_number(g, g.observed, precision)
    return f"{g.evidence}: {g.bound} {observed} {verb} {g.comparator} {format_number(g.threshold)}"


def _legible(decision: Decision, precision: Precision) -> Decision:
    """The decision with every gate reason, and the blockers and conditions quoting one,
    restated through the one number formatter."""
    restated = {g.reason: _legible_reason(g, precision) for g in decision.gates}
    restated = {raw: nice for raw, nice in restated.items() if raw != nice}
    if not restated:
        return decision

    def tidy(text: str) -> str:
        for raw, nice in restated.items():
            text = text.replace(raw, nice)
        return text

    return replace(
        decision,
        gates=[replace(g, reason=tidy(g.reason)) for g in decision.gates],
        blockers=[tidy(t) for t in decision.blockers],
        conditions=[tidy(t) for t in decision.conditions],
        notes=[tidy(t) for t in decision.notes],
        condition_items=[replace(c, text=tidy(c.text)) for c in decision.condition_items],
    )


def _marginal(g: GateResult) -> bool:
    if g.status is not Status.PASS or g.margin is None or g.threshold is None:
        return False
    return g.margin < MARGINAL * abs(g.threshold) if g.threshold else g.margin == 0


def _gate_groups(gates: list[GateResult], precision: Precision) -> list[GateGroup]:
    grouped: dict[str, list[GateResult]] = defaultdict(list)
    for g in gates:
        grouped[g.gate].append(g)
    groups = []
    for gate, results in grouped.items():
        shown = [g for g in results if g.status is not Status.PASS or _marginal(g)]
        rest = [g for g in results if g not in shown]
        margins = [g for g in rest if g.margin is not None]
        closest = min(margins, key=lambda g: g.margin or 0.0) if margins else None
        groups.append(
            GateGroup(
                gate=gate,
                shown=[_gate_row(g, precision) for g in shown],
                passing=len(rest),
                total=len(results),
                closest=""
                if closest is None
                else f"{_gate_number(closest, _derived(closest.margin), precision)} "
                f"({closest.evidence})",
            )
        )
    return groups


def _gate_row(g: GateResult, precision: Precision | None = None) -> GateRow:
    precision = precision or {}
    test = ""
    if g.comparator:
        test = f"{g.bound or 'value'} {g.comparator} {format_number(g.threshold)}"
    return GateRow(
        gate=g.gate,
        evidence=g.evidence,
        status=g.status.value,
        outcome=STATUS_LABELS[g.status],
        effect="blocks" if g.blocks else "condition" if g.conditional else "",
        observed=_gate_number(g, g.observed, precision),
        bound=g.bound or "",
        test=test,
        margin=_gate_number(g, _derived(g.margin), precision),
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
            s.full_reason,  # a signed document never shortens what it states
            s.severity in blocking,
        )
        for s in states
        if s.open
    ]


def _coverage(units: list[CoverageUnit]) -> list[CoverageGroup]:
    grouped: dict[Framework, list[CoverageLine]] = defaultdict(list)
    for unit in units:
        state = "addressed" if unit.fully_addressed else "open" if unit.open else "not-applicable"
        grouped[unit.framework].append(
            CoverageLine(unit.unit, unit.addressed, unit.not_applicable, unit.open, state)
        )
    return [CoverageGroup(FRAMEWORK_LABELS[f], grouped[f]) for f in Framework if f in grouped]


def _scope(record: AssessmentRecord, name: str | None) -> Scope | None:
    found: RolloutStage | None = next(
        (s for s in record.deployment.rollout_stages if s.name == name), None
    )
    if found is None:
        return None
    return Scope(
        stage=found.name,
        exposure=found.exposure,
        authority=found.authority,
        sites=list(found.sites),
        population=found.population,
        traffic_share=percent(found.traffic_share),
        duration=found.duration,
        exit_criteria=found.exit_criteria,
    )


def _tracked_row(c: TrackedCondition, text: str, overdue: bool = False) -> ConditionRow:
    return ConditionRow(
        text=text,
        source=c.raised_by,
        id=c.id,
        description=c.description,
        owner=c.owner,
        due=c.due.isoformat(),
        closed_by=c.closed_by,
        overdue=overdue,
    )


def _condition_rows(decision: Decision) -> list[ConditionRow]:
    if not decision.condition_items:
        # A decision that lists its conditions only as text: none of them is tracked.
        return [ConditionRow(text) for text in decision.conditions]
    rows = []
    for item in decision.condition_items:
        if item.tracked is None:
            rows.append(ConditionRow(item.text, item.source))
        else:
            rows.append(_tracked_row(item.tracked, item.text, item.overdue))
    return rows


def _metric_for(record: AssessmentRecord, evidence: str) -> Metric | None:
    for metric in record.evaluation.metrics:
        if evidence in (metric.id, f"metrics/{metric.id}"):
            return metric
    return None


def _margin(g: GateResult, record: AssessmentRecord, precision: Precision) -> charts.Margin:
    metric = _metric_for(record, g.evidence)
    way = metric.direction if metric is not None else None
    label = f"{ARROWS[way]} " if way is not None else ""
    label += f"{g.gate} · {g.evidence}"
    if g.comparator and way in (Direction.HIGHER, Direction.LOWER):
        wants_high = g.comparator in (Comparator.GE.value, Comparator.GT.value)
        if wants_high != (way is Direction.HIGHER):
            label += " (against its direction)"
    if g.margin is None or g.threshold is None:
        return charts.Margin(label, None, "", passed=False)
    relative = g.margin / abs(g.threshold) if g.threshold else g.margin
    sign = "+" if g.margin > 0 else ""
    text = sign + _gate_number(g, _derived(g.margin), precision)
    return charts.Margin(label, relative, text, g.status is Status.PASS)


def _result_lines(record: AssessmentRecord, gates: list[GateResult]) -> list[ResultLine]:
    """The metrics the policy's gates judge, against their thresholds, and each off-policy
    estimate against the behaviour policy's value on the same data."""
    lines = []
    judged: dict[str, list[GateResult]] = defaultdict(list)
    for g in gates:
        if g.evidence.startswith("metrics/"):
            judged[g.evidence].append(g)
    for metric in record.evaluation.metrics:
        found = judged.get(f"metrics/{metric.id}")
        if not found:
            continue
        tests = [
            f"{g.bound} {g.comparator} {format_number(g.threshold)}" for g in found if g.comparator
        ]
        ok = all(g.status is Status.PASS for g in found)
        lines.append(
            ResultLine(
                label=metric.name,
                key=metric.id,
                estimate=measured(metric),
                interval=interval(metric),
                against="; ".join(tests) or "no threshold",
                reading=("meets " if ok else "misses ") + ", ".join(g.gate for g in found),
                ok=ok,
            )
        )
    for e in record.evaluation.off_policy:
        if e.behaviour_value is None:
            continue
        if e.difference is not None and e.difference.ci_low is not None:
            shown = e.difference.ci_low > 0
            basis = f"paired difference {interval(e.difference)}"
        elif e.ci_low is not None:
            shown = e.ci_low > e.behaviour_value
            basis = f"lower bound {measured(e, 'ci_low')}"
        else:
            shown, basis = False, "no interval"
        lines.append(
            ResultLine(
                label=f"{e.estimator.value} · {e.target}",
                key=e.id,
                estimate=measured(e),
                interval=interval(e),
                against=f"behaviour policy {measured(e, 'behaviour_value')}",
                reading=("improvement shown" if shown else "improvement not shown") + f" ({basis})",
                ok=shown,
            )
        )
    return lines


def _worst_subgroup(record: AssessmentRecord) -> str | None:
    """The subgroup furthest on the wrong side of its metric's overall value."""
    worst: tuple[float, str] | None = None
    for s in record.evaluation.subgroups:
        metric = next(
            (
                m
                for m in record.evaluation.metrics
                if m.name.lower() in s.metric.lower() and m.value and s.value is not None
            ),
            None,
        )
        if metric is None or metric.direction not in (Direction.HIGHER, Direction.LOWER):
            continue
        assert metric.value is not None and s.value is not None
        shortfall = (s.value - metric.value) / abs(metric.value)
        if metric.direction is Direction.HIGHER:
            shortfall = -shortfall
        counts = ", ".join(
            f"{label} {format_number(n)}" for label, n in (("n", s.n), ("ESS", s.ess)) if n
        )
        text = (
            f"{s.attribute}: {s.group}: {s.metric} {measured(s)} {interval(s)}"
            + (f", {counts}" if counts else "")
            + f"; overall {measured(metric)} ({direction(metric)})"
        )
        if worst is None or shortfall > worst[0]:
            worst = (shortfall, text)
    return None if worst is None else worst[1]


def _failed_stress(record: AssessmentRecord) -> list[str]:
    failed = []
    for t in record.evaluation.stress_tests:
        if t.passed is False:
            text = f"{t.scenario}: {t.metric} {measured(t)} {interval(t)}"
            if t.baseline is not None:
                text += f" against {measured(t, 'baseline')} without the stress"
            failed.append(text)
    return failed


def _tracked_text(row: ConditionRow) -> str:
    if not row.tracked:
        return row.text
    late = ", overdue" if row.overdue else ""
    return f"{row.id} ({row.owner}, due {row.due}{late}): {row.text}"


def _summary(record: AssessmentRecord, decision: Decision) -> Summary:
    rows = _condition_rows(decision)
    return Summary(
        results=_result_lines(record, decision.gates),
        worst_subgroup=_worst_subgroup(record),
        failed_stress=_failed_stress(record),
        negative_results=list(record.evaluation.negative_results),
        blockers=by_gate(list(decision.blockers)),
        conditions=[_tracked_text(r) for r in rows if r.tracked]
        + by_gate([r.text for r in rows if not r.tracked]),
    )


# Room a chart leaves for a row label, at its label size: charts.py would cut a longer one
# short, and nothing in a signed document is cut short.
GATE_LABEL_ROOM = (280.0, 8.0)
BAR_LABEL_ROOM = (220.0, 9.0)
Y_LABEL_ROOM = (170.0, 8.5)


def _fitted(labels: list[tuple[str, str]], room: tuple[float, float]) -> tuple[list[str], str]:
    """Each (full, short) label whole where it fits, else a numbered short one; and the
    caption text that spells out the numbered ones in full."""
    width, size = room
    shown: list[str] = []
    notes: list[str] = []
    for full, short in labels:
        if charts.text_width(full, size=size) <= width:
            shown.append(full)
            continue
        mark = f"[{len(notes) + 1}]"
        notes.append(f"{mark} {full}")
        brief = f"{mark} {short}"
        shown.append(brief if charts.text_width(brief, size=size) <= width else mark)
    return shown, (" Rows in full: " + "; ".join(notes) + ".") if notes else ""


def _bars(bars: list[charts.Bar], shorts: list[str]) -> tuple[list[charts.Bar], str]:
    labels, notes = _fitted(
        [(b.label, s) for b, s in zip(bars, shorts, strict=True)], BAR_LABEL_ROOM
    )
    return [replace(b, label=label) for b, label in zip(bars, labels, strict=True)], notes


def _margins(
    gates: list[GateResult], record: AssessmentRecord, precision: Precision
) -> tuple[list[charts.Margin], str]:
    """The gate table's rows as bars: each failing or marginal one, and for each gate the
    clear pass closest to its threshold, standing for the others."""
    chosen: list[tuple[GateResult, str]] = []
    grouped: dict[str, list[GateResult]] = defaultdict(list)
    for g in gates:
        grouped[g.gate].append(g)
    for results in grouped.values():
        clear = [g for g in results if g.status is Status.PASS and not _marginal(g)]
        chosen += [(g, "") for g in results if g not in clear]
        judged = [g for g in clear if g.margin is not None]
        if judged:
            closest = min(judged, key=lambda g: g.margin or 0.0)
            others = f" (closest of {len(clear)} clear passes)" if len(clear) > 1 else ""
            chosen.append((closest, others))
    bars = [_margin(g, record, precision) for g, _ in chosen]
    labels = [
        (f"{bar.label}{suffix}", f"{g.gate}{suffix}")
        for bar, (g, suffix) in zip(bars, chosen, strict=True)
    ]
    fitted, notes = _fitted(labels, GATE_LABEL_ROOM)
    return [replace(b, label=label) for b, label in zip(bars, fitted, strict=True)], notes


def _charts(view: View, gates: list[GateResult]) -> None:
    ev = view.record.evaluation
    precision = _precision(view.record)
    banded = []
    for metric in ev.metrics:
        band = None
        if metric.direction is Direction.BAND and metric.target is not None:
            band = (metric.target.low, metric.target.high)
            banded.append(
                charts.Bar(metric.name, metric.value, metric.ci_low, metric.ci_high, band=band)
            )
        if metric.history is not None and len(metric.history.points) >= 2:
            axis = metric.unit or metric.name
            fits = charts.text_width(axis, size=Y_LABEL_ROOM[1]) <= Y_LABEL_ROOM[0]
            svg = charts.learning_curve(
                metric.history.points, y_label=axis if fits else "value", band=band
            )
            h = metric.history
            caption = ("" if fits else f"Vertical axis: {axis}. ") + (
                f"{len(h.points)} logged points over {format_number(h.steps)} steps; "
                f"last {format_number(h.last)}, best {format_number(h.best)}; final window "
                f"of {h.window}: mean {format_number(h.window_mean)} "
                f"± {format_number(h.window_std)}; {direction(metric)}"
                + (" (shaded)." if band else ".")
            )
            view.learning_curves.append(Chart(metric.name, caption, Markup(svg)))
    if banded:
        caption = (
            "Metrics that should stay within a band: the point estimate and its confidence "
            "interval against the target band (shaded)."
        )
        banded, notes = _bars(banded, [b.label for b in banded])
        view.band_chart = Chart(
            "Target bands", caption + notes, Markup(charts.interval_bars(banded))
        )
    by_metric: dict[str, list[charts.Bar]] = defaultdict(list)
    shorts: dict[str, list[str]] = defaultdict(list)
    for s in ev.subgroups:
        by_metric[s.metric].append(
            charts.Bar(f"{s.attribute}: {s.group}", s.value, s.ci_low, s.ci_high, ok=None)
        )
        shorts[s.metric].append(s.attribute)
    for metric_name, bars in by_metric.items():
        if len(bars) < 2:
            continue  # one group alone is in the table; a chart adds nothing
        bars, notes = _bars(bars, shorts[metric_name])
        caption = "Point estimates with their confidence intervals, per subgroup." + notes
        view.subgroup_charts.append(Chart(metric_name, caption, Markup(charts.interval_bars(bars))))
    if gates:
        margins, notes = _margins(gates, view.record, precision)
        view.gate_chart = Chart(
            "Gate margins",
            "How far each judged bound lies past its threshold (right, passes) or short of "
            "it (left, fails), relative to the threshold and clipped at 100%; the figure at "
            "the right is the margin in the evidence's own unit. As in the table, each "
            "failing or marginal result has a bar, and a gate's clear passes are shown by the "
            "one closest to its threshold. Arrows give the metric's direction as the record "
            "states it (↑ higher is better, ↓ lower is better, ↔ within a band)." + notes,
            Markup(charts.gate_margins(margins)),
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
    draft: bool = False,
    draft_problems: list[str] | None = None,
    signers: list[str] | None = None,
) -> View:
    """The view of one document of ``kind`` for ``record`` under ``report``'s decision;
    ``signers`` are its roles (default: the roles the decision requires of an approval).

    A ``draft`` names its signers but gets no signature boxes: it cannot be signed.
    """
    precision = _precision(record)
    decision = _legible(report.decision, precision)
    stage = decision.stage or record.deployment.requested_stage
    title = TITLES[kind]
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
        condition_rows=_condition_rows(decision),
        closed_conditions=[_tracked_row(c, c.description) for c in decision.closed_conditions],
        gates=[_gate_row(g, precision) for g in decision.gates],
        gate_groups=_gate_groups(decision.gates, precision),
        summary=_summary(record, decision),
        sections=_sections(report, blocking),
        open_items=_open_items(decision.items, blocking),
        coverage=_coverage(report.coverage),
        signers=[
            Signer(role, role_label(role), signature_box_id(role))
            for role in (decision.required_roles if signers is None else signers)
        ],
        policy_digest=decision.policy_digest or policy_digest,
        template=template,
        stage=stage,
        scope=_scope(record, stage),
        frameworks_declared=record.system.regulatory.frameworks is not None,
        draft=draft,
        draft_problems=list(draft_problems or []),
    )
    _charts(view, decision.gates)
    _dossier(view, decision)
    return view


def _glossary_texts(view: View, decision: Decision) -> list[str]:
    """What a document prints that may use an abbreviation: the record's text, the
    decision's reasons, and the column heads and estimator names the templates write."""
    ev = view.record.evaluation
    texts = [view.record.model_dump_json(), *decision.blockers, *decision.conditions]
    texts += [*decision.notes, *(g.reason for g in decision.gates)]
    if ev.off_policy or any(s.ess is not None for s in ev.subgroups):
        texts.append("ESS")
    if ev.ood_detection is not None:
        texts.append("AUROC")
    if any(m.ci_low is not None or m.ci_high is not None for m in ev.metrics):
        texts.append("CI")
    return texts


def _dossier(view: View, decision: Decision) -> None:
    record = view.record
    view.hazards = dossier_view.hazard_log(record, decision)
    view.register = dossier_view.evidence_register(record)
    view.reviewers = dossier_view.reviewers(record, ROLE_LABELS)
    view.glossary = dossier_view.glossary(_glossary_texts(view, decision))
    view.provenance = provenance_rows(record)
    view.control = DocumentControl(
        document_id=view.digest,
        policy=view.policy,
        policy_digest=view.policy_digest,
        version=record.system.version,
        date=view.date,
        generator=f"govrl {view.govrl_version}",
        previous=dossier_view.previous_revision(record),
    )
