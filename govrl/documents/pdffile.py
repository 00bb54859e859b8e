"""The PDF contract: what govrl writes into a document and reads back, each fact spelled once.

The renderer, the signer, the verifier and the archive all go through these
names and functions, so a writer and its reader cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape as xml_escape

from govrl.errors import GovrlError, InputError, Problem

if TYPE_CHECKING:
    from pyhanko.pdf_utils.reader import PdfFileReader

    from govrl.record import AssessmentRecord
    from govrl.review.diff import Revision

RECORD_ATTACHMENT = "record.json"

# Document information entries (WeasyPrint writes them as /Name keys).
INFO_DIGEST = "GovrlRecordDigest"
INFO_VERSION = "GovrlVersion"
INFO_KIND = "GovrlDocument"
INFO_VALID_UNTIL = "GovrlValidUntil"
# Written when the renderer knows them; read wherever present.
INFO_POLICY = "GovrlPolicy"
INFO_POLICY_DIGEST = "GovrlPolicyDigest"
INFO_TEMPLATE = "GovrlTemplate"
# A draft (rendered with --draft) says so three times: Info, keywords and XMP. It is never
# signed or archived, so any one of the three marks is enough to refuse it.
INFO_DRAFT = "GovrlDraft"
DRAFT_KEYWORD = "draft"
DRAFT_VALUE = "true"

DECISION_KEYWORD = "decision"
_KEYWORD_DECISION = re.compile(re.escape(DECISION_KEYWORD).encode() + rb" ([a-z][a-z_-]*)")

XMP_NAMESPACE = "urn:govrl:xmp:1.0/"
XMP_PREFIX = "govrl"
XMP_DECISION = "decision"
XMP_PROPERTIES = (
    ("recordDigest", "SHA-256 of the assessment record's RFC 8785 canonical JSON"),
    ("govrlVersion", "version of govrl that rendered the document"),
    ("documentKind", "model-card or approval"),
    (XMP_DECISION, "the policy's verdict on the record when the document was rendered"),
    ("validUntil", "last day the approval's decision holds (approvals only)"),
    ("draft", "true when the document is a draft: not for signature or archiving"),
)
_XMP_DECISION = re.compile(
    f"<{XMP_PREFIX}:{XMP_DECISION}>".encode()
    + rb"([^<]{1,100})"
    + f"</{XMP_PREFIX}:{XMP_DECISION}>".encode()
)

FORCED_MARK = "FORCED"
# signature_reason writes "…, record sha256:…"; stated_record reads the digest back.
_STATED_RECORD = re.compile(r"record (sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class PdfMeta:
    """Everything govrl states about a document in its Info dictionary and XMP."""

    title: str
    subject: str
    author: str
    keywords: list[str]
    digest: str
    govrl_version: str
    kind: str
    decision: str
    date: dt.date
    valid_until: dt.date | None = None
    policy: str | None = None
    policy_digest: str | None = None
    template: str | None = None
    draft: bool = False

    def info_entries(self) -> dict[str, str]:
        """govrl's own Info entries; `govrl verify` judges an approval's expiry by its date."""
        entries = {INFO_DIGEST: self.digest, INFO_VERSION: self.govrl_version, INFO_KIND: self.kind}
        if self.valid_until is not None:
            entries[INFO_VALID_UNTIL] = self.valid_until.isoformat()
        optional = (
            (INFO_POLICY, self.policy),
            (INFO_POLICY_DIGEST, self.policy_digest),
            (INFO_TEMPLATE, self.template),
        )
        entries.update((key, value) for key, value in optional if value is not None)
        if self.draft:
            entries[INFO_DRAFT] = DRAFT_VALUE
        return entries

    def xmp(self) -> bytes:
        """govrl's XMP properties, with the extension schema PDF/A requires for them."""
        properties = "".join(
            "<rdf:li rdf:parseType='Resource'>"
            f"<pdfaProperty:name>{name}</pdfaProperty:name>"
            "<pdfaProperty:valueType>Text</pdfaProperty:valueType>"
            "<pdfaProperty:category>external</pdfaProperty:category>"
            f"<pdfaProperty:description>{description}</pdfaProperty:description></rdf:li>"
            for name, description in XMP_PROPERTIES
        )
        valid_until = self.valid_until.isoformat() if self.valid_until else ""
        draft = DRAFT_VALUE if self.draft else ""
        values = (self.digest, self.govrl_version, self.kind, self.decision, valid_until, draft)
        return (
            "<rdf:Description rdf:about='' "
            "xmlns:pdfaExtension='http://www.aiim.org/pdfa/ns/extension/' "
            "xmlns:pdfaSchema='http://www.aiim.org/pdfa/ns/schema#' "
            "xmlns:pdfaProperty='http://www.aiim.org/pdfa/ns/property#'>"
            "<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType='Resource'>"
            "<pdfaSchema:schema>govrl assessment record</pdfaSchema:schema>"
            f"<pdfaSchema:namespaceURI>{XMP_NAMESPACE}</pdfaSchema:namespaceURI>"
            f"<pdfaSchema:prefix>{XMP_PREFIX}</pdfaSchema:prefix>"
            f"<pdfaSchema:property><rdf:Seq>{properties}</rdf:Seq></pdfaSchema:property>"
            "</rdf:li></rdf:Bag></pdfaExtension:schemas></rdf:Description>"
            f"<rdf:Description rdf:about='' xmlns:{XMP_PREFIX}='{XMP_NAMESPACE}'>"
            + "".join(
                f"<{XMP_PREFIX}:{name}>{xml_escape(value)}</{XMP_PREFIX}:{name}>"
                for (name, _), value in zip(XMP_PROPERTIES, values, strict=True)
                if value
            )
            + "</rdf:Description>"
        ).encode()


