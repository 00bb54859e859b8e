"""Re-verifying every archived document's signatures, on every core when there are many.

Checking a signed approval costs about 70 ms (15 pages, four signatures), all of it
CPU, so documents are checked in forked worker processes. Fork only: a spawned
worker would re-run ``python -m govrl`` as its main module.
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from functools import cache
from typing import TYPE_CHECKING

from govrl.archive.agreement import disagreements
from govrl.archive.collector import collector_paused
from govrl.archive.documents import Checked, check_bytes
from govrl.archive.log import LOG
from govrl.archive.storage import CorruptMember, Storage
from govrl.errors import GovrlError

if TYPE_CHECKING:
    from cryptography import x509

    from govrl.archive.log import Entry
    from govrl.archive.report import ArchiveReport
    from govrl.review.policy import Policy

# (document, its key, policy, its key, trusted roots as DER, the day to judge expiry by)
_Task = tuple[bytes, str, bytes, str, tuple[bytes, ...], dt.date]
_BATCH = 16  # documents in flight per worker: bounds memory at a few MB per worker


def check_all(
    report: ArchiveReport,
    storage: Storage,
    entries: list[Entry],
    intact: set[str],
    trust: list[x509.Certificate] | None,
    *,
    jobs: int | None = None,
) -> None:
    """Re-run ``verify`` on each intact document, judging expiry as of the day it was added;
    a withdrawing entry repeats the facts of the one it withdraws and is not checked again."""
    todo: list[Entry] = []
    skipped: list[Entry] = []
    intact_entries = [
        e for e in entries if e.withdraws is None and e.object_keys()["document"] in intact
    ]
    policies = {key: _policy_bytes(report, storage, key) for key in _policy_keys(intact_entries)}
    for entry in intact_entries:
        (todo if policies[entry.object_keys()["policy"]] is not None else skipped).append(entry)
    for entry in skipped:
        if entry.sequence not in report.withdrawn:
            report.error(
                "signature-skipped",
                entry.object_keys()["policy"],
                f"entry {entry.sequence}'s signatures not checked: its policy is unavailable",
                entry.sequence,
                area="documents",
            )
    report.documents_checked = True
    roots = tuple(_der(cert) for cert in trust or [])
    tasks = (_task(storage, entry, policies, roots) for entry in todo)
    results = _run(tasks, len(todo), jobs)
    for entry, checked in zip(todo, results, strict=True):
        _judge(report, entry, checked)
        report.signatures_checked += 1


def _task(
    storage: Storage, entry: Entry, policies: dict[str, bytes | None], roots: tuple[bytes, ...]
) -> _Task:
    keys = entry.object_keys()
    document, policy = keys["document"], keys["policy"]
    return (
        storage.read(document),
        document,
        policies[policy] or b"",
        policy,
        roots,
        entry.added_on,
    )


def _policy_keys(entries: list[Entry]) -> list[str]:
    return sorted({e.object_keys()["policy"] for e in entries})


def _policy_bytes(report: ArchiveReport, storage: Storage, key: str) -> bytes | None:
    """The archived policy's bytes, if they are there and still load as a policy."""
    try:
        data = storage.read(key)
        _load_policy(data, key)
    except (KeyError, CorruptMember):
        return None
    except GovrlError as exc:
        report.error("policy-unreadable", key, f"not a valid policy: {exc.message}")
        return None
    return data


def _der(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)


def _run(tasks: Iterator[_Task], count: int, jobs: int | None) -> Iterator[Checked]:
    """Each task's result, in order; with several workers, a window of tasks in flight, a
    new one sent as soon as the oldest is done, so that no worker waits for the others."""
    workers = min(jobs or os.cpu_count() or 1, count)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(_work, tasks)
        return
    _load_verifier()
    gc.freeze()  # a forked worker then copies none of the parent's objects when it collects
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            window: deque[Future[Checked]] = deque()
            for task in tasks:
                window.append(pool.submit(_work, task))
                if len(window) == workers * _BATCH:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
    finally:
        gc.unfreeze()


_VERIFIER_MODULES = (
    "pyhanko.sign.validation",
    "pyhanko_certvalidator",
    "govrl.documents.verification",
    "govrl.documents.verify_revisions",
    "govrl.documents.verify_usages",
    "govrl.review.gate",
)


def _load_verifier() -> None:
    """Import what checking a document imports on first use, before the workers fork: each
    inherits it instead of importing it again."""
    for name in _VERIFIER_MODULES:
        importlib.import_module(name)


def _work(task: _Task) -> Checked:
    document, name, policy, policy_key, roots, on = task
    # Reading a signed PDF makes hundreds of thousands of objects, many in cycles: the
    # collector, left running, took about a seventh of each check.
    with collector_paused(collect_after=True):
        return check_bytes(
            document, name, policy=_load_policy(policy, policy_key), trust=_trust(roots), today=on
        )


@cache
def _trust(roots: tuple[bytes, ...]) -> list[x509.Certificate] | None:
    """The trust anchors, parsed once per process rather than once per document."""
    from cryptography import x509

    return [x509.load_der_x509_certificate(der) for der in roots] or None


@cache
def _load_policy(data: bytes, key: str) -> Policy:
    """Parsed once per process; a forked worker inherits what its parent parsed."""
    from govrl.review.policy import parse_policy

    return parse_policy(data, key)


def _judge(report: ArchiveReport, entry: Entry, checked: Checked) -> None:
    """An entry that misstates its document fails the archive; a document that does not
    verify (now, or already when it was archived) fails the documents, unless withdrawn."""
    where = entry.object_keys()["document"]
    label = f"entry {entry.sequence} ({entry.document.file_name})"
    _compare(report, entry, checked, label)
    if checked.record_digest not in (None, entry.record.digest):
        report.error(
            "record-mismatch",
            where,
            f"{label} carries record {checked.record_digest}, the entry names "
            f"{entry.record.digest}",
            entry.sequence,
        )
    if entry.sequence in report.withdrawn:
        return  # reported as withdrawn; whether it still verifies no longer matters
    archived = set(entry.verification.problems)
    for problem in checked.verification.problems:
        if problem not in archived:
            report.error(
                "signature", where, f"{label}: {problem}", entry.sequence, area="documents"
            )
    if archived:
        report.error(
            "archived-unverified",
            where,
            f"{label} was archived unverified, and fails until withdrawn "
            "(`govrl archive supersede`): " + "; ".join(sorted(archived)),
            entry.sequence,
            area="documents",
        )


def _compare(report: ArchiveReport, entry: Entry, checked: Checked, label: str) -> None:
    """The entry must say what its document says: derived the same way ``add`` derived it."""
    if checked.described is None:
        if checked.undescribed is not None:
            report.error(
                "entry-mismatch",
                LOG,
                f"{label}: the entry describes a govrl document, but the document it names "
                f"is not one: {checked.undescribed}",
                entry.sequence,
            )
        return
    signers = checked.signers if checked.complete else None
    for found in disagreements(entry, checked.described, signers):
        report.error("entry-mismatch", LOG, f"{label}: {found.describe()}", entry.sequence)
