"""Commands for the archive: add signed documents, list, verify, export a regulator's bundle."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from govrl.cli.options import (
    EXISTING_FILE,
    FILE,
    OVERWRITE,
    POLICY,
    TIMEOUT,
    TRACKING_URI,
    echo_json,
    echo_line,
    echo_text,
    trust_anchors,
)
from govrl.cli.sign_cmds import PASSPHRASE_FILE
from govrl.config import TrustRequest

if TYPE_CHECKING:
    from cryptography import x509

    from govrl.archive import Archive, ArchiveReport, Head
    from govrl.archive.checkpoint import Checkpoint, CheckpointSigner
    from govrl.archive.policies import Pins
    from govrl.documents.trust import Anchors

STORE = click.option(
    "--store",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="GOVRL_ARCHIVE",
    default="govrl-archive",
    show_default=True,
    show_envvar=True,
    help="The archive folder.",
)
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
BY = click.option("--by", "who", help="Who is acting, for the record (default: user@host).")
DATE = click.DateTime(["%Y-%m-%d"])
ARCHIVE_KEY = click.option(
    "--archive-key",
    type=EXISTING_FILE,
    envvar="GOVRL_ARCHIVE_KEY",
    show_envvar=True,
    help="The archive key (PEM) that signs the checkpoint; its certificate is for role archive.",
)
ARCHIVE_CERT = click.option(
    "--archive-cert",
    type=EXISTING_FILE,
    envvar="GOVRL_ARCHIVE_CERT",
    show_envvar=True,
    help="The archive key's certificate (`govrl keys new --role archive`).",
)
EXPECT_CHECKPOINT = click.option(
    "--expect-checkpoint",
    type=EXISTING_FILE,
    metavar="FILE",
    help="A checkpoint kept from earlier (`archive checkpoint`); today's tree must extend it.",
)


def _signer(
    key: Path | None,
    cert: Path | None,
    passphrase_file: Path | None,
    roots: list[x509.Certificate] | None,
) -> CheckpointSigner | None:
    """The archive key, or None when neither --archive-key nor --archive-cert is given."""
    from govrl.archive.checkpoint import CheckpointSigner
    from govrl.cli.sign_cmds import passphrase
    from govrl.errors import UsageError

    if key is None and cert is None:
        return None
    if key is None or cert is None:
        raise UsageError("give both --archive-key and --archive-cert")
    return CheckpointSigner.load(key, cert, passphrase(passphrase_file), roots)


def _expected(path: Path | None) -> Checkpoint | None:
    from govrl.archive.checkpoint import read_checkpoint

    return read_checkpoint(path) if path else None


def _anchors(trust: TrustRequest, what: str) -> Anchors:
    from govrl.documents.trust import resolve_anchors

    return resolve_anchors(trust, what=what)


def _roots(anchors: Anchors) -> list[x509.Certificate] | None:
    return list(anchors.certificates) if anchors.checked else None


def _trust_said(anchors: Anchors | None) -> str:
    """Where the verdict's anchors came from, for its line."""
    if anchors is None:
        return "signatures not checked"
    if anchors.checked:
        return f"trust anchors from {anchors.source}"
    return f"NOT TRUST-CHECKED ({anchors.source})"


def _trust_json(anchors: Anchors | None) -> dict[str, object]:
    return {
        "checked": anchors is not None and anchors.checked,
        "anchors_from": anchors.source if anchors else None,
    }


def _archive(store: Path) -> Archive:
    from govrl.archive import Archive

    return Archive.at(store)


def _pins(flags: tuple[Path, ...]) -> Pins | None:
    """The pinned policies: --policy flags, else govrl.toml's [policy] pinned, else none."""
    from govrl.archive.policies import Pins
    from govrl.config import pinned_setting

    setting = pinned_setting(flags)
    return Pins.load(setting) if setting is not None else None


@click.group()
def archive() -> None:
    """The tamper-evident archive of signed documents, and bundles for regulators.

    Documents and their records are kept by SHA-256 under objects/, and each
    addition is an entry in log.jsonl that names the hash of the entry before
    it; HEAD names the last. `verify` finds any change, loss or reordering.
    Each add ends with a checkpoint of the log's Merkle tree signed by the
    archive key; `checkpoint` prints the latest, to keep outside the archive.
    """


