"""The technical documentation's view: EU AI Act Annex IV, points 1 to 9, from the record.

Every sub-point the Annex asks for appears, in the Annex's order, either filled from the
record or marked not provided with the record field that would provide it: a reader (or an
auditor) sees a gap as a gap, never as silence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from govrl.documents.numbers import format_number
from govrl.documents.view import View, direction, interval, measured, provenance
from govrl.record import AssessmentRecord
from govrl.record.dossier import HazardControl, TechnicalFile


@dataclass(frozen=True)
class Table:
    """Rows of text under headers; ``widths`` are percentages of the line, one per column."""

    headers: list[str]
    rows: list[list[str]]
    widths: list[int]


@dataclass(frozen=True)
class Entry:
    """One sub-point of the Annex: what the record says to it, and what it leaves out."""

    label: str  # "1(a)", or "4" for a point without sub-points
    title: str
    paragraphs: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "annex-iv-" + self.label.replace("(", "-").replace(")", "")


@dataclass(frozen=True)
class Point:
    """One numbered point of Annex IV: what it asks for, and its sub-points."""

    number: int
    title: str
    asks: str
    entries: list[Entry]

    @property
    def anchor(self) -> str:
        return f"annex-iv-point-{self.number}"

    @property
    def gaps(self) -> int:
        return sum(len(e.missing) for e in self.entries)


def not_provided(path: str) -> str:
    """The words a gap is shown with: the record field that would fill it."""
    return f"Not provided: the record has no {path}."


def _facts(pairs: Sequence[tuple[str, str | None]]) -> list[tuple[str, str]]:
    return [(label, value) for label, value in pairs if value]


def _entry(
    label: str, title: str, *, fields: Sequence[tuple[str, Any]] = (), **content: Any
) -> Entry:
    """An entry with a gap for each of ``fields`` (record path, value) whose value is empty."""
    missing = [not_provided(path) for path, value in fields if not value]
    return Entry(label, title, missing=missing + content.pop("missing", []), **content)


def _technical(record: AssessmentRecord) -> TechnicalFile:
    return record.technical or TechnicalFile()


# ---------------------------------------------------------------- point 1


def _general(record: AssessmentRecord) -> Point:
    s, u, tf = record.system, record.intended_use, _technical(record)
    owner = s.owner
    provider = ", ".join(x for x in (owner.name, owner.role, owner.organisation) if x)
    previous = [c for c in record.changelog if c.version != s.version]
    relation = (
        f"follows version {previous[-1].version} ({previous[-1].date.isoformat()}); "
        "point 6 lists every revision"
        if previous
        else "the first version the changelog records"
    )
    contacts = [
        ", ".join(x for x in (c.name, c.role, c.organisation, c.email) if x) for c in s.contacts
    ]
    purpose = _entry(
        "1(a)",
        "Intended purpose, provider and version",
        paragraphs=[s.description],
        facts=_facts(
            [
                ("Intended purpose", u.purpose),
                ("Setting", u.setting),
                ("Users", "; ".join(u.users)),
                ("Level of autonomy", u.autonomy.value if u.autonomy else None),
                ("Affected people", "; ".join(u.affected_people)),
                ("Provider", provider),
                ("Other contacts", "; ".join(contacts)),
                ("Version", f"{s.version}: {relation}"),
                (
                    "Classification",
                    f"{s.regulatory.framework}, "
                    + ("high-risk" if s.regulatory.high_risk else "not high-risk")
                    + (f" ({s.regulatory.basis})" if s.regulatory.basis else ""),
                ),
                ("Other regimes", "; ".join(s.regulatory.other_regimes)),
            ]
        ),
        fields=[("intended_use.autonomy", u.autonomy)],
    )
    connected = _entry(
        "1(b)",
        "Interaction with other systems, hardware and software",
        tables=[
            Table(
                ["System", "Version", "What passes between them"],
                [[c.name, c.version or "—", c.interaction] for c in tf.connected_systems],
                [30, 14, 56],
            )
        ]
        if tf.connected_systems
        else [],
        fields=[("technical.connected_systems", tf.connected_systems)],
    )
    software = _entry(
        "1(c)",
        "Software and firmware versions",
        tables=[
            Table(["Component", "Version"], [[c.name, c.version] for c in tf.software], [60, 40])
        ]
        if tf.software
        else [],
        fields=[("technical.software", tf.software)],
    )
    return Point(
        1,
        "General description of the AI system",
        "What the system is for, who provides it, which version this is, what it works with, "
        "how it is released, what it runs on and how deployers are told to use it.",
        [
            purpose,
            connected,
            software,
            _entry(
                "1(d)",
                "Forms in which it is released",
                items=list(tf.release_forms),
                fields=[("technical.release_forms", tf.release_forms)],
            ),
            _entry(
                "1(e)",
                "Hardware it is intended to run on",
                paragraphs=[tf.hardware] if tf.hardware else [],
                fields=[("technical.hardware", tf.hardware)],
            ),
            _entry(
                "1(f)",
                "Product photographs or illustrations",
                paragraphs=[
                    "Applies where the system is a component of a product. The record holds "
                    "no illustrations: where it applies, they are kept with the instructions "
                    "for use (1(h))."
                ],
            ),
            _entry(
                "1(g)",
                "User interface provided to the deployer",
                facts=_facts(
                    [
                        ("Used by", "; ".join(u.users)),
                        ("Human override", record.deployment.human_override),
                    ]
                ),
                missing=[]
                if tf.instructions_for_use
                else [
                    "Not provided: the record has no technical.instructions_for_use, where the "
                    "user interface is described."
                ],
            ),
            _entry(
                "1(h)",
                "Instructions for use",
                paragraphs=[tf.instructions_for_use] if tf.instructions_for_use else [],
                fields=[("technical.instructions_for_use", tf.instructions_for_use)],
            ),
        ],
    )


# ---------------------------------------------------------------- point 2


def _behaviour(record: AssessmentRecord) -> str | None:
    """The policy that logged offline data, and how its action probabilities are known."""
    bp = record.model.behaviour_policy
    if bp is None:
        return None
    how = f". {bp.estimation}" if bp.estimation else "."
    return f"{bp.description} Propensities: {bp.propensities.value}{how}"


def _methods(record: AssessmentRecord) -> Entry:
    md, rw = record.model, record.reward
    facts = _facts(
        [
            ("Algorithm", f"{md.algorithm} ({md.family.value})"),
            ("Training seeds", format_number(md.seeds) if md.seeds is not None else None),
            ("Behaviour policy", _behaviour(record)),
            (
                "Learned reward",
                f"{rw.learned.method}; annotators: {rw.learned.annotators}; "
                f"validation: {rw.learned.validation}"
                if rw.learned
                else None,
            ),
            ("Reward source", rw.source),
        ]
    )
    simulators = [
        Table(
            ["Simulator", "Version", "Validation", "Digest"],
            [
                [sim.name, sim.version, sim.validation or "—", sim.digest or "—"]
                for sim in md.simulators
            ],
            [24, 12, 40, 24],
        )
    ]
    return _entry(
        "2(a)",
        "Methods and steps of development",
        paragraphs=[md.description] if md.description else [],
        facts=facts,
        tables=simulators if md.simulators else [],
        fields=[("model.description", md.description)],
    )


def _design(record: AssessmentRecord) -> Entry:
    md, rw, u = record.model, record.reward, record.intended_use
    obs, act = md.observation_space, md.action_space
    facts = _facts(
        [
            ("Observations", f"{obs.kind.value}, {obs.shape}: {obs.description}"),
            ("Actions", f"{act.kind.value}, {act.shape}: {act.description}"),
            (
                "Horizon and discount",
                f"{format_number(md.horizon) + ' steps' if md.horizon else 'continuing task'}; "
                f"discount {format_number(md.discount)}",
            ),
            ("Decision interval", md.decision_interval),
            ("Optimised for", rw.description),
            (
                "Hyperparameters",
                "; ".join(
                    f"{name} {value if isinstance(value, str) else format_number(value)}"
                    for name, value in md.hyperparameters.items()
                ),
            ),
        ]
    )
    terms = Table(
        ["Reward term", "Weight", "Signal it reads", "Proxy for"],
        [[t.name, format_number(t.weight), t.signal, t.proxy_for] for t in rw.terms],
        [22, 10, 34, 34],
    )
    tables = [terms]
    if md.safety_constraints:
        tables.append(
            Table(
                ["Safety constraint", "Kind", "What it limits", "Enforced outside the policy"],
                [
                    [
                        c.name,
                        c.kind.value,
                        c.description,
                        "yes" if c.enforced_outside_policy else "no",
                    ]
                    for c in md.safety_constraints
                ],
                [22, 14, 46, 18],
            )
        )
    if u.alternatives_considered:
        tables.append(
            Table(
                ["Simpler alternative considered", "Outcome"],
                [[a.approach, a.outcome] for a in u.alternatives_considered],
                [45, 55],
            )
        )
    return _entry(
        "2(b)",
        "Design specifications and key choices",
        facts=facts,
        tables=tables,
        fields=[
            ("model.safety_constraints", md.safety_constraints),
            ("intended_use.alternatives_considered", u.alternatives_considered),
        ],
    )


def _architecture(record: AssessmentRecord) -> Entry:
    tf = _technical(record)
    artifacts = Table(
        ["Artifact", "Location", "Digest"],
        [[a.name, a.uri, a.digest or "—"] for a in record.model.artifacts],
        [22, 40, 38],
    )
    parts = [c.name + " " + c.version for c in tf.software]
    return _entry(
        "2(c)",
        "System architecture and computational resources",
        facts=_facts(
            [
                ("Components", "; ".join(parts)),
                ("Connected systems", "; ".join(c.name for c in tf.connected_systems)),
                ("Compute", tf.compute),
            ]
        ),
        tables=[artifacts] if record.model.artifacts else [],
        fields=[("model.artifacts", record.model.artifacts), ("technical.compute", tf.compute)],
    )


def _data(record: AssessmentRecord) -> Entry:
    def period(d: Any) -> str:
        ends = [x.isoformat() for x in (d.period_start, d.period_end) if x]
        return " to ".join(ends) or "period not recorded"

    rows = [
        [
            d.name + (f": {d.description}" if d.description else ""),
            d.version,
            d.role,
            " · ".join([d.size or "size not recorded", period(d)]),
            " · ".join([d.source or "source not recorded", d.digest or "no digest"]),
        ]
        for d in record.model.datasets
    ]
    table = Table(
        ["Data set", "Version", "Role", "Size and period", "Source and digest"],
        rows,
        [32, 12, 18, 15, 23],
    )
    return _entry(
        "2(d)",
        "Data requirements and data sets",
        tables=[table] if rows else [],
        fields=[("model.datasets", rows)],
    )


def _oversight_needed(record: AssessmentRecord) -> Entry:
    u, rw = record.intended_use, record.reward
    oversight = Table(
        ["Oversight metric, kept out of the reward", "What it shows", "Why not in the reward"],
        [[m.name, m.description, m.why_not_in_reward or "—"] for m in rw.oversight_metrics],
        [28, 42, 30],
    )
    return _entry(
        "2(e)",
        "Human oversight measures needed, and how outputs are interpreted",
        facts=_facts(
            [
                ("Level of autonomy", u.autonomy.value if u.autonomy else None),
                ("Explanations", u.explanation),
                ("How it is contested", u.recourse),
            ]
        ),
        tables=[oversight] if rw.oversight_metrics else [],
        fields=[
            ("intended_use.explanation", u.explanation),
            ("intended_use.recourse", u.recourse),
            ("reward.oversight_metrics", rw.oversight_metrics),
        ],
    )


def _predetermined(record: AssessmentRecord) -> Entry:
    plan = _technical(record).change_control_plan
    return _entry(
        "2(f)",
        "Pre-determined changes and how they are controlled",
        paragraphs=[plan] if plan else [],
        facts=_facts([("Update triggers", "; ".join(record.monitoring.update_triggers))]),
        fields=[("technical.change_control_plan", plan)],
    )


def _testing(record: AssessmentRecord) -> Entry:
    ev = record.evaluation
    tables = []
    if ev.metrics:
        tables.append(
            Table(
                ["Metric", "Estimate", "Interval", "Measured on", "Provenance"],
                [
                    [m.name, measured(m), interval(m), m.split or "—", provenance(m.provenance)]
                    for m in ev.metrics
                ],
                [22, 11, 21, 14, 32],
            )
        )
    if ev.off_policy:
        tables.append(
            Table(
                ["Off-policy estimate", "Estimate", "Interval", "ESS", "Provenance"],
                [
                    [
                        f"{e.estimator.value} · {e.target}",
                        measured(e),
                        interval(e),
                        format_number(e.ess),
                        provenance(e.provenance),
                    ]
                    for e in ev.off_policy
                ],
                [22, 11, 21, 14, 32],
            )
        )
    if ev.stress_tests:
        tables.append(
            Table(
                ["Stress test", "Metric", "Result", "Interval", "Passed"],
                [
                    [
                        f"{t.scenario} ({t.kind.value})",
                        t.metric,
                        measured(t),
                        interval(t),
                        {True: "yes", False: "no", None: "not judged"}[t.passed],
                    ]
                    for t in ev.stress_tests
                ],
                [32, 22, 11, 23, 12],
            )
        )
    if record.reviewers:
        tables.append(
            Table(
                ["Reviewer", "Role", "Reviewed on", "Independence"],
                [
                    [
                        r.name + (f", {r.organisation}" if r.organisation else ""),
                        r.role,
                        r.reviewed_on.isoformat() if r.reviewed_on else "—",
                        r.independence + (f" Declared: {r.conflicts}" if r.conflicts else ""),
                    ]
                    for r in record.reviewers
                ],
                [24, 18, 13, 45],
            )
        )
    if record.documents:
        tables.append(
            Table(
                ["Test report or document", "Version and date", "SHA-256"],
                [
                    [
                        d.ref + (f": {d.title}" if d.title else ""),
                        " · ".join(x for x in (d.version, d.date and d.date.isoformat()) if x)
                        or "—",
                        d.sha256 or "—",
                    ]
                    for d in record.documents
                ],
                [40, 20, 40],
            )
        )
    return _entry(
        "2(g)",
        "Validation and testing: data, metrics, logs and reports",
        paragraphs=[
            "Each result's provenance names the run or artifact it was read from; the signatures "
            "on this document date and sign it for the roles listed in the sign-off."
        ],
        tables=tables,
        fields=[
            ("evaluation.metrics", ev.metrics),
            ("evaluation.stress_tests", ev.stress_tests),
            ("reviewers", record.reviewers),
            ("documents (the evidence register)", record.documents),
        ],
    )


def _development(record: AssessmentRecord) -> Point:
    cyber = _technical(record).cybersecurity
    return Point(
        2,
        "Elements of the AI system and its development",
        "How it was built and why so: methods, design, architecture and compute, data, "
        "oversight, pre-determined changes, validation and testing, and cybersecurity.",
        [
            _methods(record),
            _design(record),
            _architecture(record),
            _data(record),
            _oversight_needed(record),
            _predetermined(record),
            _testing(record),
            _entry(
                "2(h)",
                "Cybersecurity measures",
                items=list(cyber),
                fields=[("technical.cybersecurity", cyber)],
            ),
        ],
    )


# ---------------------------------------------------------------- point 3


def _functioning(record: AssessmentRecord) -> Point:
    ev, u, rw, dep = record.evaluation, record.intended_use, record.reward, record.deployment
    subgroups = Table(
        ["Group", "Metric", "Estimate", "Interval", "n"],
        [
            [f"{s.attribute}: {s.group}", s.metric, measured(s), interval(s), format_number(s.n)]
            for s in ev.subgroups
        ],
        [30, 26, 12, 22, 10],
    )
    overall = [f"{m.name}: {measured(m)} {interval(m)}, {direction(m)}" for m in ev.metrics]
    risks = [f"Failure mode {m.id}: {m.description}" for m in rw.failure_modes]
    risks += [f"Gaming of {t.name}: {g}" for t in rw.terms for g in t.gaming_risks]
    risks += [f"Foreseeable misuse: {x}" for x in u.foreseeable_misuse]
    risks += [f"Out of scope: {x}" for x in u.out_of_scope]
    ood = ev.ood_detection
    obs = record.model.observation_space
    return Point(
        3,
        "Monitoring, functioning and control",
        "What it can and cannot do, how accurate it is overall and for each group it is used "
        "on, what may go wrong, how humans oversee it, and what input it expects.",
        [
            _entry(
                "3(a)",
                "Capabilities and limitations",
                items=[*ev.limitations, *(f"Negative result: {x}" for x in ev.negative_results)],
                fields=[("evaluation.limitations", ev.limitations)],
            ),
            _entry(
                "3(b)",
                "Accuracy overall and for specific groups",
                items=overall,
                facts=_facts([("Sensitive attributes", "; ".join(u.sensitive_attributes))]),
                tables=[subgroups] if ev.subgroups else [],
                fields=[("evaluation.metrics", ev.metrics), ("evaluation.subgroups", ev.subgroups)],
            ),
            _entry(
                "3(c)",
                "Foreseeable unintended outcomes and sources of risk",
                items=risks,
                facts=_facts([("Stakeholders", "; ".join(u.stakeholders))]),
                fields=[("reward.failure_modes", rw.failure_modes)],
            ),
            _entry(
                "3(d)",
                "Human oversight in place",
                facts=_facts(
                    [
                        ("Human override", dep.human_override),
                        ("Fallback", dep.fallback),
                        ("Rollback criteria", "; ".join(dep.rollback_criteria)),
                        ("OOD detector", ood.method if ood else None),
                        ("On detection", ood.on_detection if ood else None),
                    ]
                ),
                fields=[
                    ("deployment.human_override", dep.human_override),
                    ("deployment.fallback", dep.fallback),
                    ("evaluation.ood_detection", ood),
                ],
            ),
            _entry(
                "3(e)",
                "Input data specifications",
                facts=_facts(
                    [
                        ("Observations", f"{obs.kind.value}, {obs.shape}: {obs.description}"),
                        ("Decision interval", record.model.decision_interval),
                        ("Detector evaluated on", ood.evaluated_on if ood else None),
                    ]
                ),
            ),
        ],
    )


# ---------------------------------------------------------------- points 4 to 9


def _metrics(record: AssessmentRecord, view: View) -> Point:
    judged: dict[str, list[str]] = defaultdict(list)
    for g in view.gates:
        if g.gate not in judged[g.evidence]:
            judged[g.evidence].append(g.gate)
    rows = [
        [
            m.name,
            direction(m),
            m.description or not_provided(f"evaluation.metrics[{n}].description"),
            ", ".join(judged.get(f"metrics/{m.id}", [])) or "no gate of the policy",
        ]
        for n, m in enumerate(record.evaluation.metrics)
    ]
    table = Table(["Metric", "Direction", "What it measures", "Judged by"], rows, [22, 18, 40, 20])
    return Point(
        4,
        "Appropriateness of the performance metrics",
        "Why the metrics reported are the right ones for this system: what each measures, "
        "which way is better, and which gate of the policy judges it.",
        [
            _entry(
                "4",
                "Performance metrics and why they fit",
                paragraphs=[
                    "Each gate of the policy judges the bound the policy names for it; a metric "
                    "that no gate judges is reported for context and decides nothing."
                ],
                tables=[table] if rows else [],
                fields=[("evaluation.metrics", rows)],
            )
        ],
    )


def _control(control: HazardControl) -> str:
    """A control in a list of several: without its closing full stop, with its constraint."""
    text = control.description.rstrip(".")
    return f"{text} (safety constraint: {control.constraint})" if control.constraint else text


def _risk(record: AssessmentRecord, view: View) -> Point:
    rows = [
        [
            h.id,
            h.hazard + f" Cause: {h.cause}",
            "; ".join(_control(c) for c in h.controls),
            "; ".join(h.verified_by),
            f"{h.residual_risk.level.value}: {h.residual_risk.rationale}",
            "; ".join(h.monitoring) or "—",
        ]
        for h in record.hazards
    ]
    table = Table(
        ["Id", "Hazard and cause", "Controls", "Verified by", "Residual risk", "Monitored by"],
        rows,
        [8, 24, 21, 15, 17, 15],
    )
    decision = (
        f"{view.verdict_label} under policy {view.policy} on {view.date}: "
        f"{len(view.blockers)} blockers, {len(view.conditions)} conditions."
    )
    return Point(
        5,
        "Risk management system",
        "The hazard log: each hazard, its cause, the controls on it, the evidence that they "
        "work, the residual risk and the signal that would show it in deployment.",
        [
            _entry(
                "5",
                "Hazard log and risk decision",
                facts=[("Decision", decision)],
                items=[f"Blocker: {b}" for b in view.blockers],
                tables=[table] if rows else [],
                fields=[("hazards (the hazard log)", rows)],
            )
        ],
    )


def _changes(record: AssessmentRecord) -> Point:
    table = Table(
        ["Version", "Date", "Author", "What changed and why"],
        [[c.version, c.date.isoformat(), c.author, c.summary] for c in record.changelog],
        [12, 13, 20, 55],
    )
    return Point(
        6,
        "Changes through the lifecycle",
        "Every revision of the system, who made it and why, oldest first.",
        [_entry("6", "Changelog", tables=[table])],
    )


def _standards(record: AssessmentRecord) -> Point:
    standards = _technical(record).harmonised_standards
    checklists = [f"{c.id} version {c.version}" for c in record.checklists]
    return Point(
        7,
        "Harmonised standards and other solutions applied",
        "The harmonised standards applied in full or in part; where none are, the other "
        "standards, specifications and solutions used to meet the requirements.",
        [
            _entry(
                "7",
                "Standards and specifications",
                items=list(standards),
                facts=_facts([("Checklists answered", "; ".join(checklists))]),
                fields=[("technical.harmonised_standards", standards)],
            )
        ],
    )


def _conformity(record: AssessmentRecord) -> Point:
    ref = _technical(record).declaration_of_conformity
    registered = next((d for d in record.documents if ref and d.ref == ref), None)
    return Point(
        8,
        "EU declaration of conformity",
        "A copy of the declaration of conformity, referenced here.",
        [
            _entry(
                "8",
                "Declaration of conformity",
                facts=_facts(
                    [
                        ("Reference", ref),
                        ("Title", registered.title if registered else None),
                        ("SHA-256", registered.sha256 if registered else None),
                    ]
                ),
                fields=[("technical.declaration_of_conformity", ref)],
            )
        ],
    )


def _post_market(record: AssessmentRecord) -> Point:
    mon = record.monitoring
    table = Table(
        ["Monitored metric", "Alarm when", "What happens then"],
        [
            [
                m.name + (f": {m.description}" if m.description else ""),
                f"{m.alarm_when.value} {format_number(m.threshold)}",
                m.action,
            ]
            for m in mon.metrics
        ],
        [34, 16, 50],
    )
    contact = mon.incident_contact
    return Point(
        9,
        "Post-market monitoring",
        "How the system's performance is evaluated once deployed: the monitoring plan.",
        [
            _entry(
                "9",
                "Post-market monitoring plan",
                facts=_facts(
                    [
                        ("Cadence", mon.cadence),
                        ("Next review", mon.next_review.isoformat()),
                        (
                            "Incident contact",
                            ", ".join(x for x in (contact.name, contact.role, contact.email) if x),
                        ),
                        ("Update triggers", "; ".join(mon.update_triggers)),
                    ]
                ),
                tables=[table],
                fields=[("monitoring.update_triggers", mon.update_triggers)],
            )
        ],
    )


def technical_view(record: AssessmentRecord, view: View) -> dict[str, Any]:
    """What the technical-documentation template reads beyond the shared view: Annex IV's
    points 1 to 9, in order, and how many sub-points the record leaves unanswered."""
    points = [
        _general(record),
        _development(record),
        _functioning(record),
        _metrics(record, view),
        _risk(record, view),
        _changes(record),
        _standards(record),
        _conformity(record),
        _post_market(record),
    ]
    return {"points": points, "gaps": sum(p.gaps for p in points)}
