"""Trust anchors, and each signature's certificate chain judged as of the time it was signed.

A signature is judged at its signing time: the time an RFC 3161 timestamp from a
trusted authority proves or, without one, the time the signer claims (reported
as claimed, not proven). So an approval still verifies after its signers'
certificates expire, while a signature dated outside its certificate's life fails.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govrl.config import TrustRequest, TrustSetting, require_trust

if TYPE_CHECKING:
    from cryptography import x509

CLAIMED = "signing time claimed, not proven"
# A signer's clock may run a little ahead of the verifier's; more than this is a claim
# about the future.
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Anchors:
    """The CA certificates a verdict trusts, and where they were configured."""

    certificates: tuple[x509.Certificate, ...]
    source: str

    @property
    def checked(self) -> bool:
        return bool(self.certificates)


UNCHECKED = Anchors((), "no trust anchors given")


def as_anchors(trust: Anchors | Sequence[x509.Certificate] | None) -> Anchors:
    """Anchors from what a caller passed: anchors, bare certificates, or None (unchecked)."""
    if isinstance(trust, Anchors):
        return trust
    certificates = tuple(trust or ())
    return Anchors(certificates, "certificates given by the caller") if certificates else UNCHECKED


def load_anchors(setting: TrustSetting) -> Anchors:
    """Read the certificates a trust setting names."""
    from govrl.documents.keys import load_certificates

    certificates = tuple(cert for path in setting.paths for cert in load_certificates(path))
    return Anchors(certificates, setting.source)


def resolve_anchors(
    request: TrustRequest,
    *,
    what: str,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Anchors:
    """The anchors --trust, $GOVRL_TRUST or govrl.toml configure; NoTrustAnchors if none do."""
    return load_anchors(require_trust(request, what=what, environ=environ, cwd=cwd))


def validation_context(
    trust: Anchors | Sequence[x509.Certificate] | None,
    moment: dt.datetime | None = None,
    reader: Any = None,
) -> Any:
    """A pyHanko validation context that trusts only the anchors, judges at ``moment``,
    fetches nothing, and uses the certificates and revocation data the document embeds."""
    from pyhanko_certvalidator import ValidationContext

    options: dict[str, Any] = {
        "trust_roots": list(_roots(as_anchors(trust).certificates)),
        "allow_fetching": False,
        "revocation_mode": "soft-fail",
        "moment": moment,
    }
    store = _security_store(reader)
    if store is not None:
        return store.as_validation_context(options)
    return ValidationContext(**options)


@cache
def _roots(certificates: tuple[x509.Certificate, ...]) -> tuple[Any, ...]:
    """The anchors as pyHanko takes them, converted once for every signature and document
    a command judges."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return tuple(asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in certificates)


def _security_store(reader: Any) -> Any:
    """The document's DSS (PAdES B-LT certificates, CRLs, OCSP responses), if it has one."""
    if reader is None:
        return None
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.validation.errors import NoDSSFoundError

    try:
        return DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return None
    except (PdfError, ValueError, KeyError, TypeError):
        return None  # a damaged DSS only loses what it offered; the anchors still decide


@dataclass(frozen=True)
class SigningTime:
    """When a signature was made, and whether a trusted timestamp proves it."""

    when: dt.datetime | None
    proven: bool
    authority: str | None = None
    problem: str | None = None
    note: str | None = None

    def describe(self) -> str:
        if self.proven:
            return f"signing time proven by a timestamp from {self.authority}"
        if self.when is None:
            return "no signing time"
        return f"{CLAIMED} ({self.note})" if self.note else CLAIMED


@dataclass(frozen=True)
class Judged:
    """pyHanko's status of one signature, validated as of its signing time."""

    status: Any
    time: SigningTime


def _utc(when: dt.datetime | None) -> dt.datetime | None:
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=dt.UTC)


