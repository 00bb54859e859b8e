"""Importing many checklist answers at once, from YAML or CSV, all or nothing."""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from govrl.errors import InputError, Problem, UsageError
from govrl.record import AssessmentRecord
from govrl.record.files import load_record, update_record
from govrl.record.governance import ItemResponse
from govrl.review.checklist import Checklist, ChecklistLibrary
from govrl.review.fill import (
    EVIDENCE_SEPARATOR,
    FIELDS,
    REQUIRED,
    attached_checklists,
    checklist_entry,
    now_utc,
    parse_answer,
    set_answers,
    version_warnings,
)
from govrl.vocabulary import Answer
from govrl.yamlio import MAX_BYTES, Document, load


@dataclass(frozen=True)
class _Row:
    """One answer as the file gives it, and where it is."""

    fields: dict[Any, Any]
    number: int  # the YAML list index, or the CSV data row counted from 1
    line: int | None
    field_lines: dict[Any, int] = field(default_factory=dict)
    from_csv: bool = False

    def where(self, name: str | None = None) -> str:
        base = f"row {self.number}" if self.from_csv else f"[{self.number}]"
        if name is None:
            return base
        return f"{base} {name}" if self.from_csv else f"{base}.{name}"

    def line_of(self, name: str | None) -> int | None:
        return self.field_lines.get(name, self.line) if name else self.line


@dataclass(frozen=True)
class ImportReport:
    """What an import did: answers new to the record, changed, and already there."""

    path: Path
    source: Path
    new: list[tuple[str, str]] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def written(self) -> bool:
        return bool(self.new or self.changed)

    def as_dict(self) -> dict[str, Any]:
        def ids(pairs: list[tuple[str, str]]) -> list[str]:
            return [f"{c}/{i}" for c, i in pairs]

        return {
            "file": str(self.path),
            "answers": str(self.source),
            "new": ids(self.new),
            "changed": ids(self.changed),
            "unchanged": ids(self.unchanged),
            "warnings": self.warnings,
        }


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError([Problem(f"file is larger than {MAX_BYTES // 2**20} MiB", str(path))])
        return path.read_bytes().decode("utf-8-sig")  # spreadsheets like to add a BOM
    except OSError as exc:
        raise InputError([Problem(f"cannot read: {exc.strerror}", str(path))]) from None
    except UnicodeDecodeError as exc:
        raise InputError([Problem(f"not UTF-8 text (byte {exc.start})", str(path))]) from None


def _yaml_rows(path: Path, problems: list[Problem]) -> list[_Row]:
    doc: Document = load(path)
    if not isinstance(doc.data, list):
        kind = "empty" if doc.data is None else f"a {type(doc.data).__name__}"
        message = f"an answers file must be a YAML list of answers, but it is {kind}"
        raise InputError([Problem(message, doc.source, 1)])
    rows = []
    for index, entry in enumerate(doc.data):
        line = doc.line_of((index,))
        if not isinstance(entry, dict):
            problems.append(
                Problem(
                    "each answer must be a mapping with checklist, item and answer",
                    doc.source,
                    line,
                    f"[{index}]",
                )
            )
            continue
        lines = {key: doc.line_of((index, key)) or line or 0 for key in entry}
        rows.append(_Row(entry, index, line, lines))
    return rows


