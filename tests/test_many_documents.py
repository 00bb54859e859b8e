"""Several documents in one call: sign, verify and archive add report each, and one bad
document never stops, nor half-writes, the others."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from govrl.documents.pdffile import open_pdf
from govrl.documents.signing import signature_fields
from govrl.record.files import dump_yaml
from tests.support.approvals import ROLES, THREE, govrl, render_approval
from tests.support.paths import ROOT
from tests.support.pki import PASSPHRASE, Pki, Reviewer, timestamp_authority
from tests.support.records import record_data

pytestmark = [pytest.mark.pdf, pytest.mark.slow]


def pdfsig_valid(pdf: Path) -> int:
    """How many signatures poppler finds valid in ``pdf``."""
    listing = subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True).stdout
    return listing.count("Signature is Valid.")


def signed_roles(pdf: Path) -> set[str]:
    return {role for role, filled in signature_fields(open_pdf(pdf)).items() if filled}


def sign_many(pdfs: list[Path], who: Reviewer, pki: Pki, *extra: str | Path) -> object:
    return govrl(
        "sign", *pdfs, "--key", who.key, "--cert", who.cert, "--role", who.role,
        "--policy", THREE, "--passphrase-file", pki.passphrase_file, *extra,
    )  # fmt: skip


def render_version(folder: Path, version: str) -> Path:
    """The three-signer approval of the tier-3 test record at system ``version``."""
    data = record_data(3)
    data["system"]["version"] = version
    for change in data["changelog"]:
        change["version"] = version
    record = folder / f"record-{version}.yaml"
    record.write_text(dump_yaml(data), encoding="utf-8")
    out = folder / f"approval-{version}.pdf"
    done = render_approval(record, out)
    assert done.exit_code == 0, done.output
    return out


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three distinct approvals, no field signed."""
    folder = tmp_path_factory.mktemp("unsigned")
    return [render_version(folder, version) for version in ("1.0.0", "1.1.0", "1.2.0")]


@pytest.fixture(scope="module")
def fully_signed(
    unsigned: list[Path],
    tmp_path_factory: pytest.TempPathFactory,
    pki: Pki,
    reviewers: dict[str, Reviewer],
) -> list[Path]:
    """The three approvals signed by every role, one call per role for all three."""
    current = unsigned
    for role in ROLES:
        folder = tmp_path_factory.mktemp(role)
        done = sign_many(current, reviewers[role], pki, "-o", folder)
        assert done.exit_code == 0, done.output
        current = [folder / pdf.name for pdf in current]
    return current


# ---------------------------------------------------------------- sign


def test_sign_several_into_a_folder(fully_signed: list[Path], pki: Pki) -> None:
    for pdf in fully_signed:
        assert signed_roles(pdf) == set(ROLES)
        assert pdfsig_valid(pdf) == 3
    verified = govrl("verify", *fully_signed, "--policy", THREE, "--trust", pki.ca.cert)
    assert verified.exit_code == 0, verified.output
    assert verified.stdout.count(": VERIFIED (") == 3
    assert "3 of 3 documents verified" in verified.stdout


def test_sign_with_suffix_writes_beside_each_input(
    unsigned: list[Path], tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    copies = []
    for n, pdf in enumerate(unsigned[:2]):
        (tmp_path / f"dir{n}").mkdir()
        copies.append(tmp_path / f"dir{n}" / "approval.pdf")
        copies[-1].write_bytes(pdf.read_bytes())
    done = sign_many(copies, reviewers["owner"], pki, "--suffix", "-signed")
    assert done.exit_code == 0, done.output
    for copy in copies:
        out = copy.with_name("approval-signed.pdf")
        assert signed_roles(out) == {"owner"}
        assert pdfsig_valid(out) == 1
        assert signed_roles(copy) == set(), "the input must be left as it was"
        assert str(out) in done.stdout


def test_single_input_keeps_output_file(
    unsigned: list[Path], tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    out = tmp_path / "any-name.pdf"
    done = sign_many(unsigned[:1], reviewers["owner"], pki, "-o", out)
    assert done.exit_code == 0, done.output
    assert signed_roles(out) == {"owner"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "give -o"),
        (("--suffix", "x", "-o", "out"), "give -o"),
        (("--suffix", "a/b"), "--suffix"),
        (("--suffix", ""), "--suffix"),
    ],
)
def test_output_must_be_one_clear_choice(
    unsigned: list[Path], pki: Pki, reviewers: dict[str, Reviewer], extra: tuple[str, ...],
    message: str,
) -> None:  # fmt: skip
    done = sign_many(unsigned[:2], reviewers["owner"], pki, *extra)
    assert done.exit_code == 2
    assert message in done.stderr


