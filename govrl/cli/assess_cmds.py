"""Commands that judge a record: checklists, status and the gate."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import click

from govrl.cli.options import CHECKLIST_DIRS, EXISTING_FILE, echo_json, echo_text, judged_by

if TYPE_CHECKING:
    import datetime as dt

    from govrl.review.gate import Decision

AS_OF = click.option(
    "--date",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Judge as of this day (YYYY-MM-DD): evidence age, overdue conditions, validity. "
    "Default: today.",
)


def _day(value: dt.datetime | None) -> dt.date | None:
    return None if value is None else value.date()


def _warn_binding(decision: Decision) -> None:
    for note in decision.notes:
        if note.startswith("judged under "):
            echo_text(f"warning: {note}", err=True)


def _condition_lines(decision: Decision) -> list[str]:
    lines = []
    for c in decision.condition_items:
        t = c.tracked
        if t is None:
            lines.append(f"{c.text}\n      untracked: no owner or due date ({c.source})")
        else:
            late = " OVERDUE" if c.overdue else ""
            lines.append(
                f"{c.text}\n      {t.id}: {t.owner}, due {t.due}{late}; closed by {t.closed_by}"
            )
    return lines


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
@AS_OF
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def gate(
    file: Path,
    policy_path: Path | None,
    checklist_dirs: tuple[Path, ...],
    as_of: dt.datetime | None,
    as_json: bool,
) -> None:
    """Decide: approve, approve with conditions, or reject, with every reason.

    Exits 0 for approve and approve-with-conditions, 1 for reject.
    """
    from govrl.review.gate import Verdict, decide
    from govrl.review.rules import load_assessment

    judged = load_assessment(file, policy_path, checklist_dirs, require_finished=True)
    decision = decide(judged.record, judged.rules.policy, judged.rules.library, today=_day(as_of))
    _warn_binding(decision)
    if as_json:
        echo_json(decision.as_dict())
    else:
        verdict = decision.verdict.value.upper()
        echo_text(f"{file}: {verdict} (tier {int(decision.tier)}, policy {decision.policy})")
        echo_text(f"Policy digest: {decision.policy_digest or '(none)'}")
        echo_text(f"Stage requested: {decision.stage or '(none named)'}")
        for title, lines in (
            ("Blockers", decision.blockers),
            ("Conditions", _condition_lines(decision)),
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
@AS_OF
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(
    file: Path,
    policy_path: Path | None,
    checklist_dirs: tuple[Path, ...],
    as_of: dt.datetime | None,
    as_json: bool,
) -> None:
    """Completeness per checklist section, open blockers, framework coverage, gate preview."""
    from govrl.review.rules import load_assessment
    from govrl.review.status import status as compute_status

    judged = load_assessment(file, policy_path, checklist_dirs)
    report = compute_status(
        judged.record, judged.rules.policy, judged.rules.library, today=_day(as_of)
    )
    _warn_binding(report.decision)
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
    if report.frameworks_from is None:
        echo_text(
            "\nFramework coverage: no applicable framework is declared (set "
            "system.regulatory.frameworks in the record, or frameworks in the policy)"
        )
    else:
        names = ", ".join(f.value for f in report.frameworks)
        echo_text(
            f"\nFramework coverage, for the frameworks the {report.frameworks_from} declares "
            f"({names}): items addressed / not applicable / open of those mapped"
        )
        width = max((len(c.unit) for c in report.coverage), default=0)
        for c in report.coverage:
            mark = "addressed" if c.fully_addressed else "open" if c.open else "not applicable"
            echo_text(
                f"  {c.framework.value:14} {c.unit:{width}} {c.addressed:3} / "
                f"{c.not_applicable:3} / {c.open:3} of {c.total:<3} {mark}"
            )
    decision = report.decision
    counts = f"{len(decision.blockers)} blockers, {len(decision.conditions)} conditions"
    echo_text(f"\nGate preview: {decision.verdict.value} ({counts})")
    for line in decision.blockers[:10]:
        echo_text(f"  - {line}")
    if len(decision.blockers) > 10:
        echo_text(f"  ... and {len(decision.blockers) - 10} more (govrl gate {file})")
    if decision.condition_items:
        echo_text(f"\nConditions ({len(decision.condition_items)}):")
        for line in _condition_lines(decision):
            echo_text(f"  - {line}")
    if decision.closed_conditions:
        echo_text(f"\nTracked conditions this revision closes ({len(decision.closed_conditions)}):")
        for t in decision.closed_conditions:
            echo_text(f"  - {t.id} ({t.raised_by}), {t.owner}: closed by {t.closed_by}")


COMMANDS = [checklists, gate, status]
