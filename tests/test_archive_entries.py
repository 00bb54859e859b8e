"""Archive entries against their documents: rewritten facts, unverified and withdrawn entries,
pinned policies, and the policy and templates a rendered approval states."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from govrl.cli import main
from tests.support.approvals import THREE, govrl
from tests.support.pki import PASSPHRASE, Pki, Reviewer
from tests.support.records import write_record

pytestmark = [pytest.mark.pdf, pytest.mark.slow]

# `archive add` signs a checkpoint with the archive key: given here through the environment.
ARCHIVE_KEY: dict[str, str] = {}


@pytest.fixture(scope="session", autouse=True)
def archive_key(pki: Pki) -> dict[str, str]:
    """An archive key issued by the test CA, as $GOVRL_ARCHIVE_KEY and $GOVRL_ARCHIVE_CERT."""
    if not ARCHIVE_KEY:
        key = pki.reviewer("Entries archive key", "archive")
        ARCHIVE_KEY.update(
            GOVRL_ARCHIVE_KEY=str(key.key),
            GOVRL_ARCHIVE_CERT=str(key.cert),
            GOVRL_KEY_PASSPHRASE=PASSPHRASE.decode(),
        )
    return ARCHIVE_KEY


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["archive", *map(str, args)], env=ARCHIVE_KEY)


def pinned(pki: Pki) -> tuple[str | Path, ...]:
    """Trust the test CA and pin the three-signer policy the documents were decided under."""
    return ("--trust", pki.ca.cert, "--policy", THREE)


def verify_json(*args: str | Path) -> tuple[int, dict[str, Any]]:
    result = cli("verify", *args, "--json")
    assert result.stdout, result.output  # an empty report means verify itself failed
    return result.exit_code, json.loads(result.stdout)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def entries(store: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (store / "log.jsonl").read_bytes().splitlines()]


def object_path(store: Path, digest: str) -> Path:
    hexdigest = digest.removeprefix("sha256:")
    return store / "objects" / "sha256" / hexdigest[:2] / hexdigest[2:]


def rechain(store: Path, kept: list[dict[str, Any]]) -> None:
    """Rewrite history as someone holding the archive's folder and its key would: log, HEAD,
    tree state and signed checkpoints all agree again."""
    from govrl.archive import Archive
    from govrl.archive.checkpoint import CheckpointSigner
    from govrl.archive.log import Entry, Head

    prev, lines = "sha256:" + "0" * 64, []
    for n, data in enumerate(kept, 1):
        line = Entry.model_validate({**data, "sequence": n, "prev": prev}).encode()
        lines.append(line)
        prev = sha256(line)
    (store / "log.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    (store / "HEAD").write_bytes(Head(len(lines), prev).encode())
    (store / "tree.json").unlink()
    (store / "checkpoints.jsonl").unlink()
    signer = CheckpointSigner.load(
        Path(ARCHIVE_KEY["GOVRL_ARCHIVE_KEY"]), Path(ARCHIVE_KEY["GOVRL_ARCHIVE_CERT"]), PASSPHRASE
    )
    Archive.at(store).checkpoint(signer)


@pytest.fixture(scope="module")
def built_store(signed_approval: Path, pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Entry 1: the tier-3 approval, signed by all three roles, archived under its policy."""
    store = tmp_path_factory.mktemp("entries") / "store"
    added = cli("add", signed_approval, "--store", store, "--policy", THREE, "--trust", pki.ca.cert)
    assert added.exit_code == 0, added.output
    return store


@pytest.fixture
def store(built_store: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built_store, tmp_path / "store"))


# ---------------------------------------------------------------- entries say what documents say


def test_rewritten_entry_facts_under_a_recomputed_chain_disagree_with_the_document(
    store: Path, pki: Pki
) -> None:
    found = entries(store)
    honest = dict(found[0])
    found[0] = {**honest, "verdict": "approve-with-conditions", "valid_until": "2099-12-31"}
    rechain(store, found)
    quick = cli("verify", "--store", store, "--no-signatures")
    assert quick.exit_code == 0, quick.output  # chain, HEAD, tree and checkpoints all agree
    code, report = verify_json("--store", store, *pinned(pki))
    assert code == 1
    mismatches = {
        e["message"].split(": ", 1)[1] for e in report["errors"] if e["code"] == "entry-mismatch"
    }
    assert mismatches == {
        "verdict: the entry says 'approve-with-conditions', the document says 'approve'",
        f"valid_until: the entry says '2099-12-31', the document says '{honest['valid_until']}'",
    }
    assert {e["sequence"] for e in report["errors"]} == {1}
    assert all(e["message"].startswith("entry 1 (") for e in report["errors"])


