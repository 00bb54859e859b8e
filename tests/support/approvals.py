"""Approvals under the three-signer test policy, rendered, signed and verified through the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from click.testing import CliRunner, Result

from govrl.cli import main
from tests.support.paths import DATA
from tests.support.pki import Pki, Reviewer

THREE = DATA / "policy-three-signers.yaml"
ROLES = ["owner", "domain-expert", "independent-validator"]


def govrl(*args: str | Path, env: dict[str, str | None] | None = None) -> Result:
    """`govrl ARGS` in this process; an exception that escapes the CLI fails the test."""
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def render_approval(record: Path, out: Path) -> Result:
    return govrl("render", record, "--kind", "approval", "--policy", THREE, "-o", out)


def sign(pdf: Path, out: Path, who: Reviewer, pki: Pki, *extra: str) -> Result:
    return govrl(
        "sign", pdf, "--key", who.key, "--cert", who.cert, "--role", who.role,
        "--policy", THREE, "--passphrase-file", pki.passphrase_file, "-o", out, *extra,
    )  # fmt: skip


def sign_in_turn(
    pdf: Path, folder: Path, pki: Pki, reviewers: dict[str, Reviewer], roles: Sequence[str]
) -> Path:
    """Sign ``pdf`` by each role in order; signed-0.pdf holds the first signature only."""
    current = pdf
    for n, role in enumerate(roles):
        out = folder / f"signed-{n}.pdf"
        done = sign(current, out, reviewers[role], pki)
        assert done.exit_code == 0, done.stderr
        current = out
    return current


def verify(pdf: Path, *extra: str, trust: Path | None, policy: Path = THREE) -> Result:
    """`govrl verify` with ``trust`` as a trust anchor (None: only what ``extra`` gives)."""
    anchors = ("--trust", trust) if trust is not None else ()
    return govrl("verify", pdf, "--policy", policy, *anchors, *extra)


def archive_add_unsigned(pdf: Path, store: Path, pki: Pki) -> Result:
    """`archive add` under the three-signer policy, without an archive key."""
    args = ["archive", "add", str(pdf), "--store", str(store), "--policy", str(THREE)]
    return govrl(*args, "--trust", str(pki.ca.cert), "--unsigned-checkpoint")


def assert_archive_empty(store: Path) -> None:
    """Nothing was appended to the archive at ``store``."""
    log = store / "log.jsonl"
    assert not log.exists() or not log.read_text().strip()


def library_refuses(
    pdf: Path, tmp_path: Path, pki: Pki, owner: Reviewer, refusal: type[Exception], **match: str
) -> None:
    """``sign_pdf`` (even forced) and ``Archive.add`` both raise ``refusal``, matching
    ``match["sign"]`` and ``match["archive"]``, and write nothing."""
    import pytest

    from govrl.archive import Archive, PolicyFile
    from govrl.documents.keys import load_credentials
    from govrl.documents.signing import sign_pdf
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.policy import load_policy
    from tests.support.pki import PASSPHRASE

    creds = load_credentials(owner.key, owner.cert, PASSPHRASE, [pki.ca.cert])
    out = tmp_path / "signed.pdf"
    with pytest.raises(refusal, match=match["sign"]):
        sign_pdf(
            pdf,
            out,
            creds,
            "owner",
            policy=load_policy(THREE),
            library=ChecklistLibrary.discover(),
            force=True,
        )
    assert not out.exists()
    store = tmp_path / "store"
    with pytest.raises(refusal, match=match["archive"]):
        Archive.at(store).add(pdf, policy=PolicyFile.load(THREE), trust=[], allow_unverified=True)
    assert_archive_empty(store)
