"""Verification that a signed approval or model card still says what its reviewers signed.

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
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govrl.documents.changes import later_change_problems, record_problems, review
from govrl.documents.pdffile import (
    RECORD_ATTACHMENT,
    STATEMENT_KINDS,
    GovrlPdf,
    damage_errors,
    is_forced,
    open_pdf,
    reason_of,
    role_of,
    stated_record,
)
from govrl.documents.refusals import refusal_note, refusals
from govrl.documents.roles import role_problems, shared_signers
from govrl.documents.trust import Anchors, as_anchors, judge_signature, time_problems
from govrl.record.identity import digest_of

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cryptography import x509

    from govrl.documents.verify_revisions import RevisionJudge
    from govrl.review.policy import Policy

HIGH_RISK_TIER = 3  # never accepted without a trust check
_APPROVE = "approve"  # the one decision that is no refusal


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
    time_proven: bool = False
    signing_time: str = "no signing time"

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
    trust_checked: bool = False
    trust_source: str | None = None
    refusals: list[str] = field(default_factory=list)
    accept_forced: bool = False
    # The policy, its file's digest and the templates the signed revision says it came from.
    policy: str | None = None
    policy_digest: str | None = None
    template: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        """VERIFIED only when every check held and the signers were trust-checked."""
        if not self.trust_checked:
            word = "NOT TRUST-CHECKED" if self.ok else "FAILED, NOT TRUST-CHECKED"
        else:
            word = "VERIFIED" if self.ok else "FAILED"
        return word + refusal_note(self.refusals, accepted=self.accept_forced)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "verdict": self.verdict,
            "trust": {"checked": self.trust_checked, "anchors_from": self.trust_source},
            "record_digest": self.record_digest,
            "shown_digest": self.shown_digest,
            "required_roles": self.required_roles,
            "missing_roles": self.missing_roles,
            "valid_until": self.valid_until,
            "expired": self.expired,
            "rendered_under": {
                "policy": self.policy,
                "policy_digest": self.policy_digest,
                "template": self.template,
            },
            "signatures": [s.as_dict() for s in self.signatures],
            "refusals": self.refusals,
            "refusals_accepted": bool(self.refusals) and self.accept_forced,
            "problems": self.problems,
            "warnings": self.warnings,
        }


def _check_signature(
    embedded: Any,
    anchors: Anchors,
    record_digest: str | None,
    doc: GovrlPdf,
    now: dt.datetime,
    revisions: RevisionJudge,
) -> SignatureCheck:
    """One signature judged; ``revisions`` is the document's RevisionJudge, whose judgements
    of each revision every signature shares."""
    role = role_of(embedded.field_name)
    try:
        judged = judge_signature(
            embedded, anchors, key_usage=_key_usage(), reader=doc.reader, diff_policy=revisions
        )
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
    status = judged.status
    cert = status.signing_cert
    signer = cert.subject.native.get("common_name", cert.subject.human_friendly)
    reason = reason_of(embedded)
    level = status.modification_level.name if status.modification_level else "NONE"
    when = judged.time.when
    check = SignatureCheck(
        role=role,
        signer=str(signer),
        signed_at=when.isoformat() if when else None,
        intact=bool(status.intact and status.valid),
        trusted=status.trust_problem_indic is None if anchors.checked else None,
        later_changes=level,
        stated_digest=stated_record(reason),
        forced=is_forced(reason),
        time_proven=judged.time.proven,
        signing_time=judged.time.describe(),
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
    label = f"signature {role!r} by {signer}"
    valid_until = doc.approved.valid_until
    check.problems.extend(time_problems(judged, label, valid_until=valid_until, now=now))
    return check


@cache
def _key_usage() -> Any:
    """The key usages a reviewer's certificate must allow, built once per process."""
    from pyhanko.sign.validation.settings import KeyUsageConstraints

    return KeyUsageConstraints(
        key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
    )