def test_add_refuses_a_document_rendered_under_another_policy(
    tmp_path: Path, lax: Lax, pki: Pki
) -> None:
    store = tmp_path / "store"
    added = cli("add", lax.approval, "--store", store, "--policy", THREE, "--trust", pki.ca.cert)
    assert added.exit_code == 1
    assert (
        f"it was rendered under policy three-signers@1 (file {sha256(lax.policy.read_bytes())})"
        in (added.output)
    )
    assert not (store / "log.jsonl").exists()


# ---------------------------------------------------------------- pinned policies


@dataclass(frozen=True)
class Lax:
    """A policy with the test policy's id and version that asks the owner alone to sign at
    tier 3, and an approval rendered and signed under it."""

    policy: Path
    approval: Path


@pytest.fixture(scope="module")
def lax(pki: Pki, reviewers: dict[str, Reviewer], tmp_path_factory: pytest.TempPathFactory) -> Lax:
    folder = tmp_path_factory.mktemp("lax")
    text = THREE.read_text()
    strict = "signers: [owner, domain-expert, independent-validator]"
    assert text.count(strict) == 1
    policy = folder / "three-signers.yaml"
    policy.write_text(text.replace(strict, "signers: [owner]"))
    unsigned, signed = folder / "approval.pdf", folder / "approval-signed.pdf"
    record = write_record(folder / "record.yaml", tier=3)
    rendered = govrl("render", record, "--kind", "approval", "--policy", policy, "-o", unsigned)
    assert rendered.exit_code == 0, rendered.output
    owner = reviewers["owner"]
    done = govrl(
        "sign", unsigned, "--key", owner.key, "--cert", owner.cert, "--role", "owner",
        "--policy", policy, "--passphrase-file", pki.passphrase_file, "-o", signed,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    return Lax(policy, signed)


@pytest.fixture
def lax_store(lax: Lax, pki: Pki, tmp_path: Path) -> Path:
    """The lax approval archived under the lax policy."""
    store = tmp_path / "lax-store"
    added = cli(
        "add", lax.approval, "--store", store, "--policy", lax.policy, "--trust", pki.ca.cert
    )
    assert added.exit_code == 0, added.output
    return store


def test_an_entry_archived_under_a_policy_not_pinned_fails(
    lax_store: Path, lax: Lax, pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    any_policy, report = verify_json("--store", lax_store, "--trust", pki.ca.cert, "--any-policy")
    assert any_policy == 0 and report["documents"]["any_policy"] is True  # explicitly unsafe
    code, report = verify_json("--store", lax_store, *pinned(pki))
    assert code == 1
    (found,) = report["errors"]
    assert found["code"] == "policy-unpinned" and found["sequence"] == 1
    lax_digest = sha256(lax.policy.read_bytes())
    assert (
        f"archived under policy three-signers@1 (file {lax_digest}), which is not pinned"
        in (found["message"])
    )
    assert f"three-signers@1 ({sha256(THREE.read_bytes())})" in found["message"]
    assert report["archive"]["ok"] is True and report["documents"]["ok"] is False
    # The same pin committed in govrl.toml, with paths relative to it; a flag overrides it.
    project = tmp_path / "project"
    (project / "policies").mkdir(parents=True)
    shutil.copy(THREE, project / "policies" / "release.yaml")
    (project / "govrl.toml").write_text('[policy]\npinned = ["policies/release.yaml"]\n')
    monkeypatch.chdir(project)
    code, report = verify_json("--store", lax_store, "--trust", pki.ca.cert)
    assert code == 1 and [e["code"] for e in report["errors"]] == ["policy-unpinned"]
    assert report["documents"]["pinned_from"].endswith("govrl.toml [policy] pinned")
    code, report = verify_json("--store", lax_store, "--trust", pki.ca.cert, "--policy", lax.policy)
    assert code == 0, report


def test_judging_documents_with_no_policy_pinned_fails_unless_told_any_policy(
    lax_store: Path, pki: Pki
) -> None:
    code, report = verify_json("--store", lax_store, "--trust", pki.ca.cert)
    assert code == 1
    (found,) = report["errors"]
    assert found["code"] == "policies-not-pinned" and found["area"] == "documents"
    assert "pass --policy FILE" in found["message"]
    assert report["archive"]["ok"] is True and report["documents"]["ok"] is False
    text = cli("verify", "--store", lax_store, "--trust", pki.ca.cert)
    assert text.exit_code == 1
    assert "no policy pinned" in text.output
    unsafe = cli("verify", "--store", lax_store, "--trust", pki.ca.cert, "--any-policy")
    assert unsafe.exit_code == 0, unsafe.output
    assert "ANY POLICY ACCEPTED (--any-policy)" in unsafe.output
    both = cli("verify", "--store", lax_store, "--any-policy", "--policy", THREE)
    assert both.exit_code == 2 and "not both" in both.output
    # Checking only the archive's own integrity judges no document, so needs no policy.
    assert cli("verify", "--store", lax_store, "--no-signatures").exit_code == 0


def test_add_refuses_a_policy_posing_as_a_pinned_one(
    lax: Lax, pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(THREE, tmp_path / "release.yaml")
    (tmp_path / "govrl.toml").write_text('[policy]\npinned = ["release.yaml"]\n')
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store"
    added = cli(
        "add", lax.approval, "--store", store, "--policy", lax.policy, "--trust", pki.ca.cert
    )
    assert added.exit_code == 1
    assert (
        f"policy three-signers@1 (file {sha256(lax.policy.read_bytes())}) is not the pinned "
        f"policy three-signers@1 (file {sha256(THREE.read_bytes())}" in added.output
    )
    assert not (store / "log.jsonl").exists()


# ---------------------------------------------------------------- verdicts and withdrawals


@pytest.fixture
def with_unverified(store: Path, owner_signed_approval: Path, pki: Pki) -> Path:
    """The store with entry 2: the approval signed by its owner alone, archived anyway."""
    added = cli(
        "add", owner_signed_approval, "--store", store, "--policy", THREE,
        "--allow-unverified", "--trust", pki.ca.cert,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    return store


def test_an_unverified_entry_fails_the_documents_verdict(with_unverified: Path, pki: Pki) -> None:
    result = cli("verify", "--store", with_unverified, *pinned(pki))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{with_unverified}: FAILED (store, 2 entries")
    assert lines[1] == "  archive: INTACT AND COMPLETE"
    assert lines[2] == f"  documents: FAILED (entries 2; policies pinned by --policy {THREE})"
    code, report = verify_json(
        "--store", with_unverified, "--trust", pki.ca.cert, "--policy", THREE
    )
    assert code == 1 and report["archive"]["ok"] and not report["documents"]["ok"]
    assert [(e["code"], e["sequence"], e["area"]) for e in report["errors"]] == [
        ("archived-unverified", 2, "documents")
    ]
    assert "required roles not validly signed" in report["errors"][0]["message"]


def test_supersede_withdraws_an_entry_which_then_no_longer_fails(
    with_unverified: Path, pki: Pki, tmp_path: Path
) -> None:
    log_before = (with_unverified / "log.jsonl").read_bytes()
    reason = "signed by the owner alone; archived by mistake"
    done = cli("supersede", "2", "--reason", reason, "--store", with_unverified, "--by", "Ada")
    assert done.exit_code == 0, done.output
    assert f"entry 2 (signed-0.pdf) withdrawn by entry 3: {reason}" in done.stdout
    assert "checkpoint: 3 entries, root sha256:" in done.stdout
    assert (with_unverified / "log.jsonl").read_bytes().startswith(log_before)  # appended only
    first, second, third = entries(with_unverified)
    assert third["withdraws"] == {
        "sequence": 2,
        "hash": sha256((with_unverified / "log.jsonl").read_bytes().splitlines()[1]),
        "reason": reason,
    }
    own = {"sequence", "prev", "added_at", "added_by", "withdraws"}
    assert {k: v for k, v in third.items() if k not in own} == {
        k: v for k, v in second.items() if k not in own
    }
    result = cli("verify", "--store", with_unverified, *pinned(pki))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:3] == [
        "  archive: INTACT AND COMPLETE",
        "  documents: ALL VERIFIED (2 re-verified; 1 withdrawn entry not judged; policies "
        f"pinned by --policy {THREE})",
    ]
    assert "entry 2 (signed-0.pdf) was withdrawn by entry 3, added " in result.stderr
    code, report = verify_json(
        "--store", with_unverified, "--trust", pki.ca.cert, "--policy", THREE
    )
    assert code == 0 and report["errors"] == [] and report["documents"]["withdrawn"] == {"2": 3}
    assert [(w["code"], w["sequence"]) for w in report["warnings"]] == [("withdrawn", 2)]
    # Listed as withdrawn; withdrawn once only; carried into the system's bundle.
    table = cli("list", "--store", with_unverified).stdout.splitlines()
    assert table[2].endswith("[WITHDRAWN by entry 3]")
    assert table[3].endswith(f"[withdraws entry 2: {reason}]")
    listed = json.loads(cli("list", "--store", with_unverified, "--json").stdout)
    assert [e["withdrawn_by"] for e in listed] == [None, 3, None]
    again = cli("supersede", "2", "--reason", "again", "--store", with_unverified)
    assert again.exit_code == 2 and "entry 2 was withdrawn already, by entry 3" in again.output
    bundle = tmp_path / "bundle.zip"
    system = first["system"]["id"]
    assert (
        cli("export", "--store", with_unverified, "--system", system, "-o", bundle).exit_code == 0
    )
    code, report = verify_json(bundle, *pinned(pki))
    assert code == 0 and report["documents"]["withdrawn"] == {"2": 3}, report


def test_a_withdrawal_that_names_another_hash_withdraws_nothing(
    with_unverified: Path, pki: Pki
) -> None:
    assert cli("supersede", "2", "--reason", "mistake", "--store", with_unverified).exit_code == 0
    found = entries(with_unverified)
    found[2]["withdraws"]["hash"] = "sha256:" + "1" * 64
    rechain(with_unverified, found)
    code, report = verify_json(
        "--store", with_unverified, "--trust", pki.ca.cert, "--policy", THREE
    )
    assert code == 1
    assert {(e["code"], e["sequence"]) for e in report["errors"]} == {
        ("withdrawal-invalid", 3),
        ("archived-unverified", 2),
    }


# ---------------------------------------------------------------- what the approval states


def test_the_approval_states_its_policy_and_templates_and_verify_reports_them(
    unsigned_approval: Path, signed_approval: Path, built_store: Path, pki: Pki
) -> None:
    import subprocess

    from govrl.documents.pdffile import open_pdf
    from govrl.documents.render import shipped_templates
    from govrl.documents.templating import template_digest

    policy_digest = sha256(THREE.read_bytes())
    template = template_digest(shipped_templates())
    for pdf in (unsigned_approval, signed_approval):
        facts = open_pdf(pdf).approved
        assert (facts.policy, facts.policy_digest, facts.template) == (
            "three-signers@1",
            policy_digest,
            template,
        )
    text = subprocess.run(
        ["pdftotext", str(unsigned_approval), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert policy_digest in text.replace("\n", "") and template in text.replace("\n", "")
    shown = govrl("verify", signed_approval, "--policy", THREE, "--trust", pki.ca.cert)
    assert shown.exit_code == 0, shown.output
    assert f"  rendered under policy: three-signers@1, file {policy_digest}" in shown.stdout
    assert f"  templates: {template}" in shown.stdout
    as_json = govrl("verify", signed_approval, "--policy", THREE, "--trust", pki.ca.cert, "--json")
    assert json.loads(as_json.stdout)["rendered_under"] == {
        "policy": "three-signers@1",
        "policy_digest": policy_digest,
        "template": template,
    }
    assert entries(built_store)[0]["policy"]["digest"] == policy_digest