def _common_name(cert: Any) -> str:
    return str(cert.subject.native.get("common_name", cert.subject.human_friendly))


def signing_time(embedded: Any, anchors: Anchors, reader: Any = None) -> tuple[SigningTime, Any]:
    """The signature's time, proven by a trusted timestamp when it carries one, and the
    context its timestamp was judged in (the authority's chain as of the stamped time)."""
    from pyhanko.sign.validation import generic_cms
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import TimestampSignatureStatus

    # pyHanko's validate_pdf_signature judges a timestamp in one context fixed in advance;
    # the authority's chain must be judged as of the stamped time, which is only known
    # from the token, so each token is read and judged here first.
    signer_info = embedded.signer_info
    claimed = _utc(embedded.self_reported_timestamp)
    problem = note = None
    for token in generic_cms.extract_tst_data_iter(signer_info, signed=False):
        try:
            stamped = _utc(token["encap_content_info"]["content"].parsed["gen_time"].native)
            context = validation_context(anchors, stamped, reader)
            checked = asyncio.run(
                generic_cms.validate_tst_signed_data(
                    token, context, generic_cms.message_imprint_checker(signer_info)
                )
            )
            status = TimestampSignatureStatus(**checked)
        except (SignatureValidationError, ValueError, KeyError, TypeError, AttributeError):
            problem = "its timestamp token is malformed"
            continue
        if not (status.intact and status.valid):
            problem = "its timestamp does not match the signature (the token was altered)"
        elif status.trusted:
            authority = _common_name(status.signing_cert)
            return SigningTime(status.timestamp, True, authority), context
        else:
            note = (
                f"its timestamp from {_common_name(status.signing_cert)} does not chain to a "
                "trust anchor, so it proves nothing"
            )
    return SigningTime(claimed, False, problem=problem, note=note), None


def judge_signature(
    embedded: Any, anchors: Anchors, *, key_usage: Any, reader: Any = None, diff_policy: Any = None
) -> Judged:
    """Validate ``embedded`` with its certificate chain judged as of its signing time;
    ``diff_policy`` judges the revisions after it (pyHanko's default when None)."""
    from pyhanko.sign.validation import validate_pdf_signature

    time, stamp_context = signing_time(embedded, anchors, reader)
    context = validation_context(anchors, time.when, reader)
    status = validate_pdf_signature(
        embedded,
        context,
        ts_validation_context=stamp_context or context,
        key_usage_settings=key_usage,
        diff_policy=diff_policy,
    )
    return Judged(status, time)


def time_problems(
    judged: Judged, label: str, *, valid_until: str | None, now: dt.datetime
) -> list[str]:
    """Why the signature's time does not stand: missing, in the future, outside its
    certificate's validity, after the approval's validity, or a broken timestamp."""
    time = judged.time
    problems = [f"{label}: {time.problem}"] if time.problem else []
    when = time.when
    if when is None:
        return [*problems, f"{label} states no signing time, so its certificate cannot be judged"]
    how = "proven" if time.proven else "claimed"
    stamp = when.astimezone(dt.UTC).isoformat(timespec="seconds")
    if when > now + CLOCK_SKEW:
        problems.append(f"{label}: its {how} signing time {stamp} is in the future")
    validity = judged.status.signing_cert["tbs_certificate"]["validity"]
    start, end = validity["not_before"].native, validity["not_after"].native
    if not start <= when <= end:
        problems.append(
            f"{label}: its {how} signing time {stamp} is outside its certificate's validity "
            f"({start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC)"
        )
    try:
        last_day = dt.date.fromisoformat(valid_until) if valid_until else None
    except ValueError:
        last_day = None  # verify reports an unreadable validity on its own
    if last_day is not None and when.astimezone(dt.UTC).date() > last_day:
        problems.append(
            f"{label}: signed on {when.astimezone(dt.UTC).date()}, after the approval's "
            f"validity ended on {valid_until}"
        )
    return problems
