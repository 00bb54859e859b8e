"""Signed checkpoints: the archive's statement of its tree's size and root at one moment.

A checkpoint is one line of RFC 8785 canonical JSON: ``{"body": {...}, "signature": {...}}``.
The signature is over the body's canonical bytes, made with the archive key (a certificate
issued for the role ``archive``), whose certificate travels with it. See docs/archive.md.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import rfc8785
from pydantic import Field, StrictInt, StrictStr, ValidationError

from govrl.archive.log import Digest, FrozenModel, Timestamp
from govrl.errors import GovrlError, InputError, Problem

if TYPE_CHECKING:
    from cryptography import x509

    from govrl.documents.keys import Credentials, SigningKey

CHECKPOINTS = "checkpoints.jsonl"
FORMAT: Literal["govrl-checkpoint/1"] = "govrl-checkpoint/1"
ARCHIVE_ROLE = "archive"
MAX_CHECKPOINT_FILE = 1 << 20
ORIGIN_PATTERN = r"^[A-Za-z0-9._:/-]{1,200}$"

Base64 = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9+/]*={0,2}$", max_length=64 * 1024)]


class CheckpointBody(FrozenModel):
    """What the archive states: its identity, how many entries, their root, when."""

    format: Literal["govrl-checkpoint/1"] = FORMAT
    origin: Annotated[StrictStr, Field(pattern=ORIGIN_PATTERN)]
    tree_size: Annotated[StrictInt, Field(ge=0)]
    root_hash: Digest
    head: Digest
    systems: Digest
    time: Timestamp

    def encode(self) -> bytes:
        """The signed bytes: the body's canonical JSON (RFC 8785).

        Every field is an integer or a pattern-bound ASCII string, for which sorted, compact
        ``json.dumps`` is RFC 8785 byte for byte, and many times faster.
        """
        data = self.model_dump(mode="json")
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("ascii")


class Signature(FrozenModel):
    algorithm: Literal["ecdsa-sha256", "rsa-pkcs1v15-sha256"]
    value: Base64
    certificate: Base64


class Checkpoint(FrozenModel):
    body: CheckpointBody
    signature: Signature | None = None

    def encode(self) -> bytes:
        """One line of checkpoints.jsonl, without its newline."""
        return bytes(rfc8785.dumps(self.model_dump(mode="json", exclude_none=True)))

    @property
    def signed(self) -> bool:
        return self.signature is not None


class CheckpointInvalid(GovrlError):
    """An archive key that may not sign checkpoints, or a checkpoint that cannot be read."""


def parse_checkpoint(raw: bytes, where: str) -> Checkpoint:
    """One checkpoint from its JSON; ValueError says what is wrong with it."""
    try:
        return Checkpoint.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "checkpoint"
        raise ValueError(f"{where}: not a checkpoint: {path}: {first['msg']}") from None


def read_checkpoint(path: Path) -> Checkpoint:
    """A checkpoint kept in a file, as `govrl archive checkpoint` prints it."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CHECKPOINT_FILE + 1)
    except OSError as exc:
        raise InputError([Problem(f"cannot read: {exc.strerror}", str(path))]) from None
    if len(raw) > MAX_CHECKPOINT_FILE:
        raise InputError([Problem("larger than a checkpoint can be (1 MiB)", str(path))])
    try:
        return parse_checkpoint(raw.strip(), str(path))
    except ValueError as exc:
        raise InputError([Problem(str(exc).removeprefix(f"{path}: "), str(path))]) from None