def test_several_inputs_refuse_a_file_as_output(
    unsigned: list[Path], tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    target = tmp_path / "out.pdf"
    target.write_bytes(b"kept")
    done = sign_many(unsigned[:2], reviewers["owner"], pki, "-o", target)
    assert done.exit_code == 2
    assert "names a folder" in done.stderr
    assert target.read_bytes() == b"kept"


def test_same_name_twice_into_one_folder_is_refused_before_signing(
    unsigned: list[Path], tmp_path: Path, pki: Pki, reviewers: dict[str, Reviewer]
) -> None:
    first, second = tmp_path / "a" / "approval.pdf", tmp_path / "b" / "approval.pdf"
    for path, source in ((first, unsigned[0]), (second, unsigned[1])):
        path.parent.mkdir()
        path.write_bytes(source.read_bytes())
    out = tmp_path / "out"
    done = sign_many([first, second], reviewers["owner"], pki, "-o", out)
    assert done.exit_code == 2
    assert "same file" in done.stderr
    assert not out.exists()


def test_one_bad_document_among_good_ones(
    unsigned: list[Path],
    fully_signed: list[Path],
    tmp_path: Path,
    pki: Pki,
    reviewers: dict[str, Reviewer],
) -> None:
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"not a pdf at all")
    # Refused only once signing starts: its owner field is already signed.
    already = tmp_path / "already.pdf"
    already.write_bytes(fully_signed[0].read_bytes())
    out = tmp_path / "out"
    inputs = [unsigned[0], junk, already, unsigned[1]]
    done = sign_many(inputs, reviewers["owner"], pki, "-o", out)
    assert done.exit_code == 1, done.output
    assert sorted(p.name for p in out.iterdir()) == sorted([unsigned[0].name, unsigned[1].name])
    for pdf in (out / unsigned[0].name, out / unsigned[1].name):
        assert signed_roles(pdf) == {"owner"}
        assert pdfsig_valid(pdf) == 1
    assert f"{junk}: not a PDF file" in done.stderr
    assert f"{already}" in done.stderr and "already signed" in done.stderr
    assert "2 of 4 documents not signed" in done.stderr
    assert not list(tmp_path.glob("**/*.tmp*")), "nothing half-written"


def _run_in_terminal(args: list[str], answer: bytes) -> tuple[int, str]:
    """Run ``python -m govrl ARGS`` with a terminal, typing ``answer`` at each passphrase
    prompt; return its exit status and everything it showed."""
    env = {k: v for k, v in os.environ.items() if k != "GOVRL_KEY_PASSPHRASE"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: its terminal is the pty
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "govrl", *args], env)
    shown = b""
    answered = 0
    while True:
        ready, _, _ = select.select([fd], [], [], 120)
        if not ready:
            os.kill(pid, 9)
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
        if shown.count(b"Key passphrase") > answered:
            answered += 1
            os.write(fd, answer + b"\n")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_one_passphrase_prompt_for_several(
    unsigned: list[Path], tmp_path: Path, reviewers: dict[str, Reviewer]
) -> None:
    owner = reviewers["owner"]
    out = tmp_path / "out"
    args = [
        "sign", *map(str, unsigned), "--key", str(owner.key), "--cert", str(owner.cert),
        "--role", "owner", "--policy", str(THREE), "-o", str(out),
    ]  # fmt: skip
    code, shown = _run_in_terminal(args, PASSPHRASE)
    assert code == 0, shown
    assert shown.count("Key passphrase") == 1, shown
    # On a terminal, a progress line per document.
    assert "[1/3] signing" in shown and "[3/3] signing" in shown
    for pdf in unsigned:
        assert signed_roles(out / pdf.name) == {"owner"}


