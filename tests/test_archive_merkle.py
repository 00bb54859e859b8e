"""The archive's Merkle tree and signed checkpoints: proofs as RFC 9162 defines them, and
every rollback, dropped entry or rewritten history that a checkpoint kept elsewhere catches.

Stores here are grown through the archive's own commit path with small stand-in documents,
so no PDF is rendered or signed except in the tests marked slow.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import stat
import subprocess
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from govrl.archive.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleTree,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from govrl.cli import main
from tests.support.paths import ROOT
from tests.support.pki import PASSPHRASE, Pki, Reviewer

# ---------------------------------------------------------------- RFC 9162, read naively


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(entries: list[bytes]) -> bytes:
    """MTH(D[n]), RFC 9162 §2.1.1, word for word."""
    if not entries:
        return _sha(b"")
    if len(entries) == 1:
        return _sha(b"\x00" + entries[0])
    k = _k(len(entries))
    return _sha(b"\x01" + mth(entries[:k]) + mth(entries[k:]))


def path(m: int, entries: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 9162 §2.1.3.1."""
    if len(entries) == 1:
        return []
    k = _k(len(entries))
    if m < k:
        return path(m, entries[:k]) + [mth(entries[k:])]
    return path(m - k, entries[k:]) + [mth(entries[:k])]