@archive.command("add")
@click.argument("pdfs", nargs=-1, required=True, type=EXISTING_FILE)
@STORE
@POLICY
@trust_anchors
@click.option(
    "--allow-unverified",
    is_flag=True,
    help="Archive documents that fail verification; the entry records why.",
)
@ARCHIVE_KEY
@ARCHIVE_CERT
@PASSPHRASE_FILE
@click.option(
    "--unsigned-checkpoint",
    is_flag=True,
    help="Trials only: without an archive key, write the checkpoint unsigned; "
    "`verify` then says so, and fails it when judging trust.",
)
@BY
@JSON
def add(
    pdfs: tuple[Path, ...],
    store: Path,
    policy_path: Path | None,
    trust: TrustRequest,
    allow_unverified: bool,
    archive_key: Path | None,
    archive_cert: Path | None,
    passphrase_file: Path | None,
    unsigned_checkpoint: bool,
    who: str | None,
    as_json: bool,
) -> None:
    """Verify and archive signed govrl documents (approvals, model cards).

    A document that is not a govrl document, or whose verification fails
    (signers must chain to a trust anchor), is refused unless
    --allow-unverified. Adding a document again adds nothing. Exits 1 if any
    document was refused; the others are still archived.

    Each addition ends with a checkpoint of the log's Merkle tree, signed with
    the archive key (--archive-key, --archive-cert; its passphrase as `sign`
    takes one). Without a key, add refuses unless --unsigned-checkpoint.
    """
    from govrl.archive import DocumentRefused, PolicyFile
    from govrl.errors import InputError, UsageError

    anchors = _anchors(trust, "`govrl archive add`")
    roots = _roots(anchors)
    signer = _signer(archive_key, archive_cert, passphrase_file, roots)
    if signer is None and not unsigned_checkpoint:
        raise UsageError(
            "no archive key: every add ends with a checkpoint signed by the archive key",
            hint="give --archive-key and --archive-cert (or $GOVRL_ARCHIVE_KEY and "
            "$GOVRL_ARCHIVE_CERT); make one with `govrl keys new --role archive`; "
            "--unsigned-checkpoint writes it unsigned, for trials",
        )
    target = _archive(store)
    policy = PolicyFile.load(policy_path)
    pins = _pins(())
    if pins is not None:
        pins.refuse_impostor(policy.ref, policy.source)
        if not pins.pinned(policy.ref.digest) and not as_json:
            echo_line(
                f"warning: policy {policy.policy.label} ({policy.ref.digest}) is not pinned by "
                f"{pins.source}: `archive verify` fails entries archived under it",
                err=True,
            )
    results, refused = [], []
    for number, pdf in enumerate(pdfs, start=1):
        if len(pdfs) > 1 and not as_json and sys.stderr.isatty():
            echo_line(f"[{number}/{len(pdfs)}] adding {pdf}", err=True)
        try:
            result = target.add(
                pdf,
                policy=policy,
                trust=roots,
                allow_unverified=allow_unverified,
                added_by=who,
                signer=signer,
                pins=pins,
            )
        except (InputError, DocumentRefused) as exc:
            refused.append({"file": str(pdf), "error": exc.diagnostics()})
            if not as_json:
                echo_text(f"error: {exc.diagnostics()}", err=True)
            continue
        results.append(result)
        if as_json:
            continue
        entry = result.entry
        for note in result.notes:
            echo_line(f"note: {note}", err=True)
        if result.already:
            echo_line(f"{pdf}: already archived as entry {entry.sequence}")
            continue
        echo_line(
            f"{pdf}: archived as entry {entry.sequence} ({entry.system.id} "
            f"{entry.system.version or '?'}, {entry.document.kind or 'document'}, "
            f"{entry.verdict or 'no verdict'}; {_trust_said(anchors)}) {entry.document.digest}"
        )
        for problem in entry.verification.problems:
            echo_line(f"warning: archived unverified: {problem}", err=True)
    checkpoint = None
    if target.exists():
        checkpoint, notes = target.checkpoint(signer, unsigned=unsigned_checkpoint)
        if not as_json:
            for note in notes:
                echo_line(f"note: {note}", err=True)
    if checkpoint is not None and not as_json:
        signed = f"signed by {signer.name}" if signer else "UNSIGNED (--unsigned-checkpoint)"
        echo_line(
            f"checkpoint: {_count(checkpoint.body.tree_size, 'entry', 'entries')}, root "
            f"{checkpoint.body.root_hash}, {signed}"
        )
    if as_json:
        echo_json(
            {
                "archived": [r.as_dict() for r in results],
                "refused": refused,
                "trust": _trust_json(anchors),
                "checkpoint": checkpoint.model_dump(mode="json") if checkpoint else None,
            }
        )
    if refused:
        if len(pdfs) > 1 and not as_json:
            echo_line(f"{len(refused)} of {len(pdfs)} documents refused", err=True)
        raise SystemExit(1)


