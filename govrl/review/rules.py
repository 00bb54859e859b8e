"""What a record is judged by, loaded once for every command that judges one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from govrl.record import AssessmentRecord
from govrl.record.files import load_record
from govrl.review.checklist import ChecklistLibrary
from govrl.review.policy import Policy, load_policy


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


def load_rules(policy_path: Path | None = None, checklist_dirs: Iterable[Path] = ()) -> Rules:
    """The policy at ``policy_path`` (the shipped default if None) and every known checklist."""
    return Rules(load_policy(policy_path), ChecklistLibrary.discover(checklist_dirs))


def load_assessment(
    file: Path, policy_path: Path | None = None, checklist_dirs: Iterable[Path] = ()
) -> Assessment:
    """The record in ``file`` with its rules."""
    return Assessment(load_record(file).record, load_rules(policy_path, checklist_dirs))
