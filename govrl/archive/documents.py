"""What a govrl document says about itself, and its signatures checked from its bytes."""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govrl.archive.log import SignerRef, SystemRef, Verification
from govrl.errors import GovrlError, InputError, Problem

if TYPE_CHECKING:
    from cryptography import x509

    from govrl.documents.pdffile import GovrlPdf
    from govrl.review.policy import Policy

_DECISION = re.compile(rb"decision ([a-z][a-z_-]*)")
_XMP_DECISION = re.compile(rb"<govrl:decision>([^<]{1,100})</govrl:decision>")


@dataclass(frozen=True)
class Described:
    """The facts an archive entry keeps about a document."""

    system: SystemRef
    kind: str | None
    verdict: str | None
    valid_until: str | None
    record_json: bytes


def describe(doc: GovrlPdf) -> Described:
    """Read system, kind, verdict and validity; refuse a PDF that is not a govrl document."""
    where = str(doc.path)
    if doc.record_json is None:
        raise InputError([Problem(doc.record_problem, where)])
    try:
        record: Any = json.loads(doc.record_json)
        system = record["system"]
        system_id = system["id"]
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError):
        raise InputError(
            [Problem("not a govrl document: its record.json names no system.id", where)]
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
        kind=doc.kind,
        verdict=_verdict(doc),
        valid_until=doc.valid_until,
        record_json=doc.record_json,
    )


def _text(value: object) -> str | None:
    return value[:500] if isinstance(value, str) else None


def _verdict(doc: GovrlPdf) -> str | None:
    """The decision the document was rendered with: Info keywords first, then XMP."""
    try:
        info = doc.reader.trailer_view["/Info"]
        keywords = str(info.get("/Keywords", "")).encode()
        found = _DECISION.search(keywords)
        if found:
            return found.group(1).decode()
        xmp = doc.reader.root["/Metadata"].data
        found = _XMP_DECISION.search(xmp)
        return found.group(1).decode() if found else None
    except (KeyError, AttributeError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Checked:
    verification: Verification
    signers: list[SignerRef]
    record_digest: str | None


def check_signatures(
    data: bytes,
    *,
    policy: Policy,
    trust: list[x509.Certificate] | None,
    today: dt.date,
) -> Checked:
    """Run ``verify`` on exactly these bytes (a path could change under us between reads)."""
    from pydantic import ValidationError

    from govrl.documents.verification import verify_pdf

    with tempfile.TemporaryDirectory(prefix="govrl-archive-") as folder:
        path = Path(folder) / "document.pdf"
        path.write_bytes(data)
        try:
            report = verify_pdf(path, policy=policy, trust=trust, today=today)
        except ValidationError as exc:
            problem = f"the embedded record is not a valid assessment record ({exc.error_count()})"
            return Checked(
                Verification(checked=True, ok=False, trust_checked=False, problems=[problem]),
                [],
                None,
            )
        except GovrlError as exc:
            return Checked(
                Verification(checked=True, ok=False, trust_checked=False, problems=[exc.message]),
                [],
                None,
            )
    signers = [
        SignerRef(role=s.role[:500], signer=s.signer[:500], signed_at=s.signed_at)
        for s in report.signatures
    ]
    verification = Verification(
        checked=True, ok=report.ok, trust_checked=trust is not None, problems=report.problems
    )
    return Checked(verification, signers, report.record_digest)
