"""Reviewer keys and certificates: made here for trials, imported from a real PKI."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from govrl.atomicfile import write_atomic
from govrl.documents.roles import certificate_role, role_extension
from govrl.errors import GovrlError, InputError, Problem, UsageError
from govrl.safetext import name_problem, printable

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    SigningKey = EllipticCurvePrivateKey | RSAPrivateKey

DOCUMENT_SIGNING_EKU = "1.3.6.1.5.5.7.3.36"  # id-kp-documentSigning, RFC 9336
MIN_PASSPHRASE = 8


class CredentialError(GovrlError):
    """A key, certificate or passphrase is unusable; the message says which and why."""


@dataclass(frozen=True)
class Credentials:
    """A signer's private key, certificate and the chain above it."""

    key: SigningKey
    cert: x509.Certificate
    chain: list[x509.Certificate]


@dataclass(frozen=True)
class KeyFiles:
    key: Path
    cert: Path


def _subject(name: str, role: str | None, organisation: str | None) -> x509.Name:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, name)]
    if role:
        attrs.append(x509.NameAttribute(NameOID.TITLE, role))
    if organisation:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(attrs)


def _check_name(name: str, what: str) -> None:
    problem = name_problem(name)
    if problem:
        raise UsageError(f"{what} {printable(name)!r} {problem}")
    if not name.strip():
        raise UsageError(f"{what} is empty")


def _check_role(role: str) -> None:
    from govrl.review.policy import ROLE_PATTERN

    if not re.fullmatch(ROLE_PATTERN, role):
        raise UsageError(
            f"the role {printable(role)!r} is not a role name: lower-case letters, digits and "
            "hyphens, as the policy names its signers (e.g. domain-expert)"
        )


def _check_passphrase(passphrase: bytes) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise UsageError(f"the passphrase must be at least {MIN_PASSPHRASE} characters")


def _write_pair(
    out_dir: Path, stem: str, key: SigningKey, cert: x509.Certificate, passphrase: bytes
) -> KeyFiles:
    from cryptography.hazmat.primitives import serialization

    out_dir.mkdir(parents=True, exist_ok=True)
    files = KeyFiles(out_dir / f"{stem}.key.pem", out_dir / f"{stem}.cert.pem")
    for path in (files.key, files.cert):
        if path.exists():
            raise UsageError(f"{path} already exists; keys are never overwritten")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    write_atomic(files.key, pem)
    files.key.chmod(0o600)
    write_atomic(files.cert, cert.public_bytes(serialization.Encoding.PEM))
    return files


