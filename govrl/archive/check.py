"""Checking an archive folder or a bundle: its own checks first, then every signature."""

from __future__ import annotations

from typing import TYPE_CHECKING

from govrl.archive.bundle_checks import check_bundle
from govrl.archive.checkpoint import anchors_der
from govrl.archive.collector import collector_paused
from govrl.archive.log import LOG
from govrl.archive.policies import Pins, check_pins
from govrl.archive.report import ArchiveReport
from govrl.archive.signatures import check_all
from govrl.archive.storage import ZipStorage
from govrl.archive.store_checks import check_store

if TYPE_CHECKING:
    from pathlib import Path

    from cryptography import x509

    from govrl.archive.checkpoint import Checkpoint
    from govrl.archive.log import Entry, Head
    from govrl.archive.store import Archive


def verify_store(
    archive: Archive,
    *,
    signatures: bool = True,
    trust: list[x509.Certificate] | None = None,
    expect_head: Head | None = None,
    expect_checkpoint: Checkpoint | None = None,
    jobs: int | None = None,
    pins: Pins | None = None,
    any_policy: bool = False,
) -> ArchiveReport:
    """Check every object, the chain, HEAD, the tree's checkpoints and (unless told not to)
    every signature, the earlier checkpoints' included; ``expect_checkpoint`` must be a
    prefix of today's tree, and every entry standing must name one of the ``pins``.

    Judging documents without pinned policies fails, unless ``any_policy`` accepts whatever
    policy each entry names (the report says so)."""
    archive.require()
    report = ArchiveReport(archive.where(), "store")
    # A few objects per entry, none in a cycle: with the collector running, checking
    # 100,000 entries took twice as long.
    with collector_paused():
        entries, intact = check_store(
            report, archive.storage, expect_head, expect_checkpoint, anchors_der(trust), signatures
        )
    _judge_policies(report, entries, pins, any_policy=any_policy, signatures=signatures)
    if signatures:
        check_all(report, archive.storage, entries, intact, trust, jobs=jobs)
    return report


def verify_bundle(
    path: Path,
    *,
    signatures: bool = True,
    trust: list[x509.Certificate] | None = None,
    expect_head: Head | None = None,
    expect_checkpoint: Checkpoint | None = None,
    jobs: int | None = None,
    pins: Pins | None = None,
    any_policy: bool = False,
) -> ArchiveReport:
    """Check a bundle made by ``archive export`` as a receiver would: its files, its entries'
    proofs against its checkpoint, that it holds all of its system's entries, signatures,
    and that every entry standing names one of the ``pins`` (as ``verify_store``)."""
    storage = ZipStorage(path)
    report = ArchiveReport(str(path), "bundle")
    try:
        with collector_paused():
            entries, intact = check_bundle(
                report, storage, expect_head, expect_checkpoint, anchors_der(trust)
            )
        _judge_policies(report, entries, pins, any_policy=any_policy, signatures=signatures)
        if signatures:
            check_all(report, storage, entries, intact, trust, jobs=jobs)
    finally:
        storage.close()
    return report


def _judge_policies(
    report: ArchiveReport,
    entries: list[Entry],
    pins: Pins | None,
    *,
    any_policy: bool,
    signatures: bool,
) -> None:
    """Entries against the pinned policies; when documents are judged, no pins is a failure
    unless ``any_policy`` says to accept any policy."""
    if pins is not None:
        check_pins(report, entries, pins, report.withdrawn)
    elif any_policy:
        report.any_policy = True
    elif signatures:
        report.error(
            "policies-not-pinned",
            LOG,
            "no policy is pinned, so nothing says which policies this organisation accepts: "
            "pass --policy FILE (repeatable) or set [policy] pinned in govrl.toml; "
            "--any-policy accepts whatever policy each entry names",
            area="documents",
        )
