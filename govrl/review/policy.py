"""Policies: the evidence a release needs, per risk tier, before it may ship."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import (
    Field,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from govrl.errors import InputError, Problem
from govrl.record.base import Name, StrictModel, Text, unique_by
from govrl.resources import data_dir
from govrl.vocabulary import Comparator, Estimator, Family, RiskTier, Severity
from govrl.yamlio import loads, read_bounded
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


class EvidenceRequirement(StrictModel):
    """Evidence that must exist at the listed tiers, whatever its value.

    Missing required evidence blocks at tier 3; below it, ``on_missing`` decides.
    """

    id: Name
    description: Text | None = None
    evidence: Name = Field(description="a pattern over evidence keys, as in gates")
    estimators: list[Estimator] | None = Field(
        default=None, description="for off-policy evidence: only these estimators count"
    )
    interval: StrictBool = Field(
        default=False, description="only evidence with both ci_low and ci_high counts"
    )
    at_least: Annotated[StrictInt, Field(ge=1)] = 1
    tiers: list[RiskTier] = Field(default_factory=lambda: list(RiskTier), min_length=1)
    families: list[Family] | None = Field(
        default=None, description="only for records whose model.family is one of these"
    )
    on_missing: OnFail = OnFail.REJECT


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


def policy_digest(data: bytes) -> str:
    """A policy's identity: the SHA-256 of its file's exact bytes, as ``sha256sum`` prints it."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def policy_label(policy_id: str, version: str) -> str:
    """How documents and the archive name a policy: ``id@version``."""
    return f"{policy_id}@{version}"


class Policy(StrictModel):
    id: Name
    version: Name
    description: Text
    gates: Annotated[list[MetricGate], unique_by("gate ids", "id")] = Field(default_factory=list)
    requirements: Annotated[list[EvidenceRequirement], unique_by("requirement ids", "id")] = Field(
        default_factory=list
    )
    tiers: dict[RiskTier, TierRule]
    unanswered_is_open: StrictBool = Field(
        default=True, description="an applicable item with no answer counts as open"
    )
    _file_digest: str | None = PrivateAttr(default=None)

    @property
    def label(self) -> str:
        return policy_label(self.id, self.version)

    @property
    def digest(self) -> str | None:
        """The digest of the file it was parsed from (``policy_digest``); None if built in code."""
        return self._file_digest

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
    return parse_policy(read_bounded(path), str(path))


def parse_policy(text: bytes | str, source: str = "<string>") -> Policy:
    """Parse a policy from its file's contents, remembering their digest; ``source`` names
    it in error messages."""
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([Problem(f"not UTF-8 text (byte {exc.start})", source)]) from None
    policy = validate_document(Policy, loads(decoded, source), "policy")
    policy._file_digest = policy_digest(data)
    return policy
