"""Commands for reviewers: keys, signatures, verification."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from govrl.cli.options import (
    CHECKLIST_DIRS,
    EXISTING_FILE,
    OVERWRITE,
    POLICY,
    echo_json,
    echo_line,
    echo_text,
    trust_anchors,
)
from govrl.config import TrustRequest
from govrl.errors import GovrlError

if TYPE_CHECKING:
    from govrl.documents.trust import Anchors
    from govrl.documents.verification import VerifyReport

PASSPHRASE_ENV = "GOVRL_KEY_PASSPHRASE"
PASSPHRASE_FILE = click.option(
    "--passphrase-file",
    type=EXISTING_FILE,
    help=f"Read the key's passphrase from this file (else ${PASSPHRASE_ENV}, else a prompt).",
)
DIRECTORY = click.Path(path_type=Path, file_okay=False)
OUT_DIR = click.option(
    "-o", "--output", "out_dir", type=DIRECTORY, required=True, help="Folder to write to."
)


def passphrase(path: Path | None, *, confirm: bool = False) -> bytes:
    """From a file, the environment, or a hidden prompt; never echoed or logged."""
    if path is not None:
        return path.read_bytes().rstrip(b"\r\n")
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env.encode()
    if not sys.stdin.isatty():
        from govrl.errors import UsageError

        raise UsageError(
            "a passphrase is needed and there is no terminal to ask",
            hint=f"use --passphrase-file or set {PASSPHRASE_ENV}",
        )
    text: str = click.prompt(
        "Key passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    return text.encode()


@click.group()
def keys() -> None:
    """Reviewer keys and certificates (for trials; real ones come from your PKI)."""


@keys.command("new")
@click.option("--name", required=True, help="The reviewer's name (certificate common name).")
@click.option("--role", required=True, help="The reviewer role, e.g. owner or domain-expert.")
@click.option(
    "-o", "--output", "out_dir", type=DIRECTORY, required=True, help="Folder to write to."
)
@click.option("--organisation", help="Organisation named in the certificate.")
@click.option("--ca-key", type=EXISTING_FILE, help="Issue the certificate from this CA key...")
@click.option("--ca-cert", type=EXISTING_FILE, help="...and this CA certificate.")
@click.option("--days", type=click.IntRange(1, 3650), default=365, show_default=True)
@PASSPHRASE_FILE
def keys_new(
    name: str,
    role: str,
    out_dir: Path,
    organisation: str | None,
    ca_key: Path | None,
    ca_cert: Path | None,
    days: int,
    passphrase_file: Path | None,
) -> None:
    """Make an ECDSA P-256 key (encrypted) and a certificate: NAME.key.pem, NAME.cert.pem.

    The certificate is self-signed unless --ca-key and --ca-cert name an
    organisation CA (`govrl keys ca`); the CA key uses the same passphrase.
    """
    from govrl.documents.keys import load_credentials, new_reviewer
    from govrl.errors import UsageError

    if (ca_key is None) != (ca_cert is None):
        raise UsageError("give both --ca-key and --ca-cert, or neither")
    secret = passphrase(passphrase_file, confirm=True)
    issuer = load_credentials(ca_key, ca_cert, secret) if ca_key and ca_cert else None
    files = new_reviewer(
        name, role, out_dir, secret, organisation=organisation, issuer=issuer, days=days
    )
    click.echo(f"wrote {files.key} (encrypted) and {files.cert}")


@keys.command("ca")
@click.option("--name", required=True, help="The organisation CA's name.")
@click.option(
    "-o", "--output", "out_dir", type=DIRECTORY, required=True, help="Folder to write to."
)
@click.option("--days", type=click.IntRange(1, 7300), default=3650, show_default=True)
@PASSPHRASE_FILE
def keys_ca(name: str, out_dir: Path, days: int, passphrase_file: Path | None) -> None:
    """Make an organisation CA (ca.key.pem, ca.cert.pem) to issue reviewer certificates."""
    from govrl.documents.keys import new_ca

    files = new_ca(name, out_dir, passphrase(passphrase_file, confirm=True), days=days)
    click.echo(f"wrote {files.key} (encrypted) and {files.cert}")


@keys.command("import")
@click.argument("bundle", type=EXISTING_FILE)
@click.option("--name", required=True, help="File name stem for the imported key.")
@click.option(
    "-o", "--output", "out_dir", type=DIRECTORY, required=True, help="Folder to write to."
)
@PASSPHRASE_FILE
def keys_import(bundle: Path, name: str, out_dir: Path, passphrase_file: Path | None) -> None:
    """Import a PKCS#12 bundle from a corporate PKI as NAME.key.pem and NAME.cert.pem.

    The key is re-encrypted with the same passphrase; the chain follows the
    certificate in NAME.cert.pem.
    """
    from govrl.documents.keys import import_pkcs12

    files = import_pkcs12(bundle, name, out_dir, passphrase(passphrase_file))
    click.echo(f"wrote {files.key} (encrypted) and {files.cert}")


@click.command()
@click.argument("pdfs", metavar="PDF...", nargs=-1, required=True, type=EXISTING_FILE)
@click.option("--key", "key_path", type=EXISTING_FILE, help="The reviewer's PEM key.")
@click.option("--cert", "cert_path", type=EXISTING_FILE, help="The reviewer's certificate (PEM).")
@click.option("--chain", type=EXISTING_FILE, multiple=True, help="Intermediate certificates.")
@click.option("--pkcs12", type=EXISTING_FILE, help="A PKCS#12 bundle instead of --key/--cert.")
@click.option("--role", required=True, help="The role to sign as: the signature field's name.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Where to write the signed PDF; with several PDFs, a folder (made if missing) "
    "that gets each under its own name.",
)
@click.option(
    "--suffix",
    help="Instead of -o: write each signed PDF next to its input, its name ending in "
    "SUFFIX (e.g. -signed: approval.pdf gives approval-signed.pdf).",
)
@click.option("--tsa", help="URL of an RFC 3161 timestamp authority (PAdES B-T).")
@click.option(
    "--trust",
    "sign_trust",
    type=EXISTING_FILE,
    multiple=True,
    help="A CA certificate the chain must reach (repeatable; else $GOVRL_TRUST, else "
    "govrl.toml): the chain is then checked and embedded (PAdES B-LT).",
)
@click.option("--force", is_flag=True, help="Sign despite a refusal; the signature says so.")
@OVERWRITE
@POLICY
@CHECKLIST_DIRS
@PASSPHRASE_FILE
def sign(
    pdfs: tuple[Path, ...],
    key_path: Path | None,
    cert_path: Path | None,
    chain: tuple[Path, ...],
    pkcs12: Path | None,
    role: str,
    output: Path | None,
    suffix: str | None,
    tsa: str | None,
    sign_trust: tuple[Path, ...],
    force: bool,
    overwrite: bool,
    policy_path: Path | None,
    checklist_dirs: tuple[Path, ...],
    passphrase_file: Path | None,
) -> None:
    """Add one reviewer's PAdES signature to approvals or statements (model cards,
    technical documentation, reward reports), incrementally.

    Refuses a document whose record fails its gate, or a role the policy does
    not ask for, unless --force (which the signature then records). Refuses,
    even forced, a draft (render --draft), a certificate not issued for ROLE, a
    CA's, or one whose key usage does not allow signing; and an output that is
    an input or a signed PDF.

    Several PDFs are signed with one key and one passphrase; a refused one is
    reported and left unwritten while the others are signed, and the command
    then exits 1.
    """
    from govrl.documents.keys import check_validity, load_credentials, load_pkcs12
    from govrl.documents.signing import SignBatch
    from govrl.errors import UsageError
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.policy import load_policy

    if pkcs12 is None and (key_path is None or cert_path is None):
        raise UsageError("give --key and --cert, or --pkcs12")
    targets = _sign_targets(pdfs, output, suffix, overwrite=overwrite)
    batch = SignBatch(
        role,
        policy=load_policy(policy_path),
        policy_given=policy_path is not None,
        library=ChecklistLibrary.discover(checklist_dirs),
        force=force,
    )
    # A draft, or a document rendered under another policy than the one that would judge
    # this signature, is refused before anyone is asked for a passphrase.
    failed = [_refused(pdf, exc) for pdf, exc in batch.open_all(list(targets))]
    if not batch.ready:
        raise SystemExit(1)
    secret = passphrase(passphrase_file)
    if pkcs12 is not None:
        creds = load_pkcs12(pkcs12, secret)
    else:
        assert key_path is not None and cert_path is not None
        creds = load_credentials(key_path, cert_path, secret, list(chain))
    check_validity(creds.cert, cert_path or pkcs12)
    context, embedded = _embedding_context(sign_trust)
    timestamper = None
    if tsa:
        from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

        timestamper = RequestsHTTPTimeStamper(tsa, timeout=10)  # type: ignore[no-untyped-call]
    total = len(batch.ready)
    for number, pdf in enumerate(list(batch.ready), start=1):
        if total > 1 and sys.stderr.isatty():
            echo_line(f"[{number}/{total}] signing {pdf}", err=True)
        try:
            result = batch.sign(
                pdf, targets[pdf], creds, timestamper=timestamper, validation_context=context
            )
        except GovrlError as exc:
            if exc.exit_code != 1:
                raise  # the environment or the command itself, not this document
            failed.append(_refused(pdf, exc))
            continue
        echo_line(f"signed {result.output} as {role} ({result.signer}), record {result.digest}")
        echo_line(f"  {embedded}")
        for reason in result.forced_because:
            echo_line(f"warning: forced past: {reason}", err=True)
    if failed:
        if len(pdfs) > 1:
            echo_line(f"{len(failed)} of {len(pdfs)} documents not signed", err=True)
        raise SystemExit(1)


def _refused(pdf: Path, exc: GovrlError) -> Path:
    """Report why ``pdf`` was not signed; the message names the file."""
    text = exc.diagnostics()
    echo_text(f"error: {text if str(pdf) in text else f'{pdf}: {text}'}", err=True)
    return pdf


def _sign_targets(
    pdfs: tuple[Path, ...], output: Path | None, suffix: str | None, *, overwrite: bool
) -> dict[Path, Path]:
    """Each input and where its signed copy goes, every one checked before any is signed."""
    from govrl.errors import UsageError
    from govrl.outputs import check_output

    if (output is None) == (suffix is None):
        raise UsageError("give -o (a file, or a folder for several PDFs) or --suffix")
    if len(set(pdfs)) != len(pdfs):
        raise UsageError("a PDF is named twice")
    if suffix is not None:
        if not suffix or "/" in suffix or os.sep in suffix or suffix in (".", ".."):
            raise UsageError(f"--suffix {suffix!r} must be a plain name ending, e.g. -signed")
        targets = {pdf: pdf.with_name(f"{pdf.stem}{suffix}{pdf.suffix}") for pdf in pdfs}
    else:
        assert output is not None
        if len(pdfs) == 1 and not output.is_dir():
            targets = {pdfs[0]: output}
        else:
            if output.exists() and not output.is_dir():
                raise UsageError(
                    f"-o {output} is a file; with several PDFs -o names a folder",
                    hint="give a folder, or --suffix",
                )
            targets = {pdf: output / pdf.name for pdf in pdfs}
    written = [target.resolve() for target in targets.values()]
    if len(set(written)) != len(written):
        raise UsageError(
            "two PDFs would be written to the same file", hint="use --suffix, or rename one"
        )
    for target in targets.values():
        check_output(target, inputs=pdfs, overwrite=overwrite)
    if output is not None and len(pdfs) > 1:
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"-o {output}: cannot make this folder ({exc.strerror})") from None
    return targets


def _embedding_context(flags: tuple[Path, ...]) -> tuple[object, str]:
    """The validation context whose chain `sign` embeds, if anchors are configured, and
    what that means for the signature."""
    from govrl.config import trust_setting
    from govrl.documents.trust import load_anchors, validation_context

    setting = trust_setting(TrustRequest(flags))
    if setting is None:
        return None, "PAdES B-B: no trust anchors configured, so no chain was checked or embedded"
    anchors = load_anchors(setting)
    return validation_context(anchors), (
        f"PAdES B-LT: the chain to trust anchors from {anchors.source} was checked and embedded"
    )


@click.command()
@click.argument("pdfs", metavar="PDF...", nargs=-1, required=True, type=EXISTING_FILE)
@trust_anchors
@POLICY
@click.option(
    "--at",
    "at_date",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Judge expiry as of this date (default: today).",
)
@click.option(
    "--accept-forced",
    is_flag=True,
    help="Accept signatures forced past a refusal and a decision other than approve; "
    "the verdict says so.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list for several PDFs).")
def verify(
    pdfs: tuple[Path, ...],
    trust: TrustRequest,
    policy_path: Path | None,
    at_date: dt.datetime | None,
    accept_forced: bool,
    as_json: bool,
) -> None:
    """Check signatures, later changes, the embedded record, required roles and expiry.

    Each signer's certificate is judged as of the signing time and must chain to a
    trust anchor. Several PDFs are each reported; exits 0 only when every check
    holds for every one.
    """
    from govrl.documents.trust import resolve_anchors
    from govrl.documents.verification import verify_pdf
    from govrl.review.policy import load_policy

    anchors = resolve_anchors(trust, what="`govrl verify`")
    policy = load_policy(policy_path)
    today = at_date.date() if at_date else None
    reports: list[dict[str, object]] = []
    failed = 0
    for number, pdf in enumerate(pdfs, start=1):
        if len(pdfs) > 1 and sys.stderr.isatty():
            echo_line(f"[{number}/{len(pdfs)}] verifying {pdf}", err=True)
        try:
            report = verify_pdf(
                pdf, policy=policy, trust=anchors, today=today, accept_forced=accept_forced
            )
        except GovrlError as exc:
            if exc.exit_code != 1 or len(pdfs) == 1:
                raise
            failed += 1
            reports.append({"file": str(pdf), "ok": False, "error": exc.diagnostics()})
            if not as_json:
                _refused(pdf, exc)
            continue
        failed += not report.ok
        if as_json:
            reports.append(report.as_dict())
        else:
            _print_verdict(pdf, report, anchors)
    if as_json:
        echo_json(reports if len(pdfs) > 1 else reports[0])
    elif len(pdfs) > 1:
        echo_line(f"{len(pdfs) - failed} of {len(pdfs)} documents verified")
    if failed:
        raise SystemExit(1)


def _print_verdict(pdf: Path, report: VerifyReport, anchors: Anchors) -> None:
    """One document's verdict: a line per signature, warnings and problems on stderr."""
    where = f"trust anchors from {anchors.source}" if anchors.checked else anchors.source
    echo_line(f"{pdf}: {report.verdict} ({where})")
    echo_line(f"  record {report.record_digest}")
    for s in report.signatures:
        trusted = {None: "NOT TRUST-CHECKED", True: "trusted", False: "UNTRUSTED"}[s.trusted]
        state = "intact" if s.intact else "BROKEN"
        echo_line(
            f"  {s.role:24} {s.signer:28} {s.signed_at or '?':25} {state}, {trusted}, "
            f"{s.signing_time}, later changes: {s.later_changes}"
        )
    echo_line(f"  required roles: {', '.join(report.required_roles) or 'none'}")
    echo_line(f"  valid until: {report.valid_until or 'not stated'}")
    stated = report.policy or "not stated"
    if report.policy_digest:
        stated += f", file {report.policy_digest}"
    echo_line(f"  rendered under policy: {stated}")
    echo_line(f"  templates: {report.template or 'not stated'}")
    for warning in report.warnings:
        echo_line(f"warning: {pdf}: {warning}", err=True)
    for problem in report.problems:
        echo_line(f"problem: {pdf}: {problem}", err=True)


COMMANDS = [keys, sign, verify]
