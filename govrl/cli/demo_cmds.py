"""The demo command: the whole flow on the shipped example, into one folder."""

from __future__ import annotations

from pathlib import Path

import click

from govrl.cli.options import echo_line, echo_text


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default="govrl-demo",
    show_default=True,
    help="A new (or empty) folder for everything the demo writes.",
)
def demo(out: Path) -> None:
    """Run the whole assessment on the shipped grid-control example.

    Seeds a local MLflow store (no server) with the controller's evaluation,
    then runs the govrl commands a release pipeline would: collect, fill from
    scripted answers, validate, gate, render the model card and the approval,
    make demo reviewer keys, sign for every required role, verify, archive,
    export for a regulator, Hugging Face and CycloneDX, and publish the
    decision back to MLflow. Each command is shown as it runs.
    """
    from govrl.demo import run_demo

    result = run_demo(out, echo_text)
    click.echo("\nProduced:")
    width = max(len(result.shown(p.path)) for p in result.produced)
    for produced in result.produced:
        suffix = "/" if produced.path.is_dir() else ""
        echo_line(f"  {result.shown(produced.path) + suffix:<{width + 1}}  {produced.what}")
    echo_text(
        "\nThe signed approval verifies with:\n"
        f"  govrl verify {result.shown(result.out / 'approval-signed.pdf')} "
        f"--trust {result.shown(result.out / 'keys' / 'ca.cert.pem')} "
        f"--policy {result.shown(result.out / 'policy.yaml')}"
    )


COMMANDS = [demo]
