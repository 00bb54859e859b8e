"""What a professional file holds beyond the evidence: the hazard log, the reviewers and
their independence, the register of documents the answers cite, and the technical file's
facts (EU AI Act Annex IV) that no other section records."""

import datetime as dt
from enum import StrEnum

from pydantic import Field

from govrl.record.base import Identifier, Name, Sha256, StrictModel, Text, empty_list

# Evidence keys in the record that a hazard's verification may name; anything else is read
# as a document or other reference, as checklist evidence is.
RECORD_KEY_PREFIXES = ("metrics/", "off_policy/", "stress/", "subgroups/")
OOD_KEY = "ood"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class HazardControl(StrictModel):
    description: Text
    constraint: Name | None = Field(
        default=None, description="the model.safety_constraints entry that implements it"
    )


class ResidualRisk(StrictModel):
    level: RiskLevel
    rationale: Text = Field(description="why this residual risk is acceptable, or is not")


class Hazard(StrictModel):
    """One line of the hazard log: hazard, cause, control, verifying evidence, residual
    risk and the signal that would show it happening in deployment."""

    id: Identifier
    hazard: Text = Field(description="what could go wrong, and to whom")
    cause: Text
    failure_mode: Identifier | None = Field(
        default=None, description="the reward.failure_modes entry this hazard follows from"
    )
    controls: list[HazardControl] = Field(default_factory=empty_list)
    verified_by: list[Text] = Field(
        default_factory=empty_list,
        description="evidence that the controls work: a record key such as stress/ID or "
        "metrics/ID, or a document",
    )
    residual_risk: ResidualRisk
    monitoring: list[Name] = Field(
        default_factory=empty_list, description="monitoring.metrics entries that would show it"
    )


class Reviewer(StrictModel):
    """A person who reviewed the assessment, and why their judgement is independent."""

    name: Name
    role: Name = Field(description="the reviewer role, as the policy names it")
    organisation: Name | None = None
    independence: Text = Field(
        description="how the reviewer stands apart from the team that built the system"
    )
    conflicts: Text | None = Field(default=None, description="interests declared, if any")
    reviewed_on: dt.date | None = None


class RegisteredDocument(StrictModel):
    """A document cited as evidence, fixed by its digest."""

    ref: Text = Field(description="the reference exactly as checklist answers cite it")
    title: Text | None = None
    version: Name | None = None
    date: dt.date | None = None
    sha256: Sha256 | None = None


class ConnectedSystem(StrictModel):
    name: Name
    version: Name | None = None
    interaction: Text = Field(description="what passes between the two systems")


class SoftwareComponent(StrictModel):
    name: Name
    version: Name


class TechnicalFile(StrictModel):
    """Facts the EU AI Act's Annex IV asks for that the other sections do not hold."""

    connected_systems: list[ConnectedSystem] = Field(
        default_factory=empty_list, description="systems it interacts with (Annex IV 1(b))"
    )
    software: list[SoftwareComponent] = Field(
        default_factory=empty_list, description="software and firmware versions (Annex IV 1(c))"
    )
    release_forms: list[Text] = Field(
        default_factory=empty_list, description="forms in which it is released (Annex IV 1(d))"
    )
    hardware: Text | None = Field(default=None, description="what it runs on (Annex IV 1(e))")
    instructions_for_use: Text | None = Field(
        default=None, description="where the instructions for use are (Annex IV 1(h))"
    )
    compute: Text | None = Field(
        default=None,
        description="computational resources used to train, test and validate (Annex IV 2(c))",
    )
    change_control_plan: Text | None = Field(
        default=None, description="pre-determined changes and how they are controlled (2(f))"
    )
    cybersecurity: list[Text] = Field(
        default_factory=empty_list, description="cybersecurity measures (Annex IV 2(h))"
    )
    harmonised_standards: list[Text] = Field(
        default_factory=empty_list,
        description="harmonised standards or specifications (Annex IV 7)",
    )
    declaration_of_conformity: Text | None = Field(
        default=None, description="the EU declaration of conformity's reference (Annex IV 8)"
    )


def is_record_key(ref: str) -> bool:
    """Whether a verification reference names evidence in the record rather than a document."""
    return ref == OOD_KEY or ref.startswith(RECORD_KEY_PREFIXES)
