"""Checklist answers, deployment and oversight, monitoring, and the changelog."""

import datetime as dt
from typing import Annotated, Self

from pydantic import Field, StrictStr, model_validator
from pydantic_core import PydanticCustomError

from govrl.record.base import (
    Contact,
    Identifier,
    Name,
    Number,
    Probability,
    Sha256,
    StrictModel,
    Text,
    empty_dict,
    empty_list,
)
from govrl.vocabulary import Answer, Comparator


class ItemResponse(StrictModel):
    answer: Answer
    evidence: list[Text] = Field(
        default_factory=empty_list, description="paths, URLs, MLflow run or artifact ids"
    )
    notes: Text | None = None
    reason: Text | None = Field(default=None, description="why the item does not apply")
    answered_by: Name
    answered_at: dt.datetime

    @model_validator(mode="after")
    def _not_applicable_needs_reason(self) -> Self:
        if self.answer is Answer.NOT_APPLICABLE and not self.reason:
            raise PydanticCustomError(
                "missing_reason", "an item answered not-applicable needs a reason"
            )
        return self


class ChecklistResponses(StrictModel):
    """The answers to one version of one checklist, keyed by item id."""

    id: Identifier
    version: Name
    items: dict[Identifier, ItemResponse] = Field(default_factory=empty_dict)


class RolloutStage(StrictModel):
    name: Name
    exposure: Text = Field(description="who or what the policy acts on at this stage")
    sites: list[Name] = Field(default_factory=empty_list, description="where the stage runs")
    population: Text | None = Field(default=None, description="who the policy acts on")
    traffic_share: Probability | None = Field(
        default=None, description="share of decisions, traffic or load the policy takes"
    )
    authority: Name | None = Field(
        default=None, description="e.g. shadow, advisory, limited authority, full authority"
    )
    exit_criteria: Text
    duration: Name | None = None


class Deployment(StrictModel):
    rollout_stages: list[RolloutStage] = Field(default_factory=empty_list)
    requested_stage: Name | None = Field(
        default=None, description="the rollout stage this assessment asks approval for"
    )
    human_override: Text | None = None
    fallback: Text | None = None
    rollback_criteria: list[Text] = Field(default_factory=empty_list)

    @model_validator(mode="after")
    def _requested_stage_exists(self) -> Self:
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
    oversight_metric: Name | None = Field(
        default=None, description="the reward.oversight_metrics entry this monitors, by name"
    )
    alarm_when: Comparator
    threshold: Number
    action: Text = Field(description="what happens when the alarm fires")


class Monitoring(StrictModel):
    metrics: list[MonitoredMetric] = Field(min_length=1)
    cadence: Name
    update_triggers: list[Text] = Field(default_factory=empty_list)
    incident_contact: Contact
    next_review: dt.date


class ChangelogEntry(StrictModel):
    version: Name
    date: dt.date
    author: Name
    summary: Text


RAISED_BY = r"^(gate|requirement|item|evidence):[A-Za-z0-9][A-Za-z0-9._/:@*-]*$"


class TrackedCondition(StrictModel):
    """A condition of approval, tracked to closure.

    ``raised_by`` names what raises it in the decision: ``gate:<gate id>``,
    ``requirement:<requirement id>`` or ``item:<checklist id>/<item id>``. It is closed
    when a later decision no longer raises it.
    """

    id: Identifier
    raised_by: Annotated[StrictStr, Field(pattern=RAISED_BY, max_length=256)]
    description: Text
    owner: Name
    due: dt.date
    closed_by: Text = Field(description="the evidence or check that closes it")


class PolicyBinding(StrictModel):
    """The policy this record is judged by, named by its file's digest."""

    id: Name
    version: Name | None = None
    digest: Sha256
    path: Text | None = Field(
        default=None, description="where to find the policy file, relative to the record"
    )
