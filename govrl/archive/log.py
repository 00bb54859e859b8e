"""The archive's log: one canonical-JSON entry per line, each naming the hash of the line before.

An entry's hash is the SHA-256 of its line's bytes without the newline, so a
receiver can check the chain by hand with ``sha256sum``. HEAD records the last
entry's sequence and hash, which is what shows a log that lost its last lines.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal

import rfc8785
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from govrl.record.identity import digest_of

LOG = "log.jsonl"
HEAD = "HEAD"
FORMAT_KEY = "FORMAT"
FORMAT_TEXT = b"govrl-archive 1\n"
OBJECTS = "objects/"
PENDING = "pending/"
GENESIS = "sha256:" + "0" * 64
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_HEX = re.compile(r"[0-9a-f]*")

Digest = Annotated[StrictStr, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
Timestamp = Annotated[StrictStr, Field(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")]
Short = Annotated[StrictStr, Field(max_length=500)]


class FrozenModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectRef(FrozenModel):
    digest: Digest
    size: Annotated[StrictInt, Field(ge=0)]


class DocumentRef(ObjectRef):
    kind: Short | None
    file_name: Short


class PolicyRef(ObjectRef):
    id: Short
    version: Short


class SystemRef(FrozenModel):
    id: Short
    name: Short | None
    version: Short | None
    risk_tier: StrictInt | None


class SignerRef(FrozenModel):
    role: Short
    signer: Short
    signed_at: Short | None


class Verification(FrozenModel):
    """What ``verify`` said when the document was archived."""

    checked: bool
    ok: bool
    trust_checked: bool
    problems: list[StrictStr]


class Withdrawal(FrozenModel):
    """What a withdrawing entry withdraws: the earlier entry, by sequence and hash, and why."""

    sequence: Annotated[StrictInt, Field(ge=1)]
    hash: Digest
    reason: Annotated[StrictStr, Field(min_length=1, max_length=500)]


class Entry(FrozenModel):
    """One archived document: what it is, who added it when, and its place in the chain.

    An entry that withdraws an earlier one repeats that entry's facts and names it in
    ``withdraws``; nothing is ever removed from the log.
    """

    format: Literal[1] = 1
    sequence: Annotated[StrictInt, Field(ge=1)]
    prev: Digest
    added_at: Timestamp
    added_by: Short
    document: DocumentRef
    record: ObjectRef
    policy: PolicyRef
    system: SystemRef
    verdict: Short | None
    valid_until: Short | None
    signers: list[SignerRef]
    verification: Verification
    withdraws: Withdrawal | None = None

    @property
    def added_on(self) -> dt.date:
        return dt.date.fromisoformat(self.added_at[:10])

    def object_keys(self) -> dict[str, str]:
        """The objects this entry names, by what they are."""
        return {
            "document": object_key(self.document.digest),
            "record": object_key(self.record.digest),
            "policy": object_key(self.policy.digest),
        }

    def encode(self) -> bytes:
        """The entry's line, without its newline: canonical JSON (RFC 8785); an entry that
        withdraws nothing has no ``withdraws`` key, as entries written before it existed."""
        absent = {"withdraws"} if self.withdraws is None else None
        return bytes(rfc8785.dumps(self.model_dump(mode="json", exclude=absent)))


def object_key(digest: str) -> str:
    """``sha256:abcd…`` → ``objects/sha256/ab/cd…``; git's fan-out keeps folders small."""
    algorithm, _, hexdigest = digest.partition(":")
    return f"{OBJECTS}{algorithm}/{hexdigest[:2]}/{hexdigest[2:]}"


def digest_of_key(key: str) -> str | None:
    """The digest an object's key claims, or None for a key that is not an object's."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != OBJECTS.rstrip("/") or parts[1] != "sha256":
        return None
    hexdigest = parts[2] + parts[3]
    if len(parts[2]) != 2 or len(hexdigest) != 64 or not _is_hex(hexdigest):
        return None
    return "sha256:" + hexdigest


def _is_hex(text: str) -> bool:
    return _HEX.fullmatch(text) is not None


@dataclass(frozen=True)
class Head:
    sequence: int
    hash: str

    def encode(self) -> bytes:
        return bytes(rfc8785.dumps({"sequence": self.sequence, "hash": self.hash})) + b"\n"

    @classmethod
    def decode(cls, data: bytes) -> Head:
        """Parse HEAD; ValueError says what is wrong with it."""
        try:
            raw = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"not JSON ({exc})") from None
        if not isinstance(raw, dict) or set(raw) != {"sequence", "hash"}:
            raise ValueError('expected {"sequence": N, "hash": "sha256:…"}')
        sequence, digest = raw["sequence"], raw["hash"]
        if type(sequence) is not int or sequence < 0 or not isinstance(digest, str):
            raise ValueError("sequence must be a count and hash a digest")
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"{digest!r} is not a sha256 digest")
        return cls(sequence, digest)


EMPTY_HEAD = Head(0, GENESIS)


@dataclass(frozen=True)
class Line:
    """One line of the log as found, with the entry it holds or why it holds none."""

    number: int
    raw: bytes
    complete: bool
    entry: Entry | None
    error: str | None

    @cached_property
    def hash(self) -> str:
        return digest_of(self.raw)


def parse_line(number: int, raw: bytes, complete: bool = True) -> Line:
    if not complete:
        return Line(
            number, raw, False, None, f"incomplete last line ({len(raw)} bytes, no newline)"
        )
    try:
        return Line(number, raw, True, Entry.model_validate_json(raw), None)
    except ValidationError:
        pass  # parsed again below, for the message
    try:
        data: Any = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Line(number, raw, True, None, f"not a JSON entry ({exc})")
    try:
        return Line(number, raw, True, Entry.model_validate(data), None)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "entry"
        return Line(number, raw, True, None, f"not a valid entry: {where}: {first['msg']}")


def split_log(blob: bytes) -> list[Line]:
    """Every line of the log, the last one marked incomplete when it lacks its newline."""
    pieces = blob.split(b"\n")
    tail = pieces.pop()  # empty when the log ends with a newline, as a whole log does
    lines = [parse_line(n, raw) for n, raw in enumerate(pieces, 1)]
    if tail:
        lines.append(parse_line(len(lines) + 1, tail, complete=False))
    return lines


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