def keywords(
    kind: str, digest: str, govrl_version: str, decision: str, *, draft: bool = False
) -> list[str]:
    """The document's keywords; the decision among them is what the archive files it under."""
    words = ["govrl", kind, digest, f"govrl {govrl_version}", f"{DECISION_KEYWORD} {decision}"]
    return [*words, DRAFT_KEYWORD] if draft else words


class DraftRefused(GovrlError):
    """A draft document was offered for signing or archiving."""


def refuse_draft(doc: GovrlPdf, action: str) -> None:
    """Raise DraftRefused when ``doc`` is a draft; ``action`` is what was asked, e.g. signed."""
    if doc.draft:
        raise DraftRefused(
            f"{doc.name}: is a draft (rendered with --draft) and cannot be {action}",
            hint="render the record again without --draft once `govrl validate` passes",
        )


def signature_field(role: str) -> str:
    """The signature field a role signs: named after the role."""
    return role


def role_of(field_name: object) -> str:
    """The role whose signature field is called ``field_name``."""
    return str(field_name)


MODEL_CARD_KIND = "model-card"
APPROVAL_KIND = "approval"
TECHNICAL_DOCUMENTATION_KIND = "technical-documentation"
REWARD_REPORT_KIND = "reward-report"
# Documents that state what a system is and approve nothing: no validity period, no decision
# that refuses their signatures, and the signers the policy names for each kind.
STATEMENT_KINDS = frozenset({MODEL_CARD_KIND, TECHNICAL_DOCUMENTATION_KIND, REWARD_REPORT_KIND})


def signature_reason(
    role: str, digest: str, forced_because: Sequence[str] = (), *, kind: str = APPROVAL_KIND
) -> str:
    """A signature's reason: the document kind, the role and the record it is about, and any
    refusal it overrode."""
    reason = f"govrl {kind}, role {role}, record {digest}"
    if forced_because:
        reason += f"; {FORCED_MARK}: " + "; ".join(forced_because)
    return reason


def reason_of(embedded: Any) -> str:
    """The reason an embedded signature gives (empty when it gives none)."""
    return str(embedded.sig_object.get("/Reason", ""))


def stated_record(reason: str) -> str | None:
    """The record digest a signature's reason names, if it names one."""
    found = _STATED_RECORD.search(reason)
    return found.group(1) if found else None


def is_forced(reason: str) -> bool:
    """Whether the signature was made past a refusal."""
    return FORCED_MARK in reason


