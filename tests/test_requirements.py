"""Policy rules per declared item, domain and stage; gates on effective evidence; dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from govrl.errors import InputError
from govrl.record import AssessmentRecord
from govrl.review.checklist import ChecklistLibrary
from govrl.review.gate import Status, Verdict, decide
from govrl.review.policy import Policy, parse_policy
from tests.support.records import record_data

LIBRARY = ChecklistLibrary.discover()
TODAY = dt.date(2026, 11, 1)
TIERS = """
tiers:
  1: {blocking: [], conditions: [blocker], signers: [owner], validity_days: 365}
  2: {blocking: [blocker], conditions: [major], signers: [owner, domain-expert], validity_days: 180}
  3:
    blocking: [blocker]
    conditions: [major]
    signers: [owner, domain-expert, ethics-fairness, independent-validator]
    validity_days: 90
"""


def policy(body: str) -> Policy:
    return parse_policy(f'id: p\nversion: "1"\ndescription: test\n{body}\n{TIERS}')


def record(tier: int = 3, edit: Any = None) -> AssessmentRecord:
    data = record_data(tier, direction="higher-is-better")
    if edit is not None:
        edit(data)
    return AssessmentRecord.model_validate(data)


def subgroup(attribute: str, group: str, **more: Any) -> dict[str, Any]:
    return {"attribute": attribute, "group": group, "metric": "return", "value": 40.0, **more}


# ---------------------------------------------------------------- per declared item

PER = policy(
    """
requirements:
  - {id: by-attribute, per: sensitive-attribute, evidence: "subgroups/*", tiers: [3]}
  - {id: by-failure-mode, per: failure-mode, tiers: [3]}
  - {id: by-oversight, per: oversight-metric, tiers: [3]}
"""
)


def _declare(data: dict[str, Any]) -> None:
    data["intended_use"]["sensitive_attributes"] = ["age band", "region"]
    data["evaluation"]["subgroups"] = [subgroup("age band", "18-44", n=300)]
    data["reward"]["failure_modes"] = [
        {"id": "click-bait", "description": "chases clicks"},
        {"id": "filter-bubble", "description": "narrows topics"},
    ]
    data["evaluation"]["stress_tests"] = [
        {
            "id": "bait-probe",
            "kind": "adversarial",
            "scenario": "bait articles injected",
            "metric": "bait share",
            "value": 0.1,
            "failure_modes": ["click-bait"],
        }
    ]
    data["reward"]["oversight_metrics"] = [
        {"name": "complaints", "description": "reader complaints"},
        {"name": "topic_diversity", "description": "topics per session"},
    ]
    data["monitoring"]["metrics"][0]["oversight_metric"] = "complaints"


def test_each_declared_item_missing_its_evidence_is_a_named_blocker() -> None:
    decision = decide(record(edit=_declare), PER, LIBRARY, today=TODAY)
    assert decision.verdict is Verdict.REJECT
    assert decision.blockers == [
        "required: subgroup results for sensitive attribute 'region' (1 or more), found 0 "
        "[by-attribute]",
        "required: a stress test probing failure mode 'filter-bubble' (1 or more), found 0 "
        "[by-failure-mode]",
        "required: a monitoring metric for oversight metric 'topic_diversity' (1 or more), "
        "found 0 [by-oversight]",
    ]
    met = [r.evidence for r in decision.requirements if r.status is Status.PASS]
    assert met == [
        "sensitive-attribute:age band",
        "failure-mode:click-bait",
        "oversight-metric:complaints",
    ]


def test_a_requirement_needs_evidence_or_per() -> None:
    with pytest.raises(InputError, match="needs evidence"):
        policy("requirements:\n  - {id: nothing, tiers: [3]}")


# ---------------------------------------------------------------- domains and stages

SCOPED = policy(
    """
requirements:
  - {id: clinical-only, evidence: "stress/*", domains: [healthcare], tiers: [3]}
  - {id: full-authority-only, evidence: "stress/*", stages: ["*full*"], tiers: [3]}
