"""Adding one reviewer's PAdES signature to an approval or a model card, incrementally."""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govrl.atomicfile import write_atomic
from govrl.documents.keys import Credentials, common_name
from govrl.documents.pdffile import (
    APPROVAL_KIND,
    FORCED_MARK,
    STATEMENT_KINDS,
    GovrlPdf,
    damage_errors,
    open_pdf,
    refuse_draft,
    role_of,
    signature_field,
    signature_reason,
)
from govrl.documents.roles import certificate_problems, same_person
from govrl.errors import EnvironmentFailure, GovrlError, InputError, Problem
from govrl.record.identity import digest_of
from govrl.safetext import name_problem, printable

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cryptography import x509

    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.policy import Policy

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = FONTS / "NotoSans-Regular.ttf"
# pyHanko parses and subsets the stamp font on every signature: 170 ms for all of
# Noto Sans, 30 ms for this cut of it, made with
#   pyftsubset NotoSans-Regular.ttf --unicodes="U+0020-007E,U+00A0-024F,U+2010-2027,U+20AC"
#     --layout-features='*' --output-file=NotoSans-Latin.ttf
LATIN_FONT = FONTS / "NotoSans-Latin.ttf"
_LATIN = ((0x20, 0x7E), (0xA0, 0x24F), (0x2010, 0x2027), (0x20AC, 0x20AC))


class SigningRefused(GovrlError):
    """The document, role or gate does not allow this signature (exit 1)."""


@dataclass(frozen=True)
class SignResult:
    output: Path
    role: str
    signer: str
    digest: str
    forced_because: list[str] = field(default_factory=list)


def record_of(doc: GovrlPdf) -> tuple[bytes, str]:
    """The embedded record and its digest, refusing a document whose two disagree."""
    if doc.record_json is None:
        raise InputError([Problem(doc.record_problem, doc.name)])
    digest = digest_of(doc.record_json)
    if doc.shown_digest != digest:
        raise SigningRefused(
            f"{doc.name}: the embedded record's digest {digest} differs from the one the "
            f"document shows ({doc.shown_digest}); it was altered after rendering"
        )
    return doc.record_json, digest


def signature_fields(doc: GovrlPdf) -> dict[str, bool]:
    """Every signature field by role, and whether it is already signed."""
    from pyhanko.sign.fields import enumerate_sig_fields

    return {
        role_of(name): value is not None
        for name, value, _ in enumerate_sig_fields(doc.reader, filled_status=None)
    }


def refuse_certificate(cert: x509.Certificate, role: str, where: str) -> None:
    """Refuse, past any --force, a certificate that may not fill ``role``'s field, or whose
    names would not show as they are stored (in the stamp, in a verifier's report)."""
    problems = certificate_problems(cert, role)
    for attribute in cert.subject:
        unsafe = name_problem(str(attribute.value))
        if unsafe:
            problems.append(f"its subject name {printable(str(attribute.value))!r} {unsafe}")
    if problems:
        raise SigningRefused(
            f"{where}: refusing to sign as {role!r} with this certificate: " + "; ".join(problems),
            hint=f"sign with a reviewer certificate issued for {role!r} "
            f"(`govrl keys new --role {role}`)",
        )


def _earlier_signers(doc: GovrlPdf, cert: x509.Certificate, role: str) -> list[str]:
    """The roles already signed in ``doc`` by the person ``cert`` belongs to, with how."""
    found = []
    try:
        for embedded in doc.reader.embedded_signatures:
            other = role_of(embedded.field_name)
            how = same_person(embedded.signer_cert, cert) if other != role else None
            if how:
                found.append(f"{other!r} ({how})")
    except damage_errors():
        pass  # a damaged earlier signature is verify's finding, not a reason to sign
    return found


