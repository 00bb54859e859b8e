"""A record diff as terminal text or as Markdown for a review comment."""

from __future__ import annotations

import json
from typing import Any

from govrl.review.diff import MetricMove, RecordDiff
from govrl.review.gate import ConditionItem, Evidence

MAX_VALUE = 80


def _value(value: Any) -> str:
    text = "(none)" if value is None else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _evidence(e: Evidence | None) -> str:
    if e is None:
        return "(absent)"
    value = e.fields.get("value")
    main = f"{value:g}" if isinstance(value, float) else "–"
    if e.ci_low is not None or e.ci_high is not None:
        low = f"{e.ci_low:g}" if e.ci_low is not None else "?"
        high = f"{e.ci_high:g}" if e.ci_high is not None else "?"
        main += f" [{low}, {high}]"
    extra = [f"{k} {v:g}" for k, v in e.fields.items() if k != "value" and v is not None]
    return ", ".join([main, *extra])


def _move(m: MetricMove) -> str:
    return f"{m.key}: {_evidence(m.old)} -> {_evidence(m.new)}"


def _condition(c: ConditionItem) -> str:
    tracked = f" ({c.tracked.id}, {c.tracked.owner})" if c.tracked else ""
    return f"{c.source}{tracked}: {c.text}"


def _lapse(diff: RecordDiff) -> str:
    if not diff.lapses:
        return "The records are identical: approvals of the old revision still apply."
    who = f" (signed by {', '.join(diff.old.signers)})" if diff.old.signers else ""
    return (
        f"Approvals of {diff.old.digest}{who} do not cover {diff.new.digest}: "
        "the new revision needs its own gate and signatures."
    )


def _sections(diff: RecordDiff) -> list[tuple[str, list[str]]]:
    verdicts = f"{diff.old_decision.verdict.value} -> {diff.new_decision.verdict.value}"
    return [
        ("Approval", [_lapse(diff), f"Gate verdict: {verdicts}"]),
        ("Conditions closed", [_condition(c) for c in diff.closes]),
        ("Conditions opened", [_condition(c) for c in diff.opens]),
        ("Metrics", [_move(m) for m in diff.metrics]),
        ("Gates", [f"{g.gate} on {g.evidence}: {g.old or '(not run)'} -> {g.new or '(not run)'}"
                   for g in diff.gates]),
        ("Checklist answers", [f"{a.checklist} {a.item}: {a.old or '(unanswered)'} -> "
                               f"{a.new or '(unanswered)'}" for a in diff.answers]),
        ("Fields", [f"{c.path}: {_value(c.old)} -> {_value(c.new)}" for c in diff.changes]),
    ]  # fmt: skip


def as_text(diff: RecordDiff) -> str:
    lines = [f"{diff.old.source} -> {diff.new.source}"]
    for title, rows in _sections(diff):
        lines.append(f"\n{title} ({len(rows)}):" if title != "Approval" else f"\n{title}:")
        lines += [f"  {row}" for row in rows] or ["  (no change)"]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    text = text.replace(" -> ", " → ")
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def as_markdown(diff: RecordDiff) -> str:
    out = [f"## govrl diff: `{_md(diff.old.source.name)}` → `{_md(diff.new.source.name)}`", ""]
    for title, rows in _sections(diff):
        out += [f"### {title}", ""]
        out += [f"- {_md(row)}" for row in rows] or ["- no change"]
        out.append("")
    return "\n".join(out)