@dataclass(frozen=True)
class Facts:
    """What a document states as of one revision: the embedded record and govrl's metadata."""

    revision: int
    record_json: bytes | None = field(repr=False)
    digest: str | None
    kind: str | None
    decision: str | None
    valid_until: str | None
    govrl_version: str | None
    policy: str | None = None
    policy_digest: str | None = None
    template: str | None = None
    record_damage: str | None = None
    draft: bool = False

    @property
    def record_problem(self) -> str:
        """Why there is no record to read, in words for an error message."""
        return _record_problem(self.record_damage)

    def record(self, name: str) -> AssessmentRecord:
        """The record as a model; pydantic's ValidationError when it is not one."""
        return _record_model(self.record_json, self.record_problem, name)


@dataclass(frozen=True)
class GovrlPdf:
    """A govrl document as read: bytes, parsed reader, and what it claims."""

    name: str
    data: bytes
    reader: PdfFileReader
    record_json: bytes | None
    shown_digest: str | None
    valid_until: str | None
    kind: str | None
    record_damage: str | None = None

    @property
    def record_problem(self) -> str:
        """Why there is no record to read, in words for an error message."""
        return _record_problem(self.record_damage)

    @property
    def decision(self) -> str | None:
        """The decision the document states now: Info keywords first, then XMP."""
        try:
            return _decision(_info(self.reader), self.reader.root)
        except damage_errors():
            return None

    @property
    def draft(self) -> bool:
        """Whether the document is marked a draft, in its Info entries or keywords."""
        try:
            return _is_draft(_info(self.reader))
        except damage_errors():
            return False

    @cached_property
    def approved(self) -> Facts:
        """The facts of the revision the earliest signature covers, which a later revision
        cannot replace; for an unsigned document, the facts of its last revision."""
        last = self.reader.xrefs.total_revisions - 1
        try:
            revision = first_signed_revision(self.reader)
            return facts_at(self.reader, last if revision is None else revision)
        except damage_errors():
            return Facts(
                last,
                self.record_json,
                self.shown_digest,
                self.kind,
                self.decision,
                self.valid_until,
                None,
                record_damage=self.record_damage,
            )

    def record(self) -> AssessmentRecord:
        """The embedded record as a model; pydantic's ValidationError when it is not one."""
        return _record_model(self.record_json, self.record_problem, self.name)


def _record_problem(damage: str | None) -> str:
    if damage:
        return f"the embedded {RECORD_ATTACHMENT} cannot be read (damaged: {damage})"
    return f"no embedded {RECORD_ATTACHMENT}: not a govrl document"


def _record_model(record_json: bytes | None, problem: str, name: str) -> AssessmentRecord:
    import json

    from govrl.record import AssessmentRecord

    if record_json is None:
        raise InputError([Problem(problem, name)])
    return AssessmentRecord.model_validate(json.loads(record_json))


def first_signed_revision(reader: PdfFileReader) -> int | None:
    """The revision the earliest signature covers (0 is the rendered one), if any is signed."""
    return min((s.signed_revision for s in reader.embedded_signatures), default=None)


def facts_at(reader: PdfFileReader, revision: int) -> Facts:
    """What the document stated in ``revision``, every object resolved in that revision."""
    view = reader.get_historical_resolver(revision)
    info = _info(view)
    record: bytes | None = None
    damage: str | None = None
    try:
        record = _attachment(view, RECORD_ATTACHMENT)
    except damage_errors() as exc:
        damage = str(exc) or type(exc).__name__
    return Facts(
        revision=revision,
        record_json=record,
        digest=_text(info, INFO_DIGEST),
        kind=_text(info, INFO_KIND),
        decision=_decision(info, view.root),
        valid_until=_text(info, INFO_VALID_UNTIL),
        govrl_version=_text(info, INFO_VERSION),
        policy=_text(info, INFO_POLICY),
        policy_digest=_text(info, INFO_POLICY_DIGEST),
        template=_text(info, INFO_TEMPLATE),
        record_damage=damage,
        draft=_is_draft(info),
    )