"""
)


def _stages(requested: str | None) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["deployment"]["rollout_stages"] = [
            {"name": "Stage 1", "exposure": "none", "exit_criteria": "x", "authority": "shadow"},
            {"name": "Stage 2", "exposure": "all", "exit_criteria": "y", "authority": "full"},
        ]
        if requested is not None:
            data["deployment"]["requested_stage"] = requested

    return edit


def test_domain_and_stage_filters_choose_the_rules_that_apply() -> None:
    shadow = decide(record(edit=_stages("Stage 1")), SCOPED, LIBRARY, today=TODAY)
    assert shadow.requirements == []  # a recommender, in shadow
    assert shadow.stage == "Stage 1"
    full = decide(record(edit=_stages("Stage 2")), SCOPED, LIBRARY, today=TODAY)
    assert [r.gate for r in full.requirements] == ["full-authority-only"]
    unnamed = decide(record(edit=_stages(None)), SCOPED, LIBRARY, today=TODAY)
    assert [r.gate for r in unnamed.requirements] == ["full-authority-only"]


def test_stage_rule_overrides_signers_and_validity() -> None:
    staged = policy(
        """
stages:
  - match: ["*shadow*"]
    tiers: [3]
    signers: [owner, independent-validator]
    validity_days: 180
"""
    )
    shadow = decide(record(edit=_stages("Stage 1")), staged, LIBRARY, today=TODAY)
    assert shadow.required_roles == ["owner", "independent-validator"]
    assert shadow.valid_until == TODAY + dt.timedelta(days=180)
    full = decide(record(edit=_stages("Stage 2")), staged, LIBRARY, today=TODAY)
    assert full.required_roles == [
        "owner",
        "domain-expert",
        "ethics-fairness",
        "independent-validator",
    ]
    assert full.valid_until == TODAY + dt.timedelta(days=90)
    assert full.as_dict()["stage"] == "Stage 2"


# ---------------------------------------------------------------- effective evidence


def test_subgroup_gate_on_effective_n_judges_ess_not_rows() -> None:
    gate = policy(
        """
gates:
  - {id: enough, evidence: "subgroups/*", field: effective_n, comparator: ">=", threshold: 30}
  - {id: share, evidence: "subgroups/*", field: relative_ess, comparator: ">=", threshold: 0.05,
     min_matches: 0}
"""
    )

    def edit(data: dict[str, Any]) -> None:
        data["evaluation"]["subgroups"] = [
            subgroup("kidney", "advanced", n=311, ess=2.4),
            subgroup("kidney", "none", n=400),
        ]

    decision = decide(record(tier=1, edit=edit), gate, LIBRARY, today=TODAY)
    thin, plain, thin_share, plain_share = decision.gates
    assert thin.status is Status.FAIL and thin.observed == 2.4
    assert "effective_n 2.4 misses >= 30" in thin.reason
    assert plain.status is Status.PASS and plain.observed == 400
    assert thin_share.status is Status.FAIL and thin_share.observed == pytest.approx(2.4 / 311)
    assert plain_share.status is Status.INSUFFICIENT  # no ESS: no relative ESS


def _offline(difference: dict[str, float] | None) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["model"]["family"] = "offline"
        data["model"]["behaviour_policy"] = {"description": "logged", "propensities": "logged"}
        data["model"]["datasets"] = [{"name": "logs", "version": "1", "role": "training"}]
        estimate: dict[str, Any] = {
            "id": "dr",
            "estimator": "DR",
            "target": "expected return",
            "value": 7.9,
            "ci_low": 7.5,
            "ci_high": 8.3,
            "ci_level": 0.95,
            "behaviour_value": 7.68,
            "ess": 400.0,
            "episodes": 1000,
        }
        if difference is not None:
            estimate["difference"] = difference
        data["evaluation"]["off_policy"] = [estimate]

    return edit


BEATS = policy(
    """
gates:
  - {id: beats, evidence: "off_policy/*", comparator: ">=", threshold: behaviour_value}
  - {id: share, evidence: "off_policy/*", field: relative_ess, comparator: ">=", threshold: 0.5}