def _csv_rows(path: Path) -> list[_Row]:
    source = str(path)
    reader = csv.DictReader(io.StringIO(_read_text(path), newline=""), strict=True)
    rows: list[_Row] = []
    try:
        header = reader.fieldnames
        if not header:
            raise InputError([Problem("the CSV file is empty; it needs a header row", source, 1)])
        columns = [c.strip().lower() for c in header]
        unknown = [c for c in columns if c not in FIELDS]
        absent = [c for c in REQUIRED if c not in columns]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if unknown or absent or repeated:
            what = [f"has unknown column(s) {', '.join(unknown)}"] if unknown else []
            what += [f"lacks column(s) {', '.join(absent)}"] if absent else []
            what += [f"repeats column(s) {', '.join(repeated)}"] if repeated else []
            message = f"the header row {'; '.join(what)} (columns: {', '.join(FIELDS)})"
            raise InputError([Problem(message, source, 1)])
        reader.fieldnames = columns
        for number, raw in enumerate(reader, 1):
            fields: dict[Any, Any] = {}
            for key, value in raw.items():
                if key is None:
                    fields[None] = value
                elif key == "evidence":
                    fields[key] = [e.strip() for e in (value or "").split(EVIDENCE_SEPARATOR)]
                elif value is not None:
                    fields[key] = value.replace("\r\n", "\n")
            rows.append(_Row(fields, number, reader.line_num, from_csv=True))
    except csv.Error as exc:
        raise InputError([Problem(f"malformed CSV: {exc}", source, reader.line_num)]) from None
    return rows


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _content(data: Mapping[str, Any]) -> tuple[Any, ...]:
    """What an answer says, leaving out who gave it and when."""
    evidence = [str(e) for e in data.get("evidence") or []]
    return (str(data.get("answer")), evidence, _text(data.get("notes")), _text(data.get("reason")))


_BAD = object()  # a field given with the wrong type, already reported


@dataclass(frozen=True)
class _Context:
    source: str
    record: AssessmentRecord
    attached: dict[str, Checklist]
    answered_by: str
    answered_at: dt.datetime


def _plain_fields(row: _Row, problem: Callable[[str | None, str], None]) -> dict[str, Any]:
    """The row's known fields as text (evidence as a list); type problems reported."""
    values: dict[str, Any] = {}
    for key, value in row.fields.items():
        if key is None:
            problem(None, "has more cells than the header has columns")
        elif key not in FIELDS:
            problem(str(key), f"is not a known field (use {', '.join(FIELDS)})")
        elif key == "evidence":
            refs = [value] if isinstance(value, str) else value
            if refs is not None and not (
                isinstance(refs, list) and all(isinstance(r, str) for r in refs)
            ):
                problem(key, "must be a list of references (paths, URLs, run or artifact ids)")
                values[key] = _BAD
            else:
                values[key] = [r.strip() for r in refs or [] if r.strip()]
        elif value is not None and not isinstance(value, str):
            problem(key, f"must be text (got {value!r})")
            values[key] = _BAD
        else:
            values[key] = value
    return values


