"""The render command: a record's model card or deployment approval, as PDF, HTML or Markdown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from govrl.cli.options import (
    CHECKLIST_DIRS,
    EXISTING_FILE,
    FILE,
    OVERWRITE,
    POLICY,
    echo_json,
    echo_line,
)

KINDS = ("model-card", "approval", "technical-documentation", "reward-report")
FORMATS = ("pdf", "html", "md")


@click.command()
@click.argument("file", type=EXISTING_FILE)
@click.option("--kind", type=click.Choice(KINDS), required=True, help="Which document to render.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="pdf",
    show_default=True,
    help="PDF/A-3b with the record attached, self-contained HTML, or Markdown.",
)
@click.option(
    "-o", "--output", type=FILE, required=True, help="Where to write it ('-' for stdout)."
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
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def render(
    file: Path,
    kind: str,
    fmt: str,
    output: Path,
    policy_path: Path | None,
    on: dt.datetime | None,
    template_dir: Path | None,
    draft: bool,
    checklist_dirs: tuple[Path, ...],
    overwrite: bool,
    as_json: bool,
) -> None:
    """Render the model card or the deployment approval for a record.

    The approval carries one empty signature field per reviewer role the
    policy requires, named after the role, for `govrl sign`. Nothing is written
    unless rendering succeeds. A record that fails `govrl validate` is refused,
    unless --draft asks for a watermarked draft that cannot be signed.
    """
    from govrl.atomicfile import write_atomic
    from govrl.documents.render import DraftUnrenderable, Format, Kind
    from govrl.documents.render import render as render_document
    from govrl.errors import RecordInvalid, UsageError
    from govrl.outputs import check_output
    from govrl.review.rules import load_assessment

    to_stdout = str(output) == "-"
    if to_stdout and as_json:
        raise UsageError("--json prints to stdout, so it needs -o FILE rather than -o -")
    check_output(output, inputs=[file], overwrite=overwrite)
    try:
        judged = load_assessment(file, policy_path, checklist_dirs, require_finished=not draft)
    except RecordInvalid as exc:
        if draft:
            raise DraftUnrenderable(exc.problems, str(file)) from None
        raise
    rendered = render_document(
        judged.record,
        kind=Kind(kind),
        fmt=Format(fmt),
        policy=judged.rules.policy,
        library=judged.rules.library,
        on=on.date() if on else None,
        template_dir=template_dir,
        draft=draft,
        draft_problems=judged.problems,
    )
    if to_stdout:
        click.echo(rendered.content, nl=False)
    else:
        write_atomic(output, rendered.content)
    for url in rendered.refused:
        echo_line(f"warning: refused to fetch {url}", err=True)
    for message in rendered.warnings:
        echo_line(f"warning: {message}", err=True)
    if as_json:
        echo_json({"output": str(output), **rendered.as_dict()})
    elif not to_stdout:
        pages = f", {rendered.pages} pages" if rendered.pages else ""
        fields = (
            f"; signature fields: {', '.join(rendered.signature_fields)}"
            if rendered.signature_fields
            else ""
        )
        what = f"DRAFT {kind}" if draft else kind
        echo_line(
            f"wrote {output} ({what}, {fmt}{pages}; decision {rendered.verdict}; "
            f"record {rendered.digest}{fields})"
        )
        if draft:
            echo_line(
                "this is a draft: it has no signature fields, and sign and archive refuse it; "
                "render without --draft once `govrl validate` passes"
            )


COMMANDS = [render]
