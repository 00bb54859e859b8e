"""The bundle's format: the names of its fixed files, the manifest that lists the rest, and
the proofs that tie its entries to the archive's signed checkpoint."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt

from govrl.archive.log import Digest, FrozenModel, Short, Timestamp

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
README = "README.txt"
CHECKPOINT = "checkpoint.json"
PROOFS = "proofs.json"
FORMAT = "govrl-archive-bundle"
VERSION: Literal[2] = 2
PROOFS_FORMAT = "govrl-bundle-proofs/1"


class HeadRef(FrozenModel):
    sequence: Annotated[StrictInt, Field(ge=0)]
    hash: Digest


class BundleEntry(FrozenModel):
    sequence: Annotated[StrictInt, Field(ge=1)]
    version: Short | None
    kind: Short | None
    verdict: Short | None
    valid_until: Short | None
    document: Short
    record: Short
    policy: Short


class Manifest(FrozenModel):
    """What the bundle holds and the digests it must have; the receiver checks against it."""

    format: Literal["govrl-archive-bundle"]
    version: Literal[1, 2]  # 1: made before bundles carried a checkpoint and proofs
    system: Short
    exported_at: Timestamp
    exported_by: Short
    head: HeadRef
    chain: list[Digest]
    entries: list[BundleEntry]
    files: dict[str, Digest]


class EntryProof(FrozenModel):
    """An entry's leaf hash and its inclusion proof (RFC 9162 §2.1.3) in the checkpoint's tree."""

    sequence: Annotated[StrictInt, Field(ge=1)]
    leaf_hash: Digest
    inclusion: list[Digest]


class SystemRow(FrozenModel):
    """The system's row of the checkpoint's system index: its entry count and latest entry."""

    system: Short
    entries: Annotated[StrictInt, Field(ge=0)]
    last: Annotated[StrictInt, Field(ge=0)]


class Proofs(FrozenModel):
    """proofs.json: what ties the bundle to checkpoint.json, and shows it holds every entry
    of its system up to it."""

    format: Literal["govrl-bundle-proofs/1"]
    tree_size: Annotated[StrictInt, Field(ge=0)]
    root_hash: Digest
    leaves: list[Digest]
    entries: list[EntryProof]
    system: SystemRow
    systems: list[Digest]
