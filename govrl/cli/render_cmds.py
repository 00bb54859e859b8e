"""The render command: model cards, approvals and the other documents, one or many at a time."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Generator
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


def render_job(job: Job, settings: Settings, folder: Path | None) -> tuple[Path, Rendered]:
    """Render one document; returns where it goes and what it is. Writes nothing."""
    from govrl.documents.render import DraftUnrenderable, Format, Kind
    from govrl.documents.render import render as render_document
    from govrl.errors import RecordInvalid
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
    # Refused before the layout, not after it: rendering is the slow part.
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
    return output, rendered


def write_document(job: Job, output: Path, rendered: Rendered, written: set[Path]) -> None:
    """Write one rendered document atomically, unless another of this batch went there."""
    from govrl.atomicfile import write_atomic
    from govrl.errors import UsageError

    if output.resolve() in written:
        raise UsageError(
            f"{job.file}: {output} was already written by another record of this batch",
            hint="two records share a system id and version; render them separately",
        )
    if str(output) == "-":
        click.echo(rendered.content, nl=False)
    else:
        write_atomic(output, rendered.content)
        written.add(output.resolve())


@dataclass(frozen=True)
class Failure:
    """A document that could not be rendered, as a worker process reports it back."""

    message: str
    hint: str | None
    diagnostics: str
    exit_code: int
    environment: bool  # the renderer or the disk is gone: every other document would fail alike


def render_elsewhere(job: Job, settings: Settings, folder: Path | None) -> Any:
    """render_job in a worker process: its result, or what went wrong as plain data (an
    exception may not survive the trip back)."""
    from govrl.errors import GovrlError

    try:
        return render_job(job, settings, folder)
    except GovrlError as exc:
        return as_failure(exc)


def as_failure(exc: GovrlError) -> Failure:
    from govrl.errors import EnvironmentFailure

    environment = isinstance(exc, EnvironmentFailure)
    return Failure(exc.message, exc.hint, exc.diagnostics(), exc.exit_code, environment)


def worker_count(asked: int | None, documents: int, fmt: str) -> int:
    """How many processes render at once: one per usable core unless asked, never more than
    there are documents; HTML and Markdown are quick enough for one."""
    import os

    if fmt != "pdf" or documents < 2:
        return 1
    if asked is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        asked = cores or 1
    return max(1, min(asked, documents))


def rendered_in_order(
    jobs: list[Job], settings: Settings, folder: Path | None, workers: int
) -> Generator[Any, None, None]:
    """Each job's rendering, in the order of ``jobs``: a (path, document) pair, or the
    GovrlError (here) or Failure (from a worker) that stopped it."""
    from govrl.errors import GovrlError

    if workers == 1:
        for job in jobs:
            try:
                yield render_job(job, settings, folder)
            except GovrlError as exc:
                yield exc
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from itertools import islice

    from govrl.errors import EnvironmentFailure

    # Forked workers start with what this process has imported; elsewhere they start afresh.
    fork = sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if fork else None)
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        # Two documents per worker in flight: none waits for work, and finished documents
        # waiting to be written (behind a slow one) stay few, however long the batch.
        window: deque[tuple[Job, Future[Any]]] = deque()
        waiting = iter(jobs)
        try:
            while True:
                for job in islice(waiting, 2 * workers - len(window)):
                    window.append((job, pool.submit(render_elsewhere, job, settings, folder)))
                if not window:
                    return
                job, future = window.popleft()
                try:
                    yield future.result()
                except BrokenProcessPool:
                    raise EnvironmentFailure(
                        "a rendering process ended abruptly (killed, or out of memory, on this "
                        f"or another document); {job.file} ({job.kind}) and the documents "
                        "after it were not written",
                        hint="render again, with fewer --jobs if memory ran out",
                    ) from None
        finally:
            for _, future in window:
                future.cancel()


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


def report_failure(job: Job, failure: Failure) -> dict[str, Any]:
    """Say on stderr which document failed and why; the failure, for --json."""
    prefix = "" if str(job.file) in failure.message else f"{job.file}: "
    echo_line(f"error: {prefix}{failure.message} [{job.kind}]", err=True)
    if failure.hint:
        echo_line(f"  {failure.hint}", err=True)
    return {
        "file": str(job.file),
        "kind": job.kind,
        "error": failure.diagnostics,
        "exit_code": failure.exit_code,
    }


def report_success(
    job: Job,
    output: Path,
    rendered: Rendered,
    settings: Settings,
    *,
    quiet: bool,
    said: set[str],
) -> dict[str, Any]:
    """Print the document's warnings and, unless ``quiet``, its result line; its JSON. The
    font subsetter's fallback, which each worker process reports once, is said once in
    ``said``."""
    for url in rendered.refused:
        echo_line(f"warning: refused to fetch {url}", err=True)
    for message in rendered.warnings:
        from govrl.documents.html_to_pdf import FONTTOOLS_FALLBACK  # only PDFs warn

        if message == FONTTOOLS_FALLBACK:
            if message in said:
                continue
            said.add(message)
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
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="PDFs rendered at once, each in a process of its own (default: one per CPU core).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="A line on stderr as each document is done (default: when stderr is a terminal).",
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
    jobs: int | None,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Render the model card, the deployment approval, the technical documentation or the
    reward report of one or more records.

    The approval carries one empty signature field per reviewer role the
    policy requires, named after the role, for `govrl sign`. Nothing is written
    unless rendering succeeds. A record that fails `govrl validate` is refused,
    unless --draft asks for a watermarked draft that cannot be signed.

    Several records (files, or folders of *.yaml records) render in one command, as
    many PDFs at a time as there are CPU cores (--jobs), each process starting the
    renderer once; the documents and the order they are reported in are the same as
    one at a time. A bad record is reported with its file and line, the others still
    render, and the exit code is the worst failure's.
    """
    from govrl.errors import EnvironmentFailure, GovrlError, UsageError

    if str(output) == "-" and as_json:
        raise UsageError("--json prints to stdout, so it needs -o FILE rather than -o -")
    planned, folder = plan(inputs, kinds, output)
    settings = Settings(
        fmt, policy_path, on.date() if on else None, template_dir, draft, checklist_dirs, overwrite
    )
    if progress is None:
        progress = len(planned) > 1 and sys.stderr.isatty()
    workers = worker_count(jobs, len(planned), fmt)
    written: set[Path] = set()
    said: set[str] = set()
    documents: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    results = rendered_in_order(planned, settings, folder, workers)
    try:
        for number, (job, result) in enumerate(zip(planned, results, strict=True), 1):
            if progress:
                echo_line(f"[{number}/{len(planned)}] {job.file} ({job.kind})", err=True)
            if isinstance(result, GovrlError):
                if folder is None or isinstance(result, EnvironmentFailure):
                    raise result  # one document, or the renderer is gone for all of them
                result = as_failure(result)
            if isinstance(result, Failure):
                if result.environment:
                    raise EnvironmentFailure(result.message, hint=result.hint)
                failed.append(report_failure(job, result))
                continue
            where, rendered = result
            try:
                write_document(job, where, rendered, written)
            except EnvironmentFailure:
                raise  # the disk is gone or full: every other document would fail alike
            except GovrlError as exc:
                if folder is None:
                    raise
                failed.append(report_failure(job, as_failure(exc)))
                continue
            report = report_success(job, where, rendered, settings, quiet=as_json, said=said)
            documents.append(report)
            if draft and folder is None and not as_json and str(where) != "-":
                echo_line(
                    "this is a draft: it has no signature fields, and sign and archive refuse "
                    "it; render without --draft once `govrl validate` passes"
                )
    finally:
        results.close()  # on an error, the workers' remaining documents are not rendered
    if as_json:
        echo_json(documents[0] if folder is None else {"documents": documents, "failed": failed})
    if failed:
        echo_line(
            f"rendered {len(documents)} of {len(planned)} documents; {len(failed)} failed",
            err=True,
        )
        click.get_current_context().exit(max(int(f["exit_code"]) for f in failed))


COMMANDS = [render]
