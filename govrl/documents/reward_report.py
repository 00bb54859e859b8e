"""The reward report's view: the six sections of a Reward Report, from the record.

The sections and their questions follow the Reward Report template (Gilbert, Dean, Lambert,
Zhu and Snoswell, "Reward Reports for Reinforcement Learning", 2022), in its order. Each
question is answered from the record or marked not provided with the record field that
would answer it, so a reader sees a gap as a gap, never as silence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from govrl.documents.numbers import format_number
from govrl.documents.view import GateRow, View, direction, interval, measured, percent
from govrl.record import AssessmentRecord
from govrl.record.agent import DataSet
from govrl.record.base import Contact
from govrl.record.evaluation import OODDetection
from govrl.record.reward import RewardTerm

# The Reward Report template's six sections, in its order; documents number them 1 to 6.
SECTION_TITLES = (
    "System Details",
    "Optimization Intent",
    "Institutional Interface",
    "Implementation",
    "Evaluation",
    "System Maintenance",
)


@dataclass(frozen=True)
class Table:
    """Rows of text under headers; ``widths`` are percentages of the line, one per column."""

    headers: list[str]
    rows: list[list[str]]
    widths: list[int]


@dataclass(frozen=True)
class Question:
    """One question of the template: what it asks, the record's answer, and its gaps."""

    title: str
    asks: str
    paragraphs: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    """One of the template's six sections and its questions."""

    number: int
    title: str
    questions: list[Question]

    @property
    def anchor(self) -> str:
        return f"reward-report-{self.number}"

    @property
    def gaps(self) -> int:
        return sum(len(q.missing) for q in self.questions)


def not_provided(path: str) -> str:
    """The words a gap is shown with: the record field that would answer the question."""
    return f"Not provided: the record has no {path}."


def _facts(pairs: Sequence[tuple[str, str | None]]) -> list[tuple[str, str]]:
    return [(label, value) for label, value in pairs if value]


def _question(
    title: str, asks: str, *, fields: Sequence[tuple[str, Any]] = (), **content: Any
) -> Question:
    """A question with a gap for each of ``fields`` (record path, value) whose value is empty."""
    missing = [not_provided(path) for path, value in fields if not value]
    return Question(title, asks, missing=missing + content.pop("missing", []), **content)


def _contact(c: Contact) -> str:
    parts = [c.name, c.role, c.organisation, c.email]
    return ", ".join(p for p in parts if p)


def _dataset(d: DataSet) -> list[str]:
    period = f"{d.period_start} to {d.period_end}" if d.period_start or d.period_end else ""
    return [f"{d.name} {d.version}", d.role, d.size or "", period, d.source or ""]


def reward_summary(record: AssessmentRecord) -> str:
    """The reward in one paragraph: what it is, its terms by weight, and how it was obtained."""
    reward = record.reward
    terms = ", ".join(f"{t.name} ({format_number(t.weight)})" for t in reward.terms)
    origin = (
        f"It was learned by {reward.learned.method}."
        if reward.learned
        else "It is written by hand; no part of it was learned."
    )
    count = len(reward.terms)
    return (
        f"{reward.description} Its {count} term{'s' if count != 1 else ''}, with their "
        f"weights: {terms}. {origin}"
    )


# ------------------------------------------------------------------ 1 System Details


