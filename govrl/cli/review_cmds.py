"""Commands for release reviews: what changed between revisions."""

from __future__ import annotations

from pathlib import Path

import click

from govrl.cli.assess_cmds import POLICY
from govrl.cli.record_cmds import CHECKLIST_DIRS, EXISTING_FILE, FILE, echo_json


@click.command()
@click.argument("old", type=EXISTING_FILE)
@click.argument("new", type=EXISTING_FILE)
@POLICY
@CHECKLIST_DIRS
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "md", "json"]),
    default="text",
    show_default=True,
    help="Terminal text, Markdown for a review comment, or JSON.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def diff(
    old: Path,
    new: Path,
    policy_path: Path | None,
    checklist_dirs: tuple[Path, ...],
    fmt: str,
    as_json: bool,
) -> None:
    """Compare two revisions (record YAML or govrl PDFs): fields, metrics, answers, gates.

    Says whether approvals of OLD therefore lapse. Exits 0 either way.
    """
    from govrl.documents.pdffile import load_revision
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.diff import diff_revisions
    from govrl.review.diff_text import as_markdown, as_text
    from govrl.review.policy import load_policy

    result = diff_revisions(
        load_revision(old),
        load_revision(new),
        load_policy(policy_path),
        ChecklistLibrary.discover(checklist_dirs),
    )
    if as_json or fmt == "json":
        echo_json(result.as_dict())
    else:
        click.echo(as_markdown(result) if fmt == "md" else as_text(result), nl=False)


@click.group()
def export() -> None:
    """A record as a Hugging Face model card or a CycloneDX 1.6 ML-BOM."""


@export.command("hf")
@click.argument("file", type=EXISTING_FILE)
@click.option("-o", "--output", type=FILE, required=True, help="Where to write README.md.")
def export_hf(file: Path, output: Path) -> None:
    """A Hugging Face model card whose model-index carries the evaluation results."""
    from govrl.atomicfile import write_atomic
    from govrl.exports import hf_card
    from govrl.record.files import load_record

    write_atomic(output, hf_card(load_record(file).record))
    click.echo(f"wrote {output}")


@export.command("cyclonedx")
@click.argument("file", type=EXISTING_FILE)
@click.option("-o", "--output", type=FILE, required=True, help="Where to write the BOM JSON.")
def export_cyclonedx(file: Path, output: Path) -> None:
    """A CycloneDX 1.6 ML-BOM: the model component's modelCard, and its data sets."""
    from govrl.atomicfile import write_atomic
    from govrl.exports import cyclonedx_json
    from govrl.record.files import load_record

    write_atomic(output, cyclonedx_json(load_record(file).record))
    click.echo(f"wrote {output}")


COMMANDS = [diff, export]
