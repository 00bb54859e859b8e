"""Adding signed documents to an archive, and reading its entries back.

Order of writes, all under the archive's lock: an intent naming the objects,
the objects, the log line (fsync), HEAD (atomic), tree.json (atomic), a signed
checkpoint (fsync), then the intent is removed.
A crash at any point leaves every committed entry intact; see docs/archive.md.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govrl.archive.documents import check_signatures, describe
from govrl.archive.log import (
    EMPTY_HEAD,
    FORMAT_KEY,
    FORMAT_TEXT,
    HEAD,
    LOG,
    OBJECTS,
    PENDING,
    DocumentRef,
    Entry,
    Head,
    Line,
    ObjectRef,
    Withdrawal,
    digest_of_key,
    now_utc,
    object_key,
    parse_line,
    split_log,
)
from govrl.archive.storage import DirectoryStorage, Storage
from govrl.archive.tree import advance, ensure_checkpoint
from govrl.archive.withdrawals import withdrawn_by
from govrl.documents.pdffile import open_pdf, refuse_draft
from govrl.errors import GovrlError, UsageError
from govrl.record.identity import digest_of
from govrl.review.rules import refuse_unfinished_embedded

if TYPE_CHECKING:
    from cryptography import x509

    from govrl.archive.checkpoint import Checkpoint, CheckpointSigner
    from govrl.archive.policies import Pins, PolicyFile

STORE_ENV = "GOVRL_ARCHIVE"
DEFAULT_STORE = Path("govrl-archive")
QUARANTINE = "quarantine/"
_TAIL_CHUNK = 64 * 1024


class ArchiveDamaged(GovrlError):
    """The log or HEAD is damaged; nothing is appended until someone looks."""


class DocumentRefused(GovrlError):
    """The document failed verification and unverified documents were not allowed."""


@dataclass(frozen=True)
class AddResult:
    source: Path
    entry: Entry
    already: bool
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.source),
            "already_archived": self.already,
            "sequence": self.entry.sequence,
            "entry": self.entry.model_dump(mode="json"),
            "notes": self.notes,
        }


def default_user() -> str:
    """``user@host``: who added an entry, as far as this machine knows."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no passwd entry, as in some containers
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