@dataclass(frozen=True)
class CheckpointSigner:
    """The archive key and its certificate, checked to be fit to sign checkpoints."""

    key: SigningKey
    certificate: x509.Certificate

    @classmethod
    def load(
        cls,
        key: Path,
        cert: Path,
        passphrase: bytes | None,
        trust: Sequence[x509.Certificate] | None = None,
    ) -> CheckpointSigner:
        """The archive key from PEM files; refused unless a trust anchor vouches for it
        (when anchors are given)."""
        from govrl.documents.keys import load_credentials

        signer = cls.from_credentials(load_credentials(key, cert, passphrase), str(cert))
        anchors = anchors_der(trust)
        if anchors is not None and not _trusted(signer.der, anchors):
            raise CheckpointInvalid(
                f"{cert}: the archive certificate is not a trust anchor, nor issued by one; "
                "`archive verify` would refuse its checkpoints",
                hint="issue it from your CA: `govrl keys new --role archive --ca-key ... "
                "--ca-cert ...`",
            )
        return signer

    @property
    def name(self) -> str:
        from govrl.documents.keys import common_name

        return common_name(self.certificate)

    @property
    def der(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding

        return self.certificate.public_bytes(Encoding.DER)

    @classmethod
    def from_credentials(cls, creds: Credentials, where: str) -> CheckpointSigner:
        """Refuse a key whose certificate is not an archive certificate valid today."""
        problems = certificate_problems(creds.cert, dt.datetime.now(dt.UTC))
        if problems:
            raise CheckpointInvalid(
                f"{where}: cannot sign checkpoints: " + "; ".join(problems),
                hint="make one with `govrl keys new --role archive` (issued by your CA)",
            )
        return cls(creds.key, creds.cert)

    def sign(self, body: CheckpointBody) -> Checkpoint:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding

        data = body.encode()
        algorithm: Literal["ecdsa-sha256", "rsa-pkcs1v15-sha256"]
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            value = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
            algorithm = "ecdsa-sha256"
        else:
            value = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
            algorithm = "rsa-pkcs1v15-sha256"
        signature = Signature(algorithm=algorithm, value=_b64(value), certificate=_b64(self.der))
        return Checkpoint(body=body, signature=signature)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def certificate_problems(cert: x509.Certificate, at: dt.datetime) -> list[str]:
    """Why ``cert`` may not sign a checkpoint made at ``at``, if it may not."""
    from cryptography.hazmat.primitives.serialization import Encoding

    return _role_problems(cert.public_bytes(Encoding.DER)) + _validity_problems(cert, at)


@lru_cache(maxsize=64)
def _role_problems(der: bytes) -> list[str]:
    from govrl.documents.keys import role_of

    try:
        role = role_of(_certificate(der)[0])
    except ValueError as exc:
        return [f"its role cannot be read ({exc})"]
    if role != ARCHIVE_ROLE:
        named = f"role {role!r}" if role else "no role"
        return [f"the certificate names {named}, not {ARCHIVE_ROLE!r}"]
    return []


def _validity_problems(cert: x509.Certificate, at: dt.datetime) -> list[str]:
    if cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        return []
    return [
        f"the certificate is valid {cert.not_valid_before_utc:%Y-%m-%d} to "
        f"{cert.not_valid_after_utc:%Y-%m-%d}, not at {at:%Y-%m-%d %H:%M}Z"
    ]


@dataclass(frozen=True)
class SignatureCheck:
    """What checking one checkpoint's signature found."""

    problems: list[str]
    signer: str | None  # the certificate's common name
    key_id: str | None  # SHA-256 of the signer's public key (SubjectPublicKeyInfo, DER)
    trusted: bool | None  # None when no trust anchors were given


def check_signature(checkpoint: Checkpoint, trust: tuple[bytes, ...] | None) -> SignatureCheck:
    """Check the signature over the body, the signer's role and validity, and its trust.

    ``trust`` holds the anchors as DER; a certificate is trusted when it is one of them
    or was issued directly by one.
    """
    signature = checkpoint.signature
    if signature is None:
        return SignatureCheck(["it is unsigned"], None, None, None if trust is None else False)
    try:
        der = base64.b64decode(signature.certificate, validate=True)
        value = base64.b64decode(signature.value, validate=True)
        cert, key_id, signer = _certificate(der)
    except (binascii.Error, ValueError) as exc:
        return SignatureCheck([f"its certificate cannot be read ({exc})"], None, None, False)
    problems = []
    if not _signature_holds(cert, signature.algorithm, value, checkpoint.body.encode()):
        problems.append(f"the signature does not match the checkpoint (signer {signer})")
    when = dt.datetime.fromisoformat(checkpoint.body.time.replace("Z", "+00:00"))
    problems += _role_problems(der) + _validity_problems(cert, when)
    trusted = None if trust is None else _trusted(der, trust)
    if trusted is False:
        problems.append(
            f"the archive certificate ({signer}) is not a trust anchor, nor issued by one"
        )
    return SignatureCheck(problems, signer, key_id, trusted)


def key_of(checkpoint: Checkpoint) -> tuple[str | None, str | None]:
    """The signer's name and key id, read from the certificate without checking anything."""
    if checkpoint.signature is None:
        return None, None
    try:
        _, key_id, signer = _certificate(base64.b64decode(checkpoint.signature.certificate))
    except (binascii.Error, ValueError):
        return None, None
    return signer, key_id


@lru_cache(maxsize=64)
def _certificate(der: bytes) -> tuple[x509.Certificate, str, str]:
    """A certificate, its key's id and its common name, parsed once per process."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from govrl.documents.keys import common_name

    cert = x509.load_der_x509_certificate(der)
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return cert, "sha256:" + hashlib.sha256(spki).hexdigest(), common_name(cert)


def _signature_holds(cert: x509.Certificate, algorithm: str, value: bytes, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    key = cert.public_key()
    try:
        if algorithm == "ecdsa-sha256" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(value, data, ec.ECDSA(hashes.SHA256()))
        elif algorithm == "rsa-pkcs1v15-sha256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(value, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except InvalidSignature:
        return False
    return True


@lru_cache(maxsize=64)
def _trusted(der: bytes, anchors: tuple[bytes, ...]) -> bool:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    if der in anchors:
        return True
    cert = x509.load_der_x509_certificate(der)
    for anchor_der in anchors:
        anchor = x509.load_der_x509_certificate(anchor_der)
        if anchor.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def anchors_der(trust: Sequence[x509.Certificate] | None) -> tuple[bytes, ...] | None:
    """The trust anchors as DER, hashable for the caches above; None when not checked."""
    if trust is None:
        return None
    from cryptography.hazmat.primitives.serialization import Encoding

    return tuple(cert.public_bytes(Encoding.DER) for cert in trust)


def describe(checkpoint: Checkpoint) -> str:
    """``checkpoint of 12 entries (root sha256:…, 2026-…Z)``, for messages."""
    body = checkpoint.body
    return f"checkpoint of {body.tree_size} entries (root {body.root_hash}, {body.time})"
