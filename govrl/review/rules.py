"""What a record is judged by, loaded once for every command that judges one."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from govrl.errors import InputError, Problem, RecordUnfinished
from govrl.record import AssessmentRecord
from govrl.record.files import PLACEHOLDER, load_record, placeholder_problems, placeholders
from govrl.review.checklist import ChecklistLibrary
from govrl.review.policy import Policy, load_policy
from govrl.yamlio import dotted


@dataclass(frozen=True)
class Rules:
    """A policy and the checklists its gates refer to."""

    policy: Policy
    library: ChecklistLibrary


@dataclass(frozen=True)
class Assessment:
    """A record together with the rules it is judged by."""

    record: AssessmentRecord
    rules: Rules
    problems: tuple[Problem, ...] = ()  # what `govrl validate` still finds (placeholders)


def load_rules(policy_path: Path | None = None, checklist_dirs: Iterable[Path] = ()) -> Rules:
    """The policy at ``policy_path`` (the shipped default if None) and every known checklist."""
    return Rules(load_policy(policy_path), ChecklistLibrary.discover(checklist_dirs))


def load_assessment(
    file: Path,
    policy_path: Path | None = None,
    checklist_dirs: Iterable[Path] = (),
    *,
    require_finished: bool = False,
) -> Assessment:
    """The record in ``file`` with its rules; with ``require_finished``, only a valid one."""
    try:
        loaded = load_record(file)
    except InputError as exc:
        if require_finished:
            raise RecordUnfinished(exc.problems, str(file)) from None
        raise
    problems = placeholder_problems(loaded.document)
    if require_finished and problems:
        raise RecordUnfinished(problems, str(file))
    return Assessment(loaded.record, load_rules(policy_path, checklist_dirs), tuple(problems))


def refuse_unfinished_embedded(record_json: bytes | None, source: str) -> None:
    """Raise RecordUnfinished when a document's embedded record still holds placeholders."""
    if record_json is None:
        return  # a document without a record is refused where it is read
    try:
        data = json.loads(record_json)
    except ValueError:
        return  # a damaged record is refused where it is read
    problems = [
        Problem(
            f"still a placeholder ({PLACEHOLDER}): write the real text", source, None, dotted(loc)
        )
        for loc in placeholders(data)
    ]
    if problems:
        raise RecordUnfinished(problems, source, embedded=True)
