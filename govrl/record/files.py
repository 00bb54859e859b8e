"""Reading and writing assessment records on disk."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govrl.errors import InputError, Problem, RecordInvalid
from govrl.record import SCHEMA_VERSION, AssessmentRecord
from govrl.yamlio import Document, dotted, load, loads
from govrl.yamlmodel import validate_document

SUPPORTED_VERSIONS = (SCHEMA_VERSION,)
PLACEHOLDER = "TODO"  # how `govrl init` marks text a person still has to write


@dataclass(frozen=True)
class LoadedRecord:
    record: AssessmentRecord
    document: Document
    path: Path


def parse_record(doc: Document) -> AssessmentRecord:
    """Validate a loaded document as an assessment record of a known schema version."""
    if isinstance(doc.data, dict):
        version = doc.data.get("schema_version")
        if version is None:
            raise RecordInvalid(
                [
                    Problem(
                        f"schema_version is missing; this govrl reads {SCHEMA_VERSION!r}",
                        doc.source,
                        1,
                        "schema_version",
                    )
                ]
            )
        if version not in SUPPORTED_VERSIONS:
            raise RecordInvalid(
                [
                    Problem(
                        f"schema_version {version!r} is not one this govrl reads "
                        f"({', '.join(SUPPORTED_VERSIONS)})",
                        doc.source,
                        doc.line_of(("schema_version",)),
                        "schema_version",
                    )
                ]
            )
    try:
        return validate_document(AssessmentRecord, doc, "record")
    except InputError as exc:
        raise RecordInvalid(exc.problems, what="record") from None


def load_record(path: Path) -> LoadedRecord:
    """Load and validate the record at ``path``."""
    doc = load(path)
    return LoadedRecord(parse_record(doc), doc, path)


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating one file: the record and its digest, or problems."""

    path: Path
    record: AssessmentRecord | None
    digest: str | None
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "valid": self.ok,
            "digest": self.digest,
            "problems": [p.as_dict() for p in self.problems],
        }


def validate_file(path: Path, *, allow_placeholders: bool = False) -> ValidationReport:
    """Schema, cross-field rules, and (unless allowed) unfinished TODO placeholders."""
    from govrl.record.identity import record_digest

    try:
        loaded = load_record(path)
    except InputError as exc:
        return ValidationReport(path, None, None, exc.problems)
    problems = [] if allow_placeholders else placeholder_problems(loaded.document)
    return ValidationReport(path, loaded.record, record_digest(loaded.record), problems)


def placeholder_problems(doc: Document) -> list[Problem]:
    """A located problem for each TODO placeholder left in the document."""
    return [
        Problem(
            "still a placeholder: write the real text", doc.source, doc.line_of(loc), dotted(loc)
        )
        for loc in placeholders(doc.data)
    ]


def _roundtrip_yaml() -> Any:
    from ruamel.yaml import YAML  # only writers need comment-preserving YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def dump_yaml(data: Any) -> str:
    """YAML text for plain data or a ruamel round-trip document."""
    out = io.StringIO()
    _roundtrip_yaml().dump(data, out)
    return out.getvalue()


def write_record_text(path: Path, text: str) -> AssessmentRecord:
    """Validate ``text`` as a record, then write it atomically. Nothing invalid is written."""
    from govrl.atomicfile import write_atomic

    record = parse_record(loads(text, str(path)))
    write_atomic(path, text)
    return record


def update_record(path: Path, change: Callable[[Any], None]) -> AssessmentRecord:
    """Apply ``change`` to the file's YAML tree, keeping comments, under a lock.

    ``change`` receives the round-trip tree (mappings and lists that remember
    comments) and edits it in place. The result is validated before it replaces
    the file, so an edit that would break the record leaves the file as it was.
    """
    from govrl.atomicfile import locked

    with locked(path):
        load_record(path)  # refuse to edit a file that is already broken or hostile
        tree = _roundtrip_yaml().load(path.read_text(encoding="utf-8"))
        change(tree)
        return write_record_text(path, dump_yaml(tree))


def placeholders(data: Any, loc: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every location whose text still starts with the TODO marker."""
    if isinstance(data, str):
        return [loc] if data.startswith(PLACEHOLDER) else []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    found: list[tuple[str | int, ...]] = []
    for key, value in items:
        found.extend(placeholders(value, (*loc, key)))
    return found
