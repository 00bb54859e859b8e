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
