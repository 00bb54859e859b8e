"""The tree's running state, kept beside the log so that an add never re-reads the log.

``tree.json`` holds the archive's origin, the number of entries it covers, the hash of the
last one, the frontier (the roots of the perfect subtrees along the tree's right edge) and
the system index: per system id, how many entries it has and the position of its latest.
It is a cache of what the log implies: `verify` recomputes it, and an add that finds it
out of step with HEAD rebuilds it from the log.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal

import rfc8785
from pydantic import Field, StrictInt, StrictStr, ValidationError

from govrl.archive.checkpoint import (
    CHECKPOINTS,
    ORIGIN_PATTERN,
    Checkpoint,
    CheckpointBody,
    CheckpointSigner,
    parse_checkpoint,
)
from govrl.archive.log import (
    GENESIS,
    LOG,
    Digest,
    FrozenModel,
    Head,
    Line,
    now_utc,
    parse_line,
    split_log,
)
from govrl.archive.merkle import Frontier, leaf_hash
from govrl.record.identity import digest_of

if TYPE_CHECKING:
    from govrl.archive.storage import Storage

TREE = "tree.json"
_TAIL_CHUNK = 64 * 1024


def hexdigest(raw: bytes) -> str:
    return "sha256:" + raw.hex()


def raw_digest(digest: str) -> bytes:
    return bytes.fromhex(digest.removeprefix("sha256:"))


def system_row(system: str, entries: int, last: int) -> bytes:
    """One system's row of the index, as canonical JSON: what the row digests are of."""
    if system.isascii() and system.isprintable() and '"' not in system and "\\" not in system:
        # RFC 8785 writes such a string as it is; this is its output, without its cost.
        return f'{{"entries":{entries},"last":{last},"system":"{system}"}}'.encode()
    return bytes(rfc8785.dumps({"entries": entries, "last": last, "system": system}))


def systems_digest(rows: Iterable[bytes]) -> str:
    """SHA-256 over the rows' SHA-256 digests, sorted and concatenated (raw bytes)."""
    return hexdigest(hashlib.sha256(b"".join(sorted(rows))).digest())


@dataclass
class SystemIndex:
    """Per system id: its number of entries and its latest entry's position."""

    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    _rows: dict[str, bytes] = field(default_factory=dict)

    def add(self, system: str, position: int) -> None:
        entries = self.counts.get(system, (0, 0))[0] + 1
        self.counts[system] = (entries, position)
        self._rows[system] = hashlib.sha256(system_row(system, entries, position)).digest()

    def digest(self) -> str:
        return systems_digest(self._rows.values())

    def row_digests(self) -> list[str]:
        return [hexdigest(d) for d in sorted(self._rows.values())]

    def copy(self) -> SystemIndex:
        return SystemIndex(dict(self.counts), dict(self._rows))


class _Count(FrozenModel):
    entries: Annotated[StrictInt, Field(ge=1)]
    last: Annotated[StrictInt, Field(ge=1)]


class _TreeFile(FrozenModel):
    format: Literal["govrl-tree/1"] = "govrl-tree/1"
    origin: Annotated[StrictStr, Field(pattern=ORIGIN_PATTERN)]
    size: Annotated[StrictInt, Field(ge=0)]
    head: Digest
    frontier: list[Digest]
    systems: dict[StrictStr, _Count]


@dataclass
class Tree:
    """The state a checkpoint is made from; appending a line is O(log n)."""

    origin: str
    frontier: Frontier = field(default_factory=Frontier)
    head: str = GENESIS
    systems: SystemIndex = field(default_factory=SystemIndex)

    @property
    def size(self) -> int:
        return self.frontier.size

    def append(self, line: bytes, system: str | None) -> None:
        self.frontier.append(leaf_hash(line))
        self.head = digest_of(line)
        if system is not None:
            self.systems.add(system, self.frontier.size)

    def root(self) -> str:
        return hexdigest(self.frontier.root())

    def body(self, time: str | None = None) -> CheckpointBody:
        return CheckpointBody(
            origin=self.origin,
            tree_size=self.size,
            root_hash=self.root(),
            head=self.head,
            systems=self.systems.digest(),
            time=time or now_utc(),
        )

    def encode(self) -> bytes:
        state = _TreeFile(
            origin=self.origin,
            size=self.size,
            head=self.head,
            frontier=[hexdigest(h) for h in self.frontier.hashes],
            systems={
                system: _Count(entries=n, last=last)
                for system, (n, last) in sorted(self.systems.counts.items())
            },
        )
        return bytes(rfc8785.dumps(state.model_dump(mode="json"))) + b"\n"

    @classmethod
    def decode(cls, raw: bytes) -> Tree:
        """Parse tree.json; ValueError says what is wrong with it."""
        try:
            state = _TreeFile.model_validate_json(raw)
            frontier = Frontier(state.size, [raw_digest(h) for h in state.frontier])
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "state"
            raise ValueError(f"{where}: {first['msg']}") from None
        systems = SystemIndex()
        for system, count in state.systems.items():
            systems.counts[system] = (count.entries, count.last)
            systems._rows[system] = hashlib.sha256(
                system_row(system, count.entries, count.last)
            ).digest()
        return cls(state.origin, frontier, state.head, systems)

    @classmethod
    def from_lines(cls, origin: str, lines: Iterable[Line]) -> Tree:
        tree = cls(origin)
        for line in lines:
            tree.append(line.raw, line.entry.system.id if line.entry else None)
        return tree


