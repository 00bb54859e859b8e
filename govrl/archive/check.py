"""Checking an archive or a bundle: every object, the chain, the head, every signature."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from govrl.archive.log import (
    FORMAT_KEY,
    FORMAT_TEXT,
    GENESIS,
    HEAD,
    LOG,
    OBJECTS,
    PENDING,
    Entry,
    Head,
    Line,
    digest_of_key,
    split_log,
)
from govrl.archive.storage import CorruptMember, Storage, ZipStorage
from govrl.errors import EnvironmentFailure, LockTimeout
from govrl.record.identity import digest_of

if TYPE_CHECKING:
    from pathlib import Path

    from cryptography import x509

    from govrl.archive.store import Archive

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One thing wrong (error) or worth knowing (warning), named by file and entry."""

    severity: Severity
    code: str
    message: str
    file: str
    sequence: int | None = None

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class ArchiveReport:
    source: str
    kind: Literal["store", "bundle"]
    entries: int = 0
    objects: int = 0
    head: Head | None = None
    signatures_checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, code: str, file: str, message: str, sequence: int | None = None) -> None:
        self.findings.append(Finding("error", code, message, file, sequence))

    def warn(self, code: str, file: str, message: str, sequence: int | None = None) -> None:
        self.findings.append(Finding("warning", code, message, file, sequence))

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "ok": self.ok,
            "entries": self.entries,
            "objects": self.objects,
            "head": {"sequence": self.head.sequence, "hash": self.head.hash} if self.head else None,
            "signatures_checked": self.signatures_checked,
            "errors": [f.as_dict() for f in self.errors],
            "warnings": [f.as_dict() for f in self.warnings],
        }


@dataclass(frozen=True)
class _Snapshot:
    log: bytes
    head: bytes | None
    keys: list[str]
    locked: bool


def _read_snapshot(storage: Storage, locked: bool) -> _Snapshot:
    return _Snapshot(_get(storage, LOG) or b"", _get(storage, HEAD), list(storage.keys()), locked)


def _snapshot(storage: Storage) -> _Snapshot:
    """Log, HEAD and the object list as one moment, under the writers' lock when we can."""
    try:
        with storage.locked():
            return _read_snapshot(storage, True)
    except LockTimeout:
        raise
    except EnvironmentFailure:
        return _read_snapshot(storage, False)  # a read-only copy has no writer to keep out


def verify_store(
    archive: Archive,
    *,
    signatures: bool = True,
    trust: list[x509.Certificate] | None = None,
    expect_head: Head | None = None,
    jobs: int | None = None,
) -> ArchiveReport:
    """Check every object, the chain, HEAD and (unless told not to) every signature."""
    archive.require()
    storage = archive.storage
    report = ArchiveReport(archive.where(), "store")
    snap = _snapshot(storage)
    fmt = _get(storage, FORMAT_KEY)
    if fmt is not None and fmt != FORMAT_TEXT:
        report.error("format", FORMAT_KEY, f"unknown archive format {fmt[:40]!r}")
    lines = split_log(snap.log)
    report.entries = sum(1 for line in lines if line.entry is not None)
    _check_store_chain(report, lines)
    report.head = _check_head(report, snap.head, lines)
    if expect_head is not None:
        check_expected(report, expect_head, {i + 1: line.hash for i, line in enumerate(lines)})
    intents = _intents(report, storage, snap)
    entries = [line.entry for line in lines if line.entry is not None]
    intact = _check_objects(report, storage, snap.keys, entries, intents)
    if signatures:
        from govrl.archive.signatures import check_all

        check_all(report, storage, entries, intact, trust, jobs=jobs)
    return report


def _get(storage: Storage, key: str) -> bytes | None:
    try:
        return storage.read(key)
    except KeyError:
        return None


