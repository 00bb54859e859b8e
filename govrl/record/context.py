"""What the system is, who answers for it, and what it is for."""

from typing import Annotated

from pydantic import Field, StrictBool

from govrl.record.base import Contact, Identifier, Name, StrictModel, Text, empty_list, unique_by
from govrl.vocabulary import Autonomy, Domain, Framework, RiskTier


class RegulatoryClassification(StrictModel):
    """How the system is classified under the rules that apply to it."""

    framework: Name = "EU AI Act"
    high_risk: StrictBool
    basis: Text | None = Field(
        default=None, description="e.g. 'Annex III point 5(a)', or why it is not high-risk"
    )
    other_regimes: list[Name] = Field(
        default_factory=empty_list, description="e.g. medical-device regulation, grid codes"
    )
    frameworks: Annotated[list[Framework], unique_by("frameworks")] | None = Field(
        default=None,
        description="the frameworks that apply to this system, where it is deployed; "
        "coverage is reported for these only",
    )
    notes: Text | None = None


class System(StrictModel):
    id: Identifier
    name: Name
    version: Name
    description: Text
    domain: Domain
    risk_tier: RiskTier
    owner: Contact
    contacts: list[Contact] = Field(default_factory=empty_list)
    regulatory: RegulatoryClassification


class Alternative(StrictModel):
    """A simpler approach that was considered, and why it was not enough."""

    approach: Text
    outcome: Text


class IntendedUse(StrictModel):
    purpose: Text
    users: Annotated[list[Name], unique_by("users")] = Field(min_length=1)
    setting: Text
    autonomy: Autonomy | None = None
    affected_people: list[Name] = Field(default_factory=empty_list)
    sensitive_attributes: Annotated[list[Name], unique_by("sensitive attributes")] = Field(
        default_factory=empty_list,
        description="attributes the system may treat people differently by, e.g. sex, age band; "
        "evaluation.subgroups report each",
    )
    out_of_scope: list[Text] = Field(default_factory=empty_list)
    foreseeable_misuse: list[Text] = Field(default_factory=empty_list)
    alternatives_considered: list[Alternative] = Field(default_factory=empty_list)
    stakeholders: list[Text] = Field(
        default_factory=empty_list, description="who else has a stake in its decisions, and how"
    )
    explanation: Text | None = Field(
        default=None, description="how a decision is explained to the people it affects"
    )
    recourse: Text | None = Field(
        default=None, description="how someone affected contests a decision or obtains redress"
    )
