"""A bundle's proofs: made by ``export`` from the log, checked by the bundle's receiver.

proofs.json carries the leaf hash of every entry up to the checkpoint, an inclusion proof
for each of the bundle's entries, and the system's row of the checkpoint's system index
with the digests of the other rows, so that the receiver can count the system's entries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from govrl.archive.checkpoint import Checkpoint, check_signature, describe, parse_checkpoint
from govrl.archive.log import LOG, Entry, Line
from govrl.archive.manifest import (
    CHECKPOINT,
    PROOFS,
    PROOFS_FORMAT,
    EntryProof,
    Manifest,
    Proofs,
    SystemRow,
)
from govrl.archive.merkle import MerkleTree, leaf_hash, root_of, verify_inclusion
from govrl.archive.report import ArchiveReport
from govrl.archive.storage import MAX_INDEX, CorruptMember, ZipStorage
from govrl.archive.tree import SystemIndex, hexdigest, raw_digest, system_row, systems_digest
from govrl.archive.tree_checks import judge_expected, report_unsigned, state_of

_CHANGED = {"entry-changed", "chain-broken", "bundle-chain"}


class ProofMismatch(ValueError):
    """The log does not hash to the checkpoint it is exported under."""


def build_proofs(lines: Sequence[bytes], system: str, checkpoint: Checkpoint) -> Proofs:
    """Proofs for every entry of ``system`` among ``lines`` (the whole log, up to the
    checkpoint's size), which must hash to the checkpoint's root and system index."""
    body = checkpoint.body
    leaves = [leaf_hash(line) for line in lines[: body.tree_size]]
    tree = MerkleTree(leaves)
    if hexdigest(tree.root()) != body.root_hash:
        raise ProofMismatch(f"the log's first {body.tree_size} entries do not hash to the root")
    index = SystemIndex()
    positions = []
    for position, raw in enumerate(lines[: body.tree_size], 1):
        entry = Entry.model_validate_json(raw)
        index.add(entry.system.id, position)
        if entry.system.id == system:
            positions.append(position)
    if index.digest() != body.systems:
        raise ProofMismatch("the log's entries do not give the checkpoint's system index")
    entries, last = index.counts.get(system, (0, 0))
    return Proofs(
        format=PROOFS_FORMAT,
        tree_size=body.tree_size,
        root_hash=body.root_hash,
        leaves=[hexdigest(leaf) for leaf in leaves],
        entries=[
            EntryProof(
                sequence=p,
                leaf_hash=hexdigest(leaves[p - 1]),
                inclusion=[hexdigest(h) for h in tree.inclusion_proof(p - 1)],
            )
            for p in positions
        ],
        system=SystemRow(system=system, entries=entries, last=last),
        systems=index.row_digests(),
    )


def check_proofs(
    report: ArchiveReport,
    storage: ZipStorage,
    manifest: Manifest,
    lines: list[Line],
    expected: Checkpoint | None,
    trust: tuple[bytes, ...] | None,
) -> None:
    """The bundle's entries are in the signed tree, and they are all its system's entries."""
    checkpoint = _read_checkpoint(report, storage)
    proofs = _read_proofs(report, storage)
    if checkpoint is None or proofs is None:
        return
    check = check_signature(checkpoint, trust)
    report.checkpoint = state_of(checkpoint, check)
    if checkpoint.signed and check.problems:
        report.error("checkpoint-signature", CHECKPOINT, "; ".join(check.problems))
    elif not checkpoint.signed:
        report_unsigned(report, CHECKPOINT, "the bundle's checkpoint", trust)
    body = checkpoint.body
    leaves = [raw_digest(h) for h in proofs.leaves]
    if (proofs.tree_size, proofs.root_hash) != (body.tree_size, body.root_hash) or (
        len(leaves) != body.tree_size or root_of(leaves) != raw_digest(body.root_hash)
    ):
        report.error(
            "bundle-proofs",
            PROOFS,
            f"its {len(leaves)} leaf hashes do not make the tree of {describe(checkpoint)}",
        )
        return
    if manifest.chain[-1:] != [body.head] or manifest.head.sequence != body.tree_size:
        report.error(
            "bundle-proofs",
            CHECKPOINT,
            f"it names entry {body.tree_size}'s hash {body.head}, but the manifest's chain and "
            f"head end at entry {manifest.head.sequence}",
        )
    held = _check_inclusion(report, proofs, lines, manifest.system)
    _check_complete(report, proofs, body.systems, manifest.system, held)
    if expected is not None:
        judge_expected(
            report,
            expected,
            origin=body.origin,
            size=body.tree_size,
            root_at=lambda n: hexdigest(root_of(leaves[:n])) if n <= len(leaves) else None,
            latest=(checkpoint, check),
            leaves=lambda: leaves,
            trust=trust,
        )


def _read_checkpoint(report: ArchiveReport, storage: ZipStorage) -> Checkpoint | None:
    try:
        return parse_checkpoint(storage.read(CHECKPOINT, MAX_INDEX), CHECKPOINT)
    except KeyError:
        report.error(
            "bundle-checkpoint",
            CHECKPOINT,
            "missing: nothing shows that the bundle's entries are the archive's, or all of them",
        )
    except CorruptMember:
        pass  # reported with the files
    except ValueError as exc:
        report.error("bundle-checkpoint", CHECKPOINT, str(exc).removeprefix(f"{CHECKPOINT}: "))
    return None


def _read_proofs(report: ArchiveReport, storage: ZipStorage) -> Proofs | None:
    try:
        return Proofs.model_validate_json(storage.read(PROOFS, MAX_INDEX))
    except KeyError:
        report.error("bundle-proofs", PROOFS, "missing: the entries' proofs are gone")
    except CorruptMember:
        pass
    except ValueError as exc:
        report.error("bundle-proofs", PROOFS, f"not the bundle's proofs: {exc}".splitlines()[0])
    return None


def _check_inclusion(
    report: ArchiveReport, proofs: Proofs, lines: list[Line], system: str
) -> list[int]:
    """Each entry's line is the leaf its proof leads from; returns the positions of the
    system's entries the bundle holds (a failed proof is its own error, not a missing entry).
    """
    by_sequence = {p.sequence: p for p in proofs.entries}
    root = raw_digest(proofs.root_hash)
    changed = {f.sequence for f in report.errors if f.code in _CHANGED}
    held = []
    for line in lines:
        entry = line.entry
        if entry is None:
            continue
        seq = entry.sequence
        if entry.system.id == system:
            held.append(seq)
        proof = by_sequence.get(seq)
        leaf = leaf_hash(line.raw)
        if seq in changed:
            continue  # the chain's check named it already: one finding per change
        if proof is None:
            report.error("bundle-proof", PROOFS, f"entry {seq} has no inclusion proof", seq)
        elif proof.leaf_hash != hexdigest(leaf) or not verify_inclusion(
            leaf, seq - 1, proofs.tree_size, [raw_digest(h) for h in proof.inclusion], root
        ):
            report.error(
                "bundle-proof",
                LOG,
                f"entry {seq} (line {line.number}) is not in the checkpoint's tree at position "
                f"{seq}: its inclusion proof fails (the entry or the proof was changed)",
                seq,
            )
    return sorted(set(held))


def _check_complete(
    report: ArchiveReport, proofs: Proofs, signed: str, system: str, held: list[int]
) -> None:
    """The checkpoint's system index counts the system's entries; the bundle must hold as many."""
    row = proofs.system
    digest = hexdigest(hashlib.sha256(system_row(row.system, row.entries, row.last)).digest())
    others = list(proofs.systems)
    if row.system != system or digest not in others:
        report.error(
            "bundle-incomplete",
            PROOFS,
            f"the system row is not {system!r}'s row of the checkpoint's system index",
        )
        return
    if systems_digest(raw_digest(d) for d in others) != signed:
        report.error(
            "bundle-incomplete",
            PROOFS,
            "the system index rows do not make the index the checkpoint signed",
        )
        return
    if len(held) == row.entries and (not held or held[-1] == row.last):
        return
    missing = row.entries - len(held)
    counted = (
        f"the checkpoint counts {row.entries} entries of {system!r} up to entry "
        f"{proofs.tree_size} (its latest is entry {row.last}); the bundle proves "
        f"{len(held)} ({_span(held)})"
    )
    if missing > 0:
        latest = "" if row.last in held else f", entry {row.last} among them"
        counted += f": {missing} {'is' if missing == 1 else 'are'} missing{latest}"
    report.error("bundle-incomplete", LOG, counted, None if row.last in held else row.last)


def _span(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers)) or "none"