@archive.command("list")
@STORE
@click.option("--system", help="Only this system (its id or name).")
@click.option("--version", "version", help="Only this system version.")
@click.option("--verdict", "--decision", "verdict", help="Only this verdict, e.g. approve.")
@click.option("--kind", help="Only this kind of document: approval or model-card.")
@click.option("--since", type=DATE, help="Only entries added on or after this date.")
@click.option("--until", type=DATE, help="Only entries added on or before this date.")
@JSON
def list_(
    store: Path,
    system: str | None,
    version: str | None,
    verdict: str | None,
    kind: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    as_json: bool,
) -> None:
    """List archived documents, oldest first, withdrawn ones marked. Reads the log only;
    `verify` checks it."""
    from govrl.archive.withdrawals import withdrawn_by

    target = _archive(store)
    target.require()
    lines = target.lines()
    damaged = sum(1 for line in lines if line.entry is None)
    withdrawn = withdrawn_by([line.entry for line in lines if line.entry is not None])
    chosen = [
        e
        for e in (line.entry for line in lines)
        if e is not None
        and (system is None or system in (e.system.id, e.system.name))
        and (version is None or e.system.version == version)
        and (verdict is None or e.verdict == verdict)
        and (kind is None or e.document.kind == kind)
        and (since is None or e.added_on >= since.date())
        and (until is None or e.added_on <= until.date())
    ]
    if damaged:
        echo_line(
            f"warning: {damaged} log line(s) are damaged and not listed; "
            "run `govrl archive verify`",
            err=True,
        )
    if as_json:
        echo_json(
            [
                e.model_dump(mode="json")
                | {
                    "withdrawn_by": withdrawn[e.sequence].sequence
                    if e.sequence in withdrawn
                    else None
                }
                for e in chosen
            ]
        )
        return
    if not chosen:
        echo_line("no archived documents match")
        return
    echo_line(
        f"{'entry':>6}  {'added':10}  {'system':20} {'version':10} {'kind':11} "
        f"{'verdict':22} {'valid until':11} signed by"
    )
    for e in chosen:
        roles = ", ".join(s.role for s in e.signers) or "-"
        if e.withdraws is not None:
            flag = f"  [withdraws entry {e.withdraws.sequence}: {e.withdraws.reason}]"
        elif e.sequence in withdrawn:
            flag = f"  [WITHDRAWN by entry {withdrawn[e.sequence].sequence}]"
        else:
            flag = "" if e.verification.ok else "  [archived unverified]"
        echo_line(
            f"{e.sequence:>6}  {e.added_at[:10]}  {e.system.id:20} {e.system.version or '?':10} "
            f"{e.document.kind or '?':11} {e.verdict or '?':22} {e.valid_until or '?':11} "
            f"{roles}{flag}"
        )


