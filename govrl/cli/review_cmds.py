"""Commands for release reviews: what changed between revisions."""

from __future__ import annotations

from pathlib import Path

import click

from govrl.cli.assess_cmds import POLICY
from govrl.cli.record_cmds import CHECKLIST_DIRS, EXISTING_FILE, echo_json


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
    from govrl.checklist import ChecklistLibrary
    from govrl.diff import diff_revisions, load_revision
    from govrl.diffview import as_markdown, as_text
    from govrl.policy import load_policy

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


COMMANDS = [diff]