def _build_cert(
    *,
    subject: x509.Name,
    key: SigningKey,
    issuer_cert: x509.Certificate | None,
    issuer_key: SigningKey,
    days: int,
    ca: bool,
    role: str | None = None,
    not_before: dt.datetime | None = None,
) -> x509.Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ObjectIdentifier

    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if ca:
        usage = {"key_cert_sign": True, "crl_sign": True, "digital_signature": False}
    else:
        usage = {"key_cert_sign": False, "crl_sign": False, "digital_signature": True}
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ObjectIdentifier(DOCUMENT_SIGNING_EKU)]), critical=False
        )
        if role:  # non-critical, so that other PDF verifiers still accept the certificate
            builder = builder.add_extension(role_extension(role), critical=False)
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=not ca,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def new_ca(name: str, out_dir: Path, passphrase: bytes, *, days: int = 3650) -> KeyFiles:
    """An organisation CA that issues reviewer certificates (for trials and small teams)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    _check_name(name, "the CA name")
    _check_passphrase(passphrase)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _build_cert(
        subject=_subject(name, None, name),
        key=key,
        issuer_cert=None,
        issuer_key=key,
        days=days,
        ca=True,
    )
    return _write_pair(out_dir, "ca", key, cert, passphrase)


def new_reviewer(
    name: str,
    role: str,
    out_dir: Path,
    passphrase: bytes,
    *,
    organisation: str | None = None,
    issuer: Credentials | None = None,
    days: int = 365,
    not_before: dt.datetime | None = None,
) -> KeyFiles:
    """An ECDSA P-256 key and a certificate for one reviewer and role, self-signed or CA-issued.

    The role goes into the certificate's ROLE_OID extension (and its subject title).
    """
    from cryptography.hazmat.primitives.asymmetric import ec

    _check_name(name, "the reviewer name")
    if organisation is not None:
        _check_name(organisation, "the organisation")
    _check_role(role)
    _check_passphrase(passphrase)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _build_cert(
        subject=_subject(name, role, organisation),
        key=key,
        issuer_cert=issuer.cert if issuer else None,
        issuer_key=issuer.key if issuer else key,
        days=days,
        ca=False,
        role=role,
        not_before=not_before,
    )
    return _write_pair(out_dir, file_stem(name), key, cert, passphrase)


def file_stem(name: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in name.strip()).strip("-.")
    if not stem:
        raise UsageError(f"cannot make a file name from {name!r}")
    return stem


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError([Problem(f"cannot read {what}: {exc.strerror}", str(path))]) from None


def load_certificates(path: Path) -> list[x509.Certificate]:
    from cryptography import x509

    data = _read(path, "certificate")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise InputError([Problem("not a PEM or DER X.509 certificate", str(path))]) from None


def load_credentials(
    key_path: Path, cert_path: Path, passphrase: bytes | None, chain: list[Path] | None = None
) -> Credentials:
    """Load a PEM key (encrypted or not) and its certificate, and check they belong together."""
    from cryptography.hazmat.primitives import serialization

    data = _read(key_path, "key")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except TypeError:
        raise CredentialError(
            f"{key_path}: the key is encrypted; give its passphrase",
            hint="use the prompt, --passphrase-file, or GOVRL_KEY_PASSPHRASE",
        ) from None
    except ValueError:
        encrypted = b"ENCRYPTED" in data
        reason = "wrong passphrase" if encrypted and passphrase else "not a PEM private key"
        raise CredentialError(f"{key_path}: {reason}") from None
    certs = load_certificates(cert_path)
    extra = [c for p in chain or [] for c in load_certificates(p)]
    return _matched(
        Credentials(_usable(key, key_path), certs[0], certs[1:] + extra), key_path, cert_path
    )


def load_pkcs12(path: Path, passphrase: bytes | None) -> Credentials:
    """A key, certificate and chain from a PKCS#12 bundle, as corporate PKIs issue them."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        key, cert, chain = pkcs12.load_key_and_certificates(_read(path, "PKCS#12"), passphrase)
    except ValueError:
        raise CredentialError(f"{path}: wrong passphrase, or not a PKCS#12 file") from None
    if key is None or cert is None:
        raise CredentialError(f"{path}: the bundle holds no private key and certificate")
    return _matched(Credentials(_usable(key, path), cert, list(chain)), path, path)


def _usable(key: object, path: Path) -> SigningKey:
    """Only ECDSA and RSA keys: other PDF verifiers (poppler among them) reject the rest."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return key
    raise CredentialError(
        f"{path}: a {type(key).__name__.removeprefix('_')} key cannot make a signature that "
        "common PDF verifiers accept; use ECDSA P-256 or RSA"
    )


def _matched(creds: Credentials, key_path: Path, cert_path: Path) -> Credentials:
    from cryptography.hazmat.primitives import serialization

    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    ours = creds.key.public_key().public_bytes(enc, spki)
    if ours != creds.cert.public_key().public_bytes(enc, spki):
        raise CredentialError(f"{key_path}: the key does not match the certificate {cert_path}")
    return creds


def role_of(cert: x509.Certificate) -> str | None:
    """The role the certificate's ROLE_OID extension names; the subject title does not count."""
    return certificate_role(cert)


def common_name(cert: x509.Certificate) -> str:
    from cryptography.x509.oid import NameOID

    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def check_validity(
    cert: x509.Certificate, where: Path | None, at: dt.datetime | None = None
) -> None:
    """Refuse a certificate that has expired or is not yet valid."""
    now = at or dt.datetime.now(dt.UTC)
    if now > cert.not_valid_after_utc:
        raise CredentialError(
            f"{where}: the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}"
        )
    if now < cert.not_valid_before_utc:
        raise CredentialError(
            f"{where}: the certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d}"
        )


def import_pkcs12(bundle: Path, name: str, out_dir: Path, passphrase: bytes) -> KeyFiles:
    """Store a PKCS#12 bundle's key (re-encrypted) and certificate chain in govrl's layout."""
    from cryptography.hazmat.primitives import serialization

    creds = load_pkcs12(bundle, passphrase)
    files = _write_pair(out_dir, file_stem(name), creds.key, creds.cert, passphrase)
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in creds.chain)
    if chain:
        write_atomic(files.cert, files.cert.read_bytes() + chain)
    return files
