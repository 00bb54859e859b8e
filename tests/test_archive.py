"""The archive: adding signed approvals, and every way of tampering that `verify` must catch."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import multiprocessing
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from govrl.cli import main
from tests.support.approvals import ROLES, THREE
from tests.support.mlflow_server import MlflowServer, free_port
from tests.support.pki import PASSPHRASE, Pki, Reviewer
from tests.support.records import record_data

pytestmark = [pytest.mark.pdf, pytest.mark.slow]


@dataclass(frozen=True)
class Signed:
    """Approvals rendered and signed once per session; tests copy what they change."""

    folder: Path
    pki: Pki
    ranker_03: Path  # shelf-ranker 0.3.0, signed by all three roles
    ranker_04: Path  # shelf-ranker 0.4.0, signed by all three roles
    other: Path  # another system, signed by all three roles
    owner_only: Path  # shelf-ranker 0.3.0 with one of three signatures


def _with_validity(data: bytes, days: int = 365) -> bytes:
    """Stamp /GovrlValidUntil when the renderer does not yet (pdfrecord reads it from /Info)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    info = generic.DictionaryObject(dict(writer.prev.trailer_view["/Info"].items()))
    until = (dt.date.today() + dt.timedelta(days=days)).isoformat()
    info[generic.NameObject("/GovrlValidUntil")] = generic.TextStringObject(until)
    writer.set_info(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _render_and_sign(
    folder: Path, stem: str, reviewers: dict[str, Reviewer], roles: list[str], **system: Any
) -> Path:
    from govrl.documents import keys
    from govrl.documents.pdffile import open_pdf
    from govrl.documents.render import Kind, render
    from govrl.documents.signing import sign_pdf
    from govrl.record import AssessmentRecord
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.policy import load_policy

    data = record_data(3)
    data["system"].update(system)
    for change in data["changelog"]:
        change["version"] = data["system"]["version"]
    policy, library = load_policy(THREE), ChecklistLibrary.discover()
    rendered = render(
        AssessmentRecord.model_validate(data), kind=Kind.APPROVAL, policy=policy, library=library
    )
    current = folder / f"{stem}-unsigned.pdf"
    current.write_bytes(rendered.content)
    if open_pdf(current).valid_until is None:
        current.write_bytes(_with_validity(rendered.content))
    for n, role in enumerate(roles, 1):
        reviewer = reviewers[role]
        creds = keys.load_credentials(reviewer.key, reviewer.cert, PASSPHRASE)
        out = folder / f"{stem}-signed-{n}.pdf"
        sign_pdf(current, out, creds, role, policy=policy, library=library)
        current = out
    return current


@pytest.fixture(scope="session")
def signed(
    tmp_path_factory: pytest.TempPathFactory,
    pki: Pki,
    reviewers: dict[str, Reviewer],
    signed_approval: Path,
    owner_signed_approval: Path,
) -> Signed:
    """Shelf-ranker 0.3.0 is the shared tier-3 approval; the other two are rendered here."""
    folder = tmp_path_factory.mktemp("signed")
    return Signed(
        folder=folder,
        pki=pki,
        ranker_03=signed_approval,
        ranker_04=_render_and_sign(folder, "ranker-04", reviewers, ROLES, version="0.4.0"),
        other=_render_and_sign(
            folder, "other", reviewers, ROLES, id="dose-advisor", name="Dose advisor"
        ),
        owner_only=owner_signed_approval,
    )


# `archive add` signs a checkpoint with the archive key: given here through the environment.
ARCHIVE_KEY: dict[str, str] = {}


@pytest.fixture(scope="session", autouse=True)
def archive_key(pki: Pki) -> dict[str, str]:
    """An archive key issued by the test CA, as $GOVRL_ARCHIVE_KEY and $GOVRL_ARCHIVE_CERT."""
    if not ARCHIVE_KEY:
        key = pki.reviewer("Archive key", "archive")
        ARCHIVE_KEY.update(
            GOVRL_ARCHIVE_KEY=str(key.key),
            GOVRL_ARCHIVE_CERT=str(key.cert),
            GOVRL_KEY_PASSPHRASE=PASSPHRASE.decode(),
        )
    return ARCHIVE_KEY


def _signer(key: dict[str, str]) -> Any:
    from govrl.archive.checkpoint import CheckpointSigner

    cert = Path(key["GOVRL_ARCHIVE_CERT"])
    return CheckpointSigner.load(Path(key["GOVRL_ARCHIVE_KEY"]), cert, PASSPHRASE)


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["archive", *map(str, args)], env=ARCHIVE_KEY)


def add(pdf: str | Path, store: str | Path, *extra: str | Path, ca: Path) -> Result:
    """`archive add` under the three-signer policy, trusting ``ca``."""
    return cli("add", pdf, "--store", store, "--policy", THREE, "--trust", ca, *extra)


