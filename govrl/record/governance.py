"""Checklist answers, deployment and oversight, monitoring, and the changelog."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from govrl.record.base import Contact, Identifier, Name, Number, StrictModel, Text
from govrl.vocabulary import Answer, Comparator


class ItemResponse(StrictModel):
    answer: Answer
    evidence: list[Text] = Field(
        default_factory=list, description="paths, URLs, MLflow run or artifact ids"
    )
    notes: Text | None = None
    reason: Text | None = Field(default=None, description="why the item does not apply")
    answered_by: Name
    answered_at: dt.datetime

    @model_validator(mode="after")
    def _not_applicable_needs_reason(self) -> ItemResponse:
        if self.answer is Answer.NOT_APPLICABLE and not self.reason:
            raise PydanticCustomError(
                "missing_reason", "an item answered not-applicable needs a reason"
            )
        return self


class ChecklistResponses(StrictModel):
    """The answers to one version of one checklist, keyed by item id."""

    id: Identifier
    version: Name
    items: dict[Identifier, ItemResponse] = Field(default_factory=dict)


class RolloutStage(StrictModel):
    name: Name
    exposure: Text = Field(description="who or what the policy acts on at this stage")
    exit_criteria: Text
    duration: Name | None = None


class Deployment(StrictModel):
    rollout_stages: list[RolloutStage] = Field(default_factory=list)
    requested_stage: Name | None = Field(
        default=None, description="the rollout stage this assessment asks approval for"
    )
    human_override: Text | None = None
    fallback: Text | None = None
    rollback_criteria: list[Text] = Field(default_factory=list)

    @model_validator(mode="after")
    def _requested_stage_exists(self) -> Deployment:
        names = [stage.name for stage in self.rollout_stages]
        if self.requested_stage is not None and self.requested_stage not in names:
            raise PydanticCustomError(
                "unknown_stage",
                "requested_stage {stage!r} is not one of the rollout_stages ({names})",
                {
                    "stage": self.requested_stage,
                    "names": ", ".join(names) or "none",
                    "field": "requested_stage",
                },
            )
        return self


class MonitoredMetric(StrictModel):
    name: Name
    description: Text | None = None
    alarm_when: Comparator
    threshold: Number
    action: Text = Field(description="what happens when the alarm fires")


class Monitoring(StrictModel):
    metrics: list[MonitoredMetric] = Field(min_length=1)
    cadence: Name
    update_triggers: list[Text] = Field(default_factory=list)
    incident_contact: Contact
    next_review: dt.date


class ChangelogEntry(StrictModel):
    version: Name
    date: dt.date
    author: Name
    summary: Text