def _check_row(row: _Row, ctx: _Context) -> tuple[list[Problem], _Answer | None]:
    problems: list[Problem] = []

    def problem(name: str | None, message: str) -> None:
        problems.append(Problem(message, ctx.source, row.line_of(name), row.where(name)))

    given = _plain_fields(row, problem)
    for name in REQUIRED:
        if _text(given.get(name)) is None:
            problem(name, "is required but missing")
    # a field already reported as the wrong type is not reported again
    values = {key: value for key, value in given.items() if value is not _BAD}
    checklist_id, item_id = _text(values.get("checklist")), _text(values.get("item"))
    checklist = ctx.attached.get(checklist_id) if checklist_id else None
    if checklist_id and checklist is None:
        problem(
            "checklist",
            f"checklist {checklist_id!r} is not attached to this record "
            f"(attached: {', '.join(ctx.attached) or 'none'})",
        )
    tier = ctx.record.system.risk_tier
    if checklist is not None and item_id:
        if item_id not in {i.id for i in checklist.items}:
            ids = [i.id for i in checklist.applicable(tier)]
            close = difflib.get_close_matches(item_id, ids, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            problem("item", f"no item {item_id!r} in checklist {checklist.id!r}{hint}")
        elif not checklist.item(item_id).applies_to(tier):
            tiers = ", ".join(str(int(t)) for t in checklist.item(item_id).tiers)
            problem(
                "item",
                f"{item_id} does not apply at this record's tier {int(tier)} "
                f"(only at tier {tiers})",
            )
    answer = None
    word = _text(values.get("answer"))
    if word is not None:
        answer = parse_answer(word)
        if answer is None:
            problem("answer", f"{word!r} is not an answer: use yes, partial, no or not-applicable")
    if answer is Answer.NOT_APPLICABLE and _text(values.get("reason")) is None:
        problem("reason", "an item answered not-applicable needs a reason")
    if problems or answer is None or checklist is None or item_id is None:
        return problems, None
    try:
        response = ItemResponse(
            answer=answer,
            evidence=values.get("evidence") or [],
            notes=_text(values.get("notes")),
            reason=_text(values.get("reason")),
            answered_by=_text(values.get("answered_by")) or ctx.answered_by,
            answered_at=ctx.answered_at,
        )
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = str(error["loc"][0]) if error["loc"] else None
            problem(loc, error["msg"][:1].lower() + error["msg"][1:])
        return problems, None
    return problems, _Answer(checklist.id, item_id, response)


@dataclass(frozen=True)
class _Answer:
    checklist_id: str
    item_id: str
    response: ItemResponse

    @property
    def key(self) -> tuple[str, str]:
        return (self.checklist_id, self.item_id)

    def data(self) -> dict[str, Any]:
        return self.response.model_dump(mode="json", exclude_none=True)


def _read_answers(answers_path: Path, ctx: _Context) -> list[_Answer]:
    problems: list[Problem] = []
    suffix = answers_path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        rows = _yaml_rows(answers_path, problems)
    elif suffix == ".csv":
        rows = _csv_rows(answers_path)
    else:
        raise UsageError(f"{answers_path}: answers must be a .yaml, .yml or .csv file")
    seen: dict[tuple[str, str], _Row] = {}
    answers: list[_Answer] = []
    for row in rows:
        found, answer = _check_row(row, ctx)
        problems.extend(found)
        if answer is None:
            continue
        first = seen.setdefault(answer.key, row)
        if first is not row:
            problems.append(
                Problem(
                    f"answers {answer.item_id} a second time (first at {first.where()}, "
                    f"line {first.line})",
                    ctx.source,
                    row.line_of("item"),
                    row.where("item"),
                )
            )
        answers.append(answer)
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise InputError(problems, what="answers")
    return answers


def import_answers(
    path: Path,
    answers_path: Path,
    library: ChecklistLibrary,
    *,
    answered_by: str,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Check every answer in a YAML or CSV file, then write them all in one atomic update.

    Nothing is written unless every row is good, and every problem is reported.
    An answer that says what the record already says (answer, evidence, notes,
    reason) is left alone, keeping its original author and time.
    """
    record = load_record(path).record
    ctx = _Context(
        str(answers_path),
        record,
        {c.id: c for _, c in attached_checklists(record, library)},
        answered_by,
        (now or now_utc()).astimezone(dt.UTC).replace(microsecond=0),
    )
    answers = _read_answers(answers_path, ctx)
    report = ImportReport(path, answers_path, warnings=version_warnings(record, library))
    existing = {
        (c.id, i): r.model_dump(mode="json") for c in record.checklists for i, r in c.items.items()
    }
    if all(a.key in existing and _content(existing[a.key]) == _content(a.data()) for a in answers):
        report.unchanged.extend(a.key for a in answers)
        return report  # nothing to say that the record does not already say: leave it be

    def change(tree: Any) -> None:
        for bucket in (report.new, report.changed, report.unchanged):
            bucket.clear()
        writes = []
        for answer in answers:
            data = answer.data()
            entry = checklist_entry(tree, answer.checklist_id)
            before = (entry.get("items") or {}).get(answer.item_id)
            if before is None:
                report.new.append(answer.key)
            elif _content(before) == _content(data):
                report.unchanged.append(answer.key)
                continue
            else:
                report.changed.append(answer.key)
            writes.append((answer.checklist_id, answer.item_id, data))
        set_answers(tree, writes)

    update_record(path, change)
    return report
