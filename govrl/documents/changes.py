"""What may change in a signed document after a signature, and how a change is reported."""

from __future__ import annotations

from typing import Any

ALLOWED_LATER_CHANGES = {"NONE", "LTA_UPDATES", "FORM_FILLING"}


def later_change_problems(status: Any, role: str, signer: str) -> list[str]:
    """Why the revisions after this signature are not acceptable, if they are not."""
    level = status.modification_level.name if status.modification_level else "NONE"
    if level in ALLOWED_LATER_CHANGES:
        return []
    return [
        f"signature {role!r} by {signer}: the document was changed after it was signed "
        f"beyond adding signatures (pyHanko difference analysis: {level})"
    ]
