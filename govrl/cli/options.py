"""Options and output helpers that several commands share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

F = TypeVar("F", bound=Callable[..., Any])

FILE = click.Path(path_type=Path, dir_okay=False)
EXISTING_FILE = click.Path(path_type=Path, dir_okay=False, exists=True)


def echo_json(data: object) -> None:
    """The exact data as JSON, with controls json.dumps keeps (C1, bidi) escaped."""
    import json

    from govrl.safetext import json_safe

    click.echo(json_safe(json.dumps(data, indent=2, ensure_ascii=False)))


def echo_text(text: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print text that holds strings from documents, records or servers, made inert."""
    from govrl.safetext import printable

    click.echo(printable(text), err=err, nl=nl)


def echo_line(text: str, *, err: bool = False) -> None:
    """Print one line holding such strings; a line break inside them cannot start another."""
    from govrl.safetext import one_line

    click.echo(one_line(text), err=err)


OVERWRITE = click.option(
    "--overwrite",
    is_flag=True,
    help="Let -o replace this command's input or a signed PDF (refused otherwise).",
)


CHECKLIST_DIRS = click.option(
    "--checklists",
    "checklist_dirs",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="A folder of your own checklists (repeatable; also $GOVRL_CHECKLIST_PATH).",
)


class PolicyParam(click.ParamType):  # type: ignore[type-arg]
    """A policy file, or the name of a shipped policy (``healthcare``, ``energy``, ...)."""

    name = "FILE|NAME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(value)
        if path.is_file():
            return path
        if path.exists():
            self.fail(f"{value!r} is a directory, not a policy file", param, ctx)
        from govrl.review.policy import shipped_policies

        shipped = shipped_policies()
        if value in shipped:
            return shipped[value]
        self.fail(
            f"{value!r} is neither a policy file nor a shipped policy "
            f"(shipped: {', '.join(shipped)})",
            param,
            ctx,
        )


POLICY = click.option(
    "--policy",
    "policy_path",
    type=PolicyParam(),
    help="A policy file, or a shipped policy by name (default, healthcare, "
    "autonomous-systems, energy, recommenders, finance). Default: the policy the record is "
    "bound to, else govrl's shipped default.",
)

TIMEOUT = click.option(
    "--timeout",
    type=click.FloatRange(1, 600),
    default=10.0,
    show_default=True,
    help="A total deadline in seconds for each request to MLflow, from the name lookup to the "
    "last byte (there are no retries).",
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


def trust_anchors(command: F) -> F:
    """--trust and --no-trust-check, handed to the command as one ``trust`` TrustRequest."""
    from govrl.config import CONFIG_FILE, NO_TRUST_CHECK, TRUST_ENV, TrustRequest

    @functools.wraps(command)
    def wrapper(*args: Any, trust: tuple[Path, ...], no_trust_check: bool, **kwargs: Any) -> Any:
        return command(*args, trust=TrustRequest(trust, no_trust_check), **kwargs)

    wrapper = click.option(
        NO_TRUST_CHECK,
        "no_trust_check",
        is_flag=True,
        help="Experiments only: skip the trust check. The verdict says NOT TRUST-CHECKED, "
        "and a tier-3 approval always fails.",
    )(wrapper)
    wrapper = click.option(
        "--trust",
        type=EXISTING_FILE,
        multiple=True,
        help=f"A CA certificate to trust (repeatable). Else ${TRUST_ENV}, else the [trust] "
        f"anchors of the nearest {CONFIG_FILE}; with none, the command fails.",
    )(wrapper)
    return cast(F, wrapper)