def _system_details(record: AssessmentRecord, view: View) -> Section:
    s, use = record.system, record.intended_use
    first, last = record.changelog[0], record.changelog[-1]
    signers = ", ".join(signer.label for signer in view.signers) or "no signer"
    stages = [f"{st.name}: {st.duration}" for st in record.deployment.rollout_stages if st.duration]
    resources = [
        f"{d.ref}" + (f": {d.title}" if d.title else "") + (f" ({d.version})" if d.version else "")
        for d in record.documents
    ]
    technical = record.technical
    if technical and technical.instructions_for_use:
        resources.insert(0, f"Instructions for use: {technical.instructions_for_use}")
    if record.reward.source:
        resources.insert(0, f"Reward definition: {record.reward.source}")
    return Section(
        1,
        SECTION_TITLES[0],
        [
            _question(
                "System owner",
                "Who answers for the system, and who completes this report.",
                facts=_facts(
                    [
                        ("Owner", _contact(s.owner)),
                        (
                            "Report completed by",
                            f"govrl from the assessment record; signed by {signers}",
                        ),
                    ]
                ),
            ),
            _question(
                "Dates",
                "The timespan over which this reward and its optimization are active.",
                facts=_facts(
                    [
                        ("First assessed", f"version {first.version}, {first.date}"),
                        ("This version", f"{last.version}, {last.date}"),
                        ("Next review", str(record.monitoring.next_review)),
                        ("Requested stage", record.deployment.requested_stage),
                    ]
                ),
                items=stages,
            ),
            _question(
                "Feedback and communication",
                "Whom to contact about the system and its deployment.",
                items=[_contact(c) for c in s.contacts]
                + [f"Incidents: {_contact(record.monitoring.incident_contact)}"],
                fields=[("system.contacts", s.contacts)],
            ),
            _question(
                "What the system acts on",
                "The setting the system acts in, what it changes there, and the feedback "
                "loop its actions close.",
                paragraphs=[s.description],
                facts=_facts(
                    [
                        ("Setting", use.setting),
                        ("Actions", record.model.action_space.description),
                        ("Decision interval", record.model.decision_interval),
                        ("Autonomy", use.autonomy.value if use.autonomy else None),
                        ("People affected", "; ".join(use.affected_people)),
                    ]
                ),
                fields=[
                    ("intended_use.affected_people", use.affected_people),
                    ("model.decision_interval", record.model.decision_interval),
                ],
            ),
            _question(
                "Other resources",
                "Where users and stakeholders find more about the system.",
                items=resources,
                fields=[("documents", record.documents)],
            ),
        ],
    )


# ------------------------------------------------------------------ 2 Optimization Intent


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _proxy_limits(term: RewardTerm) -> str:
    """What a term stands in for, and the ways to raise it without that outcome."""
    head = f"{term.name} stands in for {_sentence(term.proxy_for)}"
    if not term.gaming_risks:
        return head
    risks = " ".join(_sentence(r) for r in term.gaming_risks)
    return f"{head} Ways to raise it without that outcome: {risks}"


def _optimization_intent(record: AssessmentRecord) -> Section:
    reward, use, model = record.reward, record.intended_use, record.model
    horizon = f"{model.horizon:,} steps" if model.horizon else "continuing task (no horizon)"
    monitored = {m.oversight_metric: m.name for m in record.monitoring.metrics}
    probes: dict[str, list[str]] = {}
    for test in record.evaluation.stress_tests:
        for mode in test.failure_modes:
            probes.setdefault(mode, []).append(test.id)
    proxies = [_proxy_limits(t) for t in reward.terms]
    ungamed = [t.name for t in reward.terms if not t.gaming_risks]
    return Section(
        2,
        SECTION_TITLES[1],
        [
            _question(
                "Goal of the reward design",
                "The system's purpose and planning horizon, and why a learned policy rather "
                "than a static model or a hand-designed one.",
                paragraphs=[use.purpose],
                facts=_facts(
                    [("Planning horizon", horizon), ("Discount", format_number(model.discount))]
                ),
                tables=[
                    Table(
                        ["Alternative considered", "Outcome"],
                        [[a.approach, a.outcome] for a in use.alternatives_considered],
                        [40, 60],
                    )
                ]
                if use.alternatives_considered
                else [],
                fields=[("intended_use.alternatives_considered", use.alternatives_considered)],
            ),
            _question(
                "Performance metrics in the reward",
                "The terms of the reward signal, why each was chosen, and what it measures.",
                tables=[
                    Table(
                        ["Term", "Weight", "Reads", "Proxy for"],
                        [
                            [t.name, format_number(t.weight), t.signal, t.proxy_for]
                            for t in reward.terms
                        ],
                        [20, 10, 35, 35],
                    )
                ],
            ),
            _question(
                "Oversight metrics",
                "Measures kept out of the reward but watched, why they are kept out, and "
                "where they are monitored.",
                tables=[
                    Table(
                        ["Metric", "What it measures", "Why not in the reward", "Monitored as"],
                        [
                            [
                                o.name,
                                o.description,
                                o.why_not_in_reward or "not stated",
                                monitored.get(o.name, "not monitored"),
                            ]
                            for o in reward.oversight_metrics
                        ],
                        [18, 32, 32, 18],
                    )
                ]
                if reward.oversight_metrics
                else [],
                fields=[("reward.oversight_metrics", reward.oversight_metrics)],
            ),
            _question(
                "Failure modes anticipated",
                "Known ways the reward could be hacked or the policy misaligned, and the "
                "tests that probe each.",
                tables=[
                    Table(
                        ["Failure mode", "Description", "Probed by"],
                        [
                            [
                                m.id,
                                m.description,
                                ", ".join(probes.get(m.id, [])) or "no stress test",
                            ]
                            for m in reward.failure_modes
                        ],
                        [20, 55, 25],
                    )
                ]
                if reward.failure_modes
                else [],
                fields=[("reward.failure_modes", reward.failure_modes)],
            ),
            _question(
                "Limits of the reward as a proxy",
                "What each term stands in for, and how a policy could raise it without the "
                "outcome it stands for.",
                items=proxies,
                missing=[not_provided(f"reward.terms[{name}].gaming_risks") for name in ungamed],
            ),
        ],
    )


