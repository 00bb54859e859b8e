"""The shipped policies: each parses, and each domain policy rejects for its own reason."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from govrl.record import AssessmentRecord
from govrl.record.files import parse_record
from govrl.review.checklist import ChecklistLibrary
from govrl.review.gate import Decision, Verdict, decide
from govrl.review.policy import load_policy, shipped_policies, shipped_policy
from govrl.yamlio import load
from tests.support.paths import EXAMPLES
from tests.support.records import answer_everything, record_data

LIBRARY = ChecklistLibrary.discover()
TODAY = dt.date(2026, 11, 1)
FRESH = dt.date(2026, 7, 1)  # just after the examples' evidence was fetched
DOMAIN_POLICIES = ["healthcare", "autonomous-systems", "energy", "recommenders", "finance"]


def blocking_rules(decision: Decision) -> set[str]:
    return {b.rsplit(" [", 1)[1].rstrip("]") for b in decision.blockers if b.endswith("]")}


@pytest.mark.parametrize("name", ["default", *DOMAIN_POLICIES])
def test_every_shipped_policy_parses(name: str) -> None:
    policy = load_policy(shipped_policy(name))
    assert policy.id == name
    default = load_policy()
    # each domain policy keeps the default's generic gates and requirements
    assert {g.id for g in default.gates} <= {g.id for g in policy.gates}
    assert {r.id for r in default.requirements} <= {r.id for r in policy.requirements}
    assert policy.max_evidence_age_days is not None


def test_the_shipped_set_is_complete() -> None:
    assert set(shipped_policies()) == {"default", *DOMAIN_POLICIES}


def _record(domain: str, tier: int, edit: Any) -> AssessmentRecord:
    data = record_data(tier, direction="higher-is-better")
    data["system"]["domain"] = domain
    answer_everything(data, tier)
    edit(data)
    return AssessmentRecord.model_validate(data)


def test_healthcare_rejects_the_sepsis_advisor_on_clinical_evidence() -> None:
    sepsis = parse_record(load(EXAMPLES / "sepsis-offline-rl.yaml"))
    decision = decide(sepsis, load_policy(shipped_policy("healthcare")), LIBRARY, today=FRESH)
    assert decision.verdict is Verdict.REJECT
    rules = blocking_rules(decision)
    assert {
        "clinical-ope-difference-vs-clinicians",  # DR lower bound below the clinicians' value
        "clinical-ope-relative-ess",
        "clinical-subgroup-effective-n",  # ESS 2.4 in advanced CKD
    } <= rules
    assert any("off_policy/dr-internal: ci_low 7.52 misses >= 7.68" in b for b in decision.blockers)


def test_autonomous_systems_rejects_a_collision_rate_above_its_limit() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["evaluation"]["metrics"].append(
            {
                "id": "collision-rate",
                "name": "Collisions per episode",
                "direction": "lower-is-better",
                "value": 0.002,
                "ci_low": 0.001,
                "ci_high": 0.004,
                "ci_level": 0.95,
            }
        )

    decision = decide(
        _record("autonomous-systems", 2, edit),
        load_policy(shipped_policy("autonomous-systems")),
        LIBRARY,
        today=TODAY,
    )
    assert decision.verdict is Verdict.REJECT
    assert blocking_rules(decision) == {"collision-rate", "safety-violation-rate"}
    assert "metrics/collision-rate: ci_high 0.004 misses <= 0.001 [collision-rate]" in (
        decision.blockers
    )


def test_energy_rejects_a_grid_controller_without_hard_limit_evidence() -> None:
    data = copy.deepcopy(load(EXAMPLES / "grid-frequency-control.yaml").data)
    data["evaluation"]["metrics"] = [
        m for m in data["evaluation"]["metrics"] if "violation" not in m["id"]
    ]
    policy = load_policy(shipped_policy("energy"))
    decision = decide(AssessmentRecord.model_validate(data), policy, LIBRARY, today=FRESH)
    assert decision.verdict is Verdict.REJECT
    # the hazard log's verification of the shield cites the deleted metric too
    assert blocking_rules(decision) == {
        "hard-limit-evidence",
        "hard-limit-violations",
        "hazard-log",
    }
    full = decide(
        parse_record(load(EXAMPLES / "grid-frequency-control.yaml")), policy, LIBRARY, today=FRESH
    )
    assert full.verdict is Verdict.APPROVE_WITH_CONDITIONS, full.blockers
    # shadow mode at tier 3: fewer signers, longer validity (the policy's stage rule)
    assert full.required_roles == ["owner", "independent-validator"]
    assert full.valid_until == FRESH + dt.timedelta(days=180)


def _logged(value: float, ci_low: float, ess: float) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["model"]["family"] = "offline"
        data["model"]["behaviour_policy"] = {"description": "logged", "propensities": "logged"}
        data["model"]["datasets"] = [{"name": "logs", "version": "1", "role": "training"}]
        data["evaluation"]["off_policy"] = [
            {
                "id": f"{estimator.lower()}-sessions",
                "estimator": estimator,
                "target": "clicks that lead to reading",
                "value": value,
                "ci_low": ci_low,
                "ci_high": value + 0.1,
                "ci_level": 0.95,
                "behaviour_value": 0.5,
                "ess": ess,
                "episodes": 10_000,
            }
            for estimator in ("WIS", "DR")
        ]

    return edit


def test_recommenders_rejects_a_ranker_not_shown_better_than_the_incumbent() -> None:
    policy = load_policy(shipped_policy("recommenders"))
    worse = decide(_record("recommender", 2, _logged(0.52, 0.45, 2000.0)), policy, LIBRARY,
                   today=TODAY)  # fmt: skip
    assert worse.verdict is Verdict.REJECT
    assert blocking_rules(worse) == {"recommender-not-worse-than-incumbent"}
    better = decide(_record("recommender", 2, _logged(0.6, 0.55, 2000.0)), policy, LIBRARY,
                    today=TODAY)  # fmt: skip
    assert better.verdict is not Verdict.REJECT, better.blockers


def test_finance_rejects_thin_protected_groups() -> None:
    def edit(data: dict[str, Any]) -> None:
        data["intended_use"]["sensitive_attributes"] = ["age band"]
        data["evaluation"]["subgroups"] = [
            {
                "attribute": "age band",
                "group": group,
                "metric": "approval rate",
                "value": 0.4,
                "ci_low": 0.3,
                "ci_high": 0.5,
                "ci_level": 0.95,
                "n": 900,
                "ess": ess,
            }
            for group, ess in (("18-24", 40.0), ("25-64", 800.0))
        ]
        data["evaluation"]["stress_tests"] = [
            {
                "id": f"recession-{n}",
                "kind": "distribution-shift",
                "scenario": f"recession scenario {n}",
                "metric": "default rate",
                "value": 0.05,
                "ci_low": 0.04,
                "ci_high": 0.06,
                "ci_level": 0.95,
            }
            for n in (1, 2)
        ]

    decision = decide(
        _record("finance", 2, edit), load_policy(shipped_policy("finance")), LIBRARY, today=TODAY
    )
    assert decision.verdict is Verdict.REJECT
    assert blocking_rules(decision) == {"finance-subgroup-effective-n"}
    assert "effective_n 40 misses >= 100" in decision.blockers[0]
