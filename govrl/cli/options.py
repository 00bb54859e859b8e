"""Options and output helpers that several commands share."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

FILE = click.Path(path_type=Path, dir_okay=False)
EXISTING_FILE = click.Path(path_type=Path, dir_okay=False, exists=True)


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


CHECKLIST_DIRS = click.option(
    "--checklists",
    "checklist_dirs",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="A folder of your own checklists (repeatable; also $GOVRL_CHECKLIST_PATH).",
)

POLICY = click.option(
    "--policy",
    "policy_path",
    type=EXISTING_FILE,
    help="A policy file (default: govrl's shipped default policy).",
)

TIMEOUT = click.option(
    "--timeout",
    type=click.FloatRange(1, 600),
    default=10.0,
    show_default=True,
    help="Seconds to wait for any one answer from MLflow (there are no retries).",
)
TRACKING_URI = click.option(
    "--tracking-uri",
    required=True,
    envvar="MLFLOW_TRACKING_URI",
    show_envvar=True,
    help="The MLflow server (http://HOST:PORT) or local store (sqlite:///PATH).",
)


def judged_by(command: F) -> F:
    """The --policy and --checklists options of every command that judges a record."""
    return POLICY(CHECKLIST_DIRS(command))