def preflight(
    doc: GovrlPdf,
    role: str,
    policy: Policy,
    library: ChecklistLibrary,
    *,
    cert: x509.Certificate,
    today: dt.date | None = None,
) -> list[str]:
    """Reasons this signature should not be made; empty when all is in order.

    A certificate that may not fill the role is refused outright, even when forced.
    """
    from govrl.review.gate import Verdict, decide
    from govrl.review.policy import distinct_signers
    from govrl.review.rules import refuse_unfinished_embedded

    refuse_draft(doc, "signed")  # even when forced
    refuse_certificate(cert, role, doc.name)
    record_of(doc)  # refuses a record altered after rendering
    refuse_unfinished_embedded(doc.record_json, doc.name)  # even when forced
    fields = signature_fields(doc)
    if fields.get(role):
        raise SigningRefused(f"{doc.name}: the {role!r} field is already signed")
    record = doc.record()
    decision = decide(record, policy, library, today=today)
    reasons = []
    card_roles = policy.statement_signers(doc.approved.kind or APPROVAL_KIND)
    if card_roles is not None:
        # A card states what the model is, whatever the decision; it approves nothing.
        if role not in card_roles:
            reasons.append(
                f"policy {decision.policy} asks {_PLURALS.get(doc.approved.kind or '', 'them')} "
                "for role(s) "
                f"{', '.join(card_roles)}, not {role!r}"
            )
    else:
        if decision.verdict is Verdict.REJECT:
            reasons.append(
                f"the record does not pass policy {decision.policy} "
                f"({len(decision.blockers)} blockers; see `govrl gate`)"
            )
        if role not in decision.required_roles:
            reasons.append(
                f"policy {decision.policy} does not ask tier {int(decision.tier)} for role "
                f"{role!r} (it asks for {', '.join(decision.required_roles)})"
            )
    if role not in fields:
        reasons.append(f"the document has no signature field for {role!r}")
    if distinct_signers(policy.tiers[decision.tier], decision.tier):
        earlier = _earlier_signers(doc, cert, role)
        if earlier:
            reasons.append(
                f"policy {decision.policy} asks a different person for each role at tier "
                f"{int(decision.tier)}, and this signer already signed {', '.join(earlier)}"
            )
    return reasons


_PLURALS = {
    "model-card": "model cards",
    "technical-documentation": "technical documentation",
    "reward-report": "reward reports",
}


def _kind(doc: GovrlPdf) -> str:
    kind = doc.approved.kind
    return kind if kind in STATEMENT_KINDS else APPROVAL_KIND


def _stamp_font(text: str) -> Any:
    """The Latin cut when it has every character of ``text``, else the whole font."""
    latin = all(any(lo <= ord(c) <= hi for lo, hi in _LATIN) for c in text if c != "\n")
    return _font(LATIN_FONT if latin else FONT)


@cache
def _font(path: Path) -> Any:
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory

    return GlyphAccumulatorFactory(str(path))