# ------------------------------------------------------------------ 3 Institutional Interface


def _institutional_interface(record: AssessmentRecord) -> Section:
    use, deployment = record.intended_use, record.deployment
    technical = record.technical
    connected = technical.connected_systems if technical else []
    stages = [
        [
            st.name,
            st.authority or "not stated",
            st.exposure,
            percent(st.traffic_share) or "—",
        ]
        for st in deployment.rollout_stages
    ]
    return Section(
        3,
        SECTION_TITLES[2],
        [
            _question(
                "Deployment agency",
                "Which roles of people or institutions the system takes over, and how they "
                "change as it is rolled out.",
                facts=_facts(
                    [
                        ("Autonomy", use.autonomy.value if use.autonomy else None),
                        ("Users", ", ".join(use.users)),
                        ("Human override", deployment.human_override),
                        ("Fallback", deployment.fallback),
                    ]
                ),
                tables=[Table(["Stage", "Authority", "Acts on", "Share"], stages, [18, 18, 50, 14])]
                if stages
                else [],
                fields=[
                    ("intended_use.autonomy", use.autonomy),
                    ("deployment.human_override", deployment.human_override),
                    ("deployment.rollout_stages", deployment.rollout_stages),
                ],
            ),
            _question(
                "Stakeholders",
                "Whose interests the design and deployment touch beyond the designers, and "
                "which systems it interfaces with.",
                items=list(use.stakeholders),
                facts=_facts(
                    [
                        ("People affected", "; ".join(use.affected_people)),
                        ("Sensitive attributes", ", ".join(use.sensitive_attributes)),
                    ]
                ),
                tables=[
                    Table(
                        ["Connected system", "What passes between them"],
                        [
                            [f"{c.name} {c.version}" if c.version else c.name, c.interaction]
                            for c in connected
                        ],
                        [35, 65],
                    )
                ]
                if connected
                else [],
                fields=[("intended_use.stakeholders", use.stakeholders)],
            ),
            _question(
                "Explainability and transparency",
                "Whether and how the system explains its actions to the people they affect.",
                paragraphs=[use.explanation] if use.explanation else [],
                fields=[("intended_use.explanation", use.explanation)],
            ),
            _question(
                "Recourse",
                "How someone affected contests an action of the system or obtains redress.",
                paragraphs=[use.recourse] if use.recourse else [],
                fields=[("intended_use.recourse", use.recourse)],
            ),
        ],
    )


# ------------------------------------------------------------------ 4 Implementation


