"""Answering checklist items: what is still open, and the interview that asks it, saving each
answer at once."""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import textwrap
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from govrl.errors import GovrlError, UsageError
from govrl.record import AssessmentRecord
from govrl.record.files import load_record, update_record
from govrl.record.governance import ChecklistResponses, ItemResponse
from govrl.review.checklist import Checklist, ChecklistLibrary, Item
from govrl.safetext import name_problem, printable
from govrl.vocabulary import Answer, RiskTier

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

ANSWER_PROMPT = "answer [y/p/n/na, s skip, q quit]: "
ANSWER_HELP = "  answer y (yes), p (partial), n (no) or na (not applicable); s skips, q quits"
REASON_PROMPT = "reason it does not apply (required): "
EVIDENCE_PROMPT = "  > "
NOTES_PROMPT = "notes (blank for none): "


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

    @property
    def key(self) -> tuple[str, str]:
        return (self.checklist.id, self.item.id)


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


class EndOfInput(Exception):
    """The person's input ran out; a prompter raises it from ``ask``."""


class Prompter(Protocol):
    """How the interview talks with the person answering: a terminal, or a script in a test."""

    @property
    def width(self) -> int:
        """Columns that wrapped text may fill."""
        ...

    def ask(self, prompt: str) -> str:
        """The line given after ``prompt``, without its line end; EndOfInput when none is left."""
        ...

    def say(self, text: str = "", *, emphasis: bool = False) -> None:
        """Show text in the conversation; ``emphasis`` marks the line that opens an item."""
        ...

    def warn(self, text: str) -> None:
        """Show text beside the conversation: warnings, and why it stopped early."""
        ...


class Stop(StrEnum):
    """Why an interview ended."""

    DONE = "done"
    QUIT = "quit"
    END_OF_INPUT = "end of input"
    INTERRUPTED = "interrupted"


@dataclass
class FillReport:
    """What an interview saved and skipped, and why it ended."""

    path: Path
    pending: int
    saved: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    stopped: Stop = Stop.DONE
    cut_off: str | None = None  # the item whose answer the input ended in; nothing of it is kept


class _Quit(Exception):
    """The person asked to stop."""


class _CutOff(EndOfInput):
    """The input ended after an answer word, before the rest of that item's answer."""

    def __init__(self, item_id: str) -> None:
        super().__init__(item_id)
        self.item_id = item_id