@pytest.fixture(scope="session")
def built_store(signed: Signed, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Entry 1 ranker 0.3.0, entry 2 the other system, entry 3 ranker 0.4.0."""
    store = tmp_path_factory.mktemp("archive") / "store"
    for pdf in (signed.ranker_03, signed.other, signed.ranker_04):
        result = add(pdf, store, "--by", "Ada Byron", ca=signed.pki.ca.cert)
        assert result.exit_code == 0, result.output
    return store


@pytest.fixture
def store(built_store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(built_store, copy)
    return copy


def log_lines(store: Path) -> list[bytes]:
    return (store / "log.jsonl").read_bytes().splitlines()


def entries(store: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log_lines(store)]


def object_path(store: Path, digest: str) -> Path:
    hexdigest = digest.removeprefix("sha256:")
    return store / "objects" / "sha256" / hexdigest[:2] / hexdigest[2:]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def pinned(signed: Signed) -> tuple[str | Path, ...]:
    """Trust the test CA and pin the three-signer policy the documents were decided under."""
    return ("--trust", signed.pki.ca.cert, "--policy", THREE)


def verify_json(*args: str | Path) -> tuple[int, dict[str, Any]]:
    result = cli("verify", *args, "--json")
    assert result.stdout, result.output  # an empty report means verify itself failed
    return result.exit_code, json.loads(result.stdout)


# ---------------------------------------------------------------- adding


def test_add_keeps_document_and_record_by_content_and_chains_the_entries(
    store: Path, signed: Signed
) -> None:
    from govrl.documents.pdffile import open_pdf

    first, second, third = entries(store)
    document = signed.ranker_03.read_bytes()
    assert first["document"]["digest"] == sha256(document)
    assert object_path(store, first["document"]["digest"]).read_bytes() == document
    record = open_pdf(signed.ranker_03).record_json
    assert record is not None
    assert object_path(store, first["record"]["digest"]).read_bytes() == record
    assert object_path(store, first["policy"]["digest"]).read_bytes() == THREE.read_bytes()
    assert [e["sequence"] for e in (first, second, third)] == [1, 2, 3]
    assert first["prev"] == "sha256:" + "0" * 64
    lines = log_lines(store)
    assert second["prev"] == sha256(lines[0]) and third["prev"] == sha256(lines[1])
    assert json.loads((store / "HEAD").read_text()) == {"sequence": 3, "hash": sha256(lines[2])}
    assert first["system"] == {
        "id": "shelf-ranker",
        "name": "Shelf ranker",
        "version": "0.3.0",
        "risk_tier": 3,
    }
    assert third["system"]["version"] == "0.4.0" and second["system"]["id"] == "dose-advisor"
    assert first["document"]["kind"] == "approval" and first["verdict"] == "approve"
    assert first["valid_until"] == open_pdf(signed.ranker_03).valid_until
    assert [s["role"] for s in first["signers"]] == ROLES
    assert first["verification"]["ok"] and first["added_by"] == "Ada Byron"


def test_adding_the_same_document_again_adds_nothing(store: Path, signed: Signed) -> None:
    before = (store / "log.jsonl").read_bytes(), (store / "HEAD").read_bytes()
    result = add(signed.other, store, ca=signed.pki.ca.cert)
    assert result.exit_code == 0, result.output
    assert "already archived as entry 2" in result.output
    assert ((store / "log.jsonl").read_bytes(), (store / "HEAD").read_bytes()) == before


def test_a_document_that_fails_verification_is_refused(store: Path, signed: Signed) -> None:
    before = (store / "log.jsonl").read_bytes()
    result = add(signed.owner_only, store, ca=signed.pki.ca.cert)
    assert result.exit_code == 1
    assert "required roles not validly signed: domain-expert, independent-validator" in (
        result.output
    )
    assert "Traceback" not in result.output
    assert (store / "log.jsonl").read_bytes() == before


def test_allow_unverified_archives_it_with_its_problems(store: Path, signed: Signed) -> None:
    args = (
        "--store",
        store,
        "--policy",
        THREE,
        "--allow-unverified",
        "--trust",
        signed.pki.ca.cert,
    )
    assert cli("add", signed.owner_only, *args).exit_code == 0
    entry = entries(store)[3]
    assert entry["verification"]["ok"] is False
    assert any("domain-expert" in p for p in entry["verification"]["problems"])
    code, report = verify_json("--store", store, *pinned(signed))
    assert code == 1 and report["archive"]["ok"] and not report["documents"]["ok"], report
    assert [e["code"] for e in report["errors"]] == ["archived-unverified"]


@pytest.mark.parametrize("allow", [False, True])
def test_a_pdf_that_is_not_a_govrl_document_is_refused(
    tmp_path: Path, plain_pdf: Path, allow: bool, pki: Pki
) -> None:
    store = tmp_path / "store"
    text = tmp_path / "notes.pdf"
    text.write_text("just text")
    extra = ["--allow-unverified"] if allow else []
    result = cli("add", plain_pdf, text, "--store", store, *extra, "--trust", pki.ca.cert)
    assert result.exit_code == 1
    assert f"{plain_pdf}: no embedded record.json: not a govrl document" in result.output
    assert "not a PDF file" in result.output
    assert not (store / "log.jsonl").exists()


def test_list_filters_by_system_version_verdict_and_date(store: Path) -> None:
    def sequences(*args: str) -> list[int]:
        result = cli("list", "--store", store, "--json", *args)
        assert result.exit_code == 0, result.output
        return [e["sequence"] for e in json.loads(result.stdout)]

    today = dt.date.today()
    assert sequences() == [1, 2, 3]
    assert sequences("--system", "shelf-ranker") == [1, 3]
    assert sequences("--system", "Dose advisor") == [2]
    assert sequences("--system", "shelf-ranker", "--version", "0.4.0") == [3]
    assert sequences("--decision", "approve") == [1, 2, 3]
    assert sequences("--verdict", "reject") == []
    assert sequences("--since", today.isoformat()) == [1, 2, 3]
    assert sequences("--until", (today - dt.timedelta(days=1)).isoformat()) == []
    table = cli("list", "--store", store, "--system", "dose-advisor").output
    assert "dose-advisor" in table and "owner, domain-expert, independent-validator" in table
    assert "shelf-ranker" not in table


# ---------------------------------------------------------------- verifying a store


def test_a_clean_store_verifies(store: Path, signed: Signed) -> None:
    result = cli("verify", "--store", store, *pinned(signed))
    assert result.exit_code == 0, result.output
    assert "VERIFIED (store, 3 entries, 7 objects, signatures of 3 documents re-verified" in (
        result.output
    )


def _rewrite_log(store: Path, change: Callable[[list[bytes]], list[bytes]]) -> None:
    lines = change(log_lines(store))
    (store / "log.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))


def _edit_entry(store: Path, index: int) -> None:
    def change(lines: list[bytes]) -> list[bytes]:
        lines[index] = lines[index].replace(b'"version":"0.3.0"', b'"version":"0.3.1"')
        assert b"0.3.1" in lines[index]
        return lines

    _rewrite_log(store, change)


def _doc(store: Path, n: int) -> Path:
    return object_path(store, entries(store)[n - 1]["document"]["digest"])


def _record(store: Path, n: int) -> Path:
    return object_path(store, entries(store)[n - 1]["record"]["digest"])


def assert_only_entry_2_broken(errors: list[dict[str, Any]]) -> None:
    """Entry 2's document, a byte changed, fails its signatures; where the byte lands in the
    embedded record, the entry no longer matches its document either. Nothing else fails."""
    found = {(e["code"], e["sequence"]) for e in errors}
    assert ("signature", 2) in found
    assert found <= {("signature", 2), ("entry-mismatch", 2)}


def _flip_a_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


def _change_object(store: Path) -> str:
    path = _doc(store, 2)
    path.write_bytes(_flip_a_byte(path.read_bytes()))
    return str(path.relative_to(store))


def _remove_object(store: Path) -> str:
    path = _record(store, 3)
    path.unlink()
    return str(path.relative_to(store))


def _add_unlisted(store: Path) -> str:
    data = b"%PDF-1.7 smuggled in\n"
    path = object_path(store, sha256(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path.relative_to(store))


def _swap(store: Path) -> str:
    _rewrite_log(store, lambda lines: [lines[1], lines[0], lines[2]])
    return "log.jsonl"


def _edit_middle(store: Path) -> str:
    _edit_entry(store, 0)
    return "log.jsonl"


def _edit_last(store: Path) -> str:
    def change(lines: list[bytes]) -> list[bytes]:
        lines[2] = lines[2].replace(b'"verdict":"approve"', b'"verdict":"reject"')
        return lines

    _rewrite_log(store, change)
    return "HEAD"


def _truncate(store: Path) -> str:
    _rewrite_log(store, lambda lines: lines[:1])
    return "log.jsonl"


def _break_head(store: Path) -> str:
    head = json.loads((store / "HEAD").read_text())
    head["hash"] = sha256(b"something else")
    (store / "HEAD").write_text(json.dumps(head))
    return "HEAD"


def _tear_last_line(store: Path) -> str:
    log = store / "log.jsonl"
    data = log.read_bytes()
    log.write_bytes(data[: len(data) - len(log_lines(store)[-1]) // 2])
    return "log.jsonl"


def _delete_log(store: Path) -> str:
    (store / "log.jsonl").unlink()
    return "log.jsonl"


TAMPERING = {
    "changed object bytes": (_change_object, "object-changed", 2, "content changed"),
    "missing object": (_remove_object, "object-missing", 3, "missing; it is entry 3's record"),
    "added unlisted object": (_add_unlisted, "object-unlisted", None, "not named by any"),
    "reordered log lines": (_swap, "entry-out-of-place", 2, "reordered"),
    "edited log entry": (_edit_middle, "chain-broken", 1, "entry 1 (line 1) was changed"),
    "edited last entry": (_edit_last, "head-mismatch", 3, "that entry or HEAD was changed"),
    "truncated log": (_truncate, "log-truncated", 2, "entries 2-3 are gone"),
    "head mismatch": (_break_head, "head-mismatch", 3, "records sha256:"),
    "corrupt last line": (_tear_last_line, "log-torn", 3, "incomplete last line"),
    "deleted log": (_delete_log, "log-truncated", 1, "holds no entries; entries 1-3 are gone"),
}


@pytest.mark.parametrize("how", TAMPERING)
def test_verify_names_every_kind_of_tampering(store: Path, how: str, signed: Signed) -> None:
    tamper, code, sequence, words = TAMPERING[how]
    file = tamper(store)
    exit_code, report = verify_json(
        "--store", store, "--trust", signed.pki.ca.cert, "--policy", THREE
    )
    assert exit_code == 1, report
    found = [e for e in report["errors"] if e["code"] == code]
    assert found, report["errors"]
    assert found[0]["file"] == file
    assert found[0]["sequence"] == sequence
    assert words in found[0]["message"]
    text = cli("verify", "--store", store, *pinned(signed))
    assert text.exit_code == 1 and f"error: {file}: " in text.output and "FAILED" in text.output


def _rechain(store: Path, kept: list[dict[str, Any]]) -> None:
    """Rewrite history as an attacker with write access (and the archive key) would: log,
    HEAD and the checkpoints agree again."""
    from govrl.archive import Archive
    from govrl.archive.log import Entry, Head

    prev, lines = "sha256:" + "0" * 64, []
    for n, data in enumerate(kept, 1):
        line = Entry.model_validate({**data, "sequence": n, "prev": prev}).encode()
        lines.append(line)
        prev = sha256(line)
    (store / "log.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    (store / "HEAD").write_bytes(Head(len(lines), prev).encode())
    named = {
        object_path(store, e[part]["digest"])
        for e in entries(store)
        for part in ("document", "record", "policy")
    }
    for path in (store / "objects").rglob("*"):
        if path.is_file() and path not in named:
            path.unlink()
    (store / "checkpoints.jsonl").unlink()
    Archive.at(store).checkpoint(_signer(ARCHIVE_KEY))


def test_a_changed_document_under_a_rewritten_chain_fails_its_signatures(
    store: Path, signed: Signed
) -> None:
    path = _doc(store, 2)
    changed = _flip_a_byte(path.read_bytes())
    new = object_path(store, sha256(changed))
    new.parent.mkdir(parents=True, exist_ok=True)
    new.write_bytes(changed)
    found = entries(store)
    found[1]["document"]["digest"] = sha256(changed)
    _rechain(store, found)
    assert cli("verify", "--store", store, "--no-signatures").exit_code == 0
    code, report = verify_json("--store", store, *pinned(signed))
    assert code == 1
    assert_only_entry_2_broken(report["errors"])


def test_signatures_are_judged_alike_in_one_process_or_several(store: Path, signed: Signed) -> None:
    _change_object(store)
    path = _doc(store, 2)
    found = entries(store)
    found[1]["document"]["digest"] = sha256(path.read_bytes())
    object_path(store, found[1]["document"]["digest"]).parent.mkdir(exist_ok=True)
    path.rename(object_path(store, found[1]["document"]["digest"]))
    _rechain(store, found)
    one = verify_json(
        "--store", store, "--jobs", "1", "--trust", signed.pki.ca.cert, "--policy", THREE
    )
    two = verify_json(
        "--store", store, "--jobs", "2", "--trust", signed.pki.ca.cert, "--policy", THREE
    )
    assert one[0] == two[0] == 1 and one[1]["signatures_checked"] == 3
    assert one[1]["errors"] == two[1]["errors"]
    assert_only_entry_2_broken(one[1]["errors"])


def test_verify_reads_a_copy_it_cannot_lock(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from govrl.archive.storage import DirectoryStorage
    from govrl.errors import EnvironmentFailure

    def read_only(self: DirectoryStorage) -> None:
        raise EnvironmentFailure("cannot create lock file: Read-only file system")

    monkeypatch.setattr(DirectoryStorage, "locked", read_only)
    code, report = verify_json("--store", store, "--no-signatures")
    assert code == 0 and report["entries"] == 3, report


def test_a_consistently_rewritten_log_fails_against_an_earlier_head(
    store: Path, signed: Signed
) -> None:
    head = json.loads((store / "HEAD").read_text())
    _rechain(store, [e for e in entries(store) if e["sequence"] != 2])
    assert cli("verify", "--store", store, "--no-signatures").exit_code == 0
    code, report = verify_json(
        "--store",
        store,
        "--expect-head",
        f"3:{head['hash']}",
        *pinned(signed),
    )
    assert code == 1
    assert [e["code"] for e in report["errors"]] == ["head-unexpected"]


def test_verify_without_signatures_still_checks_hashes(store: Path) -> None:
    _change_object(store)
    code, report = verify_json("--store", store, "--no-signatures")
    assert code == 1 and report["signatures_checked"] == 0
    assert [e["code"] for e in report["errors"]] == ["object-changed"]


def test_verify_a_folder_that_is_no_archive_is_a_usage_error(tmp_path: Path, pki: Pki) -> None:
    result = cli("verify", "--store", tmp_path, "--trust", pki.ca.cert)
    assert result.exit_code == 2 and "no govrl archive here" in result.output


# ---------------------------------------------------------------- crashes


def _archive(store: Path) -> Any:
    from govrl.archive import Archive

    return Archive.at(store)


def _policy() -> Any:
    from govrl.archive import PolicyFile

    return PolicyFile.load(THREE)


def _trust(signed: Signed) -> Any:
    from govrl.documents.keys import load_certificates

    return load_certificates(signed.pki.ca.cert)


def test_an_add_that_crashes_before_its_entry_leaves_a_valid_store(
    store: Path, signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from govrl.archive.storage import DirectoryStorage

    def crash(*_: object) -> None:
        raise KeyboardInterrupt  # the process dies after writing its objects

    monkeypatch.setattr(DirectoryStorage, "append", crash)
    again = tmp_path / "reissued.pdf"
    again.write_bytes(signed.ranker_03.read_bytes() + b"%reissued\n")
    with pytest.raises(KeyboardInterrupt):
        _archive(store).add(again, policy=_policy(), trust=_trust(signed))
    monkeypatch.undo()
    assert len(log_lines(store)) == 3
    code, report = verify_json("--store", store, *pinned(signed))
    assert code == 0, report
    assert {w["code"] for w in report["warnings"]} == {"add-interrupted", "object-unlisted"}
    result = add(again, store, ca=signed.pki.ca.cert)
    assert result.exit_code == 0 and "archived as entry 4" in result.output
    assert cli("repair", "--store", store).exit_code == 0
    code, report = verify_json("--store", store, *pinned(signed))
    assert code == 0 and report["warnings"] == [], report


def test_an_add_that_crashes_before_head_is_completed_by_the_next(
    store: Path, signed: Signed, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from govrl.archive.storage import DirectoryStorage

    real_write = DirectoryStorage.write

    def write(self: DirectoryStorage, key: str, data: bytes) -> None:
        if key == "HEAD":
            raise KeyboardInterrupt
        real_write(self, key, data)

    monkeypatch.setattr(DirectoryStorage, "write", write)
    reissued = tmp_path / "reissued.pdf"
    reissued.write_bytes(signed.ranker_03.read_bytes() + b"%reissued\n")
    with pytest.raises(KeyboardInterrupt):
        _archive(store).add(reissued, policy=_policy(), trust=_trust(signed))
    monkeypatch.undo()
    code, report = verify_json("--store", store, "--no-signatures")
    assert code == 0
    assert "head-behind" in {w["code"] for w in report["warnings"]}
    result = add(signed.owner_only, store, "--allow-unverified", ca=signed.pki.ca.cert)
    assert result.exit_code == 0, result.output
    assert "HEAD now records it" in result.output and "archived as entry 5" in result.output
    code, report = verify_json("--store", store, "--no-signatures")
    assert code == 0 and report["head"]["sequence"] == 5


def test_add_refuses_to_append_after_a_torn_last_line(store: Path, signed: Signed) -> None:
    _tear_last_line(store)
    torn = (store / "log.jsonl").read_bytes()
    result = add(signed.owner_only, store, "--allow-unverified", ca=signed.pki.ca.cert)
    assert result.exit_code == 1
    assert "ends in an incomplete entry" in result.output and "refusing to append" in result.output
    assert (store / "log.jsonl").read_bytes() == torn


def test_repair_sets_aside_a_torn_line_head_never_recorded(store: Path, signed: Signed) -> None:
    # An append that died half-way: entry 4's line is partly written, HEAD still says 3.
    with (store / "log.jsonl").open("ab") as log:
        log.write(b'{"added_at":"2026-')
    assert verify_json("--store", store, *pinned(signed))[0] == 1
    result = cli("repair", "--store", store)
    assert result.exit_code == 0 and "moved an incomplete last entry" in result.output
    code, report = verify_json("--store", store, "--no-signatures")
    assert code == 0 and report["errors"] == report["warnings"] == []
    added = add(signed.owner_only, store, "--allow-unverified", ca=signed.pki.ca.cert)
    assert "archived as entry 4" in added.output


def test_repair_refuses_real_damage(store: Path) -> None:
    _truncate(store)
    result = cli("repair", "--store", store)
    assert result.exit_code == 1 and "restore from a backup" in result.output


# ---------------------------------------------------------------- concurrency


@pytest.fixture(scope="session")
def tiny_pdf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An unsigned govrl-like document: an embedded record, the digest and kind in /Info."""
    import weasyprint  # type: ignore[import-untyped]

    from govrl.record import AssessmentRecord
    from govrl.record.identity import canonical_json, digest_of

    record = canonical_json(AssessmentRecord.model_validate(record_data(1)))
    document = weasyprint.HTML(string="<p>tiny govrl document</p>").render()
    document.metadata.custom = {
        "GovrlRecordDigest": digest_of(record),
        "GovrlDocument": "approval",
        "GovrlValidUntil": "2099-01-01",
    }
    data: bytes = document.write_pdf(
        attachments=[weasyprint.Attachment(string=record, name="record.json")],
        custom_metadata=True,
    )
    return data


@pytest.fixture
def plain_pdf(tmp_path: Path) -> Path:
    import weasyprint

    path = tmp_path / "plain.pdf"
    path.write_bytes(weasyprint.HTML(string="<p>no record</p>").write_pdf())
    return path


def _add_all(store: str, paths: list[str], start: Any, key: dict[str, str]) -> None:
    from govrl.archive import Archive, PolicyFile

    archive, policy, signer = Archive.at(Path(store)), PolicyFile.load(), _signer(key)
    start.wait()
    for path in paths:
        archive.add(
            Path(path), policy=policy, allow_unverified=True, added_by="worker", signer=signer
        )


def test_two_processes_adding_at_once_leave_one_valid_chain(
    tmp_path: Path, tiny_pdf: bytes
) -> None:
    paths = []
    for n in range(200):
        path = tmp_path / f"doc-{n}.pdf"
        path.write_bytes(tiny_pdf + f"%copy {n}\n".encode())  # distinct bytes, same document
        paths.append(str(path))
    store = tmp_path / "store"
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(target=_add_all, args=(str(store), half, start, ARCHIVE_KEY))
        for half in (paths[:100], paths[100:])
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    found = entries(store)
    assert [e["sequence"] for e in found] == list(range(1, 201))
    assert sorted(e["document"]["file_name"] for e in found) == sorted(Path(p).name for p in paths)
    code, report = verify_json("--store", store, "--no-signatures")
    assert code == 0 and report["warnings"] == [] and report["entries"] == 200, report


# ---------------------------------------------------------------- the regulator's bundle


@pytest.fixture(scope="session")
def built_bundle(built_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "shelf-ranker.zip"
    result = cli("export", "--store", built_store, "--system", "shelf-ranker", "-o", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def bundle(built_bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(built_bundle, tmp_path / "bundle.zip"))


def test_export_holds_one_systems_documents_and_chain(bundle: Path, built_store: Path) -> None:
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
        log = z.read("log.jsonl").splitlines()
        readme = z.read("README.txt").decode()
    store_lines = log_lines(built_store)
    assert log == [store_lines[0], store_lines[2]]  # entries 1 and 3, verbatim
    assert manifest["chain"] == [sha256(line) for line in store_lines]
    assert manifest["head"] == json.loads((built_store / "HEAD").read_text())
    assert [e["sequence"] for e in manifest["entries"]] == [1, 3]
    documents = {json.loads(line)["document"]["digest"] for line in log}
    for digest in documents:
        assert object_path(Path(), digest).as_posix() in names
    other = entries(built_store)[1]["document"]["digest"]
    assert object_path(Path(), other).as_posix() not in names
    assert {"README.txt", "manifest.json", "SHA256SUMS", "log.jsonl"} <= names
    assert "shelf-ranker" in readme and "sha256sum -c SHA256SUMS" in readme
    assert manifest["head"]["hash"] in readme


def test_a_bundle_checks_by_hand_as_its_readme_says(bundle: Path, tmp_path: Path) -> None:
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum is not installed")
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(folder)
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    for n, line in enumerate((folder / "log.jsonl").read_text().splitlines(), 1):
        entry = json.loads(line)
        by_hand = subprocess.run(
            f"sed -n '{n}p' log.jsonl | tr -d '\\n' | sha256sum",
            shell=True, cwd=folder, capture_output=True, text=True, check=True,
        ).stdout.split()[0]  # fmt: skip
        assert "sha256:" + by_hand == manifest["chain"][entry["sequence"] - 1]
        before = manifest["chain"][entry["sequence"] - 2] if entry["sequence"] > 1 else None
        assert entry["prev"] == (before or "sha256:" + "0" * 64)


def test_a_clean_bundle_verifies(bundle: Path, signed: Signed) -> None:
    result = cli("verify", bundle, *pinned(signed))
    assert result.exit_code == 0, result.output
    assert "VERIFIED (bundle, 2 entries" in result.output


def _rezip(bundle: Path, change: Callable[[dict[str, bytes]], None]) -> None:
    with zipfile.ZipFile(bundle) as z:
        files = {name: z.read(name) for name in z.namelist()}
    change(files)
    with zipfile.ZipFile(bundle, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)


def _first_document(files: dict[str, bytes]) -> str:
    digest = json.loads(files["log.jsonl"].splitlines()[0])["document"]["digest"]
    return object_path(Path(), digest).as_posix()


def _change_in_zip(files: dict[str, bytes]) -> str:
    name = _first_document(files)
    files[name] = _flip_a_byte(files[name])
    return name


def _remove_from_zip(files: dict[str, bytes]) -> str:
    name = _first_document(files)
    del files[name]
    return name


def _add_to_zip(files: dict[str, bytes]) -> str:
    files["extra.pdf"] = b"%PDF-1.7\n"
    return "extra.pdf"


def _edit_bundle_entry(files: dict[str, bytes]) -> str:
    files["log.jsonl"] = files["log.jsonl"].replace(b'"verdict":"approve"', b'"verdict":"x"', 1)
    return "log.jsonl"


def _reorder_bundle_log(files: dict[str, bytes]) -> str:
    first, second = files["log.jsonl"].splitlines()
    files["log.jsonl"] = second + b"\n" + first + b"\n"
    return "log.jsonl"


BUNDLE_TAMPERING = {
    "changed file": (_change_in_zip, "bundle-changed", "changed: it hashes to"),
    "removed file": (_remove_from_zip, "bundle-missing", "removed"),
    "added file": (_add_to_zip, "bundle-unlisted", "added after export"),
    "edited entry": (_edit_bundle_entry, "bundle-changed", "manifest.json lists"),
    "reordered entries": (_reorder_bundle_log, "bundle-changed", "manifest.json lists"),
}


@pytest.mark.parametrize("how", BUNDLE_TAMPERING)
def test_verify_names_tampering_inside_a_bundle(bundle: Path, how: str, signed: Signed) -> None:
    change, code, words = BUNDLE_TAMPERING[how]
    name = ""

    def apply(files: dict[str, bytes]) -> None:
        nonlocal name
        name = change(files)

    _rezip(bundle, apply)
    exit_code, report = verify_json(bundle, *pinned(signed))
    assert exit_code == 1, report
    found = [e for e in report["errors"] if e["code"] == code and e["file"] == name]
    assert found, report["errors"]
    assert words in found[0]["message"]


def test_a_bundle_whose_manifest_was_rewritten_still_fails_the_chain(bundle: Path) -> None:
    def change(files: dict[str, bytes]) -> None:
        log = files["log.jsonl"].replace(b'"verdict":"approve"', b'"verdict":"x"', 1)
        files["log.jsonl"] = log
        manifest = json.loads(files["manifest.json"])
        manifest["files"]["log.jsonl"] = sha256(log)
        files["manifest.json"] = json.dumps(manifest).encode()
        files["SHA256SUMS"] = b"".join(
            f"{sha256(files[n]).removeprefix('sha256:')}  {n}\n".encode()
            for n in sorted(files)
            if n != "SHA256SUMS"
        )

    _rezip(bundle, change)
    code, report = verify_json(bundle, "--no-signatures")
    assert code == 1
    assert [(e["code"], e["sequence"]) for e in report["errors"]] == [("entry-changed", 1)]


def test_export_of_an_unknown_system_names_the_known_ones(
    built_store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "b.zip"
    result = cli("export", "--store", built_store, "--system", "nope", "-o", out)
    assert result.exit_code == 1
    assert "archived systems: dose-advisor, shelf-ranker" in result.output
    assert not out.exists()


def test_export_refuses_a_damaged_store_and_writes_nothing(store: Path, tmp_path: Path) -> None:
    _remove_object(store)
    out = tmp_path / "b.zip"
    result = cli("export", "--store", store, "--system", "shelf-ranker", "-o", out)
    assert result.exit_code == 1 and "damaged archive" in result.output
    assert list(tmp_path.glob("*.zip*")) == [] and list(tmp_path.glob(".b.zip*")) == []


def test_help_for_every_archive_command() -> None:
    for name in ("add", "list", "verify", "export", "repair"):
        result = cli(name, "--help")
        assert result.exit_code == 0 and len(result.output.splitlines()) > 5, name


def test_list_loads_no_pdf_library(built_store: Path) -> None:
    code = (
        "import sys; from click.testing import CliRunner; "
        "from govrl.cli.archive_cmds import archive; "
        "r = CliRunner().invoke(archive, ['list', '--store', sys.argv[1]]); "
        "assert r.exit_code == 0 and 'shelf-ranker' in r.output, r.output; "
        "print([m for m in ('pyhanko', 'weasyprint', 'mlflow') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(built_store)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ------------------------------------------------------- the copy on MLflow


def _model_with_a_run(server: MlflowServer) -> tuple[str, str]:
    """A registered model version of its own, so tests do not share a copy."""
    import uuid

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    name = f"archived-{uuid.uuid4().hex[:8]}"
    run = client.create_run(client.create_experiment(name)).info.run_id
    client.create_registered_model(name)
    version = client.create_model_version(name, source=f"runs:/{run}/policy", run_id=run)
    return f"{name}/{version.version}", run


@pytest.mark.mlflow
def test_push_keeps_a_copy_on_the_models_run_that_verifies_on_its_own(
    mlflow_server: MlflowServer, signed: Signed, tmp_path: Path
) -> None:
    store, (model, _run) = tmp_path / "store", _model_with_a_run(mlflow_server)
    to_server = ("--tracking-uri", mlflow_server.url, "--model", model)
    assert add(signed.ranker_03, store, ca=signed.pki.ca.cert).exit_code == 0
    first = cli("push", "--store", store, *to_server, "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["objects_uploaded"] == 4  # FORMAT, document, record, policy
    for pdf in (signed.other, signed.ranker_04):
        assert add(pdf, store, ca=signed.pki.ca.cert).exit_code == 0
    second = json.loads(cli("push", "--store", store, *to_server, "--json").output)
    # Two documents and two records; the policy is in the copy already.
    assert (second["new_entries"], second["objects_uploaded"], second["entries"]) == (2, 4, 3)
    again = json.loads(cli("push", "--store", store, *to_server, "--json").output)
    assert (again["new_entries"], again["objects_uploaded"]) == (0, 0)
    trust = pinned(signed)
    code, report = verify_json(*to_server, *trust)
    assert code == 0, report
    assert report["entries"] == 3 and report["signatures_checked"] == 3
    assert f"{report['head']['sequence']}:{report['head']['hash']}" == second["head"]


@pytest.mark.mlflow
def test_a_changed_copy_fails_verify_and_is_never_pushed_over(
    mlflow_server: MlflowServer, signed: Signed, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    store, (model, run) = tmp_path / "store", _model_with_a_run(mlflow_server)
    to_server = ("--tracking-uri", mlflow_server.url, "--model", model)
    assert add(signed.ranker_03, store, ca=signed.pki.ca.cert).exit_code == 0
    assert cli("push", "--store", store, *to_server).exit_code == 0
    # Someone with write access to the artifact store edits the copy's log.
    forged = tmp_path / "forged" / "log.jsonl"
    forged.parent.mkdir()
    original = (store / "log.jsonl").read_bytes()
    forged.write_bytes(original.replace(b'"file_name":"', b'"file_name":"renamed-', 1))
    assert forged.read_bytes() != original
    client = MlflowClient(tracking_uri=mlflow_server.url)
    client.log_artifact(run, str(forged), "govrl-archive")
    code, report = verify_json(*to_server, "--no-signatures")
    assert code == 1
    assert any(f["file"] in ("log.jsonl", "HEAD") for f in report["errors"]), report
    before = (store / "log.jsonl").read_bytes()
    refused = cli("push", "--store", store, *to_server)
    assert refused.exit_code == 1
    assert "is not an earlier state" in refused.output
    assert (store / "log.jsonl").read_bytes() == before


@pytest.mark.mlflow
def test_push_to_a_dead_server_is_exit_3_within_seconds_and_changes_nothing(
    store: Path,
) -> None:
    import time

    files = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    started = time.monotonic()
    dead = f"http://127.0.0.1:{free_port()}"
    result = cli("push", "--store", store, "--tracking-uri", dead, "--model", "m/1")
    assert result.exit_code == 3, result.output
    assert "cannot reach MLflow" in result.output
    assert time.monotonic() - started < 15
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == files
