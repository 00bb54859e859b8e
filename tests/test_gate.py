"""The gate: judged on confidence bounds, missing evidence fails, blockers depend on tier."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from govrl.cli import main
from govrl.errors import InputError
from govrl.record import AssessmentRecord
from govrl.record.evaluation import OffPolicyEstimate
from govrl.record.files import dump_yaml, parse_record
from govrl.review.checklist import ChecklistLibrary
from govrl.review.gate import Decision, Status, Verdict, apply_gates, decide
from govrl.review.policy import load_policy
from govrl.vocabulary import Answer, Estimator
from govrl.yamlio import load, loads
from tests.support.paths import DATA, EXAMPLES
from tests.support.records import record_data

LIBRARY = ChecklistLibrary.discover()
POLICY = load_policy(DATA / "policy-test.yaml")
TODAY = dt.date(2026, 11, 1)


def record(tier: int = 1, **changes: Any) -> AssessmentRecord:
    return AssessmentRecord.model_validate(record_data(tier, **changes))


def test_clean_record_approves() -> None:
    decision = decide(record(), POLICY, LIBRARY, today=TODAY)
    assert decision.verdict is Verdict.APPROVE, decision.blockers + decision.conditions
    (result,) = decision.gates
    assert result.status is Status.PASS and result.bound == "ci_low" and result.observed == 39.8
    assert decision.required_roles == ["owner"]
    assert decision.valid_until == TODAY + dt.timedelta(days=365)


def test_point_above_threshold_with_lower_bound_below_rejects() -> None:
    decision = decide(record(value=41.0, ci_low=38.5, ci_high=43.0), POLICY, LIBRARY, today=TODAY)
    assert decision.verdict is Verdict.REJECT
    (result,) = decision.gates
    assert result.status is Status.FAIL
    assert result.observed == 38.5 and result.margin == pytest.approx(-0.5)
    assert "ci_low 38.5 misses >= 39" in decision.blockers[0]


def test_point_without_interval_is_insufficient() -> None:
    decision = decide(
        record(ci_low=None, ci_high=None, ci_level=None), POLICY, LIBRARY, today=TODAY
    )
    assert decision.verdict is Verdict.REJECT
    assert decision.gates[0].status is Status.INSUFFICIENT
    assert "has no ci_low" in decision.blockers[0]


def test_missing_metric_rejects_as_insufficient_evidence() -> None:
    rec = record()
    rec.evaluation.metrics = []
    decision = decide(rec, POLICY, LIBRARY, today=TODAY)
    assert decision.verdict is Verdict.REJECT
    (result,) = decision.gates
    assert result.status is Status.INSUFFICIENT
    assert "matching 'metrics/mean-return', found 0" in result.reason


def test_lower_is_better_is_judged_on_the_upper_bound() -> None:
    policy = POLICY.model_copy(deep=True)
    policy.gates[0].comparator = policy.gates[0].comparator.__class__("<=")
    policy.gates[0].threshold = 42.0
    decision = decide(record(), policy, LIBRARY, today=TODAY)  # ci_high 42.5 > 42
    assert decision.gates[0].status is Status.FAIL and decision.gates[0].bound == "ci_high"


def _with_open_item(tier: int, item_id: str = "GEN-IU-01") -> AssessmentRecord:
    rec = record(tier=tier)
    general = next(c for c in rec.checklists if c.id == "general-rl")
    general.items[item_id] = general.items[item_id].model_copy(update={"answer": Answer.NO})
    return AssessmentRecord.model_validate(rec.model_dump())


def test_open_blocker_rejects_at_tier_3() -> None:
    decision = decide(_with_open_item(3), POLICY, LIBRARY, today=TODAY)
    assert decision.verdict is Verdict.REJECT
    assert decision.blockers == ["general-rl GEN-IU-01 (blocker): answered no"]
    assert decision.required_roles == [
        "owner",
        "domain-expert",
        "ethics-fairness",
        "independent-validator",
    ]


def test_same_open_item_does_not_block_at_tier_1() -> None:
    decision = decide(_with_open_item(1), POLICY, LIBRARY, today=TODAY)
    assert decision.verdict is Verdict.APPROVE_WITH_CONDITIONS
    assert decision.blockers == []
    assert decision.conditions == ["general-rl GEN-IU-01 (blocker): answered no"]


def test_yes_without_evidence_stays_open() -> None:
    rec = record(tier=3)
    general = next(c for c in rec.checklists if c.id == "general-rl")
    general.items["GEN-IU-01"] = general.items["GEN-IU-01"].model_copy(update={"evidence": []})
    decision = decide(
        AssessmentRecord.model_validate(rec.model_dump()), POLICY, LIBRARY, today=TODAY
    )
    assert "general-rl GEN-IU-01 (blocker): answered yes without evidence" in decision.blockers


def test_unattached_domain_checklist_blocks() -> None:
    rec = record()
    rec.checklists = [c for c in rec.checklists if c.id != "recommender"]
    decision = decide(rec, POLICY, LIBRARY, today=TODAY)
    assert "checklist recommender applies to this domain but is not attached" in decision.blockers


def test_default_policy_requires_ood_detection_at_tier_3() -> None:
    rec = record(tier=3)
    rec.evaluation.ood_detection = None
    decision = decide(rec, load_policy(), LIBRARY, today=TODAY)
    assert decision.verdict is Verdict.REJECT
    assert any("matching 'ood', found 0" in b for b in decision.blockers)


def test_cli_gate_exit_codes_and_json(tmp_path: Path, runner: CliRunner) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(dump_yaml(record().model_dump(mode="json", exclude_none=True)))
    bad.write_text(dump_yaml(record(ci_low=38.5).model_dump(mode="json", exclude_none=True)))
    ok = runner.invoke(main, ["gate", str(good), "--policy", str(DATA / "policy-test.yaml")])
    assert ok.exit_code == 0, ok.output
    assert "APPROVE (tier 1, policy test-policy@1)" in ok.stdout
    rejected = runner.invoke(
        main, ["gate", str(bad), "--policy", str(DATA / "policy-test.yaml"), "--json"]
    )
    assert rejected.exit_code == 1
    data = json.loads(rejected.stdout)
    assert data["verdict"] == "reject"
    assert data["gates"][0]["status"] == "fail" and data["gates"][0]["observed"] == 38.5


BAD_POLICIES = {
    "unknown comparator": (
        "gates:\n  - {id: g, evidence: x, comparator: '=>', threshold: 1}\n",
        "gates[0].comparator",
    ),
    "missing tier": ("tiers:\n  1: {signers: [owner], validity_days: 1}\n", "tiers"),
    "threshold word": (
        "gates:\n  - {id: g, evidence: x, comparator: '>=', threshold: lots}\n",
        "gates[0].threshold",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_POLICIES))
def test_bad_policy_files_are_located(tmp_path: Path, runner: CliRunner, name: str) -> None:
    body, path = BAD_POLICIES[name]
    base = loads((DATA / "policy-test.yaml").read_text()).data
    base.update(loads(body).data)
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(dump_yaml(base))
    with pytest.raises(InputError) as caught:
        load_policy(policy_file)
    first = caught.value.problems[0]
    assert first.file == str(policy_file) and first.path == path and first.line
    good = tmp_path / "r.yaml"
    good.write_text(dump_yaml(record().model_dump(mode="json", exclude_none=True)))
    result = runner.invoke(main, ["gate", str(good), "--policy", str(policy_file)])
    assert result.exit_code == 1 and f"{policy_file}:{first.line} {path}:" in result.stderr


def test_effective_sample_size_gate_skips_estimators_without_weights() -> None:
    rec = record(tier=3)
    common = {"target": "return", "value": 42.0, "ci_low": 41.0, "ci_high": 43.0, "ci_level": 0.95}
    rec.evaluation.off_policy = [
        OffPolicyEstimate(id="fqe", estimator=Estimator.FQE, **common),
        OffPolicyEstimate(id="wis", estimator=Estimator.WIS, ess=12.0, **common),
    ]
    results = [g for g in apply_gates(rec, load_policy()) if g.gate == "ope-effective-sample-size"]
    assert [(r.evidence, r.status) for r in results] == [("off_policy/wis", Status.FAIL)]


def test_open_item_reason_carries_its_notes() -> None:
    rec = _with_open_item(3)
    general = next(c for c in rec.checklists if c.id == "general-rl")
    general.items["GEN-IU-01"] = general.items["GEN-IU-01"].model_copy(
        update={"notes": "Misuse cases still being collected."}
    )
    decision = decide(rec, POLICY, LIBRARY, today=TODAY)
    assert decision.blockers == [
        "general-rl GEN-IU-01 (blocker): answered no: Misuse cases still being collected."
    ]


SEPSIS = EXAMPLES / "sepsis-offline-rl.yaml"
SEPSIS_POLICY = load_policy(EXAMPLES / "policies" / "sepsis.yaml")


def _sepsis_with_open_items_closed(*, drop: tuple[str, ...] = ()) -> AssessmentRecord:
    data = copy.deepcopy(load(SEPSIS).data)
    for section in drop:
        data["evaluation"][section] = []
    for checklist in data["checklists"]:
        for response in checklist["items"].values():
            if response["answer"] in ("no", "partial"):
                response["answer"] = "yes"
                response.setdefault("evidence", ["docs/closed.md"])
    return AssessmentRecord.model_validate(data)


def _sources(decision: Decision) -> list[str]:
    return [b.rsplit(" [", 1)[1].rstrip("]") if b.endswith("]") else b.split(" (")[0]
            for b in decision.blockers]  # fmt: skip


def test_sepsis_example_rejects_for_the_right_reasons() -> None:
    decision = decide(parse_record(load(SEPSIS)), SEPSIS_POLICY, LIBRARY, today=TODAY)
    assert decision.verdict is Verdict.REJECT
    assert _sources(decision) == [
        "stress-test-per-failure-mode",  # coarse-time-step: no stress test probes it
        "stress-test-per-failure-mode",  # shaping-on-treated-signals
        "monitoring-per-oversight-metric",  # cumulative_fluid_balance_72h is not monitored
        "monitoring-per-oversight-metric",  # high_dose_vasopressor_exposure
        "monitoring-per-oversight-metric",  # new_renal_replacement_therapy
        "general-rl GEN-EV-03",  # not better than clinicians on the DR lower bound
        "general-rl GEN-FA-02",  # thin subgroups
        "healthcare HC-06",  # DECIDE-AI report not complete
    ]
    assert "'coarse-time-step'" in decision.blockers[0]
    assert "'new_renal_replacement_therapy'" in decision.blockers[4]
    # the subgroup with ESS 2.4 no longer passes a sample-size gate on its 311 rows
    ckd = next(g for g in decision.gates if g.gate == "subgroup-sample-size"
               and g.evidence.startswith("subgroups/chronic kidney disease"))  # fmt: skip
    assert ckd.status is Status.FAIL and ckd.bound == "effective_n" and ckd.observed == 2.4
    assert any(g.gate == "ope-relative-ess" and g.status is Status.FAIL for g in decision.gates)


def test_leaving_out_unfavourable_evidence_never_approves() -> None:
    kept = decide(_sepsis_with_open_items_closed(), SEPSIS_POLICY, LIBRARY, today=TODAY)
    omitted = decide(
        _sepsis_with_open_items_closed(drop=("off_policy", "subgroups")),
        SEPSIS_POLICY,
        LIBRARY,
        today=TODAY,
    )
    order = [Verdict.APPROVE, Verdict.APPROVE_WITH_CONDITIONS, Verdict.REJECT]
    assert omitted.verdict is not Verdict.APPROVE
    assert order.index(omitted.verdict) >= order.index(kept.verdict)
    assert omitted.verdict is Verdict.REJECT
    missing = set(_sources(omitted)) - set(_sources(kept))
    assert missing == {
        "ope-importance-sampling",
        "ope-model-based",
        "subgroup-results",
        "subgroups-per-sensitive-attribute",
        # the hazard log cites the deleted estimates as its verification
        "hazard-log",
    }
    unverified = [b for b in omitted.blockers if b.endswith("[hazard-log]")]
    cited = [b.split()[5].rstrip(",") for b in unverified]
    assert cited == ["off_policy/dr-internal", "off_policy/dr-external"]
    per_attribute = [b for b in omitted.blockers if "sensitive attribute" in b]
    assert [b.split("'")[1] for b in per_attribute] == ["sex", "age band", "self-reported race"]


def test_default_policy_requires_a_performance_metric_with_interval_at_tier_3() -> None:
    rec = record(tier=3, ci_low=None, ci_high=None, ci_level=None)
    decision = decide(rec, load_policy(), LIBRARY, today=TODAY)
    assert decision.verdict is Verdict.REJECT
    assert any(
        "matching 'metrics/*' with a confidence interval, found 0 [performance-with-interval]" in b
        for b in decision.blockers
    )
    rec.evaluation.metrics = []
    assert decide(rec, load_policy(), LIBRARY, today=TODAY).verdict is Verdict.REJECT


def test_requirement_below_tier_3_follows_on_missing() -> None:
    data = record_data(2)
    data["model"]["family"] = "offline"
    data["model"]["behaviour_policy"] = {"description": "logged", "propensities": "logged"}
    data["model"]["datasets"] = [{"name": "sessions", "version": "1", "role": "training"}]
    decision = decide(AssessmentRecord.model_validate(data), load_policy(), LIBRARY, today=TODAY)
    assert decision.verdict is Verdict.APPROVE_WITH_CONDITIONS, decision.blockers
    assert [c.rsplit(" [", 1)[1] for c in decision.conditions] == [
        "ope-importance-sampling]",
        "ope-model-based]",
    ]


def test_gate_that_matched_nothing_says_so() -> None:
    decision = decide(record(tier=3), load_policy(), LIBRARY, today=TODAY)
    assert (
        "gate ope-beats-behaviour matched no evidence for 'off_policy/*'; nothing was judged"
        in decision.notes
    )
    assert "requirements" in decision.as_dict()


def test_gate_against_the_metrics_direction_is_noted() -> None:
    decision = decide(record(direction="lower-is-better"), POLICY, LIBRARY, today=TODAY)
    assert decision.gates[0].bound == "ci_low"
    assert decision.notes == [
        "gate return-floor asks metrics/mean-return for >= 39, but the metric is "
        "lower-is-better: check which is meant"
    ]
    assert decide(record(), POLICY, LIBRARY, today=TODAY).notes == []
