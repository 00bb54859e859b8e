"""Which reviewer role a certificate may sign for."""

from __future__ import annotations

from typing import Any


def certificate_role(cert: Any) -> str | None:
    """The role a signer's certificate was issued for (asn1crypto certificate), if it names one."""
    title = cert.subject.native.get("title")
    return str(title) if title else None


def role_problems(cert: Any, role: str) -> list[str]:
    """Why ``cert`` may not fill the signature field of ``role``, if it may not."""
    cert_role = certificate_role(cert)
    if cert_role and cert_role != role:
        return [f"signature {role!r} was made with a certificate for role {cert_role!r}"]
    return []
