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

from govrl.errors import InputError, Problem, UsageError
from govrl.record.base import Name, StrictModel, Text, unique_by
from govrl.resources import data_dir
from govrl.vocabulary import (
    Comparator,
    Domain,
    Estimator,
    Family,
    Framework,
    RiskTier,
    Severity,
)
from govrl.yamlio import loads, read_bounded
from govrl.yamlmodel import validate_document

ROLE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
Role = Annotated[str, Field(pattern=ROLE_PATTERN)]


class OnFail(StrEnum):
    REJECT = "reject"
    CONDITION = "condition"


class Per(StrEnum):
    """What a requirement is expanded over: one requirement per declared item."""

    SENSITIVE_ATTRIBUTE = "sensitive-attribute"  # subgroup results for each attribute
    FAILURE_MODE = "failure-mode"  # a stress test naming each failure mode
    OVERSIGHT_METRIC = "oversight-metric"  # a monitoring metric naming each oversight metric


GATE_FIELDS = ("value", "ess", "n", "episodes", "auroc", "effective_n", "relative_ess")

StagePatterns = Annotated[list[Text], Field(min_length=1)]
_STAGES_HELP = (
    "only when the requested stage's name or its authority matches one of these glob "
    "patterns (e.g. '*shadow*'); a record naming no stage is judged by every such rule"
)


class MetricGate(StrictModel):
    """A threshold on evidence, judged on the conservative end of its interval.

    ``evidence`` is a pattern over evidence keys: ``metrics/<id>``,
    ``off_policy/<id>``, ``stress/<id>``, ``subgroups/<attribute>/<group>/<metric>``.
    ``field`` is ``value`` (judged on ci_low or ci_high), a plain count such as ``ess`` or
    ``n``, ``effective_n`` (ESS where there is one, n or episodes otherwise) or
    ``relative_ess`` (ESS per episode, or per subject for subgroups). ``threshold`` is a
    number or, for off-policy estimates, ``behaviour_value``: the incumbent's value on the
    same data; where the record gives the paired difference, its interval is judged
    against 0 instead.
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
    domains: list[Domain] | None = Field(
        default=None, description="only for records whose system.domain is one of these"
    )
    stages: StagePatterns | None = Field(default=None, description=_STAGES_HELP)
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
        if value not in GATE_FIELDS:
            raise PydanticCustomError(
                "gate_field", "field must be one of {fields}", {"fields": ", ".join(GATE_FIELDS)}
            )
        return value


class EvidenceRequirement(StrictModel):
    """Evidence that must exist at the listed tiers, whatever its value.

    Missing required evidence blocks at tier 3; below it, ``on_missing`` decides. With
    ``per``, it is one requirement for each item the record declares of that kind, and
    ``evidence`` may narrow what counts (e.g. ``subgroups/*`` per sensitive attribute).
    """

    id: Name
    description: Text | None = None
    evidence: Name | None = Field(
        default=None, description="a pattern over evidence keys, as in gates (needed without per)"
    )
    per: Per | None = Field(
        default=None,
        description="sensitive-attribute, failure-mode or oversight-metric: one requirement "
        "per item of that kind the record declares",
    )
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
    domains: list[Domain] | None = Field(
        default=None, description="only for records whose system.domain is one of these"
    )
    stages: StagePatterns | None = Field(default=None, description=_STAGES_HELP)
    on_missing: OnFail = OnFail.REJECT

    @model_validator(mode="after")
    def _what_is_required(self) -> EvidenceRequirement:
        if self.evidence is None and self.per is None:
            raise PydanticCustomError(
                "requirement_target",
                "a requirement needs evidence (a pattern), per, or both",
                {"field": "evidence"},
            )
        return self


class StageRule(StrictModel):
    """Signers and validity for a rollout stage, overriding the tier's own.

    The first rule whose ``match`` fits the requested stage (its name or its authority)
    and whose ``tiers`` hold the record's tier applies.
    """

    match: StagePatterns = Field(description="glob patterns over the stage name or authority")
    tiers: list[RiskTier] = Field(default_factory=lambda: list(RiskTier), min_length=1)
    signers: Annotated[list[Role], Field(min_length=1)] | None = None
    validity_days: Annotated[StrictInt, Field(ge=1, le=3650)] | None = None


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


CARD_SIGNERS = ["owner", "independent-validator"]
REWARD_REPORT_SIGNERS = ["owner"]


class ModelCardRule(StrictModel):
    """Who signs a document that states what the system is (a model card, the technical
    documentation, a reward report): it approves nothing, so it has no validity period."""

    signers: Annotated[list[Role], Field(min_length=1)] = Field(
        default_factory=lambda: list(CARD_SIGNERS),
        description="roles whose signatures the document carries and `verify` requires",
    )


def _reward_report_rule() -> ModelCardRule:
    return ModelCardRule(signers=list(REWARD_REPORT_SIGNERS))


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
    stages: list[StageRule] = Field(
        default_factory=list, description="signers and validity per rollout stage"
    )
    unanswered_is_open: StrictBool = Field(
        default=True, description="an applicable item with no answer counts as open"
    )
    max_evidence_age_days: Annotated[StrictInt, Field(ge=1, le=3650)] | None = Field(
        default=None,
        description="evidence fetched longer than this before the decision becomes a condition",
    )
    frameworks: Annotated[list[Framework], unique_by("frameworks")] | None = Field(
        default=None,
        description="frameworks coverage is reported for when the record declares none",
    )
    model_card: ModelCardRule = Field(
        default_factory=ModelCardRule, description="who signs a model card"
    )
    technical_documentation: ModelCardRule = Field(
        default_factory=ModelCardRule, description="who signs the technical documentation"
    )
    reward_report: ModelCardRule = Field(
        default_factory=_reward_report_rule, description="who signs a reward report"
    )
    _file_digest: str | None = PrivateAttr(default=None)

    @property
    def label(self) -> str:
        return policy_label(self.id, self.version)

    def statement_signers(self, kind: str) -> list[str] | None:
        """The roles that sign a document of ``kind`` that states rather than approves (a
        model card, technical documentation, a reward report); None for an approval."""
        rule = {
            "model-card": self.model_card,
            "technical-documentation": self.technical_documentation,
            "reward-report": self.reward_report,
        }.get(kind)
        return None if rule is None else list(rule.signers)

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


def shipped_policies() -> dict[str, Path]:
    """The policies govrl ships, by name (the file name without ``.yaml``)."""
    return {p.stem: p for p in sorted(data_dir("policies").glob("*.yaml"))}


def shipped_policy(name: str) -> Path:
    """The file of the shipped policy ``name``; an unknown name lists the shipped ones."""
    found = shipped_policies()
    if name not in found:
        raise UsageError(
            f"no policy file or shipped policy named {name!r}",
            hint="shipped policies: " + ", ".join(found),
        )
    return found[name]


def load_policy(path: Path | None = None) -> Policy:
    """Load a policy file, or the shipped default when ``path`` is None."""
    path = path or shipped_policy(DEFAULT_POLICY)
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