def test_passphrase_from_environment_for_several(
    unsigned: list[Path], tmp_path: Path, reviewers: dict[str, Reviewer]
) -> None:
    owner = reviewers["owner"]
    out = tmp_path / "out"
    done = govrl(
        "sign", *unsigned[:2], "--key", owner.key, "--cert", owner.cert, "--role", "owner",
        "--policy", THREE, "-o", out,
        env={"GOVRL_KEY_PASSPHRASE": PASSPHRASE.decode()},
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "[1/2]" not in done.stderr, "no progress lines when stderr is not a terminal"
    assert done.stdout.count("signed ") == 2


# ---------------------------------------------------------------- imports


SIGN_AND_LIST_MODULES = """
import sys
from pathlib import Path
from govrl.documents.keys import load_credentials
from govrl.documents.signing import sign_pdf
from govrl.review.checklist import ChecklistLibrary
from govrl.review.policy import load_policy

source, out, key, cert, passphrase, tsa = sys.argv[1:]
stamper = None
if tsa:
    from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
    stamper = RequestsHTTPTimeStamper(tsa, timeout=10)
sign_pdf(
    Path(source), Path(out), load_credentials(Path(key), Path(cert), passphrase.encode()),
    "owner", policy=load_policy(Path(sys.argv[0]).parent / "policy.yaml"),
    library=ChecklistLibrary.discover(), timestamper=stamper,
)
print("\\n".join(sorted(sys.modules)))
"""


def _modules_after_signing(folder: Path, source: Path, owner: Reviewer, tsa: str) -> set[str]:
    script = folder / "sign_and_list.py"
    script.write_text(SIGN_AND_LIST_MODULES)
    (folder / "policy.yaml").write_bytes(THREE.read_bytes())
    out = folder / f"signed-{bool(tsa)}.pdf"
    args = [str(source), str(out), str(owner.key), str(owner.cert), PASSPHRASE.decode(), tsa]
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert signed_roles(out) == {"owner"}
    return set(done.stdout.split())


def test_timestamp_client_is_imported_only_with_a_tsa(
    unsigned: list[Path], tmp_path: Path, reviewers: dict[str, Reviewer]
) -> None:
    http_client = {"pyhanko.sign.timestamps.requests_client", "requests"}
    plain = _modules_after_signing(tmp_path, unsigned[0], reviewers["owner"], "")
    assert "pyhanko.sign.signers" in plain, "the script must really have signed"
    assert not http_client & plain
    with timestamp_authority() as tsa:
        stamped = _modules_after_signing(tmp_path, unsigned[0], reviewers["owner"], tsa.url)
        assert tsa.served
    assert http_client <= stamped


# ---------------------------------------------------------------- verify


def _tampered(pdf: Path, folder: Path) -> Path:
    """A copy of ``pdf`` with one byte changed inside the first signature's range."""
    data = bytearray(pdf.read_bytes())
    middle = len(data) // 3
    data[middle] ^= 0x01
    out = folder / f"tampered-{pdf.name}"
    out.write_bytes(bytes(data))
    return out


def test_verify_several_with_one_tampered(
    fully_signed: list[Path], tmp_path: Path, pki: Pki
) -> None:
    bad = _tampered(fully_signed[1], tmp_path)
    pdfs = [fully_signed[0], bad, fully_signed[2]]
    done = govrl("verify", *pdfs, "--policy", THREE, "--trust", pki.ca.cert)
    assert done.exit_code == 1
    assert f"{fully_signed[0]}: VERIFIED" in done.stdout
    assert f"{fully_signed[2]}: VERIFIED" in done.stdout
    assert f"{bad}: FAILED" in done.stdout
    assert f"problem: {bad}:" in done.stderr
    assert "2 of 3 documents verified" in done.stdout
    as_json = govrl("verify", *pdfs, "--policy", THREE, "--trust", pki.ca.cert, "--json")
    assert as_json.exit_code == 1
    reports = json.loads(as_json.stdout)
    assert [r["ok"] for r in reports] == [True, False, True]
    assert [r["file"] for r in reports] == [str(p) for p in pdfs]


def test_verify_several_with_one_unreadable(
    fully_signed: list[Path], tmp_path: Path, pki: Pki
) -> None:
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7 and nothing else")
    done = govrl("verify", fully_signed[0], junk, "--policy", THREE, "--trust", pki.ca.cert)
    assert done.exit_code == 1
    assert f"{fully_signed[0]}: VERIFIED" in done.stdout
    assert f"error: {junk}" in done.stderr
    assert "1 of 2 documents verified" in done.stdout


# ---------------------------------------------------------------- archive add


def test_archive_add_several_with_one_bad(
    fully_signed: list[Path], tmp_path: Path, pki: Pki
) -> None:
    key = pki.reviewer("Many archive key", "archive")
    env = {
        "GOVRL_ARCHIVE_KEY": str(key.key),
        "GOVRL_ARCHIVE_CERT": str(key.cert),
        "GOVRL_KEY_PASSPHRASE": PASSPHRASE.decode(),
    }
    store = tmp_path / "store"
    bad = _tampered(fully_signed[1], tmp_path)
    pdfs = [fully_signed[0], bad, fully_signed[2]]
    anchors = ("--policy", THREE, "--trust", pki.ca.cert)
    done = govrl("archive", "add", *pdfs, "--store", store, *anchors, env=env)
    assert done.exit_code == 1, done.output
    assert f"{fully_signed[0]}: archived as entry 1" in done.stdout
    assert f"{fully_signed[2]}: archived as entry 2" in done.stdout
    assert str(bad) in done.stderr
    assert "1 of 3 documents refused" in done.stderr
    assert len((store / "log.jsonl").read_bytes().splitlines()) == 2
    checked = govrl("archive", "verify", "--store", store, *anchors, env=env)
    assert checked.exit_code == 0, checked.output