def _signer(creds: Credentials) -> Any:
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der = serialization.Encoding.DER
    key_info = asn1_keys.PrivateKeyInfo.load(
        creds.key.private_bytes(
            der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert = asn1_x509.Certificate.load(creds.cert.public_bytes(der))
    chain = [
        asn1_x509.Certificate.load(c.public_bytes(der)) for c in creds.chain if c != creds.cert
    ]
    # pyHanko embeds the signing certificate itself: in the registry too, it was embedded
    # twice, half a kilobyte more for every verifier to read.
    return signers.SimpleSigner(
        signing_cert=cert,
        signing_key=key_info,
        cert_registry=SimpleCertificateStore.from_certs(chain),  # type: ignore[no-untyped-call]
    )


def _room(signer: Any) -> int:
    """Room for a signature container with no timestamp or validation data, in hex digits:
    its size when signed in a dry run, and 64 bytes for a signature value, whose length
    varies by a byte or two. pyHanko's own estimate adds half the size again, zeros that
    every verifier then reads digit by digit."""
    import asyncio

    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    dry = asyncio.run(
        signer.async_sign(
            bytes(32),
            "sha256",
            dry_run=True,
            use_pades=True,
            signed_attr_settings=PdfCMSSignedAttributes(signing_time=dt.datetime.now(dt.UTC)),
        )
    )
    return 2 * (len(dry.dump()) + 64)


@dataclass
class SignBatch:
    """One signer's pass over several documents: the policy and checklists are loaded once,
    each document is opened once, and a refused one never stops the others."""

    role: str
    policy: Policy
    library: ChecklistLibrary
    policy_given: bool = True
    force: bool = False
    ready: dict[Path, GovrlPdf] = field(default_factory=dict)

    def open_all(self, sources: list[Path]) -> Iterator[tuple[Path, GovrlError]]:
        """Open each document, keeping those worth a passphrase; yield the others with why."""
        for source in sources:
            try:
                self.ready[source] = self._open(source)
            except GovrlError as exc:
                if exc.exit_code != 1:
                    raise
                yield source, exc

    def _open(self, source: Path) -> GovrlPdf:
        doc = open_pdf(source)
        refuse_draft(doc, "signed")  # sign_pdf refuses it too
        stated = doc.approved
        digest = self.policy.digest
        if not self.policy_given and stated.policy_digest and stated.policy_digest != digest:
            raise SigningRefused(
                f"{source}: rendered under policy {stated.policy} (file {stated.policy_digest}), "
                f"not govrl's shipped default ({digest})",
                hint="pass --policy with the policy file the document was rendered under",
            )
        return doc

    def sign(
        self,
        source: Path,
        output: Path,
        creds: Credentials,
        *,
        timestamper: Any = None,
        validation_context: Any = None,
    ) -> SignResult:
        """Sign one document opened by `open_all` into ``output``."""
        return sign_pdf(
            source,
            output,
            creds,
            self.role,
            policy=self.policy,
            library=self.library,
            force=self.force,
            timestamper=timestamper,
            validation_context=validation_context,
            doc=self.ready.pop(source),
        )


def sign_pdf(
    source: Path,
    output: Path,
    creds: Credentials,
    role: str,
    *,
    policy: Policy,
    library: ChecklistLibrary,
    force: bool = False,
    timestamper: Any = None,
    today: dt.date | None = None,
    validation_context: Any = None,
    doc: GovrlPdf | None = None,
) -> SignResult:
    """Sign ``source`` (already opened as ``doc``, if given) for ``role`` into ``output``;
    refuse what the policy does not allow.

    With a ``validation_context`` (trust.validation_context) the signer's chain is checked
    against its anchors and embedded with it in the document (PAdES B-LT).
    """
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.sign import fields, signers
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError
    from pyhanko.stamp import TextStampStyle
    from pyhanko_certvalidator.errors import PathError
    from pyhanko_certvalidator.errors import ValidationError as CertificateValidationError

    # pyHanko warns on every B-LT signature that it fetches nothing, which is intended here
    logging.getLogger("pyhanko.sign.signers.pdf_signer").setLevel(logging.ERROR)
    if doc is None:
        doc = open_pdf(source)
    _, digest = record_of(doc)
    reasons = preflight(doc, role, policy, library, cert=creds.cert, today=today)
    if reasons and not force:
        raise SigningRefused(
            f"{source}: refusing to sign as {role!r}: " + "; ".join(reasons),
            hint="--force signs anyway, and says so in the signature for every verifier to see",
        )
    signer_name = common_name(creds.cert)
    # The stamp is the signed page's name and date: the signer's certificate name and the
    # signing time, and the record in full (split in two lines to fit the box).
    algorithm, _, hexdigest = digest.partition(":")
    stamp = (
        f"Signed by %(signer)s\nRole: {role}\nDate: %(ts)s\n"
        f"Record {algorithm}:{hexdigest[:32]}\n{hexdigest[32:]}"
    )
    if reasons:
        stamp += f"\n{FORCED_MARK}: signed despite {len(reasons)} refusal(s)"
    meta = signers.PdfSignatureMetadata(
        field_name=signature_field(role),
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=signature_reason(role, digest, reasons, kind=_kind(doc)),
        name=signer_name,
        use_pades_lta=False,
        embed_validation_info=validation_context is not None,
        validation_context=validation_context,
    )
    style = TextStampStyle(
        stamp_text=stamp,
        # pyHanko fills in the signer (the certificate's name) and an ASCII time.
        text_box_style=TextBoxStyle(
            font=_stamp_font(stamp.replace("%(signer)s", signer_name)), font_size=7
        ),
        border_width=1,
    )
    new_field = None
    if role not in signature_fields(doc):  # forced: an invisible new field
        new_field = fields.SigFieldSpec(sig_field_name=signature_field(role))
    try:
        signer = _signer(creds)
    except ValueError as exc:  # a certificate name asn1crypto cannot prepare for comparison
        raise SigningRefused(f"{source}: pyHanko cannot use this certificate: {exc}") from None
    writer = IncrementalPdfFileWriter(io.BytesIO(doc.data), strict=False)
    out = io.BytesIO()
    # Without a timestamp or validation data the container's size is known before signing.
    known = timestamper is None and validation_context is None
    try:
        signers.PdfSigner(
            meta,
            signer=signer,
            timestamper=timestamper,
            stamp_style=style,
            new_field_spec=new_field,
        ).sign_pdf(writer, output=out, bytes_reserved=_room(signer) if known else None)
    except SigningError as exc:
        raise SigningRefused(
            f"{source}: pyHanko could not sign: {exc}",
            hint="with trust anchors configured, the signer's certificate must chain to one"
            if validation_context is not None
            else None,
        ) from None
    except (CertificateValidationError, PathError) as exc:  # with anchors: the TSA's chain
        raise SigningRefused(
            f"{source}: the timestamp authority's certificate does not chain to the trust "
            f"anchors ({exc})",
            hint="add the authority's root certificate to the anchors (--trust)",
        ) from None
    except TimestampRequestError as exc:
        raise EnvironmentFailure(f"the timestamp authority did not answer: {exc}") from None
    write_atomic(output, out.getvalue())
    return SignResult(output, role, signer_name, digest, reasons)