def line_problem(report: ArchiveReport, line: Line) -> bool:
    """Report a torn or unreadable line; True when the line holds no entry."""
    if not line.complete:
        report.error(
            "log-torn",
            LOG,
            f"line {line.number}: {line.error}: an interrupted write or a "
            "damaged file; `govrl archive repair` sets it aside if HEAD never recorded it",
            line.number,
        )
        return True
    if line.entry is None:
        report.error("entry-damaged", LOG, f"line {line.number}: {line.error}", line.number)
        return True
    return False


def _check_store_chain(report: ArchiveReport, lines: list[Line]) -> None:
    """Entry n sits on line n and names the hash of line n-1."""
    previous_hash, previous_seq, in_place = GENESIS, 0, True
    for line in lines:
        if line_problem(report, line):
            previous_hash, previous_seq, in_place = line.hash, previous_seq + 1, False
            continue
        entry = line.entry
        assert entry is not None
        if entry.sequence != previous_seq + 1:
            report.error(
                "entry-out-of-place",
                LOG,
                f"line {line.number} holds entry {entry.sequence} where entry "
                f"{previous_seq + 1} belongs: entries were reordered, removed or inserted",
                entry.sequence,
            )
            in_place = False
        elif entry.prev != previous_hash and in_place:
            report.error(
                "chain-broken",
                LOG,
                f"entry {entry.sequence - 1} (line {line.number - 1}) was changed: entry "
                f"{entry.sequence} recorded its hash as {entry.prev}, it now hashes to "
                f"{previous_hash} (or entry {entry.sequence}'s prev was edited)",
                entry.sequence - 1,
            )
        else:
            in_place = True
        previous_hash, previous_seq = line.hash, entry.sequence


def _check_head(report: ArchiveReport, raw: bytes | None, lines: list[Line]) -> Head | None:
    """HEAD names the last entry; fewer lines than HEAD means the log lost its end."""
    complete = [line for line in lines if line.complete]
    count = len(complete)
    hashes = [GENESIS] + [line.hash for line in complete]
    if raw is None:
        if count:
            report.error("head-missing", HEAD, f"missing, but the log holds {count} entries")
        return None
    try:
        head = Head.decode(raw)
    except ValueError as exc:
        report.error("head-damaged", HEAD, f"damaged: {exc}")
        return None
    if head.sequence > count:
        missing = (
            f"entry {head.sequence} is"
            if head.sequence == count + 1
            else f"entries {count + 1}-{head.sequence} are"
        )
        ends = f"ends at entry {count}" if count else "holds no entries"
        report.error(
            "log-truncated",
            LOG,
            f"truncated: HEAD records {head.sequence} entries but the log {ends}; {missing} gone",
            count + 1,
        )
    elif hashes[head.sequence] != head.hash:
        report.error(
            "head-mismatch",
            HEAD,
            f"records {head.hash} for entry {head.sequence}, but entry {head.sequence} "
            f"(log.jsonl line {head.sequence}) hashes to {hashes[head.sequence]}: that "
            "entry or HEAD was changed",
            head.sequence,
        )
    elif head.sequence == count - 1 and not any(f.sequence == count for f in report.errors):
        report.warn(
            "head-behind",
            HEAD,
            f"entry {count} was written after HEAD was last updated (an add was interrupted "
            "before its last step); the next `govrl archive add` or `repair` records it",
            count,
        )
    elif head.sequence < count:
        report.error(
            "entries-after-head",
            LOG,
            f"entries {head.sequence + 1}-{count} follow the entry HEAD records "
            f"({head.sequence}): they were appended outside govrl",
            head.sequence + 1,
        )
    return head


def check_expected(report: ArchiveReport, expected: Head, hashes: dict[int, str]) -> None:
    found = hashes.get(expected.sequence, GENESIS if expected.sequence == 0 else None)
    if found != expected.hash:
        report.error(
            "head-unexpected",
            LOG,
            f"entry {expected.sequence} should hash to {expected.hash} (the head you gave), "
            f"but {'it hashes to ' + found if found else 'there is no such entry'}",
            expected.sequence,
        )


