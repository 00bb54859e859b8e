"""Each step of the demo: the library calls its govrl command makes, shown as that command."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from govrl.demo.session import CheckFailed, Demo

if TYPE_CHECKING:
    from govrl.archive import AddResult, ArchiveReport, ExportResult
    from govrl.archive.replica import PushResult
    from govrl.documents.keys import KeyFiles
    from govrl.documents.render import Rendered
    from govrl.documents.signing import SignResult
    from govrl.documents.verification import VerifyReport
    from govrl.evidence.collect import CollectReport
    from govrl.evidence.local_store import SeededStore
    from govrl.evidence.publish import PublishResult
    from govrl.record.files import ValidationReport
    from govrl.review.answers import ImportReport
    from govrl.review.gate import Decision

DEMO_ORGANISATION = "govrl demo"
DEMO_CA = "govrl demo CA"
ACTOR = "govrl demo"  # who answers, archives and exports, as the record and the log say


def collect(demo: Demo, record: Path, store: SeededStore) -> CollectReport:
    """Collect the seeded model version's runs, nested ones too, by the store's mapping."""

    def action() -> CollectReport:
        from govrl.evidence import ModelRef, Selection
        from govrl.evidence.collect import collect_from

        selection = Selection(model=ModelRef.parse(store.model_ref), with_children=True)
        return collect_from(  # a demo leaves any govrl.toml above its folder alone
            record,
            store.tracking_uri,
            selection,
            kind="mlflow",
            mapping_path=store.mapping,
            remember=False,
        )

    return demo.run(
        "collect the evaluation evidence from MLflow",
        *("collect", "mlflow", record, "--tracking-uri", store.tracking_uri),
        *("--model", store.model_ref, "--with-children", "--mapping", store.mapping, "--json"),
        action=action,
        summary=lambda report: (
            f"{report.count('added')} entries added from "
            f"{len(report.runs)} runs, each with its provenance"
        ),
    )


def fill(demo: Demo, record: Path, answers: Path) -> ImportReport:
    """Import the scripted answers, all or none."""

    def action() -> ImportReport:
        from govrl.review.answers import import_answers
        from govrl.review.checklist import ChecklistLibrary

        return import_answers(record, answers, ChecklistLibrary.discover(), answered_by=ACTOR)

    return demo.run(
        "fill the checklists from the scripted answers",
        *("fill", record, "--answers", answers, "--as", ACTOR, "--json"),
        action=action,
        summary=lambda report: f"{len(report.new)} answers recorded",
    )


def validate(demo: Demo, record: Path) -> ValidationReport:
    """Validate the record; any problem fails the step."""

    def action() -> ValidationReport:
        from govrl.record.files import validate_file

        report = validate_file(record)
        if not report.ok:
            lines = [str(p) for p in report.problems]
            lines.append(f"{demo.shown(record)}: invalid ({len(report.problems)} problems)")
            raise CheckFailed("\n".join(lines))
        return report

    return demo.run(
        "validate the record",
        *("validate", record),
        action=action,
        summary=lambda report: f"valid  {report.digest}",
    )


def gate(demo: Demo, record: Path, policy: Path | None, decision: Path | None = None) -> Decision:
    """Decide under ``policy``, a rejection failing the step; write the decision as `gate --json`
    prints it."""

    def action() -> Decision:
        from govrl.atomicfile import write_atomic
        from govrl.review.gate import Verdict, decide
        from govrl.review.rules import load_assessment

        judged = load_assessment(record, policy, require_finished=True)
        result = decide(judged.record, judged.rules.policy, judged.rules.library)
        if result.verdict is Verdict.REJECT:
            blockers = "".join(f"\n  - {line}" for line in result.blockers)
            raise CheckFailed(
                f"{demo.shown(record)}: REJECT (tier {int(result.tier)}, policy "
                f"{result.policy}); blockers ({len(result.blockers)}):{blockers}"
            )
        if decision is not None:
            write_atomic(decision, json.dumps(result.as_dict(), indent=2) + "\n")
        return result

    return demo.run(
        "decide under the policy",
        *("gate", record, *(("--policy", policy) if policy else ()), "--json"),
        action=action,
        summary=lambda d: (
            f"{d.verdict.value}: {len(d.blockers)} blockers, "
            f"{len(d.conditions)} conditions, valid until {d.valid_until.isoformat()}"
        ),
    )


def render(demo: Demo, record: Path, kind: str, what: str, policy: Path, target: Path) -> Rendered:
    """Render one document of ``kind`` as PDF into ``target``."""

    def action() -> Rendered:
        from govrl.atomicfile import write_atomic
        from govrl.documents.render import Format, Kind
        from govrl.documents.render import render as render_document
        from govrl.review.rules import load_assessment

        judged = load_assessment(record, policy, require_finished=True)
        rendered = render_document(
            judged.record,
            kind=Kind(kind),
            fmt=Format.PDF,
            policy=judged.rules.policy,
            library=judged.rules.library,
        )
        write_atomic(target, rendered.content)
        return rendered

    return demo.run(
        f"render the {what}",
        *("render", record, "--kind", kind, "--policy", policy, "-o", target, "--json"),
        action=action,
        summary=lambda rendered: f"{rendered.pages} pages",
    )


def keys_ca(demo: Demo, folder: Path) -> KeyFiles:
    """Make the demo's organisation CA."""

    def action() -> KeyFiles:
        from govrl.documents.keys import new_ca

        return new_ca(DEMO_CA, folder, _secret(demo))

    return demo.run(
        "create an organisation CA for the demo",
        *("keys", "ca", "--name", DEMO_CA, "-o", folder, *_passphrase_option(demo)),
        action=action,
        summary=_says("CA key and certificate"),
    )


