"""What a check of an archive or a bundle found, and the findings both kinds of check share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from govrl.archive.log import GENESIS, LOG, Head, Line
from govrl.archive.storage import CorruptMember, Storage

Severity = Literal["error", "warning"]
# "archive": the folder or bundle is intact and complete and its entries are true to their
# documents; "documents": every document standing in it verifies, under a pinned policy.
Area = Literal["archive", "documents"]


@dataclass(frozen=True)
class Finding:
    """One thing wrong (error) or worth knowing (warning), named by file and entry."""

    severity: Severity
    code: str
    message: str
    file: str
    sequence: int | None = None
    area: Area = "archive"

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class CheckpointState:
    """The checkpoint a check relied on: the latest one, or the bundle's."""

    tree_size: int
    root_hash: str
    time: str
    signed: bool
    signer: str | None
    trusted: bool | None

    def describe(self) -> str:
        if not self.signed:
            return f"checkpoint {self.tree_size} UNSIGNED"
        trust = {True: "trusted", False: "NOT TRUSTED", None: "trust not checked"}[self.trusted]
        return f"checkpoint {self.tree_size} signed by {self.signer} ({trust})"


@dataclass
class ArchiveReport:
    source: str
    kind: Literal["store", "bundle"]
    entries: int = 0
    objects: int = 0
    head: Head | None = None
    signatures_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    checkpoint: CheckpointState | None = None
    consistency: dict[str, Any] | None = None  # the proof from --expect-checkpoint's tree
    documents_checked: bool = False  # the signatures were re-verified
    withdrawn: dict[int, int] = field(default_factory=dict)  # withdrawn entry -> withdrawing
    pinned_from: str | None = None  # where the pinned policies came from, if any were
    any_policy: bool = False  # told to accept whatever policy each entry names

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def archive_ok(self) -> bool:
        """Intact and complete: every object, the chain, the tree, and entries true to
        their documents."""
        return not any(f.area == "archive" for f in self.errors)

    @property
    def documents_ok(self) -> bool:
        """Every document not withdrawn verifies (as far as it was checked)."""
        return not any(f.area == "documents" for f in self.errors)

    def error(
        self,
        code: str,
        file: str,
        message: str,
        sequence: int | None = None,
        *,
        area: Area = "archive",
    ) -> None:
        self.findings.append(Finding("error", code, message, file, sequence, area))

    def warn(
        self,
        code: str,
        file: str,
        message: str,
        sequence: int | None = None,
        *,
        area: Area = "archive",
    ) -> None:
        self.findings.append(Finding("warning", code, message, file, sequence, area))

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "ok": self.ok,
            "entries": self.entries,
            "objects": self.objects,
            "head": {"sequence": self.head.sequence, "hash": self.head.hash} if self.head else None,
            "signatures_checked": self.signatures_checked,
            "archive": {"ok": self.archive_ok},
            "documents": {
                "ok": self.documents_ok,
                "checked": self.documents_checked,
                "withdrawn": {str(k): v for k, v in sorted(self.withdrawn.items())},
                "pinned_from": self.pinned_from,
                "any_policy": self.any_policy,
            },
            "checkpoint": vars(self.checkpoint) if self.checkpoint else None,
            "consistency": self.consistency,
            "errors": [f.as_dict() for f in self.errors],
            "warnings": [f.as_dict() for f in self.warnings],
        }


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


def check_expected(report: ArchiveReport, expected: Head, hashes: dict[int, str]) -> None:
    """The head the caller was told of must be in the chain, at its place."""
    found = hashes.get(expected.sequence, GENESIS if expected.sequence == 0 else None)
    if found != expected.hash:
        report.error(
            "head-unexpected",
            LOG,
            f"entry {expected.sequence} should hash to {expected.hash} (the head you gave), "
            f"but {'it hashes to ' + found if found else 'there is no such entry'}",
            expected.sequence,
        )


def digest_or_trouble(storage: Storage, key: str) -> tuple[str | None, str | None]:
    """The content's digest, or why it could not be read."""
    try:
        return storage.digest(key), None
    except KeyError:
        return None, "missing"
    except CorruptMember as exc:
        return None, f"unreadable ({exc.reason})"


def named_by(users: list[tuple[int, str]]) -> str:
    """``; it is entry 3's record, …`` for a message about an object, or nothing."""
    if not users:
        return ""
    return "; it is " + ", ".join(f"entry {seq}'s {role}" for seq, role in users)
