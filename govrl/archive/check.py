"""Checking an archive folder or a bundle: its own checks first, then every signature."""

from __future__ import annotations

from typing import TYPE_CHECKING

from govrl.archive.bundle_checks import check_bundle
from govrl.archive.report import ArchiveReport
from govrl.archive.signatures import check_all
from govrl.archive.storage import ZipStorage
from govrl.archive.store_checks import check_store

if TYPE_CHECKING:
    from pathlib import Path

    from cryptography import x509

    from govrl.archive.log import Head
    from govrl.archive.store import Archive


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
    report = ArchiveReport(archive.where(), "store")
    entries, intact = check_store(report, archive.storage, expect_head)
    if signatures:
        check_all(report, archive.storage, entries, intact, trust, jobs=jobs)
    return report


def verify_bundle(
    path: Path,
    *,
    signatures: bool = True,
    trust: list[x509.Certificate] | None = None,
    expect_head: Head | None = None,
    jobs: int | None = None,
) -> ArchiveReport:
    """Check a bundle made by ``archive export`` as a receiver would."""
    storage = ZipStorage(path)
    report = ArchiveReport(str(path), "bundle")
    try:
        entries, intact = check_bundle(report, storage, expect_head)
        if signatures:
            check_all(report, storage, entries, intact, trust, jobs=jobs)
    finally:
        storage.close()
    return report
