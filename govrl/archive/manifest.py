"""The bundle's format: the names of its fixed files and the manifest that lists the rest."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt

from govrl.archive.log import Digest, FrozenModel, Short, Timestamp

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
README = "README.txt"
FORMAT = "govrl-archive-bundle"


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
    version: Literal[1]
    system: Short
    exported_at: Timestamp
    exported_by: Short
    head: HeadRef
    chain: list[Digest]
    entries: list[BundleEntry]
    files: dict[str, Digest]
