"""`govrl fill`: answer checklist items in the terminal, one saved answer at a time."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from govrl.cli.options import CHECKLIST_DIRS, EXISTING_FILE, echo_json, echo_line, echo_text
from govrl.errors import UsageError

USER_VARIABLE = "GOVRL_USER"
INTERRUPTED = 130


class TerminalPrompter:
    """The interview on standard input and output, for a person at a keyboard or a pipe."""

    @property
    def width(self) -> int:
        return max(40, min(shutil.get_terminal_size().columns, 100))

    def ask(self, prompt: str) -> str:
        # Not click.prompt: it asks again after a blank line, which ends an evidence list
        # here, and turns end of input and Ctrl-C alike into Abort, which fill tells apart.
        click.echo(prompt, nl=False)
        line = sys.stdin.readline()
        if not line:
            from govrl.review.fill import EndOfInput

            click.echo()
            raise EndOfInput
        if not sys.stdin.isatty():
            echo_line(line.rstrip("\r\n"))  # a transcript of piped input reads like a session
        return line.rstrip("\r\n")

    def say(self, text: str = "", *, emphasis: bool = False) -> None:
        if emphasis:
            from govrl.safetext import printable

            click.secho(printable(text), bold=True)
        else:
            echo_text(text)

    def warn(self, text: str) -> None:
        echo_text(text, err=True)


def _who(as_name: str | None) -> str:
    name = as_name if as_name is not None else os.environ.get(USER_VARIABLE)
    if not name:
        import getpass

        try:
            name = getpass.getuser()
        except (OSError, KeyError, ImportError):
            name = ""
    name = name.strip()
    if not name or len(name) > 200:
        raise UsageError(
            "cannot tell who is answering",
            hint=f"pass --as NAME (1 to 200 characters) or set ${USER_VARIABLE}",
        )
    return name


def _import(
    file: Path, answers: Path, library_dirs: tuple[Path, ...], who: str, as_json: bool
) -> None:
    from govrl.review.answers import import_answers
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.fill import plural

    library = ChecklistLibrary.discover(library_dirs)
    report = import_answers(file, answers, library, answered_by=who)
    for warning in report.warnings:
        echo_line(f"warning: {warning}", err=True)
    if as_json:
        echo_json(report.as_dict())
        return
    total = len(report.new) + len(report.changed) + len(report.unchanged)
    echo_line(
        f"{answers}: {plural(total, 'answer')}: {len(report.new)} new, "
        f"{len(report.changed)} changed, {len(report.unchanged)} unchanged"
    )
    echo_line(f"wrote {file}" if report.written else f"{file} left as it was")


@click.command()
@click.argument("file", type=EXISTING_FILE)
@click.option("--all", "include_answered", is_flag=True, help="Ask answered items again too.")
@click.option("--section", help="Only items of this section (e.g. reward).")
@click.option("--checklist", "checklist_id", help="Only items of this attached checklist.")
@click.option(
    "--as",
    "as_name",
    metavar="NAME",
    help=f"Who is answering (default ${USER_VARIABLE}, else your login name).",
)
@click.option(
    "--answers",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Import answers from a YAML or CSV file instead of asking.",
)
@click.option("--json", "as_json", is_flag=True, help="With --answers: print a JSON report.")
@CHECKLIST_DIRS
@click.pass_context
def fill(
    ctx: click.Context,
    file: Path,
    include_answered: bool,
    section: str | None,
    checklist_id: str | None,
    as_name: str | None,
    answers: Path | None,
    as_json: bool,
    checklist_dirs: tuple[Path, ...],
) -> None:
    """Answer the checklist items that apply at the record's risk tier.

    Asks each unanswered item in turn and saves every answer to FILE at once,
    so stopping (q, end of input, Ctrl-C) loses nothing already answered; run
    it again to continue. Answers: y(es), p(artial), n(o), na (not
    applicable, with a reason); s skips an item.

    With --answers, imports a YAML list or a CSV file (columns checklist,
    item, answer, evidence, notes, reason and optionally answered_by;
    evidence separated by ';'): every row is checked first, then all are
    written together, or none.
    """
    who = _who(as_name)
    if answers is not None:
        if include_answered or section or checklist_id:
            raise UsageError("--answers cannot be combined with --all, --section or --checklist")
        _import(file, answers, checklist_dirs, who, as_json)
        return
    if as_json:
        raise UsageError("--json applies only with --answers")

    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.fill import Stop, interview

    report = interview(
        file,
        ChecklistLibrary.discover(checklist_dirs),
        TerminalPrompter(),
        answered_by=who,
        include_answered=include_answered,
        section=section,
        checklist_id=checklist_id,
    )
    if report.stopped is Stop.INTERRUPTED:
        ctx.exit(INTERRUPTED)


COMMANDS = [fill]
