"""Which reviewer role a certificate may sign for, and whether two signers are one person.

The role travels in a private certificate extension, ROLE_OID, whose value is one DER
UTF8String naming the role; the subject's title repeats it for people to read, but only
the extension counts. A certificate without the extension fills no role.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509

ROLE_OID = "1.3.6.1.4.1.61054.1.1"  # private arc: the reviewer role a certificate is for


class RoleExtensionError(ValueError):
    """The certificate's role extension is not one DER UTF8String."""


def role_extension(role: str) -> x509.UnrecognizedExtension:
    """The non-critical extension that binds ``role`` to a certificate."""
    from asn1crypto import core
    from cryptography import x509
    from cryptography.x509.oid import ObjectIdentifier

    return x509.UnrecognizedExtension(ObjectIdentifier(ROLE_OID), core.UTF8String(role).dump())


def as_x509(cert: Any) -> x509.Certificate:
    """A cryptography certificate from either library's certificate object."""
    from cryptography import x509

    if isinstance(cert, x509.Certificate):
        return cert
    return x509.load_der_x509_certificate(cert.dump())


def certificate_role(cert: Any) -> str | None:
    """The role the certificate was issued for, read from its ROLE_OID extension, if any."""
    from asn1crypto import core
    from cryptography import x509
    from cryptography.x509.oid import ObjectIdentifier

    try:
        extension = as_x509(cert).extensions.get_extension_for_oid(ObjectIdentifier(ROLE_OID))
    except x509.ExtensionNotFound:
        return None
    value = extension.value
    assert isinstance(value, x509.UnrecognizedExtension)
    try:
        parsed = core.UTF8String.load(value.value, strict=True)
        role = parsed.native
    except (ValueError, TypeError, OverflowError):
        raise RoleExtensionError("the role extension is not a DER UTF8String") from None
    if not isinstance(parsed, core.UTF8String) or not isinstance(role, str) or not role:
        raise RoleExtensionError("the role extension is not a DER UTF8String")
    return role


def _usage_problems(cert: x509.Certificate) -> list[str]:
    """Why the certificate's key may not sign documents: a CA, or a key usage that forbids it."""
    from cryptography import x509

    problems = []
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        basic = None
    if basic is not None and basic.ca:
        problems.append("it is a CA certificate (basicConstraints cA=true), not a reviewer's")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        problems.append(
            "it states no key usage; a reviewer certificate must allow digitalSignature "
            "or nonRepudiation"
        )
        return problems
    if usage.key_cert_sign and not (basic is not None and basic.ca):
        problems.append("its key signs certificates (keyCertSign), as a CA's does")
    if not (usage.digital_signature or usage.content_commitment):
        problems.append("its key usage allows neither digitalSignature nor nonRepudiation")
    return problems


def certificate_problems(cert: Any, role: str) -> list[str]:
    """Why ``cert`` may not sign for ``role``: no role or another one, a CA, or its key usage."""
    from cryptography import x509

    try:
        parsed = as_x509(cert)
        cert_role = certificate_role(parsed)
        problems = _usage_problems(parsed)
    except RoleExtensionError as exc:
        return [f"it fills no role: {exc}"]
    except (ValueError, x509.DuplicateExtension) as exc:
        return [f"it cannot be read ({exc})"]
    if cert_role is None:
        problems.insert(0, "it names no reviewer role (no role extension)")
    elif cert_role != role:
        problems.insert(0, f"it was issued for role {cert_role!r}")
    return problems


def role_problems(cert: Any, role: str) -> list[str]:
    """Why ``cert`` may not fill the signature field of ``role``, if it may not."""
    return [
        f"signature {role!r}: the certificate may not sign for {role!r}: {problem}"
        for problem in certificate_problems(cert, role)
    ]


def _person(cert: x509.Certificate) -> tuple[tuple[str, str], ...]:
    """The subject without its title (the role), compared case- and spacing-blind."""
    from cryptography.x509.oid import NameOID

    return tuple(
        (attr.oid.dotted_string, " ".join(str(attr.value).split()).casefold())
        for attr in cert.subject
        if attr.oid != NameOID.TITLE
    )


def _public_key(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def same_person(one: Any, other: Any) -> str | None:
    """How two signers' certificates show them to be one person, if they do."""
    first, second = as_x509(one), as_x509(other)
    if first == second:
        return "the same certificate"
    if _public_key(first) == _public_key(second):
        return "the same key under two certificates"
    if _person(first) == _person(second):
        return f"the same subject ({_subject_text(first)})"
    return None


def _subject_text(cert: x509.Certificate) -> str:
    from cryptography.x509.oid import NameOID

    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def shared_signers(signed: Sequence[tuple[str, Any]]) -> dict[str, list[str]]:
    """For each role signed by someone who also signed an earlier role, why that is one person.

    ``signed`` pairs each role with its signer's certificate, in signing order.
    """
    found: dict[str, list[str]] = {}
    for later, (role, cert) in enumerate(signed):
        for earlier_role, earlier_cert in signed[:later]:
            try:
                how = same_person(earlier_cert, cert)
            except ValueError:  # unreadable: role_problems already fails that signature
                continue
            if how:
                found.setdefault(role, []).append(
                    f"signature {role!r}: signed by the person who signed {earlier_role!r} "
                    f"({how}); the policy asks for a different person in each role"
                )
    return found