def subproof(m: int, entries: list[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), RFC 9162 §2.1.4.1."""
    if m == len(entries):
        return [] if whole else [mth(entries)]
    k = _k(len(entries))
    if m <= k:
        return subproof(m, entries[:k], whole) + [mth(entries[k:])]
    return subproof(m - k, entries[k:], False) + [mth(entries[:k])]


ENTRIES = [f"entry {n}".encode() for n in range(40)]

# The reference leaves of Certificate Transparency's test suite and their roots.
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"]
CT_LEAVES += ["606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_roots_are_the_rfcs_for_every_size() -> None:
    leaves = [bytes.fromhex(x) for x in CT_LEAVES]
    for n, expected in enumerate(CT_ROOTS, 1):
        assert root_of(leaf_hash(x) for x in leaves[:n]).hex() == expected
        assert mth(leaves[:n]).hex() == expected
    tree = MerkleTree([leaf_hash(e) for e in ENTRIES])
    assert tree.root(0) == EMPTY_ROOT == mth([])
    for n in range(1, len(ENTRIES) + 1):
        assert tree.root(n) == mth(ENTRIES[:n]) == root_of(map(leaf_hash, ENTRIES[:n]))


def test_the_frontier_gives_each_prefix_its_root_from_log_n_hashes() -> None:
    frontier = Frontier()
    for n, entry in enumerate(ENTRIES, 1):
        frontier.append(leaf_hash(entry))
        assert frontier.root() == mth(ENTRIES[:n])
        assert len(frontier.hashes) == bin(n).count("1")
    with pytest.raises(ValueError, match="edge subtrees"):
        Frontier(5, frontier.hashes[:1])


def test_inclusion_proofs_are_the_rfcs_and_verify() -> None:
    leaves = [leaf_hash(e) for e in ENTRIES]
    tree = MerkleTree(leaves)
    for n in range(1, len(ENTRIES) + 1):
        root = mth(ENTRIES[:n])
        for m in range(n):
            proof = tree.inclusion_proof(m, n)
            assert proof == path(m, ENTRIES[:n])
            assert verify_inclusion(leaves[m], m, n, proof, root)
            assert not verify_inclusion(leaf_hash(b"other"), m, n, proof, root)
            assert not verify_inclusion(leaves[m], m, n, proof, mth(ENTRIES[: n - 1] + [b"x"]))
            if n > 1:
                assert not verify_inclusion(leaves[m], (m + 1) % n, n, proof, root)
                assert not verify_inclusion(leaves[m], m, n, proof[:-1], root)
        assert not verify_inclusion(leaves[0], n, n, [], root)


def test_consistency_proofs_are_the_rfcs_and_verify() -> None:
    tree = MerkleTree([leaf_hash(e) for e in ENTRIES])
    for n in range(1, len(ENTRIES) + 1):
        new_root = mth(ENTRIES[:n])
        for m in range(0, n + 1):
            proof = tree.consistency_proof(m, n)
            if 0 < m < n:
                assert proof == subproof(m, ENTRIES[:n], True)
            assert verify_consistency(m, n, mth(ENTRIES[:m]), new_root, proof)
            if 0 < m < n:
                changed = mth(ENTRIES[: m - 1] + [b"rewritten"])
                assert not verify_consistency(m, n, changed, new_root, proof)
                assert not verify_consistency(m, n, mth(ENTRIES[:m]), mth(ENTRIES[: n - 1]), proof)
                assert not verify_consistency(m, n, mth(ENTRIES[:m]), new_root, proof[1:])
                assert not verify_consistency(n, m, new_root, mth(ENTRIES[:m]), proof)


# ---------------------------------------------------------------- stores grown without PDFs


@dataclass(frozen=True)
class ArchiveKeys:
    ca: Path
    archive: Reviewer  # role archive, issued by the test CA
    owner: Reviewer  # a reviewer's key: role owner
    rogue: Reviewer  # role archive, self-signed: no trust anchor vouches for it
    passphrase_file: Path


@pytest.fixture(scope="session")
def archive_keys(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> ArchiveKeys:
    from govrl.documents import keys

    folder = tmp_path_factory.mktemp("rogue")
    rogue = keys.new_reviewer("Rogue archive", "archive", folder, PASSPHRASE)
    return ArchiveKeys(
        pki.ca.cert,
        pki.reviewer("Merkle archive key", "archive"),
        pki.reviewer("Merkle owner", "owner"),
        Reviewer("Rogue archive", "archive", rogue.key, rogue.cert),
        pki.passphrase_file,
    )


def signer_of(who: Reviewer) -> Any:
    from govrl.archive.checkpoint import CheckpointSigner
    from govrl.documents import keys

    return CheckpointSigner.from_credentials(
        keys.load_credentials(who.key, who.cert, PASSPHRASE), str(who.cert)
    )


def trust_of(keys: ArchiveKeys) -> list[Any]:
    from govrl.documents.keys import load_certificates

    return load_certificates(keys.ca)


def _entry(sequence: int, prev: str, system: str, n: int) -> tuple[Any, dict[str, bytes]]:
    from govrl.archive.log import Entry, now_utc, object_key
    from govrl.record.identity import digest_of

    doc, rec, pol = f"%PDF stand-in {n}".encode(), f'{{"n":{n}}}'.encode(), b"policy: 1\n"
    entry = Entry.model_validate(
        {
            "sequence": sequence,
            "prev": prev,
            "added_at": now_utc(),
            "added_by": "test",
            "document": {
                "digest": digest_of(doc),
                "size": len(doc),
                "kind": "approval",
                "file_name": f"approval-{n}.pdf",
            },
            "record": {"digest": digest_of(rec), "size": len(rec)},
            "policy": {"digest": digest_of(pol), "size": len(pol), "id": "p", "version": "1"},
            "system": {"id": system, "name": None, "version": str(n), "risk_tier": 3},
            "verdict": "approve",
            "valid_until": None,
            "signers": [],
            "verification": {"checked": True, "ok": True, "trust_checked": True, "problems": []},
        }
    )
    objects = {object_key(digest_of(data)): data for data in (doc, rec, pol)}
    return entry, objects


def grow(store: Path, systems: str, signer: Any) -> None:
    """One entry per letter, for the system of that name, each committed as an add commits."""
    from govrl.archive import Archive

    archive = Archive.at(store)
    for system in systems:
        with archive.storage.locked():
            head, _ = archive.checked_head()
            entry, objects = _entry(head.sequence + 1, head.hash, system, _counter())
            archive._commit(entry, objects, signer)


_COUNT = [0]


def _counter() -> int:
    _COUNT[0] += 1
    return _COUNT[0]


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["archive", *map(str, args)])


def verify_json(*args: str | Path) -> tuple[int, dict[str, Any]]:
    result = cli("verify", *args, "--no-signatures", "--json")
    assert result.stdout, result.output
    return result.exit_code, json.loads(result.stdout)


def codes(report: dict[str, Any]) -> list[str]:
    return [e["code"] for e in report["errors"]]


def keep_checkpoint(store: Path, out: Path) -> Path:
    result = cli("checkpoint", "--store", store, "-o", out)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(out.read_text())
    return out


@pytest.fixture
def store(tmp_path: Path, archive_keys: ArchiveKeys) -> Path:
    """Five entries: systems a, b, a, a, b."""
    folder = tmp_path / "store"
    grow(folder, "abaab", signer_of(archive_keys.archive))
    return folder


def lines_of(store: Path) -> list[bytes]:
    return (store / "log.jsonl").read_bytes().splitlines()


def _prune_objects(store: Path) -> None:
    from govrl.archive.log import Entry

    entries = [Entry.model_validate_json(line) for line in lines_of(store)]
    named = {key for entry in entries for key in entry.object_keys().values()}
    for file in (store / "objects").rglob("*"):
        if file.is_file() and file.relative_to(store).as_posix() not in named:
            file.unlink()


def rewrite(store: Path, kept: list[dict[str, Any]], signer: Any | None) -> None:
    """History rewritten by someone who can write the whole folder: log, HEAD and objects agree
    again; with the archive key, the checkpoints are made afresh as well."""
    from govrl.archive import Archive
    from govrl.archive.log import GENESIS, Entry, Head
    from govrl.record.identity import digest_of

    prev, lines = GENESIS, []
    for n, data in enumerate(kept, 1):
        line = Entry.model_validate({**data, "sequence": n, "prev": prev}).encode()
        lines.append(line)
        prev = digest_of(line)
    (store / "log.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    (store / "HEAD").write_bytes(Head(len(lines), prev).encode())
    _prune_objects(store)
    if signer is not None:  # tree.json keeps the archive's origin; its stale state is rebuilt
        (store / "checkpoints.jsonl").unlink()
        Archive.at(store).checkpoint(signer)


def roll_back(store: Path, count: int, *, checkpoints: bool) -> None:
    """Remove the last ``count`` entries and their objects and rewrite HEAD; with
    ``checkpoints``, also the checkpoints and the tree state that covered them."""
    from govrl.archive.checkpoint import parse_checkpoint
    from govrl.archive.log import Head, split_log
    from govrl.archive.tree import Tree
    from govrl.record.identity import digest_of

    kept = lines_of(store)[:-count]
    (store / "log.jsonl").write_bytes(b"".join(line + b"\n" for line in kept))
    (store / "HEAD").write_bytes(Head(len(kept), digest_of(kept[-1])).encode())
    _prune_objects(store)
    if checkpoints:
        file = store / "checkpoints.jsonl"
        lines = [
            line
            for line in file.read_bytes().splitlines()
            if parse_checkpoint(line, "x").body.tree_size <= len(kept)
        ]
        file.write_bytes(b"".join(line + b"\n" for line in lines))
        origin = Tree.decode((store / "tree.json").read_bytes()).origin
        tree = Tree.from_lines(origin, split_log((store / "log.jsonl").read_bytes()))
        (store / "tree.json").write_bytes(tree.encode())


def test_every_add_ends_with_a_checkpoint_of_the_whole_log(
    store: Path, archive_keys: ArchiveKeys
) -> None:
    from govrl.archive import Archive, verify_store
    from govrl.archive.checkpoint import check_signature, parse_checkpoint

    lines = lines_of(store)
    checkpoints = [
        parse_checkpoint(line, "test")
        for line in (store / "checkpoints.jsonl").read_bytes().splitlines()
    ]
    assert [c.body.tree_size for c in checkpoints] == [1, 2, 3, 4, 5]
    for c in checkpoints:
        n = c.body.tree_size
        assert c.body.root_hash == "sha256:" + mth(lines[:n]).hex()
        assert c.body.head == "sha256:" + hashlib.sha256(lines[n - 1]).hexdigest()
        assert check_signature(c, None).problems == []
    assert len({c.body.origin for c in checkpoints}) == 1
    state = json.loads((store / "tree.json").read_text())
    assert state["size"] == 5 and state["systems"] == {
        "a": {"entries": 3, "last": 4},
        "b": {"entries": 2, "last": 5},
    }
    report = verify_store(Archive.at(store), signatures=False, trust=trust_of(archive_keys))
    assert report.ok and report.warnings == [], [str(f) for f in report.findings]
    assert report.checkpoint is not None and report.checkpoint.trusted is True
    assert report.checkpoint.signer == "Merkle archive key"


def test_an_add_reads_the_log_only_at_its_tail(
    store: Path, archive_keys: ArchiveKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from govrl.archive.storage import DirectoryStorage

    read: list[str] = []
    real = DirectoryStorage.read

    def spy(self: DirectoryStorage, key: str) -> bytes:
        read.append(key)
        return real(self, key)

    monkeypatch.setattr(DirectoryStorage, "read", spy)
    grow(store, "ab", signer_of(archive_keys.archive))
    assert read and "log.jsonl" not in read and "checkpoints.jsonl" not in read, read
    assert verify_json("--store", store)[0] == 0


def test_an_add_stopped_before_its_checkpoint_is_a_warning_and_the_next_add_covers_it(
    store: Path, archive_keys: ArchiveKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from govrl.archive import tree

    def crash(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tree, "write_checkpoint", crash)
    with pytest.raises(KeyboardInterrupt):
        grow(store, "a", signer_of(archive_keys.archive))
    monkeypatch.undo()
    code, report = verify_json("--store", store)
    assert code == 0 and "checkpoint-behind" in [w["code"] for w in report["warnings"]]
    before = (store / "checkpoints.jsonl").read_bytes()
    printed = cli("checkpoint", "--store", store)  # without the key: prints, never writes
    assert printed.exit_code == 0 and json.loads(printed.stdout)["body"]["tree_size"] == 5
    assert "covers 5 of the log's 6 entries" in printed.stderr
    assert (store / "checkpoints.jsonl").read_bytes() == before
    key = ("--archive-key", archive_keys.archive.key, "--archive-cert", archive_keys.archive.cert)
    signed = cli(
        "checkpoint", "--store", store, *key, "--passphrase-file", archive_keys.passphrase_file
    )
    assert signed.exit_code == 0 and json.loads(signed.stdout)["body"]["tree_size"] == 6
    grow(store, "b", signer_of(archive_keys.archive))
    code, report = verify_json("--store", store)
    assert code == 0 and report["checkpoint"]["tree_size"] == 7
    assert [w["code"] for w in report["warnings"]] == ["add-interrupted"]  # `repair` clears it


# ---------------------------------------------------------------- rollback, omission, rewriting


def test_a_rollback_fails_against_a_checkpoint_kept_from_before(
    store: Path, tmp_path: Path
) -> None:
    kept = keep_checkpoint(store, tmp_path / "kept.json")
    roll_back(store, 2, checkpoints=True)
    # Everything left in the folder agrees: only a checkpoint kept elsewhere shows the loss.
    assert verify_json("--store", store)[0] == 0
    code, report = verify_json("--store", store, "--expect-checkpoint", kept)
    assert code == 1 and codes(report) == ["checkpoint-rollback"]
    message = report["errors"][0]["message"]
    assert "states 5 entries, but only 3 are here: entries 4-5 were removed" in message
    text = cli("verify", "--store", store, "--no-signatures", "--expect-checkpoint", kept)
    assert text.exit_code == 1 and "a rollback" in text.output


def test_a_rollback_that_left_the_checkpoints_fails_on_its_own(store: Path) -> None:
    roll_back(store, 2, checkpoints=False)
    code, report = verify_json("--store", store)
    assert code == 1
    assert {"checkpoint-ahead", "tree-state"} <= set(codes(report))
    ahead = next(e for e in report["errors"] if e["code"] == "checkpoint-ahead")
    assert "entries 4-5 were removed after they were signed" in ahead["message"]


def test_a_dropped_middle_entry_fails(
    store: Path, tmp_path: Path, archive_keys: ArchiveKeys
) -> None:
    kept = keep_checkpoint(store, tmp_path / "kept.json")
    entries = [json.loads(line) for line in lines_of(store)]
    dropped = [e for e in entries if e["sequence"] != 3]
    outsider = tmp_path / "outsider"
    shutil.copytree(store, outsider)
    rewrite(outsider, dropped, signer=None)  # without the archive key: the checkpoints stay
    code, report = verify_json("--store", outsider)
    assert code == 1 and "checkpoint-mismatch" in codes(report)
    rewrite(store, dropped, signer=signer_of(archive_keys.archive))  # with it: all re-signed
    assert verify_json("--store", store)[0] == 0
    code, report = verify_json("--store", store, "--expect-checkpoint", kept)
    assert code == 1 and codes(report) == ["checkpoint-rollback"]  # 4 entries where 5 were
    grow(store, "a", signer_of(archive_keys.archive))  # as many entries again as before
    code, report = verify_json("--store", store, "--expect-checkpoint", kept)
    assert code == 1 and codes(report) == ["checkpoint-inconsistent"]
    assert "history rewritten" in report["errors"][0]["message"]


def test_a_rewritten_history_fails_against_a_kept_checkpoint(
    store: Path, tmp_path: Path, archive_keys: ArchiveKeys
) -> None:
    kept = keep_checkpoint(store, tmp_path / "kept.json")
    entries = [json.loads(line) for line in lines_of(store)]
    entries[1]["verdict"] = "reject"  # the second approval was a rejection all along
    rewrite(store, entries, signer=signer_of(archive_keys.archive))
    assert verify_json("--store", store)[0] == 0
    code, report = verify_json("--store", store, "--expect-checkpoint", kept)
    assert code == 1 and codes(report) == ["checkpoint-inconsistent"]
    assert (
        "the first 5 entries are not those of the checkpoint you kept"
        in (report["errors"][0]["message"])
    )


def test_an_archive_that_only_grew_proves_it_against_a_kept_checkpoint(
    store: Path, tmp_path: Path, archive_keys: ArchiveKeys
) -> None:
    kept = keep_checkpoint(store, tmp_path / "kept.json")
    grow(store, "baa", signer_of(archive_keys.archive))
    code, report = verify_json("--store", store, "--expect-checkpoint", kept)
    assert code == 0, report
    consistency = report["consistency"]
    assert consistency["holds"] and consistency["from"]["tree_size"] == 5
    assert consistency["to"]["tree_size"] == 8
    lines = lines_of(store)
    assert consistency["proof"] == ["sha256:" + h.hex() for h in subproof(5, lines, True)]


def _forge_root(store: Path) -> None:
    file = store / "checkpoints.jsonl"
    lines = file.read_bytes().splitlines()
    last = json.loads(lines[-1])
    last["body"]["root_hash"] = "sha256:" + "ab" * 32
    lines[-1] = json.dumps(last).encode()
    file.write_bytes(b"".join(line + b"\n" for line in lines))


def _resign(store: Path, who: Reviewer) -> None:
    from govrl.archive.checkpoint import CheckpointSigner, parse_checkpoint
    from govrl.documents import keys

    creds = keys.load_credentials(who.key, who.cert, PASSPHRASE)
    signer = CheckpointSigner(creds.key, creds.cert)  # as a forger would, past the role check
    file = store / "checkpoints.jsonl"
    lines = file.read_bytes().splitlines()
    lines[-1] = signer.sign(parse_checkpoint(lines[-1], "x").body).encode()
    file.write_bytes(b"".join(line + b"\n" for line in lines))


def test_a_forged_checkpoint_signature_fails(
    store: Path, tmp_path: Path, archive_keys: ArchiveKeys
) -> None:
    from govrl.archive import Archive, verify_store

    def errors(folder: Path) -> list[str]:
        found = verify_store(Archive.at(folder), signatures=False, trust=trust_of(archive_keys))
        return [str(f) for f in found.errors if f.code == "checkpoint-signature"]

    cases = {
        "root": (lambda s: _forge_root(s), "the signature does not match the checkpoint"),
        "rogue": (lambda s: _resign(s, archive_keys.rogue), "is not a trust anchor, nor issued"),
        "owner": (lambda s: _resign(s, archive_keys.owner), "names role 'owner', not 'archive'"),
    }
    for name, (forge, words) in cases.items():
        copy = tmp_path / name
        shutil.copytree(store, copy)
        forge(copy)
        found = errors(copy)
        assert found and words in found[0], (name, found)
    kept = keep_checkpoint(store, tmp_path / "kept.json")
    forged = json.loads(kept.read_text())
    forged["body"]["tree_size"] = 2  # a shorter history than was signed
    kept.write_text(json.dumps(forged))
    code, report = verify_json("--store", store, "--expect-checkpoint", kept)
    assert code == 1 and "checkpoint-expected-signature" in codes(report)


def test_a_reviewers_key_cannot_sign_checkpoints(archive_keys: ArchiveKeys, tmp_path: Path) -> None:
    dummy = tmp_path / "doc.pdf"
    dummy.write_bytes(b"%PDF-1.7\n")
    args = ("add", dummy, "--store", tmp_path / "s", "--no-trust-check")
    missing = cli(*args)
    assert missing.exit_code == 2 and "no archive key" in missing.output
    owner = cli(
        *args,
        *("--archive-key", archive_keys.owner.key, "--archive-cert", archive_keys.owner.cert),
        *("--passphrase-file", archive_keys.passphrase_file),
    )
    assert owner.exit_code == 1, owner.output
    assert "cannot sign checkpoints: the certificate names role 'owner'" in owner.output
    assert not (tmp_path / "s").exists()


def test_unsigned_checkpoints_say_so_and_fail_a_trust_check_or_a_downgrade(
    tmp_path: Path, archive_keys: ArchiveKeys
) -> None:
    from govrl.archive import Archive, verify_store

    unsigned = tmp_path / "unsigned"
    grow(unsigned, "aa", None)
    code, report = verify_json("--store", unsigned)
    assert code == 0 and [w["code"] for w in report["warnings"]] == ["checkpoint-unsigned"]
    assert report["checkpoint"]["signed"] is False
    judged = verify_store(Archive.at(unsigned), signatures=False, trust=trust_of(archive_keys))
    assert [f.code for f in judged.errors] == ["checkpoint-unsigned"]
    downgraded = tmp_path / "downgraded"
    grow(downgraded, "a", signer_of(archive_keys.archive))
    grow(downgraded, "a", None)
    code, report = verify_json("--store", downgraded)
    assert code == 1 and "checkpoint-unsigned" in codes(report)


def test_a_tree_state_that_disagrees_with_the_log_fails(store: Path) -> None:
    state = json.loads((store / "tree.json").read_text())
    state["frontier"][0] = "sha256:" + "00" * 32
    (store / "tree.json").write_text(json.dumps(state))
    code, report = verify_json("--store", store)
    assert code == 1 and codes(report) == ["tree-state"]


# ---------------------------------------------------------------- bundles


def export(store: Path, system: str, out: Path) -> Path:
    result = cli("export", "--store", store, "--system", system, "-o", out)
    assert result.exit_code == 0, result.output
    return out


def rezip(bundle: Path, change: Callable[[dict[str, bytes]], None]) -> None:
    with zipfile.ZipFile(bundle) as z:
        files = {name: z.read(name) for name in z.namelist()}
    change(files)
    with zipfile.ZipFile(bundle, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)


def drop_from_bundle(files: dict[str, bytes], sequence: int) -> None:
    """Remove one entry and everything that names it, so that every digest agrees again."""
    lines = files["log.jsonl"].splitlines()
    gone = next(json.loads(line) for line in lines if json.loads(line)["sequence"] == sequence)
    files["log.jsonl"] = b"".join(
        line + b"\n" for line in lines if json.loads(line)["sequence"] != sequence
    )
    digest = gone["document"]["digest"].removeprefix("sha256:")
    del files[f"objects/sha256/{digest[:2]}/{digest[2:]}"]
    proofs = json.loads(files["proofs.json"])
    proofs["entries"] = [p for p in proofs["entries"] if p["sequence"] != sequence]
    files["proofs.json"] = json.dumps(proofs).encode()
    manifest = json.loads(files["manifest.json"])
    manifest["entries"] = [e for e in manifest["entries"] if e["sequence"] != sequence]
    manifest["files"] = {
        name: "sha256:" + hashlib.sha256(data).hexdigest()
        for name, data in files.items()
        if name not in ("manifest.json", "SHA256SUMS")
    }
    files["manifest.json"] = json.dumps(manifest).encode()
    files["SHA256SUMS"] = b"".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n".encode()
        for name, data in sorted(files.items())
        if name != "SHA256SUMS"
    )


def test_a_bundle_proves_each_entry_and_that_it_holds_all_of_its_system(
    store: Path, tmp_path: Path
) -> None:
    bundle = export(store, "a", tmp_path / "a.zip")
    with zipfile.ZipFile(bundle) as z:
        proofs = json.loads(z.read("proofs.json"))
        checkpoint = json.loads(z.read("checkpoint.json"))
    lines = lines_of(store)
    assert [p["sequence"] for p in proofs["entries"]] == [1, 3, 4]
    assert proofs["system"] == {"system": "a", "entries": 3, "last": 4}
    assert proofs["leaves"] == ["sha256:" + leaf_hash(line).hex() for line in lines]
    for p in proofs["entries"]:
        assert p["inclusion"] == ["sha256:" + h.hex() for h in path(p["sequence"] - 1, lines)]
    assert checkpoint["body"]["root_hash"] == "sha256:" + mth(lines).hex()
    code, report = verify_json(bundle)
    assert code == 0 and report["entries"] == 3, report
    assert report["checkpoint"]["tree_size"] == 5


@pytest.mark.parametrize(("dropped", "named"), [(3, None), (4, 4)])
def test_a_bundle_with_one_of_its_systems_entries_removed_fails(
    store: Path, tmp_path: Path, dropped: int, named: int | None
) -> None:
    bundle = export(store, "a", tmp_path / "a.zip")
    rezip(bundle, lambda files: drop_from_bundle(files, dropped))
    code, report = verify_json(bundle)
    assert code == 1 and codes(report) == ["bundle-incomplete"], report
    finding = report["errors"][0]
    assert "counts 3 entries of 'a' up to entry 5" in finding["message"]
    assert "1 is missing" in finding["message"] and finding["sequence"] == named


def test_a_bundle_whose_proofs_or_checkpoint_were_changed_fails(
    store: Path, tmp_path: Path
) -> None:
    def edit_leaf(files: dict[str, bytes]) -> None:
        proofs = json.loads(files["proofs.json"])
        proofs["leaves"][1] = "sha256:" + "00" * 32
        files["proofs.json"] = json.dumps(proofs).encode()

    def drop_checkpoint(files: dict[str, bytes]) -> None:
        del files["checkpoint.json"]

    for change, code in ((edit_leaf, "bundle-proofs"), (drop_checkpoint, "bundle-checkpoint")):
        bundle = export(store, "a", tmp_path / f"{code}.zip")
        rezip(bundle, change)
        exit_code, report = verify_json(bundle)
        assert exit_code == 1 and code in codes(report), report


def test_a_bundle_is_checked_against_a_checkpoint_kept_from_earlier(
    store: Path, tmp_path: Path, archive_keys: ArchiveKeys
) -> None:
    kept = keep_checkpoint(store, tmp_path / "kept.json")
    grow(store, "ab", signer_of(archive_keys.archive))
    later = export(store, "a", tmp_path / "later.zip")
    code, report = verify_json(later, "--expect-checkpoint", kept)
    assert code == 0 and report["consistency"]["holds"], report
    entries = [json.loads(line) for line in lines_of(store)]
    rewrite(store, [e for e in entries if e["sequence"] != 3], signer_of(archive_keys.archive))
    rewritten = export(store, "a", tmp_path / "rewritten.zip")
    assert verify_json(rewritten)[0] == 0  # complete as of its own, re-signed checkpoint
    code, report = verify_json(rewritten, "--expect-checkpoint", kept)
    assert code == 1 and codes(report) == ["checkpoint-inconsistent"], report


# ---------------------------------------------------------------- reading a bundle safely


def _with_member(bundle: Path, info: zipfile.ZipInfo, data: bytes) -> None:
    with zipfile.ZipFile(bundle, "a") as z:
        z.writestr(info, data)


def test_a_zip_bomb_is_refused_without_being_unpacked(store: Path, tmp_path: Path) -> None:
    bundle = export(store, "a", tmp_path / "a.zip")
    zeros = bytes(1 << 20)
    with (
        zipfile.ZipFile(bundle, "a", compression=zipfile.ZIP_DEFLATED) as z,
        z.open("objects/sha256/00/bomb", "w", force_zip64=True) as member,
    ):
        for _ in range(300):
            member.write(zeros)
    assert bundle.stat().st_size < 5 << 20
    tracemalloc.start()
    started = time.monotonic()
    code, report = verify_json(bundle)
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert code == 1 and elapsed < 10 and peak < 50 << 20, (elapsed, peak)
    refused = [e for e in report["errors"] if e["code"] == "bundle-unsafe"]
    assert refused and refused[0]["file"] == "objects/sha256/00/bomb"
    assert "300.0 MiB unpacked, over the 256.0 MiB limit" in refused[0]["message"]


def test_an_oversized_manifest_is_refused_unread(store: Path, tmp_path: Path) -> None:
    bundle = export(store, "a", tmp_path / "a.zip")

    def inflate(files: dict[str, bytes]) -> None:
        files["manifest.json"] = b" " * (65 << 20)

    with zipfile.ZipFile(bundle) as z:
        files = {name: z.read(name) for name in z.namelist()}
    inflate(files)
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    code, report = verify_json(bundle)
    assert code == 1 and codes(report) == ["bundle-manifest"]
    assert "over the limit of 64.0 MiB" in report["errors"][0]["message"]


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


UNSAFE = {
    "parent": (zipfile.ZipInfo("objects/../../outside.txt"), "a path with a '..'"),
    "absolute": (zipfile.ZipInfo("/tmp/outside.txt"), "an absolute path"),
    "symlink": (_symlink("objects/sha256/ab/link"), "a symbolic link"),
}


@pytest.mark.parametrize("kind", UNSAFE)
def test_unsafe_member_paths_are_refused(store: Path, tmp_path: Path, kind: str) -> None:
    info, words = UNSAFE[kind]
    bundle = export(store, "a", tmp_path / "a.zip")
    _with_member(bundle, info, b"/etc/passwd")
    code, report = verify_json(bundle)
    refused = [e for e in report["errors"] if e["code"] == "bundle-unsafe"]
    assert code == 1 and refused and refused[0]["file"] == info.filename
    assert words in refused[0]["message"] and "refused, not read" in refused[0]["message"]
    text = cli("verify", bundle, "--no-signatures")
    assert text.exit_code == 1 and f"error: {info.filename}: " in text.output


# ---------------------------------------------------------------- by hand, as the docs say


def _docs_script() -> str:
    text = (ROOT / "docs" / "archive.md").read_text(encoding="utf-8")
    found = re.search(r"```python\n(# check_bundle\.py.*?)```", text, re.S)
    assert found, "docs/archive.md lost its check_bundle.py"
    return found.group(1)


def test_the_documented_script_and_openssl_check_a_bundle_by_hand(
    store: Path, tmp_path: Path, archive_keys: ArchiveKeys
) -> None:
    script = tmp_path / "check_bundle.py"
    script.write_text(_docs_script())
    kept = keep_checkpoint(store, tmp_path / "kept.json")
    grow(store, "a", signer_of(archive_keys.archive))
    bundle = export(store, "a", tmp_path / "a.zip")
    good, bad = tmp_path / "good", tmp_path / "bad"
    for folder in (good, bad):
        with zipfile.ZipFile(bundle) as z:
            z.extractall(folder)
    run = [sys.executable, str(script)]
    done = subprocess.run([*run, str(kept)], cwd=good, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: all 4 entries of a up to entry 6" in done.stdout
    (bad / "log.jsonl").write_bytes(b"".join(lines_of(store)[i] + b"\n" for i in (0, 3, 5)))
    refused = subprocess.run(run, cwd=bad, capture_output=True, text=True)
    assert refused.returncode != 0 and "4 entries counted, 3 held" in refused.stderr
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    sh = (
        "openssl x509 -inform DER -in archive-cert.der -out archive-cert.pem && "
        "openssl x509 -in archive-cert.pem -pubkey -noout > archive-key.pem && "
        "openssl dgst -sha256 -verify archive-key.pem -signature checkpoint-signature.der "
        f"checkpoint-body.json && openssl verify -CAfile {archive_keys.ca} archive-cert.pem"
    )
    signed = subprocess.run(sh, shell=True, cwd=good, capture_output=True, text=True)
    assert signed.returncode == 0 and "Verified OK" in signed.stdout, signed.stderr
    body = good / "checkpoint-body.json"
    body.write_bytes(body.read_bytes().replace(b'"tree_size":6', b'"tree_size":5'))
    forged = subprocess.run(sh, shell=True, cwd=good, capture_output=True, text=True)
    assert forged.returncode != 0


# ---------------------------------------------------------------- through the real thing


@pytest.mark.pdf
@pytest.mark.slow
def test_the_regulators_two_commands_on_signed_approvals(
    signed_approval: Path,
    owner_signed_approval: Path,
    archive_keys: ArchiveKeys,
    tmp_path: Path,
) -> None:
    from tests.support.approvals import THREE

    store = tmp_path / "store"
    key = ("--archive-key", archive_keys.archive.key, "--archive-cert", archive_keys.archive.cert)
    common = ("--store", store, "--policy", THREE, "--trust", archive_keys.ca, *key)
    secret = ("--passphrase-file", archive_keys.passphrase_file)
    first = cli("add", signed_approval, *common, *secret)
    assert first.exit_code == 0, first.output
    assert "checkpoint: 1 entry, root sha256:" in first.output
    assert "signed by Merkle archive key" in first.output
    kept = keep_checkpoint(store, tmp_path / "kept.json")
    second = cli("add", owner_signed_approval, *common, *secret, "--allow-unverified")
    assert second.exit_code == 0, second.output
    system = json.loads(lines_of(store)[0])["system"]["id"]
    bundle = export(store, system, tmp_path / "bundle.zip")
    trust = ("--trust", archive_keys.ca, "--policy", THREE)
    # Entry 2 was archived unverified: the bundle holds, its documents fail until it is withdrawn.
    plain = cli("verify", bundle, *trust)
    assert plain.exit_code == 1 and "  archive: INTACT AND COMPLETE" in plain.output, plain.output
    assert "checkpoint 2 signed by Merkle archive key (trusted)" in plain.output
    against = cli("verify", bundle, *trust, "--expect-checkpoint", kept)
    assert against.exit_code == 1 and "  archive: INTACT AND COMPLETE" in against.output
    assert "FAILED (bundle, 2 entries" in against.output