def damage_errors() -> tuple[type[BaseException], ...]:
    """What pyHanko raises on a damaged or tampered file, rather than on a bug."""
    from pyhanko.pdf_utils.misc import PdfError

    return (PdfError, ValueError, KeyError, TypeError, IndexError, zlib.error)


def read_pdf(data: bytes, name: str) -> GovrlPdf:
    """Parse ``data`` as a PDF; ``name`` says where it came from in error messages."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    if not data.lstrip()[:5] == b"%PDF-":
        raise InputError([Problem("not a PDF file (no %PDF- header)", name)])
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        info_dict = _info(reader)
    except damage_errors() as exc:
        raise InputError([Problem(f"damaged PDF: {exc}", name)]) from None
    # A damaged attachment is a finding for the caller (verify still judges the signatures).
    record: bytes | None = None
    damage: str | None = None
    try:
        record = _attachment(reader, RECORD_ATTACHMENT)
    except damage_errors() as exc:
        damage = str(exc) or type(exc).__name__
    return GovrlPdf(
        name,
        data,
        reader,
        record,
        _text(info_dict, INFO_DIGEST),
        _text(info_dict, INFO_VALID_UNTIL),
        _text(info_dict, INFO_KIND),
        damage,
    )


def open_pdf(path: Path) -> GovrlPdf:
    """Read and parse ``path``; a missing, non-PDF or broken file is a located input error."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError([Problem(f"cannot read: {exc.strerror}", str(path))]) from None
    return read_pdf(data, str(path))


def _info(handler: Any) -> Any:
    """The Info dictionary as ``handler`` (a reader or one revision of it) sees it."""
    from pyhanko.pdf_utils import generic

    try:
        value = handler.trailer_view.raw_get("/Info")
        # Resolve through the handler: the trailer's own references point at the last revision.
        if isinstance(value, generic.IndirectObject):
            value = handler.get_object(value.reference)
    except KeyError:
        return {}
    return value if isinstance(value, generic.DictionaryObject) else {}


def _decision(info: Any, root: Any) -> str | None:
    try:
        found = _KEYWORD_DECISION.search(str(info.get("/Keywords", "")).encode())
        if found:
            return found.group(1).decode()
        found = _XMP_DECISION.search(root["/Metadata"].data)
        return found.group(1).decode() if found else None
    except (KeyError, AttributeError, TypeError, ValueError):
        return None


def _is_draft(info: Any) -> bool:
    """Whether Info or the keywords mark a draft. The XMP says so too, for a reader's eyes;
    it is not read here, since resolving it in one revision of a signed file disturbs the
    resolver that later compares revisions."""
    if _text(info, INFO_DRAFT) is not None:
        return True
    words = str(info.get("/Keywords", "")) if hasattr(info, "get") else ""
    return DRAFT_KEYWORD in re.split(r"[,;\s]+", words)


def _text(info: Any, key: str) -> str | None:
    value = info.get(f"/{key}") if hasattr(info, "get") else None
    return str(value) if value is not None else None


def _attachment(handler: Any, name: str) -> bytes | None:
    """The bytes of the embedded file called ``name`` as ``handler`` sees the document."""
    names = handler.root.get("/Names")
    if names is None or "/EmbeddedFiles" not in names:
        return None
    found: bytes | None = None
    nodes = [names["/EmbeddedFiles"]]
    while nodes:
        node = nodes.pop()
        for kid in node.get("/Kids", []):
            nodes.append(kid)
        pairs = node.get("/Names", [])
        for index in range(0, len(pairs) - 1, 2):
            if str(pairs[index]) == name:
                if found is not None:
                    raise ValueError(f"two embedded files are called {name}")
                found = pairs[index + 1]["/EF"]["/F"].data
    return found


def load_revision(path: Path) -> Revision:
    """A record from YAML, or the record a govrl PDF's signers approved (with their roles)."""
    from govrl.record.files import load_record
    from govrl.review.diff import Revision

    data = path.read_bytes()
    if data[:5] != b"%PDF-":
        return Revision(load_record(path).record, path)
    doc = read_pdf(data, str(path))
    record = doc.approved.record(doc.name)
    return Revision(record, path, [role_of(s.field_name) for s in doc.reader.embedded_signatures])