def _head(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Head | None:
    from govrl.archive import Head

    if value is None:
        return None
    sequence, _, digest = value.partition(":")
    try:
        return Head.decode(f'{{"sequence": {int(sequence)}, "hash": "{digest}"}}'.encode())
    except ValueError:
        raise click.BadParameter("give SEQUENCE:sha256:HEX, as `archive verify` prints") from None


@archive.command("verify")
@click.argument("target", required=False, type=click.Path(path_type=Path, exists=True))
@STORE
@click.option(
    "--no-signatures", is_flag=True, help="Skip re-verifying signatures (hashes and chain only)."
)
@trust_anchors
@click.option(
    "--expect-head",
    callback=_head,
    metavar="SEQ:sha256:HEX",
    help="A head recorded elsewhere earlier; the log must still hold it.",
)
@click.option(
    "--policy",
    "pinned",
    multiple=True,
    type=EXISTING_FILE,
    help="A policy file the organisation pins (repeatable; default: govrl.toml's [policy] "
    "pinned): an entry archived under any other policy fails, and so does judging "
    "documents with no policy pinned.",
)
@click.option(
    "--any-policy",
    is_flag=True,
    help="Accept whatever policy each entry names (unsafe; the verdict says so).",
)
@EXPECT_CHECKPOINT
@click.option(
    "--jobs",
    type=click.IntRange(1, 256),
    help="Processes re-verifying signatures at once (default: one per CPU).",
)
@click.option(
    "--model",
    help="Check the copy `archive push` keeps on this model version's run instead "
    "(NAME@ALIAS or NAME/VERSION; needs --tracking-uri).",
)
@click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    show_envvar=True,
    help="The MLflow server or local store holding --model.",
)
@TIMEOUT
@JSON
@click.pass_context
def verify(
    ctx: click.Context,
    target: Path | None,
    store: Path,
    no_signatures: bool,
    trust: TrustRequest,
    expect_head: Head | None,
    pinned: tuple[Path, ...],
    any_policy: bool,
    expect_checkpoint: Path | None,
    jobs: int | None,
    model: str | None,
    tracking_uri: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Check an archive (or a bundle.zip from `export`): every object, the chain, the head,
    and every signature.

    Reports each changed, missing, unlisted or reordered entry or file, a
    truncated log, a broken head, and a checkpoint the log no longer matches;
    a bundle must prove that it holds every entry of its system. With
    --expect-checkpoint, a rollback or rewrite since that checkpoint fails.
    Re-verifying signatures needs trust anchors and pinned policies (not with
    --no-signatures). Exits 0 when all holds, 1 otherwise.
    """
    from govrl.archive import verify_bundle, verify_store
    from govrl.errors import UsageError

    explicit = ctx.get_parameter_source("store") is not click.core.ParameterSource.DEFAULT
    if sum((target is not None, explicit, model is not None)) > 1:
        raise UsageError("give one of a bundle, --store or --model")
    if any_policy and pinned:
        raise UsageError("give --policy or --any-policy, not both")
    anchors = None if no_signatures else _anchors(trust, "`govrl archive verify`")
    roots = _roots(anchors) if anchors else None
    expected = _expected(expect_checkpoint)
    pins = None if any_policy else _pins(pinned)
    if model is not None:
        report = _verify_copy(
            model,
            tracking_uri,
            timeout,
            no_signatures,
            roots,
            expect_head,
            expected,
            pins,
            any_policy,
        )
    elif target is not None and target.is_file():
        report = verify_bundle(
            target,
            signatures=not no_signatures,
            trust=roots,
            expect_head=expect_head,
            expect_checkpoint=expected,
            jobs=jobs,
            pins=pins,
            any_policy=any_policy,
        )
    else:
        report = verify_store(
            _archive(target or store),
            signatures=not no_signatures,
            trust=roots,
            expect_head=expect_head,
            expect_checkpoint=expected,
            jobs=jobs,
            pins=pins,
            any_policy=any_policy,
        )
    _print_report(report, as_json, anchors)
    if not report.ok:
        raise SystemExit(1)


def _verify_copy(
    model: str,
    tracking_uri: str | None,
    timeout: float,
    no_signatures: bool,
    roots: list[x509.Certificate] | None,
    expect_head: Head | None,
    expected: Checkpoint | None,
    pins: Pins | None,
    any_policy: bool,
) -> ArchiveReport:
    import tempfile

    from govrl.archive import verify_store
    from govrl.archive.replica import FOLDER, pull
    from govrl.errors import UsageError
    from govrl.evidence import ModelRef
    from govrl.evidence.mlflow import MlflowSource

    if not tracking_uri:
        raise UsageError("--model needs --tracking-uri (or $MLFLOW_TRACKING_URI)")
    source = MlflowSource(tracking_uri, timeout=timeout)
    with tempfile.TemporaryDirectory() as tmp:
        run_id, copy = pull(source, ModelRef.parse(model), Path(tmp))
        report = verify_store(
            copy,
            signatures=not no_signatures,
            trust=roots,
            expect_head=expect_head,
            expect_checkpoint=expected,
            pins=pins,
            any_policy=any_policy,
        )
    report.source = f"{model} at {source.location}, run {run_id}, {FOLDER}/"
    return report


@archive.command("push")
@STORE
@click.option(
    "--model",
    required=True,
    help="The model version whose source run keeps the copy: NAME@ALIAS or NAME/VERSION.",
)
@TRACKING_URI
@TIMEOUT
@JSON
def push(store: Path, model: str, tracking_uri: str, timeout: float, as_json: bool) -> None:
    """Copy the archive onto the MLflow run of the model it approves, under govrl-archive/.

    Only what the copy lacks is uploaded: new entries' objects, then the log,
    then HEAD. The archive must verify first, and a copy that is not an
    earlier state of this archive is refused (exit 1). Check the copy with
    `govrl archive verify --model ... --tracking-uri ...`.
    """
    from govrl.archive.replica import push as push_copy
    from govrl.evidence import ModelRef
    from govrl.evidence.mlflow import MlflowSource

    archive = _archive(store)
    archive.require()
    source = MlflowSource(tracking_uri, timeout=timeout)
    result = push_copy(archive, source, ModelRef.parse(model))
    if as_json:
        echo_json(result.as_dict())
        return
    echo_line(
        f"{archive.where()} -> {source.location} run {result.run_id} ({model}), "
        f"govrl-archive/: {_count(result.new_entries, 'new entry', 'new entries')}, "
        f"{_count(result.objects, 'object')} uploaded; the copy holds "
        f"{_count(result.entries, 'entry', 'entries')}, head {result.head}"
    )


def _documents_said(report: ArchiveReport) -> str:
    """The documents' verdict: every document standing verifies, under a pinned policy."""
    withdrawn = (
        f"; {_count(len(report.withdrawn), 'withdrawn entry', 'withdrawn entries')} not judged"
        if report.withdrawn
        else ""
    )
    if report.pinned_from:
        pinned = f"policies pinned by {report.pinned_from}"
    elif report.any_policy:
        pinned = "ANY POLICY ACCEPTED (--any-policy): no pinned policy was checked"
    else:
        pinned = "no policy pinned (--policy, or [policy] pinned in govrl.toml)"
    failed = sorted({f.sequence for f in report.errors if f.area == "documents" and f.sequence})
    if not report.documents_ok:
        which = f"entries {_numbers(failed)}{withdrawn}" if failed else withdrawn[2:]
        return f"FAILED ({'; '.join(part for part in (which, pinned) if part)})"
    if not report.documents_checked:
        return f"NOT CHECKED (--no-signatures{withdrawn}; {pinned})"
    return f"ALL VERIFIED ({report.signatures_checked} re-verified{withdrawn}; {pinned})"


def _numbers(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers)) or "none"


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def _print_report(report: ArchiveReport, as_json: bool, anchors: Anchors | None) -> None:
    if as_json:
        echo_json(report.as_dict() | {"trust": _trust_json(anchors)})
        return
    head = f"head {report.head.sequence} {report.head.hash}" if report.head else "no head"
    signatures = (
        f", signatures of {_count(report.signatures_checked, 'document')} re-verified"
        if report.signatures_checked
        else ""
    )
    checkpoint = report.checkpoint.describe() if report.checkpoint else "no checkpoint"
    verdict = "VERIFIED" if report.ok else "FAILED"
    if anchors is not None and not anchors.checked:
        verdict = "NOT TRUST-CHECKED" if report.ok else "FAILED, NOT TRUST-CHECKED"
    echo_line(
        f"{report.source}: {verdict} ({report.kind}, "
        f"{_count(report.entries, 'entry', 'entries')}, {_count(report.objects, 'object')}"
        f"{signatures}; {head}; {checkpoint}; {_trust_said(anchors)})"
    )
    failed = sorted({f.sequence for f in report.errors if f.area == "archive" and f.sequence})
    archive_said = "INTACT AND COMPLETE" if report.archive_ok else "FAILED"
    if failed and not report.archive_ok:
        archive_said += f" (entries {_numbers(failed)})"
    echo_line(f"  archive: {archive_said}")
    echo_line(f"  documents: {_documents_said(report)}")
    for finding in report.warnings:
        echo_line(f"warning: {finding}", err=True)
    for finding in report.errors:
        echo_line(f"error: {finding}", err=True)
    if report.findings:
        echo_line(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)")


