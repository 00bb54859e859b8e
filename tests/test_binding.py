"""The policy a record is bound to, shipped policies by name, and the gate's --date."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from govrl.cli import main
from govrl.errors import GovrlError
from govrl.record.files import dump_yaml, load_record
from govrl.review.policy import load_policy, policy_digest, shipped_policy
from govrl.review.rules import load_assessment, resolve_policy
from tests.support.approvals import sign
from tests.support.paths import DATA, EXAMPLES
from tests.support.pki import Pki, Reviewer
from tests.support.records import record_data

MINIMAL = dump_yaml(record_data(1))
TEST_POLICY = DATA / "policy-test.yaml"


def bound(tmp_path: Path, digest: str, path: str | None = "policy.yaml") -> Path:
    shutil.copyfile(TEST_POLICY, tmp_path / "policy.yaml")
    where = f"\n  path: {path}" if path else ""
    record = tmp_path / "record.yaml"
    record.write_text(MINIMAL + f"policy:\n  id: test-policy\n  digest: {digest}{where}\n")
    return record


def test_bound_policy_file_is_loaded_relative_to_the_record(tmp_path: Path) -> None:
    record = bound(tmp_path, policy_digest(TEST_POLICY.read_bytes()))
    judged = load_assessment(record)
    assert judged.rules.policy.id == "test-policy"
    assert judged.rules.policy.digest == policy_digest(TEST_POLICY.read_bytes())


def test_a_changed_bound_policy_is_refused_naming_both_digests(tmp_path: Path) -> None:
    record = bound(tmp_path, "sha256:" + "0" * 64)
    with pytest.raises(GovrlError) as caught:
        resolve_policy(record, load_record(record).record, None)
    message = caught.value.message
    assert "sha256:" + "0" * 64 in message
    assert policy_digest(TEST_POLICY.read_bytes()) in message


def test_binding_without_path_takes_the_shipped_default_only_if_it_matches(
    tmp_path: Path,
) -> None:
    default = shipped_policy("default")
    record = bound(tmp_path, policy_digest(default.read_bytes()), path=None)
    assert resolve_policy(record, load_record(record).record, None).id == "default"
    other = bound(tmp_path, "sha256:" + "1" * 64, path=None)
    with pytest.raises(GovrlError, match="shipped default policy has digest"):
        resolve_policy(other, load_record(other).record, None)


def test_cli_gate_refuses_a_mismatched_binding(tmp_path: Path, runner: CliRunner) -> None:
    record = bound(tmp_path, "sha256:" + "0" * 64)
    result = runner.invoke(main, ["gate", str(record)])
    assert result.exit_code == 1
    assert "the record is bound to policy test-policy" in result.output
    assert "--policy" in result.output


def test_explicit_other_policy_is_used_and_said(tmp_path: Path, runner: CliRunner) -> None:
    record = bound(tmp_path, policy_digest(TEST_POLICY.read_bytes()))
    default = load_policy()
    result = runner.invoke(main, ["gate", str(record), "--policy", "default", "--json"])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    note = (
        f"judged under default@1.0.0 {default.digest}, not the policy the record names: "
        f"test-policy {policy_digest(TEST_POLICY.read_bytes())}"
    )
    assert note in decision["notes"]
    assert decision["policy_digest"] == default.digest
    assert f"warning: {note}" in result.stderr


def test_unknown_policy_name_lists_the_shipped_ones(runner: CliRunner) -> None:
    result = runner.invoke(main, ["gate", str(DATA / "valid-minimal.yaml"), "--policy", "nope"])
    assert result.exit_code == 2
    for name in ("default", "healthcare", "autonomous-systems", "energy", "recommenders"):
        assert name in result.output


def test_gate_date_moves_the_clock(tmp_path: Path, runner: CliRunner) -> None:
    record = tmp_path / "record.yaml"
    record.write_text(MINIMAL)
    result = runner.invoke(main, ["gate", str(record), "--date", "2026-11-01", "--json"])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["decided_on"] == "2026-11-01"
    assert decision["valid_until"] == "2027-11-01"


@pytest.mark.parametrize(
    ("example", "exit_code", "verdict"),
    [
        ("grid-frequency-control.yaml", 0, "approve-with-conditions"),
        ("revisions/grid-frequency-control-1.2.0.yaml", 0, "approve-with-conditions"),
        ("sepsis-offline-rl.yaml", 1, "reject"),
    ],
)
def test_examples_are_judged_by_the_policy_they_are_bound_to(
    runner: CliRunner, example: str, exit_code: int, verdict: str
) -> None:
    record = EXAMPLES / example
    binding = load_record(record).record.policy
    assert binding is not None and binding.path is not None
    policy_file = record.parent / binding.path
    assert binding.digest == policy_digest(policy_file.read_bytes())
    result = runner.invoke(main, ["gate", str(record), "--date", "2026-07-01", "--json"])
    assert result.exit_code == exit_code, result.output
    decision = json.loads(result.stdout)
    assert decision["verdict"] == verdict
    assert decision["policy_digest"] == binding.digest
    assert not any(n.startswith("judged under") for n in decision["notes"])


@pytest.mark.pdf
def test_sign_without_policy_refuses_a_document_rendered_under_another(
    unsigned_approval: Path, tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    owner, out = reviewers["owner"], tmp_path / "signed.pdf"
    args = ["sign", unsigned_approval, "--key", owner.key, "--cert", owner.cert]
    args += ["--role", "owner", "--passphrase-file", pki.passphrase_file, "-o", out]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    three = policy_digest((DATA / "policy-three-signers.yaml").read_bytes())
    assert f"rendered under policy three-signers@1 (file {three})" in result.stderr
    assert "pass --policy with the policy file the document was rendered under" in result.stderr
    assert not out.exists()
    named = sign(unsigned_approval, out, owner, pki)  # the same, with --policy given
    assert named.exit_code == 0, named.output
