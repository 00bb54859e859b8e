"""The assessment record's models. A leaf: imports nothing of govrl but errors."""

from govrl.record.assessment import AssessmentRecord
from govrl.record.base import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "AssessmentRecord"]