def verify_pdf(
    document: GovrlPdf | Path,
    *,
    policy: Policy,
    trust: Anchors | Sequence[x509.Certificate] | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    accept_forced: bool = False,
) -> VerifyReport:
    """Check every signature (as of its signing time), the embedded record, the required
    roles and expiry; without trust anchors the report says NOT TRUST-CHECKED.

    A path is opened first; an opened document is judged on exactly the bytes it was read from.
    """
    from govrl.documents.verify_revisions import RevisionJudge  # loads pyHanko
    from govrl.review.gate import rule_for
    from govrl.review.policy import distinct_signers

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # it logs a traceback per finding
    now = now or dt.datetime.now(dt.UTC)
    today = today or now.date()
    anchors = as_anchors(trust)
    doc = open_pdf(document) if isinstance(document, Path) else document
    problems: list[str] = []
    warnings: list[str] = []
    # What the signatures approve is read from the revision the earliest one covers.
    facts = doc.approved
    # A model card states what the model is: its signers are the policy's card signers, and
    # it has neither a validity period nor a decision that could refuse it.
    card = facts.kind in STATEMENT_KINDS
    if doc.draft:
        problems.append(
            "this is a draft (rendered with --draft): it approves nothing and cannot be signed"
        )
    record_digest, record_issues = record_problems(doc)
    problems.extend(record_issues)
    try:
        embedded = list(doc.reader.embedded_signatures)
    except damage_errors() as exc:
        problems.append(f"the signature fields cannot be read: the file is damaged ({exc})")
        embedded = []
    # The earliest signature's analysis also judges the revisions up to it.
    revisions = RevisionJudge(doc.reader, doc.approved.revision)
    revisions.prime_all()
    # Revisions no signature's difference analysis reaches: an unsigned document's, or the
    # ones under a lone signature that covers the whole file.
    problems.extend(review(doc.reader, min((s.signed_revision for s in embedded), default=None)))
    signatures = [
        _check_signature(s, anchors, record_digest, doc, now, revisions) for s in embedded
    ]
    required: list[str] = []
    if facts.record_json is not None:
        try:  # pydantic's ValidationError, JSON and UTF-8 errors are all ValueErrors
            record = facts.record(doc.name)
        except ValueError:
            problems.append(f"the embedded {RECORD_ATTACHMENT} is not a valid assessment record")
        else:
            rule = rule_for(policy, record)
            statement = policy.statement_signers(facts.kind or "")
            required = statement if statement is not None else list(rule.signers)
            if distinct_signers(rule, record.system.risk_tier):
                shared = shared_signers(
                    [(c.role, s.signer_cert) for c, s in zip(signatures, embedded, strict=True)
                     if c.intact and c.role in required]
                )  # fmt: skip
                for check in signatures:
                    check.problems.extend(shared.get(check.role, []))
            if rule.require_timestamp:
                for check in signatures:
                    if not check.time_proven:
                        check.problems.append(
                            f"signature {check.role!r}: policy {policy.id} requires a timestamp "
                            f"from a trusted authority at tier {int(record.system.risk_tier)} "
                            f"({check.signing_time})"
                        )
            if int(record.system.risk_tier) >= HIGH_RISK_TIER and not anchors.checked:
                problems.append(
                    f"trust was not checked ({anchors.source}): a tier-"
                    f"{int(record.system.risk_tier)} approval is never accepted without "
                    "checking that its signers chain to a trust anchor"
                )
    for check in signatures:
        problems.extend(check.problems)
    forced = [c.role for c in signatures if c.forced]
    refused = refusals(_APPROVE if card else facts.decision, forced)
    (warnings if accept_forced else problems).extend(refused)
    claimed = [c.role for c in signatures if c.signed_at and not c.time_proven]
    if claimed:
        warnings.append(
            f"{', '.join(claimed)}: signing time claimed, not proven (no timestamp from a "
            "trusted authority; `govrl sign --tsa URL` proves it)"
        )
    good = {c.role for c in signatures if not c.problems}
    missing = [role for role in required if role not in good]
    if missing:
        problems.append("required roles not validly signed: " + ", ".join(missing))
    expired = None
    if facts.valid_until:
        try:
            expired = today > dt.date.fromisoformat(facts.valid_until)
        except ValueError:
            problems.append(f"the stated validity {facts.valid_until!r} is not a date")
        if expired:
            problems.append(f"the approval expired on {facts.valid_until}")
    elif not card:
        problems.append("the document states no validity period")
    if facts.policy_digest and policy.digest and facts.policy_digest != policy.digest:
        warnings.append(
            f"rendered under policy {facts.policy} (file {facts.policy_digest}), judged here "
            f"under policy {policy.label} (file {policy.digest})"
        )
    return VerifyReport(
        file=doc.name,
        record_digest=record_digest,
        shown_digest=facts.digest,
        signatures=signatures,
        required_roles=required,
        missing_roles=missing,
        valid_until=facts.valid_until,
        expired=expired,
        problems=problems,
        warnings=warnings,
        trust_checked=anchors.checked,
        trust_source=anchors.source,
        refusals=refused,
        accept_forced=accept_forced,
        policy=facts.policy,
        policy_digest=facts.policy_digest,
        template=facts.template,
    )


def publication_problems(
    pdf: Path,
    record_digest: str,
    *,
    policy: Policy,
    trust: Anchors | Sequence[x509.Certificate] | None,
) -> list[str]:
    """Why ``pdf`` may not be published beside the record ``record_digest``: an approval must
    verify against ``trust``, and every govrl document must carry that very record."""
    doc = open_pdf(pdf)
    facts = doc.approved  # a later revision cannot turn a signed approval into a model card
    if facts.kind == "approval":
        report = verify_pdf(doc, policy=policy, trust=trust)
        problems = list(report.problems)
        carried = report.record_digest
    elif facts.kind is not None and facts.record_json is not None:
        problems, carried = [], digest_of(facts.record_json)
    else:
        why = facts.record_problem if facts.record_json is None else "it states no document kind"
        return [f"not a govrl approval or model card: {why}"]
    if carried != record_digest:
        problems.append(f"it carries record {carried}, not the published record {record_digest}")
    return problems