def new_origin() -> str:
    """A new archive's identity; every checkpoint it signs names it."""
    return f"govrl-archive/{uuid.uuid4().hex}"


def last_line(storage: Storage, key: str) -> bytes | None:
    """The last complete line under ``key``, without its newline; None when there is none."""
    size = _TAIL_CHUNK
    while True:
        try:
            chunk = storage.tail(key, size)
        except KeyError:
            return None
        body = chunk[: chunk.rfind(b"\n")] if b"\n" in chunk else b""
        cut = body.rfind(b"\n")
        if cut >= 0 or len(chunk) < size:
            return body[cut + 1 :] or None
        size *= 4


def latest_checkpoint(storage: Storage) -> Checkpoint | None:
    """The last checkpoint written, read from the end of checkpoints.jsonl."""
    raw = last_line(storage, CHECKPOINTS)
    if raw is None:
        return None
    try:
        return parse_checkpoint(raw, storage.where(CHECKPOINTS))
    except ValueError:
        return None


def load_tree(storage: Storage, head: Head) -> tuple[Tree, list[str]]:
    """The tree state at ``head``: tree.json when it is in step, else rebuilt from the log."""
    notes: list[str] = []
    tree: Tree | None = None
    try:
        tree = Tree.decode(storage.read(TREE))
    except KeyError:
        pass
    except ValueError as exc:
        notes.append(f"{TREE} was damaged ({exc})")
    if tree is not None and tree.size == head.sequence and tree.head == head.hash:
        return tree, notes
    if tree is not None and tree.size == head.sequence - 1:
        # An add stopped after HEAD: the entry HEAD names is the log's last line.
        last = last_line(storage, LOG)
        entry = parse_line(0, last).entry if last is not None else None
        fits = last is not None and entry is not None and digest_of(last) == head.hash
        if fits and last is not None and entry is not None and entry.prev == tree.head:
            tree.append(last, entry.system.id)
            return tree, notes
    latest = latest_checkpoint(storage)
    origin = tree.origin if tree else latest.body.origin if latest else new_origin()
    try:
        lines = split_log(storage.read(LOG))[: head.sequence]
    except KeyError:
        lines = []
    rebuilt = Tree.from_lines(origin, lines)
    if head.sequence:
        were = f"recorded {tree.size} entries" if tree else "was missing"
        notes.append(f"{TREE} {were}; rebuilt it from the log's {head.sequence} entries")
    return rebuilt, notes


def write_checkpoint(storage: Storage, tree: Tree, signer: CheckpointSigner | None) -> Checkpoint:
    """Sign (when a key is given) and append a checkpoint of ``tree``."""
    body = tree.body()
    checkpoint = signer.sign(body) if signer else Checkpoint(body=body)
    try:
        torn = not storage.tail(CHECKPOINTS, 1).endswith(b"\n")
    except KeyError:
        torn = False
    if torn:  # a write cut short by a crash: keep the lines before it, drop the piece
        data = storage.read(CHECKPOINTS)
        storage.write(CHECKPOINTS, data[: data.rfind(b"\n") + 1])
    storage.append(CHECKPOINTS, checkpoint.encode() + b"\n")
    return checkpoint


def advance(
    storage: Storage, head: Head, line: bytes, system: str, signer: CheckpointSigner | None
) -> list[str]:
    """After HEAD moved from ``head`` to ``line``: record it in tree.json, then checkpoint."""
    tree, notes = load_tree(storage, head)
    tree.append(line, system)
    storage.write(TREE, tree.encode())
    write_checkpoint(storage, tree, signer)
    return notes


def ensure_checkpoint(
    storage: Storage, head: Head, signer: CheckpointSigner | None, *, unsigned: bool = False
) -> tuple[Checkpoint | None, list[str]]:
    """The latest checkpoint, after writing one of the whole log if the latest does not
    cover ``head`` or is unsigned while a key is given; without a key, only if ``unsigned``.
    None for an empty archive."""
    latest = latest_checkpoint(storage)
    covered = latest is not None and (latest.body.tree_size, latest.body.head) == (
        head.sequence,
        head.hash,
    )
    if head.sequence == 0 or (covered and latest is not None and (latest.signed or not signer)):
        return latest, []
    if signer is None and not unsigned:
        size = latest.body.tree_size if latest else 0
        return latest, [
            f"the latest checkpoint covers {size} of the log's {head.sequence} entries; "
            "give the archive key to sign one of the whole log"
        ]
    tree, notes = load_tree(storage, head)
    storage.write(TREE, tree.encode())
    return write_checkpoint(storage, tree, signer), notes
