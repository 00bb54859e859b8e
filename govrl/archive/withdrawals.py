"""Withdrawn entries: an entry appended by `archive supersede` names an earlier one by sequence
and hash, repeats its facts, and says why; nothing is ever removed from the log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from govrl.archive.log import LOG

if TYPE_CHECKING:
    from govrl.archive.log import Entry
    from govrl.archive.report import ArchiveReport

# What a withdrawing entry has of its own; every other field repeats the withdrawn entry's.
OWN_FIELDS = {"sequence", "prev", "added_at", "added_by", "withdraws"}


def repeated_facts(entry: Entry) -> dict[str, Any]:
    """The facts a withdrawing entry must repeat from the entry it withdraws."""
    return entry.model_dump(mode="json", exclude=OWN_FIELDS)


def withdrawn_by(entries: list[Entry]) -> dict[int, Entry]:
    """Each withdrawn entry's sequence, with the first entry that withdraws it."""
    found: dict[int, Entry] = {}
    for entry in entries:
        if entry.withdraws is not None:
            found.setdefault(entry.withdraws.sequence, entry)
    return found


def check_withdrawals(
    report: ArchiveReport, entries: list[Entry], hashes: Mapping[int, str]
) -> None:
    """Each withdrawal names an earlier entry by its hash (``hashes``: the chain's, by
    sequence), repeats its facts, and is the first to withdraw it; fills ``report.withdrawn``."""
    by_sequence = {entry.sequence: entry for entry in entries}
    for entry in entries:
        withdrawal = entry.withdraws
        if withdrawal is None:
            continue
        target = by_sequence.get(withdrawal.sequence)
        problem = None
        if withdrawal.sequence >= entry.sequence:
            problem = "that entry is not an earlier one"
        elif target is None:
            problem = "that entry is not here"
        elif hashes.get(withdrawal.sequence) != withdrawal.hash:
            problem = (
                f"names its hash as {withdrawal.hash}, and the chain records "
                f"{hashes.get(withdrawal.sequence, 'no hash')}"
            )
        elif target.withdraws is not None:
            problem = "that entry is itself a withdrawal"
        elif repeated_facts(target) != repeated_facts(entry):
            problem = "does not repeat that entry's facts"
        elif withdrawal.sequence in report.withdrawn:
            problem = f"entry {report.withdrawn[withdrawal.sequence]} withdrew it already"
        if problem is not None:
            report.error(
                "withdrawal-invalid",
                LOG,
                f"entry {entry.sequence} withdraws entry {withdrawal.sequence}, but {problem}",
                entry.sequence,
            )
            continue
        assert target is not None
        report.withdrawn[withdrawal.sequence] = entry.sequence
        report.warn(
            "withdrawn",
            LOG,
            f"entry {target.sequence} ({target.document.file_name}) was withdrawn by entry "
            f"{entry.sequence}, added {entry.added_at[:10]} by {entry.added_by}: "
            f"{withdrawal.reason}",
            target.sequence,
            area="documents",
        )
