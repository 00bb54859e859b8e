"""The render command: model cards, approvals and the other documents, one or many at a time."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from govrl.cli.options import (
    CHECKLIST_DIRS,
    OVERWRITE,
    POLICY,
    echo_json,
    echo_line,
)

if TYPE_CHECKING:
    from govrl.documents.render import Rendered
    from govrl.errors import GovrlError

KINDS = ("model-card", "approval", "technical-documentation", "reward-report")
FORMATS = ("pdf", "html", "md")
INPUT = click.Path(path_type=Path, exists=True)


@dataclass(frozen=True)
class Job:
    """One document to render: a record file, the kind, and where it goes."""

    file: Path
    kind: str
    output: Path | None  # None: named from the record, inside the output folder


@dataclass(frozen=True)
class Settings:
    """What every document of one `govrl render` shares."""

    fmt: str
    policy_path: Path | None
    on: dt.date | None
    template_dir: Path | None
    draft: bool
    checklist_dirs: tuple[Path, ...]
    overwrite: bool


def record_files(inputs: tuple[Path, ...]) -> list[Path]:
    """Each input file, and every ``*.yaml`` record of each input folder in name order; each
    file once."""
    from govrl.errors import UsageError

    files: list[Path] = []
    for given in inputs:
        if given.is_dir():
            found = sorted(p for p in given.glob("*.yaml") if p.is_file())
            if not found:
                raise UsageError(
                    f"{given} holds no *.yaml record", hint="name record files, or a folder of them"
                )
            files.extend(found)
        else:
            files.append(given)
    # A file named twice (itself and through its folder) is one document, rendered once.
    seen: set[Path] = set()
    unique = []
    for path in files:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    return unique


def document_name(record: Any, kind: str, fmt: str) -> str:
    """A batch document's file name: system id, version and kind, made safe for any disk."""
    import re

    stem = f"{record.system.id}-{record.system.version}-{kind}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).lstrip(".") + f".{fmt}"


def render_job(
    job: Job, settings: Settings, folder: Path | None, written: set[Path]
) -> tuple[Path, Rendered]:
    """Render one document and write it atomically; returns where it went and what it is."""
    from govrl.atomicfile import write_atomic
    from govrl.documents.render import DraftUnrenderable, Format, Kind
    from govrl.documents.render import render as render_document
    from govrl.errors import RecordInvalid, UsageError
    from govrl.outputs import check_output
    from govrl.review.rules import load_assessment

    try:
        judged = load_assessment(
            job.file,
            settings.policy_path,
            settings.checklist_dirs,
            require_finished=not settings.draft,
        )
    except RecordInvalid as exc:
        if settings.draft:
            raise DraftUnrenderable(exc.problems, str(job.file)) from None
        raise
    output = job.output or (folder or Path()) / document_name(judged.record, job.kind, settings.fmt)
    if output.resolve() in written:
        raise UsageError(
            f"{job.file}: {output} was already written by another record of this batch",
            hint="two records share a system id and version; render them separately",
        )
    check_output(output, inputs=[job.file], overwrite=settings.overwrite)
    rendered = render_document(
        judged.record,
        kind=Kind(job.kind),
        fmt=Format(settings.fmt),
        policy=judged.rules.policy,
        library=judged.rules.library,
        on=settings.on,
        template_dir=settings.template_dir,
        draft=settings.draft,
        draft_problems=judged.problems,
    )
    if str(output) == "-":
        click.echo(rendered.content, nl=False)
    else:
        write_atomic(output, rendered.content)
        written.add(output.resolve())
    return output, rendered


def result_line(output: Path, rendered: Rendered, settings: Settings) -> str:
    """What was written, in one line: kind, format, pages, decision, record, fields."""
    pages = f", {rendered.pages} pages" if rendered.pages else ""
    fields = (
        f"; signature fields: {', '.join(rendered.signature_fields)}"
        if rendered.signature_fields
        else ""
    )
    kind = rendered.kind.value
    what = f"DRAFT {kind}" if settings.draft else kind
    return (
        f"wrote {output} ({what}, {settings.fmt}{pages}; decision {rendered.verdict}; "
        f"record {rendered.digest}{fields})"
    )


def report_failure(job: Job, exc: GovrlError) -> dict[str, Any]:
    """Say on stderr which document failed and why; the failure, for --json."""
    prefix = "" if str(job.file) in exc.message else f"{job.file}: "
    echo_line(f"error: {prefix}{exc.message} [{job.kind}]", err=True)
    if exc.hint:
        echo_line(f"  {exc.hint}", err=True)
    return {
        "file": str(job.file),
        "kind": job.kind,
        "error": exc.diagnostics(),
        "exit_code": exc.exit_code,
    }