"""
)


def test_behaviour_gate_judges_the_paired_difference_when_given() -> None:
    unpaired = decide(record(tier=1, edit=_offline(None)), BEATS, LIBRARY, today=TODAY)
    assert unpaired.gates[0].status is Status.FAIL  # ci_low 7.5 < 7.68
    assert unpaired.gates[1].observed == 0.4 and unpaired.gates[1].status is Status.FAIL
    paired = decide(
        record(
            tier=1, edit=_offline({"value": 0.2, "ci_low": 0.05, "ci_high": 0.35, "ci_level": 0.95})
        ),
        BEATS,
        LIBRARY,
        today=TODAY,
    )
    beats = paired.gates[0]
    assert beats.status is Status.PASS and beats.observed == 0.05 and beats.threshold == 0
    assert "difference from the behaviour policy (paired interval), ci_low 0.05" in beats.reason
    worse = decide(
        record(
            tier=1,
            edit=_offline({"value": 0.1, "ci_low": -0.02, "ci_high": 0.22, "ci_level": 0.95}),
        ),
        BEATS,
        LIBRARY,
        today=TODAY,
    )
    assert worse.gates[0].status is Status.FAIL


# ---------------------------------------------------------------- dates

AGED = policy("max_evidence_age_days: 180")


def _fetched(when: str) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["evaluation"]["metrics"][0]["provenance"] = {"source": "mlflow", "fetched_at": when}

    return edit


def test_stale_evidence_becomes_a_condition_naming_it_and_its_age() -> None:
    decision = decide(record(tier=1, edit=_fetched("2026-04-24T08:30:00Z")), AGED, LIBRARY,
                      today=TODAY)  # fmt: skip
    assert decision.verdict is Verdict.APPROVE_WITH_CONDITIONS
    assert decision.conditions == [
        "evidence older than the policy's 180 days at the decision date 2026-11-01: "
        "metrics/mean-return fetched on 2026-04-24, 191 days before. Collect it again"
    ]
    assert decision.condition_items[0].source == "evidence:stale"
    fresh = decide(record(tier=1, edit=_fetched("2026-10-01T08:30:00Z")), AGED, LIBRARY,
                   today=TODAY)  # fmt: skip
    assert fresh.verdict is Verdict.APPROVE


def test_evidence_with_no_fetch_date_is_noted_when_the_policy_limits_age() -> None:
    undated = decide(record(tier=1), AGED, LIBRARY, today=TODAY)
    assert (
        "metrics/mean-return state no fetch date (provenance.fetched_at), so the policy's "
        "180-day limit on evidence's age could not be checked for them" in undated.notes
    )
    dated = decide(record(tier=1, edit=_fetched("2026-10-01T08:30:00Z")), AGED, LIBRARY,
                   today=TODAY)  # fmt: skip
    assert not any("no fetch date" in n for n in dated.notes)


def test_evidence_or_answers_dated_after_the_decision_block() -> None:
    late = decide(record(tier=1, edit=_fetched("2026-11-02T08:00:00Z")), AGED, LIBRARY,
                  today=TODAY)  # fmt: skip
    assert late.verdict is Verdict.REJECT
    assert late.blockers == [
        "evidence metrics/mean-return was fetched on 2026-11-02, after the decision date "
        "2026-11-01: dates out of order"
    ]
    # the minimal record's answers are dated 2026-10-01
    early = decide(record(tier=1), AGED, LIBRARY, today=dt.date(2026, 9, 30))
    assert early.verdict is Verdict.REJECT
    assert all(b.endswith("after the decision date 2026-09-30: dates out of order")
               for b in early.blockers)  # fmt: skip


def test_gates_follow_domain_and_stage_filters() -> None:
    scoped = policy(
        """
gates:
  - {id: clinical, evidence: "metrics/*", comparator: ">=", threshold: 99, domains: [healthcare]}
  - {id: at-full, evidence: "metrics/*", comparator: ">=", threshold: 99, stages: ["full"]}
"""
    )
    shadow = decide(record(edit=_stages("Stage 1")), scoped, LIBRARY, today=TODAY)
    assert shadow.gates == [] and shadow.verdict is not Verdict.REJECT
    assert not any("matched no evidence" in n for n in shadow.notes)  # not applicable
    full = decide(record(edit=_stages("Stage 2")), scoped, LIBRARY, today=TODAY)
    assert [g.gate for g in full.gates] == ["at-full"] and full.verdict is Verdict.REJECT