class Archive:
    """A hash-chained, append-only log of documents kept by content address."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @classmethod
    def at(cls, folder: Path) -> Archive:
        return cls(DirectoryStorage(folder))

    def exists(self) -> bool:
        if any(self.storage.exists(key) for key in (FORMAT_KEY, LOG, HEAD)):
            return True
        return next(self.storage.keys(OBJECTS), None) is not None

    def require(self) -> None:
        if not self.exists():
            raise UsageError(
                f"{self.where()}: no govrl archive here (no FORMAT, log.jsonl, HEAD or objects)",
                hint=f"give --store DIR or set ${STORE_ENV}; `govrl archive add` creates one",
            )

    def where(self, key: str = "") -> str:
        return self.storage.where(key)

    def add(
        self,
        pdf: Path,
        *,
        policy: PolicyFile,
        trust: list[x509.Certificate] | None = None,
        allow_unverified: bool = False,
        added_by: str | None = None,
        signer: CheckpointSigner | None = None,
        pins: Pins | None = None,
    ) -> AddResult:
        """Archive one signed document; a document already archived adds nothing, and a policy
        posing as a pinned one is refused."""
        if pins is not None:
            pins.refuse_impostor(policy.ref, policy.source)
        doc = open_pdf(pdf)
        refuse_draft(doc, "archived")
        refuse_unfinished_embedded(doc.record_json, str(pdf))
        about = describe(doc)
        doc_digest = digest_of(doc.data)
        earlier = self.find_document(doc_digest)
        if earlier is not None:
            return AddResult(pdf, earlier, already=True)
        if (about.policy_digest not in (None, policy.ref.digest)) or (
            about.policy not in (None, policy.policy.label)
        ):
            raise DocumentRefused(
                f"{pdf}: not archived: it was rendered under policy {about.policy} (file "
                f"{about.policy_digest or 'not stated'}), and its entry would name policy "
                f"{policy.policy.label} (file {policy.ref.digest})",
                hint="give --policy the policy file the document names",
            )
        checked = check_signatures(doc, policy=policy.policy, trust=trust, today=dt.date.today())
        if not checked.verification.ok and not allow_unverified:
            raise DocumentRefused(
                f"{pdf}: not archived, verification failed: "
                + "; ".join(checked.verification.problems),
                hint="--allow-unverified archives it anyway and records these problems",
            )
        record = ObjectRef(digest=digest_of(about.record_json), size=len(about.record_json))
        objects = {
            object_key(doc_digest): doc.data,
            object_key(record.digest): about.record_json,
            object_key(policy.ref.digest): policy.data,
        }
        with self.storage.locked():
            head, notes = self.checked_head()
            earlier = self.find_document(doc_digest)  # another process may have just added it
            if earlier is not None:
                return AddResult(pdf, earlier, already=True, notes=notes)
            entry = Entry(
                sequence=head.sequence + 1,
                prev=head.hash,
                added_at=now_utc(),
                added_by=(added_by or default_user())[:500],
                document=DocumentRef(
                    digest=doc_digest, size=len(doc.data), kind=about.kind, file_name=pdf.name
                ),
                record=record,
                policy=policy.ref,
                system=about.system,
                verdict=about.verdict,
                valid_until=about.valid_until,
                signers=checked.signers,
                verification=checked.verification,
            )
            notes += self._commit(entry, objects, signer)
        return AddResult(pdf, entry, already=False, notes=notes)

    def supersede(
        self,
        sequence: int,
        reason: str,
        *,
        added_by: str | None = None,
        signer: CheckpointSigner | None = None,
    ) -> tuple[Entry, list[str]]:
        """Append an entry that withdraws entry ``sequence`` (nothing is removed), through the
        same log, tree and checkpoint steps as an add."""
        from pydantic import ValidationError

        reason = " ".join(reason.split())
        if not reason:
            raise UsageError("give the reason the entry is withdrawn (--reason)")
        with self.storage.locked():
            head, notes = self.checked_head()
            lines = self.lines()
            found = next(
                (x for x in lines if x.entry is not None and x.entry.sequence == sequence), None
            )
            if found is None or found.entry is None:
                raise UsageError(f"{self.where(LOG)}: there is no entry {sequence}")
            target = found.entry
            if target.withdraws is not None:
                raise UsageError(
                    f"entry {sequence} withdraws entry {target.withdraws.sequence}; a withdrawal "
                    "is not withdrawn in turn"
                )
            earlier = withdrawn_by([x.entry for x in lines if x.entry is not None])
            if sequence in earlier:
                raise UsageError(
                    f"entry {sequence} was withdrawn already, by entry {earlier[sequence].sequence}"
                )
            try:
                entry = Entry.model_validate(
                    target.model_dump()
                    | {
                        "sequence": head.sequence + 1,
                        "prev": head.hash,
                        "added_at": now_utc(),
                        "added_by": (added_by or default_user())[:500],
                        "withdraws": Withdrawal(sequence=sequence, hash=found.hash, reason=reason),
                    }
                )
            except ValidationError:
                raise UsageError("the reason is limited to 500 characters") from None
            notes += self._commit(entry, {}, signer)
        return entry, notes

    def _commit(
        self, entry: Entry, objects: dict[str, bytes], signer: CheckpointSigner | None
    ) -> list[str]:
        """Write objects, the entry, HEAD, then the tree and its checkpoint; under the lock.

        Without a signer the checkpoint is unsigned, and `verify` says so.
        """
        line = entry.encode()
        intent = f"{PENDING}{uuid.uuid4().hex}.json"
        self.storage.write(
            intent,
            json.dumps(
                {
                    "started_at": entry.added_at,
                    "by": entry.added_by,
                    "pid": os.getpid(),
                    "sequence": entry.sequence,
                    "objects": sorted(objects),
                }
            ).encode(),
        )
        if not self.storage.exists(FORMAT_KEY):
            self.storage.write(FORMAT_KEY, FORMAT_TEXT)
        for key, data in objects.items():
            if not self.storage.exists(key):
                self.storage.write(key, data)
        self.storage.append(LOG, line + b"\n")
        self.storage.write(HEAD, Head(entry.sequence, digest_of(line)).encode())
        before = Head(entry.sequence - 1, entry.prev)
        notes = advance(self.storage, before, line, entry.system.id, signer)
        self.storage.remove(intent)
        return notes

    def checkpoint(
        self, signer: CheckpointSigner | None, *, unsigned: bool = False
    ) -> tuple[Checkpoint | None, list[str]]:
        """The latest checkpoint, after signing one of the whole log if it does not cover it
        (writing it unsigned only when told to)."""
        with self.storage.locked():
            head, notes = self.checked_head()
            checkpoint, more = ensure_checkpoint(self.storage, head, signer, unsigned=unsigned)
        return checkpoint, notes + more

    def head(self) -> Head | None:
        try:
            return Head.decode(self.storage.read(HEAD))
        except KeyError:
            return None
        except ValueError as exc:
            raise ArchiveDamaged(f"{self.where(HEAD)}: damaged: {exc}") from None

    def _last_line(self) -> bytes | None:
        """The log's last line without its newline; None for an empty log."""
        size = _TAIL_CHUNK
        while True:
            try:
                chunk = self.storage.tail(LOG, size)
            except KeyError:
                return None
            if not chunk:
                return None
            if not chunk.endswith(b"\n"):
                raise ArchiveDamaged(
                    f"{self.where(LOG)} ends in an incomplete entry (an interrupted write, or "
                    "a truncated file); refusing to append after it",
                    hint="`govrl archive verify` shows it; `govrl archive repair` sets it "
                    "aside when HEAD shows it was never committed",
                )
            body = chunk[:-1]
            cut = body.rfind(b"\n")
            if cut >= 0 or len(chunk) < size:
                return body[cut + 1 :]
            size *= 4

    def checked_head(self) -> tuple[Head, list[str]]:
        """HEAD, checked against the log's last line; a HEAD one entry behind is caught up."""
        last = self._last_line()
        head = self.head()
        if last is None:
            if head is None or head == EMPTY_HEAD:
                return EMPTY_HEAD, []
            raise ArchiveDamaged(
                f"{self.where(LOG)} is missing or empty, but HEAD records {head.sequence} "
                "entries: the log was truncated",
                hint="restore log.jsonl from a backup; `govrl archive verify` shows the damage",
            )
        line = parse_line(0, last)
        if line.entry is None:
            raise ArchiveDamaged(f"{self.where(LOG)}: the last entry is damaged: {line.error}")
        actual = Head(line.entry.sequence, line.hash)
        if head == actual:
            return head, []
        if head is None and actual.sequence == 1:
            head = EMPTY_HEAD
        if (
            head is not None
            and head.sequence == actual.sequence - 1
            and line.entry.prev == head.hash
        ):
            # An add wrote and synced its entry, then stopped before HEAD: the entry stands.
            self.storage.write(HEAD, actual.encode())
            return actual, [
                f"entry {actual.sequence} was written by an add that stopped before updating "
                "HEAD; HEAD now records it"
            ]
        said = f"entry {head.sequence}, {head.hash}" if head else "missing"
        raise ArchiveDamaged(
            f"{self.where(HEAD)} ({said}) does not match the end of {self.where(LOG)} "
            f"(entry {actual.sequence}, {actual.hash}): the log was truncated or changed; "
            "refusing to append",
            hint="`govrl archive verify` names the damage; restore from a backup",
        )

    def find_document(self, digest: str) -> Entry | None:
        """The entry that archived the document with this digest, if any."""
        if not self.storage.exists(object_key(digest)):
            return None  # the object is written before its entry: no object, no entry
        try:
            blob = self.storage.read(LOG)
        except KeyError:
            return None
        needle = digest.encode()
        start = blob.find(needle)
        while start >= 0:
            begin = blob.rfind(b"\n", 0, start) + 1
            end = blob.find(b"\n", start)
            if end >= 0:
                entry = parse_line(0, blob[begin:end]).entry
                if entry is not None and entry.document.digest == digest:
                    return entry
            start = blob.find(needle, start + 1)
        return None

    def lines(self) -> list[Line]:
        try:
            return split_log(self.storage.read(LOG))
        except KeyError:
            return []

    def entries(self) -> list[Entry]:
        """Every readable entry, in log order (``verify`` reports the unreadable ones)."""
        return [line.entry for line in self.lines() if line.entry is not None]

    def repair(self) -> list[str]:
        """Undo what an interrupted add left: a torn last line, a lagging HEAD, stray objects.

        Anything else is damage that only a backup can mend, and is refused.
        """
        done: list[str] = []
        with self.storage.locked():
            try:
                blob = self.storage.read(LOG)
            except KeyError:
                blob = b""
            if blob and not blob.endswith(b"\n"):
                cut = blob.rfind(b"\n") + 1
                kept = blob[:cut]
                last = kept[:-1].rsplit(b"\n", 1)[-1] if kept else b""
                committed = Head(kept.count(b"\n"), digest_of(last)) if kept else EMPTY_HEAD
                head = self.head()
                if head != committed and not (head is None and not kept):
                    raise ArchiveDamaged(
                        f"{self.where(LOG)} ends in an incomplete entry that HEAD does not "
                        "account for; not repairing",
                        hint="`govrl archive verify` names the damage; restore from a backup",
                    )
                aside = f"{QUARANTINE}{now_utc()}-log-tail"
                self.storage.write(aside, blob[cut:])
                self.storage.write(LOG, kept)
                done.append(f"moved an incomplete last entry ({len(blob) - cut} bytes) to {aside}")
            if self._last_line() is not None or self.head() is not None:
                _, notes = self.checked_head()
                done.extend(notes)
            done.extend(self._clear_intents())
        return done

    def _clear_intents(self) -> list[str]:
        listed = {key for e in self.entries() for key in e.object_keys().values()}
        done = []
        for intent in list(self.storage.keys(PENDING)):
            try:
                named = json.loads(self.storage.read(intent)).get("objects", [])
            except (KeyError, ValueError, AttributeError):
                named = []
            for key in named:
                if isinstance(key, str) and digest_of_key(key) and key not in listed:
                    try:
                        data = self.storage.read(key)
                    except KeyError:
                        continue
                    aside = f"{QUARANTINE}{key.rsplit('/', 2)[-2]}{key.rsplit('/', 1)[-1]}"
                    self.storage.write(aside, data)
                    self.storage.remove(key)
                    done.append(f"moved unlisted {key} (left by an interrupted add) to {aside}")
            self.storage.remove(intent)
            done.append(f"removed the stale intent {intent}")
        return done