def _implementation(record: AssessmentRecord) -> Section:
    reward, model = record.reward, record.model
    learned = reward.learned
    obs, act = model.observation_space, model.action_space
    behaviour = model.behaviour_policy
    technical = record.technical
    software = [f"{c.name} {c.version}" for c in technical.software] if technical else []
    hardware = technical.hardware if technical else None
    compute = technical.compute if technical else None
    hyper = ", ".join(
        f"{k} {v if isinstance(v, str | bool) else format_number(v)}"
        for k, v in model.hyperparameters.items()
    )
    return Section(
        4,
        SECTION_TITLES[3],
        [
            _question(
                "Reward details",
                "How the reward was engineered, and how its terms were weighted into one signal.",
                paragraphs=[reward.description],
                facts=_facts(
                    [
                        ("Defined in", reward.source),
                        (
                            "Learned by",
                            learned.method if learned else "not learned: written by hand",
                        ),
                        ("Annotators", learned.annotators if learned else None),
                        ("Agreement", learned.agreement if learned else None),
                        ("Validated by", learned.validation if learned else None),
                    ]
                ),
                fields=[("reward.source", reward.source)],
            ),
            _question(
                "Environment details",
                "States, observations and actions, the horizon, and the simulators the "
                "policy was trained in.",
                facts=_facts(
                    [
                        ("Observations", f"{obs.kind.value}, {obs.shape}: {obs.description}"),
                        ("Actions", f"{act.kind.value}, {act.shape}: {act.description}"),
                        ("Horizon", f"{model.horizon:,} steps" if model.horizon else "continuing"),
                        ("Discount", format_number(model.discount)),
                    ]
                ),
                tables=[
                    Table(
                        ["Simulator", "Checked against the real system by"],
                        [
                            [f"{sim.name} {sim.version}", sim.validation or "not stated"]
                            for sim in model.simulators
                        ],
                        [30, 70],
                    )
                ]
                if model.simulators
                else [],
            ),
            _question(
                "Data sets and data flow",
                "The data the policy learned from, how it was collected, and the policy "
                "that generated logged data.",
                tables=[
                    Table(
                        ["Data set", "Role", "Size", "Period", "Source"],
                        [_dataset(d) for d in model.datasets],
                        [22, 20, 16, 18, 24],
                    )
                ]
                if model.datasets
                else [],
                facts=_facts(
                    [
                        ("Behaviour policy", behaviour.description if behaviour else None),
                        (
                            "Propensities",
                            behaviour.propensities.value if behaviour else None,
                        ),
                    ]
                ),
                fields=[("model.datasets", model.datasets or model.simulators)],
            ),
            _question(
                "Algorithmic details",
                "The learning algorithm, the form of the policy, and what was tuned.",
                paragraphs=[model.description] if model.description else [],
                facts=_facts(
                    [
                        ("Algorithm", f"{model.algorithm} ({model.family.value})"),
                        ("Training seeds", f"{model.seeds:,}" if model.seeds else None),
                        ("Hyperparameters", hyper),
                    ]
                ),
            ),
            _question(
                "Measures against undesirable behaviour",
                "Hard limits on what the policy may do, and whether something outside the "
                "policy enforces them.",
                tables=[
                    Table(
                        ["Constraint", "Kind", "What it limits", "Enforced outside the policy"],
                        [
                            [
                                c.name,
                                c.kind.value,
                                c.description,
                                "yes" if c.enforced_outside_policy else "no",
                            ]
                            for c in model.safety_constraints
                        ],
                        [20, 14, 50, 16],
                    )
                ]
                if model.safety_constraints
                else [],
                fields=[("model.safety_constraints", model.safety_constraints)],
            ),
            _question(
                "Software and hardware",
                "What the system is built with and runs on.",
                facts=_facts(
                    [
                        ("Software", ", ".join(software)),
                        ("Hardware", hardware),
                        ("Compute", compute),
                    ]
                ),
                fields=[("technical.software", software), ("technical.hardware", hardware)],
            ),
        ],
    )


# ------------------------------------------------------------------ 5 Evaluation


