"""Verification that a signed approval still says what its reviewers approved.

A signature check alone is not enough: an incremental update can draw over a
page or swap the embedded record while every signature stays cryptographically
valid. So each signature also goes through pyHanko's difference analysis, and
the record inside the file must match the digest the document shows and the
digest every signer named.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govrl.documents.changes import later_change_problems
from govrl.documents.pdffile import (
    RECORD_ATTACHMENT,
    GovrlPdf,
    damage_errors,
    is_forced,
    open_pdf,
    reason_of,
    role_of,
    stated_record,
)
from govrl.documents.roles import role_problems
from govrl.documents.trust import validation_context
from govrl.record.identity import digest_of

if TYPE_CHECKING:
    from cryptography import x509

    from govrl.review.policy import Policy


@dataclass
class SignatureCheck:
    role: str
    signer: str
    signed_at: str | None
    intact: bool
    trusted: bool | None
    later_changes: str
    stated_digest: str | None
    forced: bool
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class VerifyReport:
    file: str
    record_digest: str | None
    shown_digest: str | None
    signatures: list[SignatureCheck]
    required_roles: list[str]
    missing_roles: list[str]
    valid_until: str | None
    expired: bool | None
    problems: list[str]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "record_digest": self.record_digest,
            "shown_digest": self.shown_digest,
            "required_roles": self.required_roles,
            "missing_roles": self.missing_roles,
            "valid_until": self.valid_until,
            "expired": self.expired,
            "signatures": [s.as_dict() for s in self.signatures],
            "problems": self.problems,
            "warnings": self.warnings,
        }


def _check_signature(
    embedded: Any, context: Any, record_digest: str | None, check_trust: bool
) -> SignatureCheck:
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.settings import KeyUsageConstraints

    usage = KeyUsageConstraints(
        key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
    )
    role = role_of(embedded.field_name)
    try:
        status = validate_pdf_signature(embedded, context, key_usage_settings=usage)
    except damage_errors() as exc:
        # A byte flipped inside a signed object can break parsing before any digest is
        # compared: the document was changed all the same.
        check = SignatureCheck(
            role=role,
            signer="unknown",
            signed_at=None,
            intact=False,
            trusted=None,
            later_changes="UNKNOWN",
            stated_digest=None,
            forced=False,
        )
        check.problems.append(
            f"signature {role!r}: the signed bytes were changed; the file no longer "
            f"parses where they are ({type(exc).__name__}: {exc})"
        )
        return check
    cert = status.signing_cert
    signer = cert.subject.native.get("common_name", cert.subject.human_friendly)
    reason = reason_of(embedded)
    level = status.modification_level.name if status.modification_level else "NONE"
    when = status.signer_reported_dt
    if status.timestamp_validity is not None:
        when = status.timestamp_validity.timestamp
    check = SignatureCheck(
        role=role,
        signer=str(signer),
        signed_at=when.isoformat() if when else None,
        intact=bool(status.intact and status.valid),
        trusted=status.trust_problem_indic is None if check_trust else None,
        later_changes=level,
        stated_digest=stated_record(reason),
        forced=is_forced(reason),
    )
    if not check.intact:
        check.problems.append(
            f"signature {role!r} by {signer}: the signed bytes were changed (digest mismatch)"
        )
    check.problems.extend(later_change_problems(status, role, str(signer)))
    if check.stated_digest is None:
        check.problems.append(f"signature {role!r} does not name the record it approves")
    elif record_digest and check.stated_digest != record_digest:
        check.problems.append(
            f"signature {role!r} approved record {check.stated_digest}, "
            f"but the document now carries {record_digest}"
        )
    if check.trusted is False:
        check.problems.append(
            f"signature {role!r} by {signer}: the certificate does not chain to a trusted CA"
        )
    check.problems.extend(role_problems(cert, role))
    return check


def verify_pdf(
    document: GovrlPdf | Path,
    *,
    policy: Policy,
    trust: list[x509.Certificate] | None = None,
    today: dt.date | None = None,
) -> VerifyReport:
    """Check every signature, the embedded record, the required roles and expiry.

    A path is opened first; an opened document is judged on exactly the bytes it was read from.
    """
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # it logs a traceback per finding
    today = today or dt.date.today()
    doc = open_pdf(document) if isinstance(document, Path) else document
    problems: list[str] = []
    warnings: list[str] = []
    record_digest = digest_of(doc.record_json) if doc.record_json is not None else None
    if record_digest is None:
        problems.append(doc.record_problem)
    elif record_digest != doc.shown_digest:
        problems.append(
            f"the embedded record's digest {record_digest} differs from the one the "
            f"document shows ({doc.shown_digest})"
        )
    context = validation_context(trust)
    try:
        embedded = list(doc.reader.embedded_signatures)
    except damage_errors() as exc:
        problems.append(f"the signature fields cannot be read: the file is damaged ({exc})")
        embedded = []
    signatures = [_check_signature(s, context, record_digest, trust is not None) for s in embedded]
    for check in signatures:
        problems.extend(check.problems)
        if check.forced:
            warnings.append(f"signature {check.role!r} was forced past a refusal (see its reason)")
    required: list[str] = []
    if doc.record_json is not None:
        try:  # pydantic's ValidationError, JSON and UTF-8 errors are all ValueErrors
            record = doc.record()
        except ValueError:
            problems.append(f"the embedded {RECORD_ATTACHMENT} is not a valid assessment record")
        else:
            required = list(policy.tiers[record.system.risk_tier].signers)
    good = {c.role for c in signatures if not c.problems}
    missing = [role for role in required if role not in good]
    if missing:
        problems.append("required roles not validly signed: " + ", ".join(missing))
    expired = None
    if doc.valid_until:
        expired = today > dt.date.fromisoformat(doc.valid_until)
        if expired:
            problems.append(f"the approval expired on {doc.valid_until}")
    else:
        problems.append("the document states no validity period")
    return VerifyReport(
        file=doc.name,
        record_digest=record_digest,
        shown_digest=doc.shown_digest,
        signatures=signatures,
        required_roles=required,
        missing_roles=missing,
        valid_until=doc.valid_until,
        expired=expired,
        problems=problems,
        warnings=warnings,
    )
