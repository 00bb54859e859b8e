"""What a govrl document says about itself, and whether its signatures still hold."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from govrl.archive.log import SignerRef, SystemRef, Verification
from govrl.documents.pdffile import RECORD_ATTACHMENT, GovrlPdf, read_pdf
from govrl.errors import GovrlError, InputError, Problem

if TYPE_CHECKING:
    from cryptography import x509

    from govrl.review.policy import Policy


@dataclass(frozen=True)
class Described:
    """The facts an archive entry keeps about a document."""

    system: SystemRef
    kind: str | None
    verdict: str | None
    valid_until: str | None
    record_json: bytes
    policy: str | None = None  # ``id@version``, for documents that state it
    policy_digest: str | None = None


def describe(doc: GovrlPdf) -> Described:
    """Read system, kind, verdict, validity and policy as the earliest signature covers them
    (a later revision cannot change them); refuse a PDF that is not a govrl document."""
    where = doc.name
    facts = doc.approved
    if facts.record_json is None:
        raise InputError([Problem(facts.record_problem, where)])
    try:
        record: Any = json.loads(facts.record_json)
        system = record["system"]
        system_id = system["id"]
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError):
        raise InputError(
            [Problem(f"not a govrl document: its {RECORD_ATTACHMENT} names no system.id", where)]
        ) from None
    if not isinstance(system_id, str) or not system_id:
        raise InputError([Problem("not a govrl document: system.id is not text", where)])
    return Described(
        system=SystemRef(
            id=system_id[:500],
            name=_text(system.get("name")),
            version=_text(system.get("version")),
            risk_tier=system.get("risk_tier") if type(system.get("risk_tier")) is int else None,
        ),
        kind=facts.kind,
        verdict=facts.decision,
        valid_until=facts.valid_until,
        record_json=facts.record_json,
        policy=_text(facts.policy),
        policy_digest=_text(facts.policy_digest),
    )


def _text(value: object) -> str | None:
    return value[:500] if isinstance(value, str) else None


@dataclass(frozen=True)
class Checked:
    """What re-running ``verify`` found; ``described`` is the document's own account of itself
    (None, with ``undescribed`` saying why, when it gives none)."""

    verification: Verification
    signers: list[SignerRef]
    record_digest: str | None
    complete: bool = True  # False when verify could not run, so ``signers`` is not known
    described: Described | None = None
    undescribed: str | None = None


def check_signatures(
    doc: GovrlPdf,
    *,
    policy: Policy,
    trust: list[x509.Certificate] | None,
    today: dt.date,
) -> Checked:
    """Run ``verify`` on the document as opened, so the bytes judged are the bytes kept."""
    from pydantic import ValidationError

    from govrl.documents.verification import verify_pdf

    try:
        report = verify_pdf(doc, policy=policy, trust=trust, today=today)
    except ValidationError as exc:
        return _failed(
            f"the embedded record is not a valid assessment record ({exc.error_count()})"
        )
    except GovrlError as exc:
        return _failed(exc.message)
    signers = [
        SignerRef(role=s.role[:500], signer=s.signer[:500], signed_at=s.signed_at)
        for s in report.signatures
    ]
    verification = Verification(
        checked=True, ok=report.ok, trust_checked=trust is not None, problems=report.problems
    )
    return Checked(verification, signers, report.record_digest)


def check_bytes(
    data: bytes,
    name: str,
    *,
    policy: Policy,
    trust: list[x509.Certificate] | None,
    today: dt.date,
) -> Checked:
    """Open ``data``, describe it as ``archive add`` does, and check it; a document that no
    longer opens fails the check."""
    try:
        doc = read_pdf(data, name)
    except GovrlError as exc:
        return _failed(exc.message)
    try:
        described, undescribed = describe(doc), None
    except GovrlError as exc:
        described, undescribed = None, exc.message
    checked = check_signatures(doc, policy=policy, trust=trust, today=today)
    return replace(checked, described=described, undescribed=undescribed)


def _failed(problem: str) -> Checked:
    return Checked(
        Verification(checked=True, ok=False, trust_checked=False, problems=[problem]),
        [],
        None,
        complete=False,
    )