def plural(count: int, word: str) -> str:
    """``count`` and ``word``, with an s unless there is exactly one."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def _wrapped(text: str, width: int, indent: str = "  ") -> str:
    return textwrap.fill(
        printable(" ".join(text.split())),
        width,
        initial_indent=indent,
        subsequent_indent=indent,
    )


def _show_item(
    prompter: Prompter, number: int, total: int, pending: PendingItem, tier: RiskTier
) -> None:
    item = pending.item
    prompter.say()
    prompter.say(
        f"[{number}/{total}] {pending.checklist.id} {item.id} | "
        f"{printable(pending.section_title)} | {item.severity_at(tier).value} at tier {int(tier)}",
        emphasis=True,
    )
    prompter.say(_wrapped(item.question, prompter.width))
    prompter.say("  Evidence asked for:")
    prompter.say(_wrapped(item.evidence, prompter.width, "    "))
    current = pending.current
    if current is not None:
        when = current.answered_at.strftime("%Y-%m-%d %H:%M")
        prompter.say(
            f"  Current answer: {current.answer.value} "
            f"({printable(current.answered_by)}, {when}; s keeps it)"
        )
        for ref in current.evidence:
            prompter.say(f"    - {printable(ref)}")


def _details(prompter: Prompter, answer: Answer) -> dict[str, Any]:
    """The reason (for not-applicable), evidence references and notes of one answer."""
    reason = None
    while answer is Answer.NOT_APPLICABLE and not reason:
        reason = prompter.ask(REASON_PROMPT).strip() or None
        if not reason:
            prompter.say("  a not-applicable answer needs a reason")
    prompter.say("evidence, one reference per line (path, URL, MLflow run or artifact id);")
    prompter.say("a blank line ends the list:")
    evidence = []
    while ref := prompter.ask(EVIDENCE_PROMPT).strip():
        evidence.append(ref)
    notes = prompter.ask(NOTES_PROMPT).strip() or None
    return {"reason": reason, "evidence": evidence, "notes": notes}


def _response(prompter: Prompter, pending: PendingItem, answered_by: str) -> ItemResponse | None:
    """One item's answer from the person, or None if they skip it."""
    while True:
        word = prompter.ask(ANSWER_PROMPT).strip().lower()
        if word == "q":
            raise _Quit
        if word == "s":
            return None
        answer = parse_answer(word)
        if answer is None:
            prompter.say(ANSWER_HELP)
            continue
        try:
            fields = _details(prompter, answer)
        except EndOfInput:
            raise _CutOff(pending.item.id) from None
        try:
            return ItemResponse(
                answer=answer, answered_by=answered_by, answered_at=now_utc(), **fields
            )
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                where = ".".join(str(part) for part in error["loc"])
                prompter.say(f"  not saved: {where}: {error['msg']}; answer the item again")


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C back while an answer is written, so a given answer is never half-kept."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def interview(
    path: Path,
    library: ChecklistLibrary,
    prompter: Prompter,
    *,
    answered_by: str,
    include_answered: bool = False,
    section: str | None = None,
    checklist_id: str | None = None,
) -> FillReport:
    """Ask the pending items of the record at ``path`` and save each answer there at once.

    Stopping early (q, end of input, Ctrl-C) keeps every answer already given.
    """
    unsafe = name_problem(answered_by)
    if unsafe:
        raise UsageError(f"cannot answer as {printable(answered_by)!r}: the name {unsafe}")
    record = load_record(path).record
    for warning in version_warnings(record, library):
        prompter.warn(f"warning: {printable(warning)}")
    items = pending_items(
        record,
        library,
        include_answered=include_answered,
        section=section,
        checklist_id=checklist_id,
    )
    report = FillReport(path, len(items))
    tier = record.system.risk_tier
    if not items:
        prompter.say(
            f"nothing to answer in {path}: every item that applies at tier {int(tier)} "
            "and matches is answered (--all asks them again)"
        )
        return report
    prompter.say(f"{plural(len(items), 'item')} to answer in {path}, as {printable(answered_by)}")
    try:
        for number, pending in enumerate(items, 1):
            _show_item(prompter, number, len(items), pending, tier)
            response = _response(prompter, pending, answered_by)
            if response is None:
                report.skipped.append(pending.key)
                continue
            with _sigint_deferred():
                save_answer(path, pending.checklist.id, pending.item.id, response)
                report.saved.append(pending.key)
            prompter.say(f"saved {pending.item.id}: {response.answer.value}")
    except KeyboardInterrupt:
        report.stopped = Stop.INTERRUPTED
    except _Quit:
        report.stopped = Stop.QUIT
    except EndOfInput as end:
        report.stopped = Stop.END_OF_INPUT
        report.cut_off = end.item_id if isinstance(end, _CutOff) else None
    except GovrlError:
        prompter.warn(f"{plural(len(report.saved), 'answer')} saved before this error")
        raise
    _conclude(prompter, report)
    return report


def _conclude(prompter: Prompter, report: FillReport) -> None:
    saved = plural(len(report.saved), "answer")
    resume = f"run `govrl fill {report.path}` to continue"
    if report.stopped is Stop.INTERRUPTED:
        prompter.warn(f"\nstopped: {saved} saved; {resume}")  # Ctrl-C came mid-line
    elif report.stopped is Stop.QUIT:
        prompter.say(f"stopped: {saved} saved; {resume}")
    elif report.stopped is Stop.END_OF_INPUT:
        cut = f"; {report.cut_off} was cut off and not saved" if report.cut_off else ""
        prompter.say(f"end of input: {saved} saved{cut}; {resume}")
    else:
        skipped = len(report.skipped)
        left = f"; {plural(skipped, 'item')} skipped, {resume}" if skipped else ""
        prompter.say(f"done: {saved} saved{left}")
