"""Commands that create, check and describe assessment records."""

from __future__ import annotations

from pathlib import Path

import click

from govrl.cli.options import (
    CHECKLIST_DIRS,
    EXISTING_FILE,
    FILE,
    OVERWRITE,
    echo_json,
    echo_line,
    echo_text,
)
from govrl.vocabulary import Autonomy, Domain, RiskTier


@click.command()
@click.option("-o", "--output", type=FILE, required=True, help="The record file to create.")
@click.option(
    "--domain",
    type=click.Choice([d.value for d in Domain]),
    default=Domain.OTHER.value,
    show_default=True,
    help="The system's domain; picks the domain checklist.",
)
@click.option(
    "--tier",
    type=click.IntRange(1, 3),
    default=3,
    show_default=True,
    help="Risk tier: 1 low, 2 a human approves each action, 3 high-risk or autonomous.",
)
@click.option(
    "--autonomy",
    type=click.Choice([a.value for a in Autonomy]),
    help="Level of autonomy (default follows the tier).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@CHECKLIST_DIRS
def init(
    output: Path,
    domain: str,
    tier: int,
    autonomy: str | None,
    force: bool,
    checklist_dirs: tuple[Path, ...],
) -> None:
    """Create a new assessment record with TODO markers to fill in."""
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.scaffold import attachments, scaffold, write_scaffold

    library = ChecklistLibrary.discover(checklist_dirs)
    data = scaffold(
        domain=Domain(domain),
        tier=RiskTier(tier),
        autonomy=Autonomy(autonomy) if autonomy else None,
        checklists=attachments(library.for_domain(Domain(domain))),
    )
    write_scaffold(output, data, force=force)
    echo_line(f"wrote {output}: replace every TODO, then run `govrl validate {output}`")


@click.command()
@click.argument("files", nargs=-1, required=True, type=EXISTING_FILE)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
@click.option(
    "--allow-placeholders",
    is_flag=True,
    help="Accept TODO markers left by `govrl init` (check structure only).",
)
def validate(files: tuple[Path, ...], as_json: bool, allow_placeholders: bool) -> None:
    """Check records against the schema and cross-field rules.

    Every problem is reported with its file, line and field path. Exits 1 if
    any file is invalid.
    """
    from govrl.record.files import validate_file

    reports = [validate_file(path, allow_placeholders=allow_placeholders) for path in files]
    if as_json:
        echo_json([r.as_dict() for r in reports] if len(reports) > 1 else reports[0].as_dict())
    else:
        for report in reports:
            if report.ok:
                echo_line(f"{report.path}: valid  {report.digest}")
            else:
                for problem in report.problems:
                    echo_text(str(problem), err=True)
                echo_line(f"{report.path}: invalid ({len(report.problems)} problems)", err=True)
    if not all(r.ok for r in reports):
        raise SystemExit(1)


@click.command()
@click.option("-o", "--output", type=FILE, help="Write the schema here instead of stdout.")
@OVERWRITE
def schema(output: Path | None, overwrite: bool) -> None:
    """Print the record's JSON Schema."""
    import json

    from govrl.atomicfile import write_atomic
    from govrl.outputs import check_output
    from govrl.record.schema import record_schema

    text = json.dumps(record_schema(), indent=2) + "\n"
    if output:
        check_output(output, overwrite=overwrite)
        write_atomic(output, text)
    else:
        click.echo(text, nl=False)


COMMANDS = [init, validate, schema]
