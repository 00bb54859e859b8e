"""A record's identity: the SHA-256 of its RFC 8785 canonical JSON."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from govrl.record import AssessmentRecord


def canonical_data(record: AssessmentRecord) -> Any:
    """The record as JSON data, with absent optional fields left out."""
    return record.model_dump(mode="json", exclude_none=True)


def canonical_json(record: AssessmentRecord) -> bytes:
    """The record's canonical bytes: the same for every YAML spelling of it."""
    return rfc8785.dumps(canonical_data(record))


def digest_of(canonical: bytes) -> str:
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def record_digest(record: AssessmentRecord) -> str:
    """``sha256:<hex>`` of the canonical JSON: what reviewers approve."""
    return digest_of(canonical_json(record))
