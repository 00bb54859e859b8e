"""Commands that bring evidence in from MLflow or files, and write decisions back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from govrl.cli.options import (
    CHECKLIST_DIRS,
    EXISTING_FILE,
    TIMEOUT,
    TRACKING_URI,
    echo_json,
    echo_line,
    trust_anchors,
)
from govrl.config import TrustRequest

if TYPE_CHECKING:
    from govrl.evidence.collect import CollectReport


def _merge_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--mapping",
                type=EXISTING_FILE,
                help="A YAML file overriding the key convention (see docs/collect.md). "
                "Default: [collect] mapping in govrl.toml; when that names none, this file "
                "is remembered there for the next collect.",
            ),
            click.option(
                "--replace",
                is_flag=True,
                help="Let collected values overwrite hand-written entries.",
            ),
            click.option(
                "--dry-run",
                is_flag=True,
                help="Show exactly what would change; write nothing (record or govrl.toml).",
            ),
            click.option("--json", "as_json", is_flag=True, help="Print a JSON report."),
        ]
    ):
        command = option(command)
    return command


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "(none)" if value is None else str(value)


def _print(report: CollectReport, as_json: bool) -> None:
    if as_json:
        echo_json(report.as_dict())
        return
    runs = f"{len(report.runs)} run{'s' if len(report.runs) != 1 else ''}"
    echo_line(
        f"{report.path}: {report.count('added')} added, {report.count('changed')} changed, "
        f"{report.count('removed')} removed, {report.unchanged} unchanged "
        f"({runs} from {report.source})"
    )
    marks = {"added": "+", "changed": "~", "removed": "-"}
    for change in report.changes:
        echo_line(f"  {marks[change.kind]} {change.label}")
        for name, old, new in change.fields:
            echo_line(f"      {name}: {_show(old)} -> {_show(new)}")
    for warning in report.warnings:
        echo_line(f"warning: {warning}", err=True)
    if report.unmapped:
        shown = ", ".join(report.unmapped[:8]) + (", ..." if len(report.unmapped) > 8 else "")
        echo_line(
            f"note: {len(report.unmapped)} metric keys are outside the convention and were "
            f"left out: {shown} (add them with --mapping; see docs/collect.md)",
            err=True,
        )
    if report.mapping is not None:
        echo_line(f"mapping: {report.mapping}")
    if report.remembered:
        echo_line(f"remembered for the next collect: {report.remembered}")
    if report.dry_run:
        echo_line("dry run: the file was not changed")
    elif not report.changes:
        echo_line("nothing changed: the file was left as it was")


def _run(
    file: Path,
    location: str,
    kind: str,
    selection_args: dict[str, Any],
    mapping: Path | None,
    replace: bool,
    dry_run: bool,
    as_json: bool,
    timeout: float | None = None,
) -> None:
    from govrl.evidence import ModelRef, Selection
    from govrl.evidence.collect import collect_from

    model = selection_args.pop("model", None)
    selection = Selection(model=ModelRef.parse(model) if model else None, **selection_args)
    report = collect_from(
        file,
        location,
        selection,
        kind=kind,
        timeout=timeout,
        mapping_path=mapping,
        replace=replace,
        dry_run=dry_run,
    )
    _print(report, as_json)


@click.group()
def collect() -> None:
    """Pull evaluation evidence into a record, each value with its provenance.

    Metric keys, run tags and evaluation tables are mapped into the record's
    evaluation section by the convention in docs/collect.md. Nothing is written
    until everything has been fetched; unchanged evidence leaves the file as it was.
    """


@collect.command("mlflow")
@click.argument("file", type=EXISTING_FILE)
@TRACKING_URI
@click.option("--run", "run_ids", multiple=True, help="A run id (repeatable).")
@click.option("--experiment", help="Every run of this experiment (narrow it with --filter).")
@click.option("--filter", "filter_", help="An MLflow search filter, e.g. \"tags.stage = 'eval'\".")
@click.option("--model", help="A registered model version: NAME@ALIAS or NAME/VERSION.")
@click.option("--with-children", is_flag=True, help="Also read the nested runs of each run.")
@click.option(
    "--max-runs", type=click.IntRange(1, 1000), default=100, show_default=True, help="Run cap."
)
@TIMEOUT
@_merge_options
def collect_mlflow(
    file: Path,
    tracking_uri: str,
    run_ids: tuple[str, ...],
    experiment: str | None,
    filter_: str | None,
    model: str | None,
    with_children: bool,
    max_runs: int,
    timeout: float,
    mapping: Path | None,
    replace: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Collect from MLflow runs chosen by id, experiment and filter, or model version.

    Exits 1 if a run, experiment, model or alias does not exist, and 3 if MLflow
    cannot be reached or fails; the record is then left exactly as it was.
    """
    from govrl.errors import UsageError

    if filter_ and not experiment:
        raise UsageError("--filter needs --experiment")
    if not (run_ids or experiment or model):
        raise UsageError("choose runs with --run, --experiment or --model")
    args: dict[str, Any] = {"run_ids": run_ids, "experiment": experiment, "filter": filter_}
    args["model"] = model
    args |= {"with_children": with_children, "max_runs": max_runs}
    _run(file, tracking_uri, "mlflow", args, mapping, replace, dry_run, as_json, timeout)