def report_success(
    job: Job, output: Path, rendered: Rendered, settings: Settings, *, quiet: bool
) -> dict[str, Any]:
    """Print the document's warnings and, unless ``quiet``, its result line; its JSON."""
    for url in rendered.refused:
        echo_line(f"warning: refused to fetch {url}", err=True)
    for message in rendered.warnings:
        echo_line(f"warning: {message}", err=True)
    if not quiet and str(output) != "-":
        echo_line(result_line(output, rendered, settings))
    return {"output": str(output), "file": str(job.file), **rendered.as_dict()}


def plan(
    inputs: tuple[Path, ...], kinds: tuple[str, ...], output: Path
) -> tuple[list[Job], Path | None]:
    """The documents to render and, for more than one, the folder they go into."""
    from govrl.errors import UsageError

    files = record_files(inputs)
    kinds = tuple(dict.fromkeys(kinds))
    several = len(files) * len(kinds) > 1 or any(given.is_dir() for given in inputs)
    if not several and not output.is_dir():
        return [Job(files[0], kinds[0], output)], None
    if str(output) == "-":
        raise UsageError(
            "-o - prints one document; several need -o DIR", hint="name an output folder"
        )
    if output.exists() and not output.is_dir():
        raise UsageError(
            f"{output} is a file; several documents need -o DIR",
            hint="name a folder (it is created if missing)",
        )
    output.mkdir(parents=True, exist_ok=True)
    return [Job(file, kind, None) for file in files for kind in kinds], output


@click.command()
@click.argument("inputs", metavar="FILE|DIR...", nargs=-1, required=True, type=INPUT)
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(KINDS),
    multiple=True,
    required=True,
    help="Which document to render (repeatable: each record gets each kind).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="pdf",
    show_default=True,
    help="PDF/A-3b with the record attached, self-contained HTML, or Markdown.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="One document: the file ('-' for stdout). Several (or an existing folder): the "
    "folder, created if missing, each document named SYSTEM-ID-VERSION-KIND.FORMAT.",
)
@POLICY
@click.option(
    "--date",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The decision date, YYYY-MM-DD (default: today). Same record, date and govrl "
    "version give the same bytes.",
)
@click.option(
    "--template-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Your own templates (same names as govrl's shipped templates folder).",
)
@click.option(
    "--draft",
    is_flag=True,
    help="Render an unfinished record (placeholders left, or not yet approved) as a DRAFT: "
    "watermarked on every page, no signature fields; sign and archive refuse it.",
)
@CHECKLIST_DIRS
@OVERWRITE
@click.option(
    "--progress/--no-progress",
    default=None,
    help="A line on stderr as each document starts (default: when stderr is a terminal).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def render(
    inputs: tuple[Path, ...],
    kinds: tuple[str, ...],
    fmt: str,
    output: Path,
    policy_path: Path | None,
    on: dt.datetime | None,
    template_dir: Path | None,
    draft: bool,
    checklist_dirs: tuple[Path, ...],
    overwrite: bool,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Render the model card, the deployment approval, the technical documentation or the
    reward report of one or more records.

    The approval carries one empty signature field per reviewer role the
    policy requires, named after the role, for `govrl sign`. Nothing is written
    unless rendering succeeds. A record that fails `govrl validate` is refused,
    unless --draft asks for a watermarked draft that cannot be signed.

    Several records (files, or folders of *.yaml records) render in one process,
    which starts the renderer once. A bad record is reported with its file and
    line, the others still render, and the exit code is the worst failure's.
    """
    from govrl.errors import EnvironmentFailure, GovrlError, UsageError

    if str(output) == "-" and as_json:
        raise UsageError("--json prints to stdout, so it needs -o FILE rather than -o -")
    jobs, folder = plan(inputs, kinds, output)
    settings = Settings(
        fmt, policy_path, on.date() if on else None, template_dir, draft, checklist_dirs, overwrite
    )
    if progress is None:
        progress = len(jobs) > 1 and sys.stderr.isatty()
    written: set[Path] = set()
    documents: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for number, job in enumerate(jobs, 1):
        if progress:
            echo_line(f"[{number}/{len(jobs)}] {job.file} ({job.kind})", err=True)
        try:
            where, rendered = render_job(job, settings, folder, written)
        except EnvironmentFailure:
            raise  # the renderer or the disk is gone: every other document would fail alike
        except GovrlError as exc:
            if folder is None:
                raise
            failed.append(report_failure(job, exc))
            continue
        documents.append(report_success(job, where, rendered, settings, quiet=as_json))
        if draft and folder is None and not as_json and str(where) != "-":
            echo_line(
                "this is a draft: it has no signature fields, and sign and archive refuse "
                "it; render without --draft once `govrl validate` passes"
            )
    if as_json:
        echo_json(documents[0] if folder is None else {"documents": documents, "failed": failed})
    if failed:
        echo_line(
            f"rendered {len(documents)} of {len(jobs)} documents; {len(failed)} failed", err=True
        )
        click.get_current_context().exit(max(int(f["exit_code"]) for f in failed))


COMMANDS = [render]
