"""`govrl status`: honest coverage, conditions with their owners, how far from valid."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from govrl.cli import main
from govrl.record.files import dump_yaml, parse_record
from govrl.review.checklist import ChecklistLibrary
from govrl.review.policy import load_policy
from govrl.review.status import status
from govrl.vocabulary import Answer, Framework
from govrl.yamlio import load
from tests.support.paths import EXAMPLES
from tests.support.records import record_data

LIBRARY = ChecklistLibrary.discover()
GRID = EXAMPLES / "grid-frequency-control.yaml"
GRID_POLICY = EXAMPLES / "policies" / "grid.yaml"
FRESH = dt.date(2026, 7, 1)


def test_coverage_only_for_frameworks_that_apply() -> None:
    record = parse_record(load(GRID))
    report = status(record, load_policy(GRID_POLICY), LIBRARY, today=FRESH)
    declared = {Framework.EU_AI_ACT, Framework.NIST_AI_RMF, Framework.ISO_42001}
    declared.add(Framework.REWARD_REPORTS)
    assert report.frameworks_from == "record"
    assert {c.framework for c in report.coverage} <= declared
    assert Framework.FDA_GMLP not in {c.framework for c in report.coverage}  # an EU grid
    record.system.regulatory.frameworks = None
    none = status(record, load_policy(GRID_POLICY), LIBRARY, today=FRESH)
    assert none.frameworks_from is None and none.coverage == []


def test_not_applicable_items_are_counted_apart_from_addressed_ones() -> None:
    record = parse_record(load(GRID))
    report = status(record, load_policy(GRID_POLICY), LIBRARY, today=FRESH)
    na = {
        (s.checklist, s.item.id)
        for s in report.decision.items
        if s.response is not None and s.response.answer is Answer.NOT_APPLICABLE
    }
    assert na, "the grid example answers some items not-applicable"
    assert sum(c.not_applicable for c in report.coverage) > 0
    for c in report.coverage:
        assert c.addressed + c.not_applicable + c.open == c.total
        if c.addressed == 0:
            assert not c.fully_addressed
    unit = report.as_dict()["coverage"][0]
    assert {"addressed", "not_applicable", "open", "fully_addressed"} <= set(unit)
    assert "covered" not in unit and "closed" not in unit


def test_status_text_says_addressed_and_shows_tracked_conditions(runner: CliRunner) -> None:
    result = runner.invoke(
        main, ["status", str(GRID), "--policy", str(GRID_POLICY), "--date", "2026-07-01"]
    )
    assert result.exit_code == 0, result.output
    assert "covered" not in result.output and "compliant" not in result.output
    assert "addressed / not applicable / open" in result.output
    assert "C-1: Dr. Anil Bhattacharya, due 2027-02-26" in result.output
    assert "Valid: no problems left" in result.output


def test_status_names_closed_conditions_and_missing_frameworks(
    tmp_path: Path, runner: CliRunner
) -> None:
    revision = EXAMPLES / "revisions" / "grid-frequency-control-1.2.0.yaml"
    result = runner.invoke(
        main, ["status", str(revision), "--policy", str(GRID_POLICY), "--date", "2026-07-01"]
    )
    assert "Tracked conditions this revision closes (3):" in result.output
    assert "C-1 (gate:soc-violations-under-sensor-bias)" in result.output
    plain = tmp_path / "record.yaml"
    plain.write_text(dump_yaml(record_data(1)))
    result = runner.invoke(main, ["status", str(plain), "--date", "2026-11-01"])
    assert "no applicable framework is declared" in result.output


def test_status_says_how_far_from_valid(tmp_path: Path, runner: CliRunner) -> None:
    unfinished = tmp_path / "record.yaml"
    data = load(GRID).data
    data["intended_use"]["setting"] = "TODO"
    data["intended_use"]["purpose"] = "TODO"
    unfinished.write_text(dump_yaml(data))
    result = runner.invoke(main, ["status", str(unfinished), "--json", "--policy", "energy"])
    validation = json.loads(result.stdout)["validation"]
    assert validation == {"valid": False, "problems": 2}
    text_out = runner.invoke(main, ["status", str(unfinished), "--policy", "energy"]).output
    assert f"Not yet valid: 2 problems left (govrl validate {unfinished})" in text_out


def test_policy_names_the_frameworks_when_the_record_does_not() -> None:
    record = parse_record(load(GRID))
    record.system.regulatory.frameworks = None
    policy = load_policy(GRID_POLICY).model_copy(update={"frameworks": [Framework.EU_AI_ACT]})
    report = status(record, policy, LIBRARY, today=FRESH)
    assert report.frameworks_from == "policy"
    assert {c.framework for c in report.coverage} == {Framework.EU_AI_ACT}
