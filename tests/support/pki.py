"""A test PKI built locally: an organisation CA, reviewers, and an RFC 3161 timestamp server."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from govrl.documents import keys

PASSPHRASE = b"correct horse battery"


@dataclass(frozen=True)
class Reviewer:
    name: str
    role: str
    key: Path
    cert: Path


@dataclass(frozen=True)
class Pki:
    folder: Path
    ca: keys.KeyFiles
    passphrase_file: Path

    def reviewer(self, name: str, role: str, **options: object) -> Reviewer:
        issuer = keys.load_credentials(self.ca.key, self.ca.cert, PASSPHRASE)
        files = keys.new_reviewer(
            name,
            role,
            self.folder,
            PASSPHRASE,
            issuer=issuer,
            **options,  # type: ignore[arg-type]
        )
        return Reviewer(name, role, files.key, files.cert)

    def issue(
        self,
        name: str,
        role: str | None,
        *,
        title: str | None = None,
        ca: bool = False,
        usage: tuple[str, ...] = ("digital_signature", "content_commitment"),
        key_of: Reviewer | None = None,
        sign_as: str | None = None,
    ) -> Reviewer:
        """A certificate from this CA that `keys new` would never make: no role extension,
        a CA's constraints, another key usage, another reviewer's key, any name.

        ``role`` goes into the role extension (None: none); ``title`` into the subject;
        ``sign_as`` is the field the returned reviewer signs (default: ``role`` or ``title``).
        """
        issuer = keys.load_credentials(self.ca.key, self.ca.cert, PASSPHRASE)
        key = keys.load_credentials(key_of.key, key_of.cert, PASSPHRASE).key if key_of else None
        key = key or ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, name)]
        if title:
            attrs.append(x509.NameAttribute(NameOID.TITLE, title))
        flags = dict.fromkeys(
            ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"),
            False,
        )  # fmt: skip
        flags.update(dict.fromkeys(usage, True))
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(issuer.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(**flags), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                critical=False,
            )
        )
        if role is not None:
            from govrl.documents.roles import role_extension

            builder = builder.add_extension(role_extension(role), critical=False)
        cert = builder.sign(issuer.key, hashes.SHA256())
        stem = self.folder / "issued" / secrets.token_hex(6)
        stem.parent.mkdir(exist_ok=True)
        key_path, cert_path = stem.with_suffix(".key.pem"), stem.with_suffix(".cert.pem")
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(PASSPHRASE),
            )
        )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return Reviewer(name, sign_as or role or title or "", key_path, cert_path)


def make_pki(folder: Path, name: str = "Test Org CA") -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "passphrase.txt"
    secret.write_bytes(PASSPHRASE + b"\n")
    ca = keys.new_ca(name, folder / "ca", PASSPHRASE)
    return Pki(folder, ca, secret)


def _tsa_credentials() -> tuple[object, object, bytes]:
    """The authority's certificate and key for pyHanko, and its certificate as PEM."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    der = serialization.Encoding.DER
    return (
        asn1_x509.Certificate.load(cert.public_bytes(der)),
        asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        ),
        cert.public_bytes(serialization.Encoding.PEM),
    )


@dataclass(frozen=True)
class TimestampAuthority:
    """A running timestamp authority: its URL, the replies it served, its certificate (PEM)."""

    url: str
    served: list[int]
    cert_pem: bytes

    def write_cert(self, path: Path) -> Path:
        path.write_bytes(self.cert_pem)
        return path


@contextmanager
def timestamp_server() -> Iterator[tuple[str, list[int]]]:
    """An RFC 3161 timestamp authority on 127.0.0.1; yields its URL and a request counter."""
    with timestamp_authority() as tsa:
        yield tsa.url, tsa.served


@contextmanager
def timestamp_authority() -> Iterator[TimestampAuthority]:
    """An RFC 3161 timestamp authority on 127.0.0.1, with its own self-signed root."""
    from asn1crypto import tsp
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    cert, key, pem = _tsa_credentials()
    stamper = DummyTimeStamper(tsa_cert=cert, tsa_key=key)
    served: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            reply = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
            served.append(len(reply))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TimestampAuthority(f"http://127.0.0.1:{server.server_address[1]}/tsa", served, pem)
    finally:
        server.shutdown()
        server.server_close()