def _evaluation_tables(record: AssessmentRecord) -> list[Table]:
    ev = record.evaluation
    tables = []
    if ev.metrics:
        tables.append(
            Table(
                ["Metric", "Estimate", "Interval", "Direction", "Measured on"],
                [
                    [m.name, measured(m), interval(m), direction(m), m.split or "—"]
                    for m in ev.metrics
                ],
                [30, 12, 22, 16, 20],
            )
        )
    if ev.off_policy:
        tables.append(
            Table(
                ["Off-policy estimate", "Estimate", "Interval", "ESS / episodes", "Behaviour"],
                [
                    [
                        f"{e.estimator.value}: {e.target}",
                        measured(e),
                        interval(e),
                        f"{format_number(e.ess)} / {format_number(e.episodes)}",
                        format_number(e.behaviour_value, e.ci_low, e.ci_high),
                    ]
                    for e in ev.off_policy
                ],
                [30, 12, 22, 18, 18],
            )
        )
    if ev.stress_tests:
        tables.append(
            Table(
                ["Stress test", "Kind", "Result", "Interval", "Passed"],
                [
                    [
                        f"{t.scenario} ({t.id})",
                        t.kind.value,
                        measured(t),
                        interval(t),
                        {True: "yes", False: "no", None: "not judged"}[t.passed],
                    ]
                    for t in ev.stress_tests
                ],
                [36, 16, 12, 22, 14],
            )
        )
    if ev.subgroups:
        tables.append(
            Table(
                ["Subgroup", "Metric", "Estimate", "Interval", "n"],
                [
                    [
                        f"{g.attribute}: {g.group}",
                        g.metric,
                        measured(g),
                        interval(g),
                        format_number(g.n),
                    ]
                    for g in ev.subgroups
                ],
                [28, 24, 12, 24, 12],
            )
        )
    return tables


def _evaluation(record: AssessmentRecord, view: View) -> Section:
    ev, model = record.evaluation, record.model
    environments = [f"Simulator {s.name} {s.version}" for s in model.simulators]
    environments += [
        f"Data set {d.name} {d.version} ({d.role})"
        for d in model.datasets
        if d.role.lower() not in ("training", "train")
    ]
    splits = sorted({m.split for m in ev.metrics if m.split})
    ood = ev.ood_detection
    validity = list(ev.limitations) + [f"Negative result: {n}" for n in ev.negative_results]
    behaviour = model.behaviour_policy
    standards = _standards(view)
    return Section(
        5,
        SECTION_TITLES[4],
        [
            _question(
                "Evaluation environment",
                "Where the system was evaluated before deployment: simulators, held-out "
                "data, scenarios.",
                items=environments,
                facts=_facts([("Metrics measured on", ", ".join(splits))]),
                fields=[
                    (
                        "model.simulators nor a model.datasets entry other than training",
                        environments,
                    )
                ],
            ),
            _question(
                "Offline evaluations",
                "The results of evaluation before deployment, with their intervals: "
                "metrics, off-policy estimates, stress tests and subgroups.",
                tables=_evaluation_tables(record),
                fields=[
                    ("evaluation.metrics", ev.metrics),
                    ("evaluation.stress_tests", ev.stress_tests),
                    ("evaluation.subgroups", ev.subgroups),
                ]
                + ([("evaluation.off_policy", ev.off_policy)] if behaviour else []),
            ),
            _question(
                "Evaluation validity",
                "How far the offline results speak for the deployed system, and what they "
                "leave out.",
                items=validity,
                facts=_facts(
                    [
                        (
                            "Logged propensities",
                            behaviour.propensities.value if behaviour else None,
                        ),
                        (
                            "OOD detection",
                            _ood(ood),
                        ),
                    ]
                ),
                fields=[
                    ("evaluation.limitations", ev.limitations),
                    ("evaluation.ood_detection", ood),
                ],
            ),
            _question(
                "Performance standards",
                "The standards the system must meet, where they come from, and how it is "
                "checked against them.",
                paragraphs=[
                    f"The policy {view.policy} judges the record's evidence on its confidence "
                    f"bounds; its decision is {view.verdict_label}, with "
                    f"{len(view.blockers)} blocker{'s' if len(view.blockers) != 1 else ''} and "
                    f"{len(view.conditions)} condition{'s' if len(view.conditions) != 1 else ''}."
                ],
                tables=[standards] if standards.rows else [],
                facts=_facts(
                    [
                        ("Regulation", _regulation(record)),
                        (
                            "Standards",
                            "; ".join(record.technical.harmonised_standards)
                            if record.technical
                            else None,
                        ),
                    ]
                ),
                missing=[]
                if standards.rows
                else [not_provided("evaluation.metrics entry the policy gates on")],
            ),
        ],
    )


