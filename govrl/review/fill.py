"""Answering checklist items: what is still open, and saving one answer at a time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govrl.errors import UsageError
from govrl.record import AssessmentRecord
from govrl.record.files import update_record
from govrl.record.governance import ChecklistResponses, ItemResponse
from govrl.review.checklist import Checklist, ChecklistLibrary, Item
from govrl.vocabulary import Answer

ANSWER_WORDS: dict[str, Answer] = {
    "y": Answer.YES,
    "yes": Answer.YES,
    "p": Answer.PARTIAL,
    "partial": Answer.PARTIAL,
    "n": Answer.NO,
    "no": Answer.NO,
    "na": Answer.NOT_APPLICABLE,
    "n/a": Answer.NOT_APPLICABLE,
    "not-applicable": Answer.NOT_APPLICABLE,
    "not applicable": Answer.NOT_APPLICABLE,
}
FIELDS = ("checklist", "item", "answer", "evidence", "notes", "reason", "answered_by")
REQUIRED = ("checklist", "item", "answer")
EVIDENCE_SEPARATOR = ";"


def parse_answer(word: str) -> Answer | None:
    """The answer a word stands for (``y``, ``partial``, ``na``, ...), or None."""
    return ANSWER_WORDS.get(" ".join(word.strip().lower().split()))


def now_utc() -> dt.datetime:
    """The current time in UTC, to the second, as answers record it."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class PendingItem:
    """One checklist item to answer, with the answer the record already holds, if any."""

    checklist: Checklist
    item: Item
    current: ItemResponse | None = None

    @property
    def section_title(self) -> str:
        return self.checklist.section_title(self.item.section)


def attached_checklists(
    record: AssessmentRecord, library: ChecklistLibrary
) -> list[tuple[ChecklistResponses, Checklist]]:
    """Each checklist the record attaches, with its definition from the library."""
    missing = [c.id for c in record.checklists if c.id not in library.checklists]
    if missing:
        known = ", ".join(sorted(library.checklists)) or "none"
        raise UsageError(
            f"the record attaches checklist(s) govrl cannot find: {', '.join(missing)} "
            f"(known: {known})",
            hint="pass the folder that holds them with --checklists DIR "
            "or set $GOVRL_CHECKLIST_PATH",
        )
    return [(c, library.checklists[c.id]) for c in record.checklists]


def version_warnings(record: AssessmentRecord, library: ChecklistLibrary) -> list[str]:
    """Attached checklists whose version differs from the one the questions come from."""
    return [
        f"the record attaches {responses.id} {responses.version}, but the questions "
        f"come from {checklist.id} {checklist.version} ({library.origins[checklist.id]})"
        for responses, checklist in attached_checklists(record, library)
        if responses.version != checklist.version
    ]


def pending_items(
    record: AssessmentRecord,
    library: ChecklistLibrary,
    *,
    include_answered: bool = False,
    section: str | None = None,
    checklist_id: str | None = None,
) -> list[PendingItem]:
    """Items that apply at the record's risk tier, in checklist then file order.

    Only unanswered ones unless ``include_answered``; ``section`` and
    ``checklist_id`` narrow the list and must name something attached.
    """
    attached = attached_checklists(record, library)
    if checklist_id is not None:
        ids = [c.id for _, c in attached]
        if checklist_id not in ids:
            raise UsageError(
                f"checklist {checklist_id!r} is not attached to this record "
                f"(attached: {', '.join(ids) or 'none'})"
            )
        attached = [(r, c) for r, c in attached if c.id == checklist_id]
    if section is not None:
        known = list(dict.fromkeys(s.id for _, c in attached for s in c.sections))
        if section not in known:
            raise UsageError(f"no section {section!r} (known: {', '.join(known) or 'none'})")
    tier = record.system.risk_tier
    pending: list[PendingItem] = []
    for responses, checklist in attached:
        for item in checklist.applicable(tier):
            if section is not None and item.section != section:
                continue
            current = responses.items.get(item.id)
            if current is None or include_answered:
                pending.append(PendingItem(checklist, item, current))
    return pending


def checklist_entry(tree: Any, checklist_id: str) -> Any:
    for entry in tree.get("checklists") or []:
        if isinstance(entry, Mapping) and entry.get("id") == checklist_id:
            return entry
    raise UsageError(f"checklist {checklist_id!r} is not attached to this record")


def set_answers(tree: Any, answers: list[tuple[str, str, dict[str, Any]]]) -> None:
    for checklist_id, item_id, data in answers:
        entry = checklist_entry(tree, checklist_id)
        items = entry.get("items")
        if not isinstance(items, Mapping):
            items = entry["items"] = {}
        style = getattr(items, "fa", None)  # ruamel keeps `items: {}` in flow style otherwise
        if style is not None:
            style.set_block_style()
        items[item_id] = _quoted_answer(data)


def _quoted_answer(data: dict[str, Any]) -> dict[str, Any]:
    """Quote the answer word: YAML 1.1 readers would take a bare yes or no for a boolean."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    return {**data, "answer": DoubleQuotedScalarString(data["answer"])}


def save_answer(
    path: Path, checklist_id: str, item_id: str, response: ItemResponse
) -> AssessmentRecord:
    """Write one answer into the record at ``path`` atomically, keeping comments."""
    data = response.model_dump(mode="json", exclude_none=True)
    return update_record(path, lambda tree: set_answers(tree, [(checklist_id, item_id, data)]))
