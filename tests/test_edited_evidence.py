"""A collected value edited by hand afterwards is caught: its digest no longer matches."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import rfc8785
from click.testing import CliRunner, Result

from govrl.cli import main
from govrl.record.files import load_record

EVIDENCE = (
    "runs:\n"
    "  - id: sim-eval-7\n"
    "    experiment: shelf-ranker/eval\n"
    "    tags:\n"
    "      govrl.metric.return.name: Simulated return\n"
    "      govrl.ope.wis.target: expected return per episode\n"
    "    metrics:\n"
    "      eval/return/value: 38.25\n"
    "      eval/return/ci_low: 36.125\n"
    "      eval/return/ci_high: 39.875\n"
    "      eval/return/ci_level: 0.9\n"
    "      ope/WIS/value: 37.2\n"
    "      ope/WIS/ess: 120.5\n"
    "      ope/WIS/episodes: 400\n"
)


def govrl(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def collected(record: Path, tmp_path: Path) -> Path:
    source = tmp_path / "evidence.yaml"
    source.write_text(EVIDENCE)
    result = govrl("collect", "file", record, "--from", source)
    assert result.exit_code == 0, result.output
    return record


def evaluation(record: Path) -> dict[str, Any]:
    return load_record(record).record.evaluation.model_dump(mode="json", exclude_none=True)


def returns(record: Path) -> tuple[int, dict[str, Any]]:
    """The collected return metric and its place among the record's metrics."""
    metrics = evaluation(record)["metrics"]
    index = next(i for i, m in enumerate(metrics) if m["id"] == "return")
    return index, metrics[index]


def edit(record: Path, old: str, new: str) -> None:
    text = record.read_text()
    assert text.count(old) == 1, old
    record.write_text(text.replace(old, new))


def test_each_collected_entry_carries_the_digest_of_its_values_and_source(
    minimal_record: Path, tmp_path: Path
) -> None:
    _, ret = returns(collected(minimal_record, tmp_path))
    provenance = dict(ret["provenance"])
    # recomputed here independently: RFC 8785 JSON of the values and the provenance,
    # without the fetch time (a new fetch of the same evidence is not new evidence)
    stated = provenance.pop("value_sha256")
    provenance.pop("fetched_at")
    values = {k: ret[k] for k in ("value", "ci_low", "ci_high", "ci_level")}
    canonical = rfc8785.dumps({"evidence": values, "provenance": provenance})
    assert stated == "sha256:" + hashlib.sha256(canonical).hexdigest()
    assert govrl("validate", minimal_record).exit_code == 0


def test_a_value_edited_after_collection_fails_validate_naming_its_entry(
    minimal_record: Path, tmp_path: Path
) -> None:
    index, _ = returns(collected(minimal_record, tmp_path))
    edit(minimal_record, "ci_low: 36.125", "ci_low: 37.5")  # a tighter interval, by hand
    result = govrl("validate", minimal_record)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    output = " ".join(result.output.split())
    assert f"evaluation.metrics[{index}].value" in output
    assert "edited after collection" in output
    assert "run sim-eval-7 eval/return/value" in output

    report = govrl("validate", minimal_record, "--json")
    assert report.exit_code == 1
    problems = json.dumps(json.loads(report.output))
    assert "edited after collection" in problems


def test_an_edited_off_policy_ess_is_caught_too(minimal_record: Path, tmp_path: Path) -> None:
    collected(minimal_record, tmp_path)
    edit(minimal_record, "ess: 120.5", "ess: 390.0")
    result = govrl("validate", minimal_record)
    assert result.exit_code == 1, result.output
    assert "evaluation.off_policy[" in result.output
    assert "edited after collection" in " ".join(result.output.split())


def test_an_edited_source_breaks_the_binding_as_an_edited_value_does(
    minimal_record: Path, tmp_path: Path
) -> None:
    """Moving a value onto another run's provenance is an edit as much as changing it."""
    collected(minimal_record, tmp_path)
    edit(minimal_record, "metric_key: eval/return/value", "metric_key: eval/return/best")
    result = govrl("validate", minimal_record)
    assert result.exit_code == 1, result.output
    assert "edited after collection" in " ".join(result.output.split())


def test_status_reports_the_edit_and_fails(minimal_record: Path, tmp_path: Path) -> None:
    collected(minimal_record, tmp_path)
    edit(minimal_record, "value: 38.25", "value: 39.5")
    result = govrl("status", minimal_record)
    assert result.exit_code == 1, result.output
    assert "edited after collection" in " ".join(result.output.split())


def test_an_edit_declared_by_removing_the_digest_is_accepted_and_recollection_restores_it(
    minimal_record: Path, tmp_path: Path
) -> None:
    collected(minimal_record, tmp_path)
    _, before = returns(minimal_record)
    digest = before["provenance"]["value_sha256"]
    edit(minimal_record, "value: 38.25", "value: 39.5")
    edit(minimal_record, f"value_sha256: {digest}", "note: value corrected by J. Doe, see #12")
    assert govrl("validate", minimal_record).exit_code == 0
    again = govrl("collect", "file", minimal_record, "--from", tmp_path / "evidence.yaml")
    assert again.exit_code == 0, again.output
    _, after = returns(minimal_record)
    assert after["value"] == 38.25
    assert after["provenance"]["value_sha256"] == digest
    assert govrl("validate", minimal_record).exit_code == 0


def test_recollecting_unchanged_evidence_keeps_the_digest_and_the_bytes(
    minimal_record: Path, tmp_path: Path
) -> None:
    collected(minimal_record, tmp_path)
    first = minimal_record.read_bytes()
    again = govrl("collect", "file", minimal_record, "--from", tmp_path / "evidence.yaml")
    assert again.exit_code == 0, again.output
    assert minimal_record.read_bytes() == first
