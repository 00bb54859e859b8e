"""What is checked in an archive folder: the format, the chain, HEAD, every object, and the
tree's state and checkpoints."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from govrl.archive.checkpoint import CHECKPOINTS
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
from govrl.archive.report import (
    ArchiveReport,
    check_expected,
    digest_or_trouble,
    line_problem,
    named_by,
)
from govrl.archive.storage import Storage
from govrl.archive.tree import TREE
from govrl.archive.tree_checks import check_tree
from govrl.archive.withdrawals import check_withdrawals
from govrl.errors import EnvironmentFailure, LockTimeout

if TYPE_CHECKING:
    from govrl.archive.checkpoint import Checkpoint


@dataclass(frozen=True)
class _Snapshot:
    log: bytes
    head: bytes | None
    tree: bytes | None
    checkpoints: bytes
    keys: list[str]
    locked: bool


def _read_snapshot(storage: Storage, locked: bool) -> _Snapshot:
    return _Snapshot(
        _get(storage, LOG) or b"",
        _get(storage, HEAD),
        _get(storage, TREE),
        _get(storage, CHECKPOINTS) or b"",
        list(storage.keys()),
        locked,
    )


def _snapshot(storage: Storage) -> _Snapshot:
    """Log, HEAD and the object list as one moment, under the writers' lock when we can."""
    try:
        with storage.locked():
            return _read_snapshot(storage, True)
    except LockTimeout:
        raise
    except EnvironmentFailure:
        return _read_snapshot(storage, False)  # a read-only copy has no writer to keep out


def check_store(
    report: ArchiveReport,
    storage: Storage,
    expect_head: Head | None,
    expect_checkpoint: Checkpoint | None = None,
    trust: tuple[bytes, ...] | None = None,
    all_signatures: bool = True,
) -> tuple[list[Entry], set[str]]:
    """Every check but the documents' signatures; returns the entries and the objects intact.

    ``trust`` holds the trust anchors as DER, for the checkpoints' signatures.
    """
    snap = _snapshot(storage)
    fmt = _get(storage, FORMAT_KEY)
    if fmt is not None and fmt != FORMAT_TEXT:
        report.error("format", FORMAT_KEY, f"unknown archive format {fmt[:40]!r}")
    lines = split_log(snap.log)
    report.entries = sum(1 for line in lines if line.entry is not None)
    _check_chain(report, lines)
    report.head = _check_head(report, snap.head, lines)
    if expect_head is not None:
        check_expected(report, expect_head, {i + 1: line.hash for i, line in enumerate(lines)})
    check_tree(report, lines, snap.tree, snap.checkpoints, trust, expect_checkpoint, all_signatures)
    intents = _intents(report, storage, snap)
    entries = [line.entry for line in lines if line.entry is not None]
    check_withdrawals(
        report, entries, {line.entry.sequence: line.hash for line in lines if line.entry}
    )
    return entries, _check_objects(report, storage, snap.keys, entries, intents)


def _get(storage: Storage, key: str) -> bytes | None:
    try:
        return storage.read(key)
    except KeyError:
        return None


def _check_chain(report: ArchiveReport, lines: list[Line]) -> None:
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
