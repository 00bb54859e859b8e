"""Refusals a signed document carries: a decision other than approve, and signatures forced
past a refusal. Either fails `verify` unless the verifier accepts them by name."""

from __future__ import annotations

from collections.abc import Sequence

ACCEPT_FLAG = "--accept-forced"


def refusals(decision: str | None, forced_roles: Sequence[str]) -> list[str]:
    """One reason per refusal the document carries; empty when it carries none."""
    from govrl.review.gate import Verdict

    found = []
    if decision not in (Verdict.APPROVE, Verdict.APPROVE_WITH_CONDITIONS):
        stated = f"is {decision}" if decision else "is not stated"
        found.append(f"the document's decision {stated}, not approve")
    if forced_roles:
        found.append("forced past a refusal: signature(s) " + ", ".join(map(repr, forced_roles)))
    return found


def refusal_note(found: Sequence[str], *, accepted: bool) -> str:
    """What the verdict line adds about refusals: why it failed, or what it accepted."""
    if not found:
        return ""
    if accepted:
        return f" (accepted with {ACCEPT_FLAG}: " + "; ".join(found) + ")"
    return " (refused: " + "; ".join(found) + f"; {ACCEPT_FLAG} accepts this)"