@archive.command("supersede")
@click.argument("sequence", metavar="ENTRY", type=click.IntRange(1))
@click.option("--reason", required=True, help="Why the entry is withdrawn, for the record.")
@STORE
@ARCHIVE_KEY
@ARCHIVE_CERT
@PASSPHRASE_FILE
@click.option(
    "--unsigned-checkpoint",
    is_flag=True,
    help="Trials only: without an archive key, write the checkpoint unsigned.",
)
@BY
@JSON
def supersede(
    sequence: int,
    reason: str,
    store: Path,
    archive_key: Path | None,
    archive_cert: Path | None,
    passphrase_file: Path | None,
    unsigned_checkpoint: bool,
    who: str | None,
    as_json: bool,
) -> None:
    """Withdraw entry ENTRY: append an entry that names it, repeats its facts and gives the
    reason. Nothing is removed.

    `verify` then reports ENTRY as withdrawn instead of failing on it (an entry
    archived with --allow-unverified fails until withdrawn), and `list` marks
    it. The new entry is chained, added to the tree and covered by a signed
    checkpoint as an add is.
    """
    from govrl.errors import UsageError

    signer = _signer(archive_key, archive_cert, passphrase_file, None)
    if signer is None and not unsigned_checkpoint:
        raise UsageError(
            "no archive key: every new entry ends with a checkpoint signed by the archive key",
            hint="give --archive-key and --archive-cert (or $GOVRL_ARCHIVE_KEY and "
            "$GOVRL_ARCHIVE_CERT); --unsigned-checkpoint writes it unsigned, for trials",
        )
    target = _archive(store)
    target.require()
    entry, notes = target.supersede(sequence, reason, added_by=who, signer=signer)
    latest, more = target.checkpoint(signer, unsigned=unsigned_checkpoint)
    if as_json:
        echo_json(
            {
                "entry": entry.model_dump(mode="json"),
                "checkpoint": latest.model_dump(mode="json") if latest else None,
            }
        )
        return
    for note in notes + more:
        echo_line(f"note: {note}", err=True)
    echo_line(
        f"entry {sequence} ({entry.document.file_name}) withdrawn by entry {entry.sequence}: "
        f"{reason}"
    )
    if latest is not None:
        signed = f"signed by {signer.name}" if signer else "UNSIGNED (--unsigned-checkpoint)"
        echo_line(
            f"checkpoint: {_count(latest.body.tree_size, 'entry', 'entries')}, root "
            f"{latest.body.root_hash}, {signed}"
        )


