"""The technical documentation's view: EU AI Act Annex IV, points 1 to 9, from the record."""

from __future__ import annotations

from typing import Any

from govrl.record import AssessmentRecord


def technical_view(record: AssessmentRecord, view: Any) -> dict[str, Any]:
    """What the technical-documentation template reads beyond the shared view."""
    return {}