def keys_new(demo: Demo, name: str, role: str, folder: Path, ca: KeyFiles) -> KeyFiles:
    """Make one reviewer's key, with a certificate for ``role`` issued by ``ca``."""

    def action() -> KeyFiles:
        from govrl.documents.keys import load_credentials, new_reviewer

        secret = _secret(demo)
        issuer = load_credentials(ca.key, ca.cert, secret)
        return new_reviewer(
            name, role, folder, secret, organisation=DEMO_ORGANISATION, issuer=issuer
        )

    return demo.run(
        f"create a key for the {role} reviewer" if role != "archive" else "create the archive key",
        *("keys", "new", "--name", name, "--role", role, "-o", folder),
        *("--organisation", DEMO_ORGANISATION, "--ca-key", ca.key, "--ca-cert", ca.cert),
        *_passphrase_option(demo),
        action=action,
        summary=_says("ECDSA P-256 key, certificate issued by the demo CA"),
    )


def sign(
    demo: Demo,
    pdf: Path,
    reviewer: KeyFiles,
    role: str,
    policy: Path,
    target: Path,
    turn: str,
    trust: Path,
) -> SignResult:
    """Add ``reviewer``'s signature for ``role`` to ``pdf``, into ``target``, with the chain to
    ``trust`` checked and embedded (PAdES B-LT)."""

    def action() -> SignResult:
        from govrl.documents.keys import check_validity, load_certificates, load_credentials
        from govrl.documents.signing import sign_pdf
        from govrl.documents.trust import validation_context
        from govrl.review.rules import load_rules

        creds = load_credentials(reviewer.key, reviewer.cert, _secret(demo), [])
        check_validity(creds.cert, reviewer.cert)
        rules = load_rules(policy)
        context = validation_context(load_certificates(trust))
        return sign_pdf(
            pdf,
            target,
            creds,
            role,
            policy=rules.policy,
            library=rules.library,
            validation_context=context,
        )

    return demo.run(
        f"sign the approval as {role}",
        *("sign", pdf, "--key", reviewer.key, "--cert", reviewer.cert, "--role", role),
        *("--policy", policy, "--trust", trust, "-o", target, *_passphrase_option(demo)),
        action=action,
        summary=_says(f"signature {turn}, an incremental update, its chain embedded"),
    )


