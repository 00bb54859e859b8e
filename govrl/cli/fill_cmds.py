"""`govrl fill`: answer checklist items in the terminal, one saved answer at a time."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import threading
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from govrl.cli.record_cmds import CHECKLIST_DIRS, EXISTING_FILE, echo_json
from govrl.errors import GovrlError, UsageError
from govrl.vocabulary import Answer

if TYPE_CHECKING:
    from govrl.record.governance import ItemResponse
    from govrl.review.fill import PendingItem
    from govrl.vocabulary import RiskTier

USER_VARIABLE = "GOVRL_USER"
ANSWER_PROMPT = "answer [y/p/n/na, s skip, q quit]: "
ANSWER_HELP = "  answer y (yes), p (partial), n (no) or na (not applicable); s skips, q quits"
INTERRUPTED = 130


class _EndOfInput(Exception):
    """Standard input ran out, perhaps in the middle of an item."""

    def __init__(self, dropped: str | None = None) -> None:
        super().__init__(dropped)
        self.dropped = dropped


class _Quit(Exception):
    """The person asked to stop."""


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _shown(text: str) -> str:
    """Text from a file, safe to print: no escape sequences or other control characters."""
    return "".join(ch if ch in "\n\t" or unicodedata.category(ch) != "Cc" else "?" for ch in text)


def _ask(prompt: str) -> str:
    click.echo(prompt, nl=False)
    line = sys.stdin.readline()
    if not line:
        click.echo()
        raise _EndOfInput
    if not sys.stdin.isatty():
        click.echo(line.rstrip("\r\n"))  # a transcript of piped input reads like a session
    return line.rstrip("\r\n")


def _wrapped(text: str, indent: str = "  ") -> str:
    width = max(40, min(shutil.get_terminal_size().columns, 100))
    return click.wrap_text(
        _shown(" ".join(text.split())),
        width,
        initial_indent=indent,
        subsequent_indent=indent,
    )


def _header(number: int, total: int, pending: PendingItem, tier: RiskTier) -> None:
    item = pending.item
    click.echo()
    click.secho(
        f"[{number}/{total}] {pending.checklist.id} {item.id} | "
        f"{_shown(pending.section_title)} | {item.severity_at(tier).value} at tier {int(tier)}",
        bold=True,
    )
    click.echo(_wrapped(item.question))
    click.echo("  Evidence asked for:")
    click.echo(_wrapped(item.evidence, "    "))
    current = pending.current
    if current is not None:
        when = current.answered_at.strftime("%Y-%m-%d %H:%M")
        click.echo(
            f"  Current answer: {current.answer.value} "
            f"({_shown(current.answered_by)}, {when}; s keeps it)"
        )
        for ref in current.evidence:
            click.echo(f"    - {_shown(ref)}")


def _interview(pending: PendingItem, answered_by: str) -> ItemResponse | None:
    """One item's answer from the person, or None if they skip it."""
    from pydantic import ValidationError

    from govrl.record.governance import ItemResponse
    from govrl.review.fill import now_utc, parse_answer

    while True:
        word = _ask(ANSWER_PROMPT).strip().lower()
        if word == "q":
            raise _Quit
        if word == "s":
            return None
        answer = parse_answer(word)
        if answer is None:
            click.echo(ANSWER_HELP)
            continue
        try:
            fields = _details(answer)
        except _EndOfInput:
            raise _EndOfInput(dropped=pending.item.id) from None
        try:
            return ItemResponse(
                answer=answer, answered_by=answered_by, answered_at=now_utc(), **fields
            )
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                where = ".".join(str(part) for part in error["loc"])
                click.echo(f"  not saved: {where}: {error['msg']}; answer the item again")


def _details(answer: Answer) -> dict[str, Any]:
    """The reason (for not-applicable), evidence references and notes of one answer."""
    reason = None
    while answer is Answer.NOT_APPLICABLE and not reason:
        reason = _ask("reason it does not apply (required): ").strip() or None
        if not reason:
            click.echo("  a not-applicable answer needs a reason")
    click.echo("evidence, one reference per line (path, URL, MLflow run or artifact id);")
    click.echo("a blank line ends the list:")
    evidence = []
    while ref := _ask("  > ").strip():
        evidence.append(ref)
    notes = _ask("notes (blank for none): ").strip() or None
    return {"reason": reason, "evidence": evidence, "notes": notes}


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

    library = ChecklistLibrary.discover(library_dirs)
    report = import_answers(file, answers, library, answered_by=who)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        echo_json(report.as_dict())
        return
    total = len(report.new) + len(report.changed) + len(report.unchanged)
    click.echo(
        f"{answers}: {_plural(total, 'answer')}: {len(report.new)} new, "
        f"{len(report.changed)} changed, {len(report.unchanged)} unchanged"
    )
    click.echo(f"wrote {file}" if report.written else f"{file} left as it was")


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

    from govrl.record.files import load_record
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.fill import pending_items, save_answer, version_warnings

    library = ChecklistLibrary.discover(checklist_dirs)
    record = load_record(file).record
    for warning in version_warnings(record, library):
        click.echo(f"warning: {warning}", err=True)
    items = pending_items(
        record,
        library,
        include_answered=include_answered,
        section=section,
        checklist_id=checklist_id,
    )
    tier = record.system.risk_tier
    if not items:
        click.echo(
            f"nothing to answer in {file}: every item that applies at tier {int(tier)} "
            "and matches is answered (--all asks them again)"
        )
        return
    click.echo(f"{_plural(len(items), 'item')} to answer in {file}, as {_shown(who)}")
    saved = skipped = 0
    resume = f"run `govrl fill {file}` to continue"
    try:
        for number, pending in enumerate(items, 1):
            _header(number, len(items), pending, tier)
            response = _interview(pending, who)
            if response is None:
                skipped += 1
                continue
            with _sigint_deferred():
                save_answer(file, pending.checklist.id, pending.item.id, response)
                saved += 1
            click.echo(f"saved {pending.item.id}: {response.answer.value}")
    except KeyboardInterrupt:
        click.echo(f"\nstopped: {_plural(saved, 'answer')} saved; {resume}", err=True)
        ctx.exit(INTERRUPTED)
    except _Quit:
        click.echo(f"stopped: {_plural(saved, 'answer')} saved; {resume}")
        return
    except _EndOfInput as end:
        dropped = f"; {end.dropped} was cut off and not saved" if end.dropped else ""
        click.echo(f"end of input: {_plural(saved, 'answer')} saved{dropped}; {resume}")
        return
    except GovrlError:
        click.echo(f"{_plural(saved, 'answer')} saved before this error", err=True)
        raise
    left = f"; {_plural(skipped, 'item')} skipped, {resume}" if skipped else ""
    click.echo(f"done: {_plural(saved, 'answer')} saved{left}")


COMMANDS = [fill]
