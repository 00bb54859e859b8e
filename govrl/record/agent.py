"""The learned policy: algorithm, spaces, horizon, and what it learned from."""

import datetime as dt
from typing import Annotated, Self

from pydantic import (
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from govrl.record.base import (
    Count,
    Name,
    Sha256,
    StrictModel,
    Text,
    empty_dict,
    empty_list,
    unique_by,
)
from govrl.vocabulary import ConstraintKind, Family, Propensities, SpaceKind


class Space(StrictModel):
    kind: SpaceKind
    shape: Text = Field(description="dimensions or number of choices, e.g. '48' or '5 x 5'")
    description: Text


class DataSet(StrictModel):
    name: Name
    version: Name
    digest: Sha256 | None = None
    role: Name = Field(description="training, validation, test, behaviour log, ...")
    description: Text | None = None
    size: Text | None = Field(default=None, description="episodes, transitions, patients")
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    source: Text | None = None

    @model_validator(mode="after")
    def _period_ordered(self) -> Self:
        if self.period_start and self.period_end and self.period_start > self.period_end:
            raise PydanticCustomError(
                "date_order",
                "period_start ({start}) is after period_end ({end})",
                {
                    "start": str(self.period_start),
                    "end": str(self.period_end),
                    "field": "period_start",
                },
            )
        return self


class Simulator(StrictModel):
    name: Name
    version: Name
    digest: Sha256 | None = None
    description: Text | None = None
    validation: Text | None = Field(
        default=None, description="how the simulator was checked against the real system"
    )


class BehaviourPolicy(StrictModel):
    """The policy that generated offline data; off-policy estimates depend on it."""

    description: Text
    propensities: Propensities
    estimation: Text | None = Field(default=None, description="how propensities were estimated")


class Artifact(StrictModel):
    name: Name
    uri: Text
    digest: Sha256 | None = None


class SafetyConstraint(StrictModel):
    """A hard limit on what the policy may do, and what enforces it."""

    name: Name
    kind: ConstraintKind
    description: Text
    enforced_outside_policy: StrictBool = Field(
        description="true when a shield, mask or filter enforces it regardless of the policy"
    )


class ModelSpec(StrictModel):
    algorithm: Name
    family: Family
    description: Text | None = None
    observation_space: Space
    action_space: Space
    horizon: Annotated[StrictInt, Field(ge=1)] | None = Field(
        default=None, description="steps per episode; empty for a continuing task"
    )
    discount: Annotated[StrictFloat, Field(gt=0, le=1)]
    decision_interval: Text | None = None
    datasets: Annotated[
        list[DataSet], unique_by("data set name and version", "name", "version")
    ] = Field(default_factory=empty_list)
    simulators: Annotated[
        list[Simulator], unique_by("simulator name and version", "name", "version")
    ] = Field(default_factory=empty_list)
    behaviour_policy: BehaviourPolicy | None = None
    artifacts: list[Artifact] = Field(default_factory=empty_list)
    safety_constraints: list[SafetyConstraint] = Field(default_factory=empty_list)
    seeds: Count | None = Field(default=None, description="independent training seeds")
    hyperparameters: dict[Name, StrictInt | StrictFloat | StrictStr | StrictBool] = Field(
        default_factory=empty_dict
    )

    @model_validator(mode="after")
    def _evidence_of_training(self) -> Self:
        offline = self.family in (Family.OFFLINE, Family.OFFLINE_TO_ONLINE, Family.BANDIT)
        if offline and self.behaviour_policy is None:
            raise PydanticCustomError(
                "missing_behaviour_policy",
                "a {family} policy learns from logged data: describe the behaviour_policy",
                {"family": self.family.value},
            )
        if offline and not self.datasets:
            raise PydanticCustomError(
                "missing_datasets", "an offline policy needs at least one entry in datasets"
            )
        if not self.datasets and not self.simulators:
            raise PydanticCustomError(
                "missing_training_source", "name the datasets or simulators the policy learned from"
            )
        return self
