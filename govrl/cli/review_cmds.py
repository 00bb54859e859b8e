"""Commands for release reviews: what changed between revisions, and the record exported."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from govrl.cli.options import (
    EXISTING_FILE,
    FILE,
    OVERWRITE,
    echo_json,
    echo_line,
    echo_text,
    judged_by,
)
from govrl.exports import EXPORTERS, Exporter

if TYPE_CHECKING:
    import datetime as dt


@click.command()
@click.argument("old", type=EXISTING_FILE)
@click.argument("new", type=EXISTING_FILE)
@judged_by
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "md", "json"]),
    default="text",
    show_default=True,
    help="Terminal text, Markdown for a review comment, or JSON.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--date",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Judge both revisions as of this day (YYYY-MM-DD). Default: today.",
)
def diff(
    old: Path,
    new: Path,
    policy_path: Path | None,
    checklist_dirs: tuple[Path, ...],
    fmt: str,
    as_json: bool,
    as_of: dt.datetime | None,
) -> None:
    """Compare two revisions (record YAML or govrl PDFs): fields, metrics, answers, gates.

    Says whether approvals of OLD therefore lapse. Exits 0 either way.
    """
    from govrl.documents.pdffile import load_revision
    from govrl.review.diff import diff_revisions
    from govrl.review.diff_text import as_markdown, as_text
    from govrl.review.rules import load_rules

    before, after = load_revision(old), load_revision(new)
    # judged by the policy the new revision is bound to, unless one is given
    bound = new.suffix in (".yaml", ".yml")
    rules = load_rules(
        policy_path,
        checklist_dirs,
        record_file=new if bound else None,
        record=after.record if bound else None,
    )
    today = None if as_of is None else as_of.date()
    result = diff_revisions(before, after, rules.policy, rules.library, today=today)
    if as_json or fmt == "json":
        echo_json(result.as_dict())
    else:
        echo_text(as_markdown(result) if fmt == "md" else as_text(result), nl=False)


@click.group()
def export() -> None:
    """A record as a Hugging Face model card or a CycloneDX 1.6 ML-BOM."""


def _export_command(exporter: Exporter) -> click.Command:
    @click.argument("file", type=EXISTING_FILE)
    @click.option(
        "-o", "--output", type=FILE, required=True, help=f"Where to write {exporter.output}."
    )
    @OVERWRITE
    def run(file: Path, output: Path, overwrite: bool) -> None:
        from govrl.atomicfile import write_atomic
        from govrl.outputs import check_output
        from govrl.record.files import load_record

        check_output(output, inputs=[file], overwrite=overwrite)
        write_atomic(output, exporter.write(load_record(file).record))
        echo_line(f"wrote {output}")

    return click.command(exporter.name, help=exporter.summary)(run)


for _exporter in EXPORTERS:
    export.add_command(_export_command(_exporter))


COMMANDS = [diff, export]