@archive.command("checkpoint")
@STORE
@ARCHIVE_KEY
@ARCHIVE_CERT
@PASSPHRASE_FILE
@click.option("-o", "--output", type=FILE, help="Also write it to this file.")
def checkpoint(
    store: Path,
    archive_key: Path | None,
    archive_cert: Path | None,
    passphrase_file: Path | None,
    output: Path | None,
) -> None:
    """Print the archive's latest checkpoint (one line of JSON), for publishing elsewhere.

    Keep it outside the archive (a release ticket, the regulator's files):
    `archive verify --expect-checkpoint FILE` later proves the archive still
    extends it. With the archive key, first signs a checkpoint of the whole
    log if the latest does not cover it or is unsigned.
    """
    from govrl.atomicfile import write_atomic
    from govrl.errors import UsageError

    target = _archive(store)
    target.require()
    signer = _signer(archive_key, archive_cert, passphrase_file, None)
    latest, notes = target.checkpoint(signer)
    for note in notes:
        echo_line(f"note: {note}", err=True)
    if latest is None:
        raise UsageError(f"{target.where()}: no checkpoint yet; the archive holds no entries")
    line = latest.encode().decode("ascii")
    if output is not None:
        write_atomic(output, line + "\n")
    echo_line(line)


@archive.command("export")
@STORE
@click.option("--system", required=True, help="The system to export (its id or name).")
@click.option("-o", "--output", type=FILE, required=True, help="The bundle to write (.zip).")
@OVERWRITE
@BY
@JSON
def export(
    store: Path, system: str, output: Path, overwrite: bool, who: str | None, as_json: bool
) -> None:
    """Write one system's documents, records and chained log entries as a bundle for a
    regulator, with a README that explains how to check it.

    Refuses to export from an archive that does not verify (signatures aside).
    """
    from govrl.archive import export as export_bundle
    from govrl.archive.store import default_user
    from govrl.outputs import check_output

    check_output(output, folders=[store], overwrite=overwrite)
    result = export_bundle(_archive(store), system, output, exported_by=who or default_user())
    if as_json:
        echo_json(
            {
                "output": str(result.output),
                "system": result.system,
                "entries": result.entries,
                "files": result.files,
                "bytes": result.size,
            }
        )
    else:
        echo_line(
            f"wrote {output}: {result.entries} entries for {result.system}, "
            f"{result.files} files, {result.size} bytes"
        )


@archive.command("repair")
@STORE
def repair(store: Path) -> None:
    """Tidy up after an interrupted add: set aside a torn last log line HEAD never recorded,
    bring a lagging HEAD up to date, and move objects of unfinished adds to quarantine/.

    Refuses anything else: real damage needs a backup, and `verify` names it.
    """
    target = _archive(store)
    target.require()
    done = target.repair()
    for action in done:
        echo_line(action)
    if not done:
        echo_line("nothing to repair")


COMMANDS = [archive]