def _intents(report: ArchiveReport, storage: Storage, snap: _Snapshot) -> set[str]:
    """Objects named by adds that never finished: unlisted but expected, so warnings."""
    named: set[str] = set()
    for key in snap.keys:
        if not key.startswith(PENDING):
            continue
        try:
            intent = json.loads(storage.read(key))
            objects = [k for k in intent.get("objects", []) if isinstance(k, str)]
            when, who = intent.get("started_at", "?"), intent.get("by", "?")
        except (KeyError, ValueError, AttributeError):
            objects, when, who = [], "?", "?"
        named.update(objects)
        if snap.locked:  # otherwise it may belong to an add running right now
            report.warn(
                "add-interrupted",
                key,
                f"an add started {when} by {who} did not finish; objects it wrote stay "
                "unlisted until it is re-run (`govrl archive repair` sets them aside)",
            )
    return named


def digest_or_trouble(storage: Storage, key: str) -> tuple[str | None, str | None]:
    """The content's digest, or why it could not be read."""
    try:
        return digest_of(storage.read(key)), None
    except KeyError:
        return None, "missing"
    except CorruptMember as exc:
        return None, f"unreadable ({exc.reason})"


def _check_objects(
    report: ArchiveReport,
    storage: Storage,
    keys: list[str],
    entries: list[Entry],
    intents: set[str],
) -> set[str]:
    """Each object hashes to its name; each named object exists; none is unlisted."""
    users: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for entry in entries:
        for role, key in entry.object_keys().items():
            users[key].append((entry.sequence, role))
    present, intact = set(), set()
    for key in keys:
        if not key.startswith(OBJECTS):
            continue
        claimed = digest_of_key(key)
        name = key.rsplit("/", 1)[-1]
        if claimed is None:
            if name.startswith(".") and name.endswith(".tmp"):
                report.warn("temp-file", key, "a temporary file left by an interrupted write")
            else:
                report.error("unexpected-file", key, "not an object (names are SHA-256 digests)")
            continue
        present.add(key)
        actual, trouble = digest_or_trouble(storage, key)
        named = named_by(users.get(key, []))
        if trouble == "missing":
            present.discard(key)
        elif actual != claimed:
            first = users[key][0][0] if users.get(key) else None
            report.error(
                "object-changed",
                key,
                f"content changed: it hashes to {actual or trouble}, not to its name{named}",
                first,
            )
        else:
            intact.add(key)
        if key not in users:
            if key in intents:
                report.warn(
                    "object-unlisted",
                    key,
                    "not named by any entry: written by an add that "
                    "did not finish (see the pending intent)",
                )
            else:
                report.error(
                    "object-unlisted",
                    key,
                    "not named by any log entry: put there outside govrl, or its entry is gone",
                )
    report.objects = len(present)
    for key, owners in sorted(users.items()):
        if key not in present:
            report.error("object-missing", key, f"missing{named_by(owners)}", owners[0][0])
    return intact


def named_by(users: list[tuple[int, str]]) -> str:
    if not users:
        return ""
    return "; it is " + ", ".join(f"entry {seq}'s {role}" for seq, role in users)


def verify_bundle(
    path: Path,
    *,
    signatures: bool = True,
    trust: list[x509.Certificate] | None = None,
    expect_head: Head | None = None,
    jobs: int | None = None,
) -> ArchiveReport:
    """Check a bundle made by ``archive export`` as a receiver would."""
    from govrl.archive.receiver import check_bundle
    from govrl.archive.signatures import check_all

    storage = ZipStorage(path)
    report = ArchiveReport(str(path), "bundle")
    try:
        entries, intact = check_bundle(report, storage, expect_head)
        if signatures:
            check_all(report, storage, entries, intact, trust, jobs=jobs)
    finally:
        storage.close()
    return report
