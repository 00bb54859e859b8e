"""Commands that judge a record: checklists, status and the gate."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from govrl.cli.options import CHECKLIST_DIRS, EXISTING_FILE, echo_json, echo_text, judged_by


@click.group()
def checklists() -> None:
    """The shipped checklists and your own."""


@checklists.command("list")
@CHECKLIST_DIRS
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_checklists(checklist_dirs: tuple[Path, ...], as_json: bool) -> None:
    """List every checklist govrl can see."""
    from govrl.review.checklist import ChecklistLibrary

    library = ChecklistLibrary.discover(checklist_dirs)
    rows = [
        {
            "id": c.id,
            "version": c.version,
            "domain": c.domain.value if c.domain else None,
            "items": len(c.items),
            "title": c.title,
            "file": str(library.origins[c.id]),
        }
        for c in library
    ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        echo_text(
            f"{row['id']:24} {row['version']:8} {row['domain'] or 'all domains':22} "
            f"{row['items']:3} items  {row['title']}"
        )


@checklists.command("show")
@click.argument("checklist_id")
@CHECKLIST_DIRS
@click.option("--tier", type=click.IntRange(1, 3), help="Only items that apply at this tier.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_checklist(
    checklist_id: str, checklist_dirs: tuple[Path, ...], tier: int | None, as_json: bool
) -> None:
    """Show one checklist's items, with severities, tiers and framework mappings."""
    from govrl.review.checklist import ChecklistLibrary
    from govrl.vocabulary import RiskTier

    checklist = ChecklistLibrary.discover(checklist_dirs).get(checklist_id)
    items = checklist.applicable(RiskTier(tier)) if tier else checklist.items
    if as_json:
        data = checklist.model_dump(mode="json")
        data["items"] = [i.model_dump(mode="json") for i in items]
        echo_json(data)
        return
    echo_text(f"{checklist.title} ({checklist.id} {checklist.version})")
    for section in checklist.sections:
        in_section = [i for i in items if i.section == section.id]
        if not in_section:
            continue
        echo_text(f"\n== {section.title}")
        for item in in_section:
            severity = item.severity_at(RiskTier(tier)) if tier else item.severity
            tiers = ",".join(str(int(t)) for t in item.tiers)
            echo_text(f"\n{item.id}  [{severity.value}; tiers {tiers}]")
            echo_text(textwrap.fill(item.question, 88, initial_indent="  ", subsequent_indent="  "))
            echo_text(
                textwrap.fill(
                    "Evidence: " + item.evidence, 88, initial_indent="  ", subsequent_indent="  "
                )
            )
            refs = "; ".join(
                m.label + ("" if m.verified else " (unverified)") for m in item.mappings
            )
            echo_text(
                textwrap.fill("Maps to: " + refs, 88, initial_indent="  ", subsequent_indent="  ")
            )


@click.command()
@click.argument("file", type=EXISTING_FILE)
@judged_by
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def gate(
    file: Path, policy_path: Path | None, checklist_dirs: tuple[Path, ...], as_json: bool
) -> None:
    """Decide: approve, approve with conditions, or reject, with every reason.

    Exits 0 for approve and approve-with-conditions, 1 for reject.
    """
    from govrl.review.gate import Verdict, decide
    from govrl.review.rules import load_assessment

    judged = load_assessment(file, policy_path, checklist_dirs, require_finished=True)
    decision = decide(judged.record, judged.rules.policy, judged.rules.library)
    if as_json:
        echo_json(decision.as_dict())
    else:
        verdict = decision.verdict.value.upper()
        echo_text(f"{file}: {verdict} (tier {int(decision.tier)}, policy {decision.policy})")
        for title, lines in (
            ("Blockers", decision.blockers),
            ("Conditions", decision.conditions),
            ("Notes", decision.notes),
        ):
            if lines:
                echo_text(f"\n{title} ({len(lines)}):")
                for line in lines:
                    echo_text(f"  - {line}")
        passed = [g for g in decision.gates if g.status.value == "pass"]
        if passed:
            echo_text(f"\nGates passed ({len(passed)}):")
            for g in passed:
                echo_text(f"  - {g.reason} [{g.gate}]")
        echo_text(f"\nSigners required: {', '.join(decision.required_roles)}")
        echo_text(f"Valid until: {decision.valid_until} if approved on {decision.decided_on}")
    if decision.verdict is Verdict.REJECT:
        raise SystemExit(1)


@click.command()
@click.argument("file", type=EXISTING_FILE)
@judged_by
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(
    file: Path, policy_path: Path | None, checklist_dirs: tuple[Path, ...], as_json: bool
) -> None:
    """Completeness per checklist section, open blockers, framework coverage, gate preview."""
    from govrl.review.rules import load_assessment
    from govrl.review.status import status as compute_status

    judged = load_assessment(file, policy_path, checklist_dirs)
    report = compute_status(judged.record, judged.rules.policy, judged.rules.library)
    unfinished = len(judged.problems)
    if as_json:
        echo_json(
            report.as_dict() | {"validation": {"valid": not unfinished, "problems": unfinished}}
        )
        return
    echo_text(f"{file}: {report.answered}/{report.applicable} applicable items answered")
    if unfinished:
        echo_text(
            f"Not yet valid: {unfinished} problem{'s' if unfinished != 1 else ''} left "
            f"(govrl validate {file}); gate, render, sign and archive refuse it until then"
        )
    else:
        echo_text("Valid: no problems left")
    echo_text("\nChecklist sections (answered/applicable, open):")
    for s in report.sections:
        echo_text(
            f"  {s.checklist:22} {s.title:42} {s.answered:3}/{s.applicable:<3} {s.open:3} open"
        )
    echo_text("\nFramework coverage (items closed/mapped):")
    for c in report.coverage:
        if c.framework.value in ("eu-ai-act", "nist-ai-rmf"):
            mark = "covered" if c.covered else "open"
            echo_text(f"  {c.framework.value:12} {c.unit:12} {c.closed:3}/{c.total:<3} {mark}")
    decision = report.decision
    counts = f"{len(decision.blockers)} blockers, {len(decision.conditions)} conditions"
    echo_text(f"\nGate preview: {decision.verdict.value} ({counts})")
    for line in decision.blockers[:10]:
        echo_text(f"  - {line}")
    if len(decision.blockers) > 10:
        echo_text(f"  ... and {len(decision.blockers) - 10} more (govrl gate {file})")


COMMANDS = [checklists, gate, status]
