"""The reward: each term, what it stands in for, and how it could be gamed."""

from typing import Annotated

from pydantic import Field

from govrl.record.base import Identifier, Name, Number, StrictModel, Text, empty_list, unique_by


class RewardTerm(StrictModel):
    name: Name
    weight: Number
    signal: Text = Field(description="what the term reads, e.g. 'mean arterial pressure'")
    proxy_for: Text = Field(description="the outcome the term stands in for")
    gaming_risks: list[Text] = Field(
        default_factory=empty_list,
        description="ways a policy could raise the term without the outcome",
    )


class OversightMetric(StrictModel):
    """A measure of what matters that is deliberately kept out of the reward."""

    name: Name
    description: Text
    why_not_in_reward: Text | None = None


class FailureMode(StrictModel):
    """A way the learned policy could go wrong, named so stress tests can point at it."""

    id: Identifier
    description: Text


class LearnedReward(StrictModel):
    """How a reward learned from preferences or demonstrations was obtained."""

    method: Text
    annotators: Text
    agreement: Text | None = None
    validation: Text


class RewardSpec(StrictModel):
    description: Text
    terms: Annotated[list[RewardTerm], unique_by("reward term names", "name")] = Field(min_length=1)
    oversight_metrics: Annotated[
        list[OversightMetric], unique_by("oversight metric names", "name")
    ] = Field(default_factory=empty_list)
    failure_modes: Annotated[list[FailureMode], unique_by("failure mode ids", "id")] = Field(
        default_factory=empty_list,
        description="each with an id; evaluation.stress_tests name the ones they probe",
    )
    learned: LearnedReward | None = None
    source: Text | None = Field(
        default=None, description="where the reward is defined, e.g. a file at a commit"
    )