@collect.command("file")
@click.argument("file", type=EXISTING_FILE)
@click.option(
    "--from",
    "evidence",
    type=EXISTING_FILE,
    required=True,
    help="A YAML or JSON evidence file, or a CSV of key,value[,step][,run] rows.",
)
@click.option("--run", "run_ids", multiple=True, help="Only this run id or name (repeatable).")
@_merge_options
def collect_file(
    file: Path,
    evidence: Path,
    run_ids: tuple[str, ...],
    mapping: Path | None,
    replace: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Collect from plain files, for teams without an experiment tracker."""
    _run(file, str(evidence), "file", {"run_ids": run_ids}, mapping, replace, dry_run, as_json)


@click.command()
@click.argument("file", type=EXISTING_FILE)
@TRACKING_URI
@click.option("--model", required=True, help="The model version: NAME/VERSION or NAME@ALIAS.")
@click.option(
    "--decision-json",
    type=EXISTING_FILE,
    help="A decision from `govrl gate --json` (default: decide now with --policy).",
)
@click.option(
    "--pdf",
    "pdfs",
    multiple=True,
    type=EXISTING_FILE,
    help="This record's signed approval or model card to attach (verified first).",
)
@click.option(
    "--policy",
    "policy_path",
    type=EXISTING_FILE,
    help="The policy to decide with and to verify approvals by.",
)
@trust_anchors
@CHECKLIST_DIRS
@TIMEOUT
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
def publish(
    file: Path,
    tracking_uri: str,
    model: str,
    decision_json: Path | None,
    pdfs: tuple[Path, ...],
    policy_path: Path | None,
    trust: TrustRequest,
    checklist_dirs: tuple[Path, ...],
    timeout: float,
    as_json: bool,
) -> None:
    """Write the decision back to MLflow: version tags, and the record and PDFs on its run.

    Tags govrl.decision, govrl.record_digest and govrl.valid_until on the model
    version, after uploading the files under governance/ on its source run. A
    signed approval given with --pdf must verify against the trust anchors and
    carry this record, or nothing is written.
    """
    from govrl.evidence import ModelRef, open_source
    from govrl.evidence.publish import publish as publish_decision

    check, anchors = None, None
    if pdfs:
        from functools import partial

        from govrl.documents.trust import resolve_anchors
        from govrl.documents.verification import publication_problems
        from govrl.review.policy import load_policy

        anchors = resolve_anchors(trust, what="`govrl publish --pdf`")
        check = partial(publication_problems, policy=load_policy(policy_path), trust=anchors)
    source = open_source(tracking_uri, kind="mlflow", timeout=timeout)
    result = publish_decision(
        file,
        source,
        ModelRef.parse(model),
        decision_path=decision_json,
        pdfs=pdfs,
        policy_path=policy_path,
        checklist_dirs=checklist_dirs,
        check_document=check,
    )
    trust_said = None
    if anchors is not None:
        trust_said = {"checked": anchors.checked, "anchors_from": anchors.source}
    if as_json:
        echo_json(result.as_dict() | {"trust": trust_said})
        return
    receipt = result.receipt
    echo_line(
        f"published {result.verdict} (valid until {result.valid_until}, {result.decided_by}) "
        f"to {receipt.model_name}/{receipt.model_version}, run {receipt.run_id}"
    )
    for key, value in receipt.tags.items():
        echo_line(f"  tag {key} = {value}")
    for artifact in receipt.artifacts:
        echo_line(f"  artifact {artifact}")
    if anchors is not None:
        said = f"trust anchors from {anchors.source}"
        if not anchors.checked:
            said = f"NOT TRUST-CHECKED, {anchors.source}"
        echo_line(f"  documents verified first ({said})")


COMMANDS = [collect, publish]
