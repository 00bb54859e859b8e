"""What a bundle's receiver checks: no member read unsafely, files against the manifest,
entries against the chain, and (in proofs) the entries against the signed checkpoint."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from pydantic import ValidationError

from govrl.archive.log import GENESIS, LOG, OBJECTS, Entry, Head, Line, digest_of_key, split_log
from govrl.archive.manifest import MANIFEST, SUMS, VERSION, Manifest
from govrl.archive.proofs import check_proofs
from govrl.archive.report import (
    ArchiveReport,
    check_expected,
    digest_or_trouble,
    line_problem,
    named_by,
)
from govrl.archive.storage import MAX_INDEX, CorruptMember, ZipStorage
from govrl.archive.withdrawals import check_withdrawals
from govrl.record.identity import digest_of

if TYPE_CHECKING:
    from govrl.archive.checkpoint import Checkpoint


def check_bundle(
    report: ArchiveReport,
    storage: ZipStorage,
    expect_head: Head | None,
    expect_checkpoint: Checkpoint | None = None,
    trust: tuple[bytes, ...] | None = None,
) -> tuple[list[Entry], set[str]]:
    """Every check but the documents' signatures; returns the entries and the names intact."""
    for name, why in sorted(storage.refused.items()):
        report.error("bundle-unsafe", name, why)
    for name, count in sorted(Counter(storage.names).items()):
        if count > 1:
            report.error("bundle-duplicate", name, f"appears {count} times in the zip")
    try:
        raw_manifest = storage.read(MANIFEST, MAX_INDEX)
        manifest = Manifest.model_validate_json(raw_manifest)
    except KeyError:
        report.error("bundle-manifest", MANIFEST, "missing: this is not a govrl archive bundle")
        return [], set()
    except CorruptMember as exc:
        report.error("bundle-manifest", MANIFEST, exc.reason)
        return [], set()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        report.error("bundle-manifest", MANIFEST, f"not a bundle manifest: {where}: {first['msg']}")
        return [], set()
    report.head = Head(manifest.head.sequence, manifest.head.hash)
    intact = _check_files(report, storage, manifest)
    _check_sums(report, storage, manifest, digest_of(raw_manifest))
    lines = _check_chain(report, storage, manifest)
    entries = [line.entry for line in lines if line.entry is not None]
    check_withdrawals(report, entries, dict(enumerate(manifest.chain, 1)))
    if manifest.version < VERSION:
        report.error(
            "bundle-format",
            MANIFEST,
            f"a version {manifest.version} bundle, made before bundles carried a signed "
            "checkpoint and proofs: it cannot show that it holds all of its system's entries; "
            "ask for a new export",
        )
    else:
        check_proofs(report, storage, manifest, lines, expect_checkpoint, trust)
    names = set(storage.names)
    for entry in entries:
        for role, key in entry.object_keys().items():
            if key not in names and key not in manifest.files:  # else reported as removed
                report.error("object-missing", key, f"missing{named_by([(entry.sequence, role)])}")
    if expect_head is not None:
        check_expected(report, expect_head, dict(enumerate(manifest.chain, 1)))
    report.entries = len(entries)
    report.objects = sum(1 for name in names if name.startswith(OBJECTS))
    return entries, intact


def _check_files(report: ArchiveReport, storage: ZipStorage, manifest: Manifest) -> set[str]:
    """Each file hashes as the manifest lists it (and an object as its name says)."""
    intact = set()
    for name in sorted(set(storage.names) - {MANIFEST, SUMS}):
        actual, trouble = digest_or_trouble(storage, name)
        listed = manifest.files.get(name)
        claimed = digest_of_key(name)
        if listed is None:
            report.error(
                "bundle-unlisted", name, "in the zip but not in manifest.json: added after export"
            )
        elif actual != listed:
            report.error(
                "bundle-changed",
                name,
                f"changed: it hashes to {actual or trouble}, manifest.json lists {listed}",
            )
        elif claimed is not None and claimed != actual:
            report.error("object-changed", name, f"content hashes to {actual}, not to its name")
        else:
            intact.add(name)
    for name in sorted(set(manifest.files) - set(storage.names) - set(storage.refused)):
        report.error("bundle-missing", name, "listed in manifest.json but not in the zip: removed")
    return intact


def _check_sums(
    report: ArchiveReport, storage: ZipStorage, manifest: Manifest, manifest_digest: str
) -> None:
    """SHA256SUMS, for `sha256sum -c`, must say what the manifest says."""
    try:
        text = storage.read(SUMS, MAX_INDEX).decode("utf-8", "replace")
    except KeyError:
        report.error("bundle-sums", SUMS, "missing")
        return
    except CorruptMember:
        return  # reported with the files
    sums: dict[str, str] = {}
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        sums[name] = "sha256:" + digest
    expected = {**manifest.files, MANIFEST: manifest_digest}
    for name in sorted(set(sums) | set(expected)):
        if sums.get(name) != expected.get(name):
            report.error(
                "bundle-sums",
                SUMS,
                f"{name}: lists {sums.get(name, 'nothing')}, but manifest.json (or the "
                f"manifest itself) has {expected.get(name, 'nothing')}",
            )


def _check_chain(report: ArchiveReport, storage: ZipStorage, manifest: Manifest) -> list[Line]:
    """The bundle's entries are in order and each is the one the archive's chain recorded;
    returns the lines that hold entries."""
    chain = manifest.chain
    if len(chain) != manifest.head.sequence or (chain and chain[-1] != manifest.head.hash):
        report.error(
            "bundle-chain",
            MANIFEST,
            f"the chain ({len(chain)} hashes) does not end at the head it records "
            f"(entry {manifest.head.sequence}, {manifest.head.hash})",
        )
    try:
        lines = split_log(storage.read(LOG, MAX_INDEX))
    except (KeyError, CorruptMember):
        return []  # reported with the files
    kept: list[Line] = []
    last = 0
    for line in lines:
        if line_problem(report, line):
            continue
        entry = line.entry
        assert entry is not None
        seq = entry.sequence
        if seq <= last:
            report.error(
                "entry-out-of-place",
                LOG,
                f"line {line.number} holds entry {seq} after entry {last}: entries were "
                "reordered or repeated",
                seq,
            )
        if seq > len(chain):
            report.error("bundle-chain", LOG, f"entry {seq} is past the head", seq)
        elif chain[seq - 1] != line.hash:
            report.error(
                "entry-changed",
                LOG,
                f"entry {seq} (line {line.number}) was changed: it hashes to {line.hash}, "
                f"the archive's chain records {chain[seq - 1]}",
                seq,
            )
        elif entry.prev != (chain[seq - 2] if seq > 1 else GENESIS):
            report.error(
                "chain-broken", LOG, f"entry {seq} does not name entry {seq - 1}'s hash", seq
            )
        if entry.system.id != manifest.system:
            report.error(
                "bundle-foreign", LOG, f"entry {seq} is for system {entry.system.id!r}", seq
            )
        last = max(last, seq)
        kept.append(line)
    logged = sorted(line.entry.sequence for line in kept if line.entry is not None)
    listed = sorted(e.sequence for e in manifest.entries)
    if logged != listed:
        report.error(
            "bundle-entries",
            MANIFEST,
            f"lists entries {_span(listed)}, but log.jsonl holds entries {_span(logged)}",
        )
    return kept


def _span(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers)) or "none"
