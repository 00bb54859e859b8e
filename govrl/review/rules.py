"""What a record is judged by, loaded once for every command that judges one."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from govrl.errors import GovrlError, InputError, Problem, RecordUnfinished
from govrl.record import AssessmentRecord
from govrl.record.files import PLACEHOLDER, load_record, placeholder_problems, placeholders
from govrl.review.checklist import ChecklistLibrary
from govrl.review.policy import DEFAULT_POLICY, Policy, load_policy, shipped_policy
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


def load_rules(
    policy_path: Path | None = None,
    checklist_dirs: Iterable[Path] = (),
    *,
    record_file: Path | None = None,
    record: AssessmentRecord | None = None,
) -> Rules:
    """The policy at ``policy_path`` and every known checklist.

    Without ``policy_path``, the policy ``record`` (read from ``record_file``) is bound
    to, else the shipped default; see ``resolve_policy``.
    """
    if record is not None and record_file is not None:
        policy = resolve_policy(record_file, record, policy_path)
    else:
        policy = load_policy(policy_path)
    return Rules(policy, ChecklistLibrary.discover(checklist_dirs))


def resolve_policy(record_file: Path, record: AssessmentRecord, policy_path: Path | None) -> Policy:
    """The policy that judges ``record``: the one asked for, else the one it is bound to.

    An explicit ``policy_path`` always wins (``decide`` notes when it is not the bound
    one). Without it, a binding with a ``path`` loads that file, relative to the record,
    and its digest must match; a binding without a path accepts the shipped default
    only if the digests match. A record with no binding gets the shipped default.
    """
    if policy_path is not None:
        return load_policy(policy_path)
    bound = record.policy
    if bound is None:
        return load_policy()
    if bound.path is not None:
        path = record_file.parent / bound.path
        if not path.is_file():
            raise GovrlError(
                f"{record_file}: the record is bound to policy {bound.id} at {bound.path}, "
                f"but {path} does not exist",
                hint="restore the policy file, or pass --policy to judge under another one",
            )
        policy = load_policy(path)
        where = str(path)
    else:
        policy = load_policy(shipped_policy(DEFAULT_POLICY))
        where = f"govrl's shipped {DEFAULT_POLICY} policy"
    if policy.digest != bound.digest:
        raise GovrlError(
            f"{record_file}: the record is bound to policy {bound.id} with digest "
            f"{bound.digest}, but {where} has digest {policy.digest}",
            hint="pass --policy explicitly to judge under another policy (the decision "
            "will say so), or update the record's policy binding",
        )
    return policy


def load_assessment(
    file: Path,
    policy_path: Path | None = None,
    checklist_dirs: Iterable[Path] = (),
    *,
    require_finished: bool = False,
) -> Assessment:
    """The record in ``file`` with its rules; with ``require_finished``, only a valid one.

    The policy is ``policy_path`` if given, else the one the record is bound to.
    """
    try:
        loaded = load_record(file)
    except InputError as exc:
        if require_finished:
            raise RecordUnfinished(exc.problems, str(file)) from None
        raise
    problems = placeholder_problems(loaded.document)
    if require_finished and problems:
        raise RecordUnfinished(problems, str(file))
    rules = load_rules(policy_path, checklist_dirs, record_file=file, record=loaded.record)
    return Assessment(loaded.record, rules, tuple(problems))


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
