"""The assessment record: its models, identity, schema and files; imports only the base step.

``AssessmentRecord`` loads on first use: a module that needs only ``govrl.record.base``
(checklists, policies) then does not pay for building every record model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from govrl.record.base import SCHEMA_VERSION

if TYPE_CHECKING:
    from govrl.record.assessment import AssessmentRecord

__all__ = ["SCHEMA_VERSION", "AssessmentRecord"]


def __getattr__(name: str) -> Any:
    if name == "AssessmentRecord":
        from govrl.record.assessment import AssessmentRecord

        return AssessmentRecord
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