def _standards(view: View) -> Table:
    """The policy's gates, one row each: its tests, how many checks it met, and which not."""
    rows: dict[str, list[GateRow]] = {}
    for row in view.gates:
        rows.setdefault(row.gate, []).append(row)
    table = []
    for gate, checks in rows.items():
        tests = "; ".join(dict.fromkeys(c.test for c in checks if c.test)) or "—"
        unmet = [f"{c.evidence} ({c.outcome})" for c in checks if c.status != "pass"]
        met = len(checks) - len(unmet)
        table.append([gate, tests, f"{met} of {len(checks)}", "; ".join(unmet) or "none"])
    return Table(["Gate", "Test", "Met", "Not met"], table, [26, 26, 10, 38])


def _ood(ood: OODDetection | None) -> str | None:
    """How states outside the training distribution are caught, in one line."""
    if ood is None:
        return None
    method, data = ood.method.rstrip("."), ood.evaluated_on.rstrip(".")
    auroc = f"; AUROC {format_number(ood.auroc)}" if ood.auroc is not None else ""
    return f"{method}, evaluated on {data}{auroc}; on detection: {ood.on_detection}"


def _regulation(record: AssessmentRecord) -> str:
    reg = record.system.regulatory
    status = "high-risk" if reg.high_risk else "not high-risk"
    basis = f" ({reg.basis})" if reg.basis else ""
    return f"{reg.framework}: {status}{basis}"


# ------------------------------------------------------------------ 6 System Maintenance


def _maintenance(record: AssessmentRecord) -> Section:
    mon, deployment = record.monitoring, record.deployment
    alarms = [
        [
            m.name + (f" (oversight: {m.oversight_metric})" if m.oversight_metric else ""),
            f"{m.alarm_when.value} {format_number(m.threshold)}",
            m.action,
        ]
        for m in mon.metrics
    ]
    return Section(
        6,
        SECTION_TITLES[5],
        [
            _question(
                "Reporting cadence",
                "How often this report is revisited.",
                facts=_facts([("Cadence", mon.cadence), ("Next review", str(mon.next_review))]),
            ),
            _question(
                "Update triggers",
                "Events that call for revisiting the report before its next review, and "
                "the metric thresholds that raise an alarm.",
                items=list(mon.update_triggers)
                + [f"Rollback: {c}" for c in deployment.rollback_criteria],
                tables=[Table(["Monitored metric", "Alarm when", "Action"], alarms, [32, 16, 52])],
                fields=[("monitoring.update_triggers", mon.update_triggers)],
            ),
            _question(
                "Changelog",
                "Every revision of the system: when, by whom, and why.",
                tables=[
                    Table(
                        ["Version", "Date", "Author", "What changed and why"],
                        [[e.version, str(e.date), e.author, e.summary] for e in record.changelog],
                        [10, 13, 17, 60],
                    )
                ],
            ),
        ],
    )


def reward_report_view(record: AssessmentRecord, view: View) -> dict[str, Any]:
    """What the reward-report template reads beyond the shared view: the six sections, the
    reward in one paragraph, and how many questions the record leaves open."""
    sections = [
        _system_details(record, view),
        _optimization_intent(record),
        _institutional_interface(record),
        _implementation(record),
        _evaluation(record, view),
        _maintenance(record),
    ]
    return {
        "sections": sections,
        "reward": reward_summary(record),
        "gaps": sum(s.gaps for s in sections),
    }
