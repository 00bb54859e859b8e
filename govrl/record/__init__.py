"""The assessment record: its models, identity, schema and files; imports only the base step."""

from govrl.record.assessment import AssessmentRecord
from govrl.record.base import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "AssessmentRecord"]
