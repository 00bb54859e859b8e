"""The reward report's view: the six sections of a Reward Report, from the record."""

from __future__ import annotations

from typing import Any

from govrl.record import AssessmentRecord


def reward_report_view(record: AssessmentRecord, view: Any) -> dict[str, Any]:
    """What the reward-report template reads beyond the shared view."""
    return {}
