"""The record's closed vocabularies: plain enums, cheap to import (no pydantic)."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class SourceKind(StrEnum):
    MLFLOW = "mlflow"
    FILE = "file"
    MANUAL = "manual"


class RiskTier(IntEnum):
    """1 low stakes; 2 a human approves each action; 3 high-risk or acting on its own."""

    LOW = 1
    HUMAN_APPROVES = 2
    HIGH = 3


class Domain(StrEnum):
    HEALTHCARE = "healthcare"
    AUTONOMOUS_SYSTEMS = "autonomous-systems"
    ENERGY = "energy-infrastructure"
    RECOMMENDER = "recommender"
    FINANCE = "finance"
    OTHER = "other"


class Autonomy(StrEnum):
    ADVISORY = "advisory"
    HUMAN_APPROVES = "human-approves"
    HUMAN_ON_THE_LOOP = "human-on-the-loop"
    AUTONOMOUS = "autonomous"


class Family(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    MODEL_BASED = "model-based"
    OFFLINE_TO_ONLINE = "offline-to-online"
    BANDIT = "contextual-bandit"


class SpaceKind(StrEnum):
    DISCRETE = "discrete"
    CONTINUOUS = "continuous"
    MULTI_DISCRETE = "multi-discrete"
    HYBRID = "hybrid"


class ConstraintKind(StrEnum):
    SHIELD = "shield"
    ACTION_MASK = "action-mask"
    SAFETY_FILTER = "safety-filter"
    RATE_LIMIT = "rate-limit"
    REWARD_PENALTY = "reward-penalty"
    OTHER = "other"


class Propensities(StrEnum):
    LOGGED = "logged"
    ESTIMATED = "estimated"
    UNKNOWN = "unknown"


class Estimator(StrEnum):
    IS = "IS"
    WIS = "WIS"
    PDIS = "PDIS"
    WPDIS = "WPDIS"
    DM = "DM"
    DR = "DR"
    WDR = "WDR"
    FQE = "FQE"
    MAGIC = "MAGIC"
    HCOPE = "HCOPE"
    MODEL_BASED = "model-based"
    OTHER = "other"


class StressKind(StrEnum):
    DISTRIBUTION_SHIFT = "distribution-shift"
    ADVERSARIAL = "adversarial"
    EDGE_CASE = "edge-case"
    SENSOR_FAULT = "sensor-fault"
    OTHER = "other"


class Answer(StrEnum):
    YES = "yes"
    PARTIAL = "partial"
    NO = "no"
    NOT_APPLICABLE = "not-applicable"


class Comparator(StrEnum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


class Direction(StrEnum):
    """Which way a metric improves: up, down, or towards a band."""

    HIGHER = "higher-is-better"
    LOWER = "lower-is-better"
    BAND = "within-band"


class Severity(StrEnum):
    BLOCKER = "blocker"
    MAJOR = "major"
    MINOR = "minor"


class Framework(StrEnum):
    EU_AI_ACT = "eu-ai-act"
    NIST_AI_RMF = "nist-ai-rmf"
    ISO_42001 = "iso-42001"
    REWARD_REPORTS = "reward-reports"
    FDA_GMLP = "fda-gmlp"
    OTHER = "other"