def verify(demo: Demo, pdf: Path, trust: Path, policy: Path) -> VerifyReport:
    """Verify the signed approval against the demo CA; any problem fails the step."""

    def action() -> VerifyReport:
        from govrl.documents.keys import load_certificates
        from govrl.documents.verification import verify_pdf
        from govrl.review.policy import load_policy

        report = verify_pdf(pdf, policy=load_policy(policy), trust=load_certificates(trust))
        if not report.ok:
            problems = "".join(f"\nproblem: {problem}" for problem in report.problems)
            raise CheckFailed(f"{demo.shown(pdf)}: FAILED{problems}")
        return report

    return demo.run(
        "verify the signed approval",
        *("verify", pdf, "--trust", trust, "--policy", policy, "--json"),
        action=action,
        summary=lambda report: (
            f"{len(report.signatures)} signatures intact and trusted, "
            f"every required role signed, valid until {report.valid_until}"
        ),
    )


def archive_add(
    demo: Demo, pdf: Path, store: Path, policy: Path, trust: Path, archive_key: KeyFiles
) -> AddResult:
    """Verify and archive the signed approval; the archive key signs the checkpoint."""

    def action() -> AddResult:
        from govrl.archive import Archive, PolicyFile
        from govrl.archive.checkpoint import CheckpointSigner
        from govrl.documents.keys import load_certificates

        anchors = load_certificates(trust)
        signer = CheckpointSigner.load(archive_key.key, archive_key.cert, _secret(demo), anchors)
        return Archive.at(store).add(
            pdf, policy=PolicyFile.load(policy), trust=anchors, added_by=ACTOR, signer=signer
        )

    return demo.run(
        "archive the signed approval",
        *("archive", "add", pdf, "--store", store, "--policy", policy, "--trust", trust),
        *("--archive-key", archive_key.key, "--archive-cert", archive_key.cert),
        *(*_passphrase_option(demo), "--by", ACTOR),
        action=action,
        summary=_says("stored by content, chained into the log, checkpoint signed"),
    )


def archive_verify(demo: Demo, store: Path, trust: Path, policy: Path) -> ArchiveReport:
    """Check the archive and re-verify its signatures, under the pinned ``policy``; any error
    fails the step."""

    def action() -> ArchiveReport:
        from govrl.archive import Archive, verify_store
        from govrl.archive.policies import Pins
        from govrl.config import PinnedSetting
        from govrl.documents.keys import load_certificates

        pins = Pins.load(PinnedSetting((policy,), f"--policy {policy}"))
        report = verify_store(Archive.at(store), trust=load_certificates(trust), pins=pins)
        if not report.ok:
            errors = "".join(f"\nerror: {finding}" for finding in report.errors)
            raise CheckFailed(f"{report.source}: FAILED{errors}")
        return report

    return demo.run(
        "verify the archive",
        *("archive", "verify", "--store", store, "--trust", trust, "--policy", policy),
        action=action,
        summary=_archive_state,
    )


def archive_export(demo: Demo, store: Path, system: str, bundle: Path) -> ExportResult:
    """Write the system's bundle for a regulator."""

    def action() -> ExportResult:
        from govrl.archive import Archive
        from govrl.archive import export as export_bundle

        return export_bundle(Archive.at(store), system, bundle, exported_by=ACTOR)

    return demo.run(
        "export the bundle for the regulator",
        *("archive", "export", "--store", store, "--system", system, "-o", bundle),
        *("--by", ACTOR),
        action=action,
        summary=_says("documents, records, log excerpt, manifest and README"),
    )


