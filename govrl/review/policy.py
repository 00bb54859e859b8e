"""Policies: the evidence a release needs, per risk tier, before it may ship."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator
from pydantic_core import PydanticCustomError

from govrl.errors import InputError, Problem
from govrl.record.base import Name, StrictModel, Text, unique_by
from govrl.resources import data_dir
from govrl.vocabulary import Comparator, Estimator, RiskTier, Severity
from govrl.yamlio import load, loads
from govrl.yamlmodel import validate_document

ROLE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
Role = Annotated[str, Field(pattern=ROLE_PATTERN)]


class OnFail(StrEnum):
    REJECT = "reject"
    CONDITION = "condition"


class MetricGate(StrictModel):
    """A threshold on evidence, judged on the conservative end of its interval.

    ``evidence`` is a pattern over evidence keys: ``metrics/<id>``,
    ``off_policy/<id>``, ``stress/<id>``, ``subgroups/<attribute>/<group>/<metric>``.
    ``field`` is ``value`` (judged on ci_low or ci_high) or a plain count such as
    ``ess`` or ``n``. ``threshold`` is a number or, for off-policy estimates,
    ``behaviour_value``: the incumbent's value on the same data.
    """

    id: Name
    description: Text | None = None
    evidence: Name
    field: Name = "value"
    comparator: Comparator
    threshold: StrictFloat | StrictInt | Name
    min_matches: Annotated[StrictInt, Field(ge=0)] = 1
    estimators: list[Estimator] | None = Field(
        default=None, description="for off-policy evidence: only these estimators"
    )
    tiers: list[RiskTier] = Field(default_factory=lambda: list(RiskTier), min_length=1)
    on_fail: OnFail = OnFail.REJECT

    @field_validator("threshold")
    @classmethod
    def _known_reference(cls, value: float | int | str) -> float | int | str:
        if isinstance(value, str) and value != "behaviour_value":
            raise PydanticCustomError(
                "threshold_ref", "threshold must be a number or 'behaviour_value'"
            )
        return value

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if value not in ("value", "ess", "n", "episodes", "auroc"):
            raise PydanticCustomError(
                "gate_field", "field must be one of value, ess, n, episodes, auroc"
            )
        return value


class TierRule(StrictModel):
    """What a tier demands of the checklists and who must sign."""

    blocking: list[Severity] = Field(
        default_factory=list, description="open items of these severities reject the release"
    )
    conditions: list[Severity] = Field(
        default_factory=list, description="open items of these severities become conditions"
    )
    signers: list[Role] = Field(min_length=1)
    validity_days: Annotated[StrictInt, Field(ge=1, le=3650)]
    distinct_signers: StrictBool | None = Field(
        default=None,
        description="each required role signed by a different person (certificate subject "
        "and key); default: true at tier 3, false below",
    )
    require_timestamp: StrictBool = Field(
        default=False,
        description="each signature needs an RFC 3161 timestamp from a trusted authority",
    )

    @model_validator(mode="after")
    def _disjoint(self) -> TierRule:
        both = set(self.blocking) & set(self.conditions)
        if both:
            raise PydanticCustomError(
                "severity_overlap",
                "severities {both} cannot both block and be conditions",
                {"both": ", ".join(sorted(s.value for s in both)), "field": "conditions"},
            )
        return self


def distinct_signers(rule: TierRule, tier: RiskTier) -> bool:
    """Whether ``rule`` asks a different person for each role; by default only at tier 3."""
    return tier == RiskTier.HIGH if rule.distinct_signers is None else rule.distinct_signers


class Policy(StrictModel):
    id: Name
    version: Name
    description: Text
    gates: Annotated[list[MetricGate], unique_by("gate ids", "id")] = Field(default_factory=list)
    tiers: dict[RiskTier, TierRule]
    unanswered_is_open: StrictBool = Field(
        default=True, description="an applicable item with no answer counts as open"
    )

    @field_validator("tiers")
    @classmethod
    def _every_tier(cls, tiers: dict[RiskTier, TierRule]) -> dict[RiskTier, TierRule]:
        missing = [str(int(t)) for t in RiskTier if t not in tiers]
        if missing:
            raise PydanticCustomError(
                "missing_tier",
                "rules for tier(s) {missing} are missing",
                {"missing": ", ".join(missing)},
            )
        return tiers


DEFAULT_POLICY = "default"


def load_policy(path: Path | None = None) -> Policy:
    """Load a policy file, or the shipped default when ``path`` is None."""
    path = path or data_dir("policies") / f"{DEFAULT_POLICY}.yaml"
    return validate_document(Policy, load(path), "policy")


def parse_policy(text: bytes | str, source: str = "<string>") -> Policy:
    """Parse a policy from its file's contents; ``source`` names it in error messages."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError([Problem(f"not UTF-8 text (byte {exc.start})", source)]) from None
    return validate_document(Policy, loads(text, source), "policy")
