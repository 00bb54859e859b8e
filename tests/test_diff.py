"""`govrl diff`: what changed between two revisions, and whether approvals lapse."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from govrl.cli import main
from govrl.record.files import dump_yaml
from tests.support.paths import DATA, EXAMPLES
from tests.support.records import record_data

POLICY = str(DATA / "policy-test.yaml")


def _write(path: Path, data: dict) -> Path:  # type: ignore[type-arg]
    path.write_text(dump_yaml(data))
    return path


def _revisions(tmp_path: Path) -> tuple[Path, Path]:
    old = record_data(tier=1)
    new = record_data(tier=1)
    new["system"]["version"] = "0.4.0"
    new["changelog"].append(
        {"version": "0.4.0", "date": "2026-10-01", "author": "Ada Byron", "summary": "Retrained."}
    )
    new["evaluation"]["metrics"][0].update(value=38.0, ci_low=36.1)
    general = next(c for c in new["checklists"] if c["id"] == "general-rl")
    first = next(iter(general["items"]))
    general["items"][first]["answer"] = "partial"
    return _write(tmp_path / "old.yaml", old), _write(tmp_path / "new.yaml", new)


def test_diff_reports_fields_metrics_answers_gates_and_lapse(
    tmp_path: Path, runner: CliRunner
) -> None:
    old, new = _revisions(tmp_path)
    result = runner.invoke(main, ["diff", str(old), str(new), "--policy", POLICY, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["approval_lapses"] is True
    assert data["old"]["verdict"] == "approve" and data["new"]["verdict"] == "reject"
    paths = {c["path"]: (c["old"], c["new"]) for c in data["changes"]}
    assert paths["system.version"] == ("0.3.0", "0.4.0")
    assert paths["evaluation.metrics[id=mean-return].ci_low"] == (39.8, 36.1)
    assert "changelog[version=0.4.0]" in paths
    (move,) = data["metrics"]
    assert move["key"] == "metrics/mean-return"
    assert move["old"]["ci_low"] == 39.8 and move["new"]["ci_low"] == 36.1
    assert data["gates"] == [
        {"gate": "return-floor", "evidence": "metrics/mean-return", "old": "pass", "new": "fail"}
    ]
    (answer,) = data["answers"]
    assert answer["checklist"] == "general-rl" and (answer["old"], answer["new"]) == (
        "yes",
        "partial",
    )


def test_identical_revisions_do_not_lapse(tmp_path: Path, runner: CliRunner) -> None:
    old, _ = _revisions(tmp_path)
    copy = tmp_path / "copy.yaml"
    copy.write_text("# same record, other comments\n" + old.read_text())
    result = runner.invoke(main, ["diff", str(old), str(copy), "--policy", POLICY])
    assert result.exit_code == 0
    assert "approvals of the old revision still apply" in result.stdout
    assert "Fields (0):" in result.stdout


def test_markdown_for_a_review_comment(tmp_path: Path, runner: CliRunner) -> None:
    old, new = _revisions(tmp_path)
    result = runner.invoke(main, ["diff", str(old), str(new), "--policy", POLICY, "--format", "md"])
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith("## govrl diff: `old.yaml` → `new.yaml`")
    assert "### Approval" in text and "do not cover" in text
    assert "- metrics/mean-return: 41.2 [39.8, 42.5] → 38 [36.1, 42.5]" in text
    assert "- return-floor on metrics/mean-return: pass → fail" in text


def test_hostile_text_cannot_break_the_markdown(tmp_path: Path, runner: CliRunner) -> None:
    old, new = _revisions(tmp_path)
    data = record_data(tier=1)
    data["system"]["description"] = "</details><script>alert(1)</script> | `x`"
    hostile = _write(tmp_path / "hostile.yaml", data)
    result = runner.invoke(main, ["diff", str(old), str(hostile), "--format", "md"])
    assert result.exit_code == 0
    assert "<script>" not in result.stdout and "&lt;script&gt;" in result.stdout
    assert "\\|" in result.stdout


def test_bad_revision_is_a_located_error(tmp_path: Path, runner: CliRunner) -> None:
    old, _ = _revisions(tmp_path)
    result = runner.invoke(main, ["diff", str(old), str(DATA / "invalid-ci-order.yaml")])
    assert result.exit_code == 1
    assert "invalid-ci-order.yaml:44 evaluation.metrics[0].ci_low" in result.stderr


def test_example_revisions_show_the_approval_lapsing(runner: CliRunner) -> None:
    old = EXAMPLES / "grid-frequency-control.yaml"
    new = EXAMPLES / "revisions" / "grid-frequency-control-1.2.0.yaml"
    policy = EXAMPLES / "policies" / "grid.yaml"
    result = runner.invoke(main, ["diff", str(old), str(new), "--policy", str(policy), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["approval_lapses"] is True
    assert {"gate": "soc-violations-under-sensor-bias", "evidence": "stress/soc-sensor-bias",
            "old": "fail", "new": "pass"} in data["gates"]  # fmt: skip
    moved = {m["key"]: (m["old"]["value"], m["new"]["value"]) for m in data["metrics"]}
    assert moved["metrics/freq-rms"] == (38.4, 41.7)
    assert {"checklist": "general-rl", "item": "GEN-RW-03", "old": "partial", "new": "yes"} in data[
        "answers"
    ]


def test_diff_lists_the_conditions_a_revision_closes_and_opens(runner: CliRunner) -> None:
    old = EXAMPLES / "grid-frequency-control.yaml"
    new = EXAMPLES / "revisions" / "grid-frequency-control-1.2.0.yaml"
    grid = str(EXAMPLES / "policies" / "grid.yaml")
    args = ["diff", str(old), str(new), "--policy", grid, "--date", "2026-07-01"]
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    closed = [(c["source"], c["id"]) for c in data["conditions_closed"]]
    assert closed == [
        ("gate:soc-violations-under-sensor-bias", "C-1"),
        ("item:general-rl/GEN-RW-03", "C-3"),
    ]
    assert data["conditions_opened"] == []
    back = runner.invoke(
        main, ["diff", str(new), str(old), "--policy", grid, "--date", "2026-07-01"]
    )
    assert "Conditions opened (2):" in back.output
    assert "gate:soc-violations-under-sensor-bias (C-1, Dr. Anil Bhattacharya)" in back.output
