"""`govrl validate`: good records pass, each named bad input fails with a located message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from govrl.cli import main
from tests.support.paths import DATA, EXAMPLES

EXAMPLE_FILES = sorted([*EXAMPLES.glob("*.yaml"), *EXAMPLES.glob("revisions/*.yaml")])

# file stem -> (line, field path or None, words the message must contain)
INVALID = {
    "wrong-type": (9, "system.risk_tier", "1, 2 or 3"),
    "unknown-key": (9, "system.colour", "not a known field"),
    "duplicate-key": (27, "model", "duplicate key 'horizon' (first given on line 26)"),
    "missing-section": (2, "reward", "required but missing"),
    "ci-order": (44, "evaluation.metrics[0].ci_low", "ci_low (43.8) is above ci_high (42.5)"),
    "tier3-no-fallback": (47, "deployment.fallback", "tier-3 system must describe its fallback"),
    "autonomous-low-tier": (9, "system.risk_tier", "acts on its own (autonomous) is tier 3"),
    "changelog-order": (57, "changelog[1].date", "earlier than the entry before it"),
    "duplicate-id": (39, "evaluation.metrics", "repeated: mean-return"),
    "yaml11-boolean": (14, "system.regulatory.high_risk", "true or false (got 'no')"),
    "malformed": (27, None, "malformed YAML"),
    "schema-version": (2, "schema_version", "'0.9' is not one this govrl reads"),
    "bad-digest": (29, "model.simulators[0].digest", "sha256"),
    "review-before-change": (54, "monitoring.next_review", "not after the latest revision"),
    "alias-bomb": (None, None, "alias bomb"),
    "deep-nesting": (2, None, "nesting"),
    "not-a-mapping": (1, None, "must be a YAML mapping"),
    "value-outside-interval": (
        43,
        "evaluation.metrics[0].value",
        "point estimate 44.0 is above its own ci_high (42.5)",
    ),
    "ess-above-episodes": (
        52,
        "evaluation.off_policy[0].ess",
        "effective sample size 5000.0 exceeds the 1000 episodes",
    ),
    "unknown-propensities": (
        52,
        "evaluation.off_policy[0].estimator",
        "WIS weights episodes by propensities, but model.behaviour_policy.propensities is unknown",
    ),
    "passed-breaks-criterion": (
        57,
        "evaluation.stress_tests[0].passed",
        "marked passed, but its ci_high 0.053 does not meet its criterion < 0.05",
    ),
}


def test_every_named_bad_input_is_covered() -> None:
    on_disk = {p.stem.removeprefix("invalid-") for p in DATA.glob("invalid-*.yaml")}
    assert on_disk == set(INVALID)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_record_is_rejected_with_its_place(runner: CliRunner, name: str) -> None:
    path = DATA / f"invalid-{name}.yaml"
    line, field, words = INVALID[name]
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    first = result.stderr.splitlines()[0]
    where = f"{path}:{line}" if line else str(path)
    assert first.startswith(where), first
    if field:
        assert f" {field}: " in first, first
    assert words in first, first


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_record_json_report(runner: CliRunner, name: str) -> None:
    result = runner.invoke(main, ["validate", "--json", str(DATA / f"invalid-{name}.yaml")])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False and report["digest"] is None
    assert report["problems"] and all(p["message"] for p in report["problems"])


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_examples_are_valid(runner: CliRunner, path: Path) -> None:
    result = runner.invoke(main, ["validate", "--json", str(path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid"] and report["digest"].startswith("sha256:")


def test_at_least_two_tier3_examples() -> None:
    from govrl.record.files import load_record

    tiers = [int(load_record(p).record.system.risk_tier) for p in EXAMPLES.glob("*.yaml")]
    assert tiers.count(3) >= 2


def test_one_bad_file_among_good_ones_fails_the_run(runner: CliRunner) -> None:
    good, bad = DATA / "valid-minimal.yaml", DATA / "invalid-ci-order.yaml"
    result = runner.invoke(main, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{good}: valid" in result.stdout
    assert f"{bad}: invalid (1 problems)" in result.stderr


def test_huge_file_is_refused_before_parsing(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("notes: '" + "x" * (5 * 1024 * 1024) + "'\n")
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert "larger than 4 MiB" in result.stderr


def test_many_small_values_are_bounded(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "wide.yaml"
    path.write_text("items: [" + ",".join(["1"] * 250_000) + "]\n")
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert "more than 200,000 values" in result.stderr


def test_not_utf8_is_named(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}: not UTF-8 text" in result.stderr


def test_unsafe_tag_is_not_constructed(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "tag.yaml"
    path.write_text("x: !!python/object/apply:os.system ['touch pwned']\n")
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert "unsupported YAML tag" in result.stderr
    assert not (tmp_path / "pwned").exists()


def test_missing_file_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_bad_input_never_prints_a_traceback_in_a_real_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "govrl", "validate", str(DATA / "invalid-alias-bomb.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "alias bomb" in proc.stderr


def test_subgroup_ess_cannot_exceed_its_n(tmp_path: Path, runner: CliRunner) -> None:
    text = (DATA / "valid-minimal.yaml").read_text()
    text = text.replace(
        "      ci_level: 0.95\ndeployment:\n",
        "      ci_level: 0.95\n"
        "  subgroups:\n"
        "    - {attribute: device, group: mobile, metric: return, value: 40.0, n: 20, ess: 24.0}\n"
        "deployment:\n",
    )
    path = tmp_path / "r.yaml"
    path.write_text(text)
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert (
        "evaluation.subgroups[0].ess: effective sample size 24.0 exceeds the 20 subjects (n)"
        in result.stderr
    )
