"""Conditions as tracked items: owner, due date, what closes them, and which are closed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from govrl.record import AssessmentRecord
from govrl.record.files import parse_record
from govrl.review.checklist import ChecklistLibrary
from govrl.review.gate import Verdict, decide
from govrl.review.policy import load_policy, parse_policy
from govrl.yamlio import load
from tests.support.paths import EXAMPLES
from tests.support.records import record_data

LIBRARY = ChecklistLibrary.discover()
GRID = parse_record(load(EXAMPLES / "grid-frequency-control.yaml"))
GRID_POLICY = load_policy(EXAMPLES / "policies" / "grid.yaml")
FRESH = dt.date(2026, 7, 1)  # after the 1.2.0 revision, within 180 days of the grid evidence


def test_grid_conditions_carry_their_tracking_and_full_text() -> None:
    decision = decide(GRID, GRID_POLICY, LIBRARY, today=FRESH)
    assert decision.verdict is Verdict.APPROVE_WITH_CONDITIONS
    tracked = [(c.source, c.tracked.id if c.tracked else None) for c in decision.condition_items]
    assert tracked == [
        ("gate:subgroup-sample-size", "C-2"),
        ("gate:soc-violations-under-sensor-bias", "C-1"),
        ("item:general-rl/GEN-RW-03", "C-3"),
        ("item:general-rl/GEN-IX-02", "C-4"),
        ("item:general-rl/GEN-HO-02", "C-5"),
    ]
    assert not any(c.overdue for c in decision.condition_items)
    # the evidence is fresh on this date, so the stale-evidence condition C-6 is closed
    assert [c.id for c in decision.closed_conditions] == ["C-6"]
    assert not any("has no owner or due date" in n for n in decision.notes)
    rw03 = decision.condition_items[2]
    assert len(rw03.text) > 160 and not rw03.text.endswith("...")
    assert rw03.text.endswith("which is a stage 1 exit criterion.")
    assert decision.conditions[2].endswith("...")  # the one-line form stays short
    as_dict = decision.as_dict()["condition_items"][1]
    assert as_dict["owner"] == "Dr. Anil Bhattacharya" and as_dict["due"] == "2027-02-26"
    assert as_dict["closed_by"].startswith("stress test soc-sensor-bias passing")
    assert as_dict["overdue"] is False


def test_conditions_past_their_due_date_are_overdue() -> None:
    decision = decide(GRID, GRID_POLICY, LIBRARY, today=dt.date(2027, 3, 1))
    overdue = [c.tracked.id for c in decision.condition_items if c.overdue and c.tracked]
    assert overdue == ["C-2", "C-1", "C-3", "C-4", "C-5", "C-6"]  # the evidence is stale too
    (stale,) = [c.text for c in decision.condition_items if c.source == "evidence:stale"]
    assert stale == (
        "evidence older than the policy's 180 days at the decision date 2027-03-01: 33 pieces "
        "(10 metrics, 8 stress, 14 subgroups, 1 ood) fetched on 2026-04-24, 311 days before. "
        "Collect it again"
    )
    assert "condition C-1 (gate:soc-violations-under-sensor-bias) was due on 2027-02-26 " \
        "and is still open" in decision.notes  # fmt: skip


def test_a_tracked_condition_nothing_raises_any_more_is_closed() -> None:
    revision = parse_record(load(EXAMPLES / "revisions" / "grid-frequency-control-1.2.0.yaml"))
    decision = decide(revision, GRID_POLICY, LIBRARY, today=FRESH)
    assert [c.id for c in decision.closed_conditions] == ["C-1", "C-3", "C-6"]
    assert decision.as_dict()["closed_conditions"][0]["raised_by"] == (
        "gate:soc-violations-under-sensor-bias"
    )


def _tier3(conditions: list[dict[str, Any]]) -> AssessmentRecord:
    data = record_data(3, direction="higher-is-better")
    data["evaluation"]["metrics"][0]["provenance"] = {
        "source": "mlflow",
        "fetched_at": "2026-01-05T10:00:00Z",
    }
    data["conditions"] = conditions
    return AssessmentRecord.model_validate(data)


AGED = parse_policy(
    'id: aged\nversion: "1"\ndescription: stale evidence only\nmax_evidence_age_days: 30\n'
    "tiers:\n"
    "  1: {signers: [owner], validity_days: 365}\n"
    "  2: {signers: [owner], validity_days: 365}\n"
    "  3: {signers: [owner], validity_days: 90}\n"
)


def test_untracked_condition_at_tier_3_is_noted_and_a_glob_tracks_it() -> None:
    untracked = decide(_tier3([]), AGED, LIBRARY, today=dt.date(2026, 11, 1))
    assert untracked.condition_items[0].tracked is None
    assert untracked.condition_items[0].source == "evidence:stale"
    assert (
        "condition from evidence:stale has no owner or due date: add it to the record's "
        "conditions" in untracked.notes
    )
    entry = {
        "id": "C-9",
        "raised_by": "evidence:st*",
        "description": "Fetch the evaluation again.",
        "owner": "Ada Byron",
        "due": "2026-12-01",
        "closed_by": "a fresh collect run",
    }
    tracked = decide(_tier3([entry]), AGED, LIBRARY, today=dt.date(2026, 11, 1))
    item = tracked.condition_items[0]
    assert item.tracked is not None and item.tracked.id == "C-9" and not item.overdue
    assert not any("no owner or due date" in n for n in tracked.notes)