def export(demo: Demo, name: str, what: str, record: Path, target: Path, summary: str) -> None:
    """Write the record through the exporter called ``name``."""

    def action() -> None:
        from govrl.atomicfile import write_atomic
        from govrl.exports import exporter
        from govrl.record.files import load_record

        write_atomic(target, exporter(name).write(load_record(record).record))

    demo.run(
        f"export {what}",
        *("export", name, record, "-o", target),
        action=action,
        summary=_says(summary),
    )


def publish(
    demo: Demo,
    record: Path,
    store: SeededStore,
    decision: Path,
    pdf: Path,
    policy: Path,
    trust: Path,
) -> PublishResult:
    """Verify ``pdf``, then tag the model version with the decision and log the record and
    ``pdf`` on its run."""

    def action() -> PublishResult:
        from functools import partial

        from govrl.documents.keys import load_certificates
        from govrl.documents.verification import publication_problems
        from govrl.evidence import ModelRef, open_source
        from govrl.evidence.publish import publish as publish_decision
        from govrl.review.policy import load_policy

        check = partial(
            publication_problems, policy=load_policy(policy), trust=load_certificates(trust)
        )
        source = open_source(store.tracking_uri, kind="mlflow")
        model = ModelRef.parse(store.model_ref)
        return publish_decision(
            record, source, model, decision_path=decision, pdfs=(pdf,), check_document=check
        )

    return demo.run(
        "write the decision back to MLflow",
        *("publish", record, "--tracking-uri", store.tracking_uri, "--model", store.model_ref),
        *("--decision-json", decision, "--pdf", pdf, "--policy", policy, "--trust", trust),
        "--json",
        action=action,
        summary=_says("model version tagged; record and approval logged on its run"),
    )


def archive_push(demo: Demo, store: Path, seeded: SeededStore) -> PushResult:
    """Copy the archive onto the run of the model version it approves."""

    def action() -> PushResult:
        from govrl.archive import Archive
        from govrl.archive.replica import push as push_copy
        from govrl.evidence import ModelRef
        from govrl.evidence.mlflow import MlflowSource

        archive = Archive.at(store)
        archive.require()
        source = MlflowSource(seeded.tracking_uri)
        return push_copy(archive, source, ModelRef.parse(seeded.model_ref))

    return demo.run(
        "keep a copy of the archive on the model's run",
        *("archive", "push", "--store", store, "--tracking-uri", seeded.tracking_uri),
        *("--model", seeded.model_ref, "--json"),
        action=action,
        summary=lambda result: f"govrl-archive/ on the run, head {result.head[:20]}…",
    )


def _secret(demo: Demo) -> bytes:
    """The keys' passphrase, read as `--passphrase-file` reads it."""
    assert demo.passphrase is not None, "the demo writes its passphrase file first"
    return demo.passphrase.read_bytes().rstrip(b"\r\n")


def _passphrase_option(demo: Demo) -> tuple[str, Path]:
    assert demo.passphrase is not None, "the demo writes its passphrase file first"
    return ("--passphrase-file", demo.passphrase)


def _says(text: str) -> Callable[[object], str]:
    """A step summary that does not depend on the step's result."""
    return lambda _result: text


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def _archive_state(report: ArchiveReport) -> str:
    """The verdict line `govrl archive verify` prints."""
    head = f"head {report.head.sequence} {report.head.hash}" if report.head else "no head"
    signatures = (
        f", signatures of {_count(report.signatures_checked, 'document')} re-verified"
        if report.signatures_checked
        else ""
    )
    archive = "intact and complete" if report.archive_ok else "FAILED"
    documents = "all verified" if report.documents_ok else "FAILED"
    return (
        f"{report.source}: {'VERIFIED' if report.ok else 'FAILED'} ({report.kind}, "
        f"{_count(report.entries, 'entry', 'entries')}, {_count(report.objects, 'object')}"
        f"{signatures}; {head}; archive {archive}; documents {documents})"
    )
