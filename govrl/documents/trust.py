"""The trust anchors and the moment a signer's certificate chain is judged against."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509


def validation_context(trust: list[x509.Certificate] | None) -> Any:
    """A pyHanko validation context that trusts ``trust`` and fetches nothing."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from pyhanko_certvalidator import ValidationContext

    roots = [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in trust or []]
    return ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
