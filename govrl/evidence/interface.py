"""The evidence-source interface: what every backend fetches, and the one error it raises."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from govrl.errors import EnvironmentFailure, GovrlError, UsageError
from govrl.vocabulary import SourceKind


class SourceError(GovrlError):
    """An evidence source could not give what was asked of it."""


class EvidenceNotFound(SourceError):
    """A run, experiment, model, version or alias that the source does not have (exit 1)."""


class SourceUnavailable(SourceError, EnvironmentFailure):
    """The source could not be reached or failed while answering (exit 3)."""


class SourceUsageError(SourceError, UsageError):
    """The source was asked for something it cannot do as given (exit 2)."""


_MODEL_REF = re.compile(r"^(?P<name>[^@/]+(?:/[^@/]+)*?)(?:@(?P<alias>[^@/]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ModelRef:
    """A registered model version, named by ``NAME@ALIAS`` or ``NAME/VERSION``."""

    name: str
    version: str | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        match = _MODEL_REF.match(text.strip())
        if not match:
            raise SourceUsageError(
                f"model {text!r} is not NAME@ALIAS or NAME/VERSION",
                hint="for example sepsis-policy@candidate or sepsis-policy/3",
            )
        return cls(match["name"], match["version"], match["alias"])

    def __str__(self) -> str:
        return f"{self.name}@{self.alias}" if self.alias else f"{self.name}/{self.version}"


@dataclass(frozen=True)
class Selection:
    """Which runs to read: by id, by experiment and filter, by registered model, or a mix."""

    run_ids: tuple[str, ...] = ()
    experiment: str | None = None
    filter: str | None = None
    model: ModelRef | None = None
    with_children: bool = False
    max_runs: int = 100

    @property
    def empty(self) -> bool:
        return not (self.run_ids or self.experiment or self.model)


@dataclass(frozen=True)
class Thinning:
    """Histories summarised as they stream in: each keeps only what a summary of its final
    ``window`` points, drawn with at most ``points`` points, needs (govrl.evidence.history)."""

    window: int
    points: int


@dataclass(frozen=True)
class FetchPlan:
    """What to fetch beyond each run's params, tags and final metric values."""

    wants_history: Callable[[str], bool]
    artifact_dir: str = "govrl"
    artifact_names: frozenset[str] = frozenset()
    max_artifact_bytes: int = 16 * 1024 * 1024
    thinning: Thinning | None = None  # None: every point of every history, as logged


@dataclass(frozen=True)
class ArtifactFile:
    path: str
    content: bytes

    @property
    def sha256(self) -> str:
        return "sha256:" + hashlib.sha256(self.content).hexdigest()


# (step, timestamp in ms, value): the timestamp only orders points logged at one step.
Point = tuple[int, int, float]


@dataclass
class RunEvidence:
    """One run as the convention sees it, whatever the backend."""

    run_id: str | None
    name: str | None = None
    experiment: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    # whole, or thinned as they streamed in (govrl.evidence.history.Thinned)
    histories: dict[str, Collection[Point]] = field(default_factory=dict)
    artifacts: dict[str, ArtifactFile] = field(default_factory=dict)
    model_name: str | None = None
    model_version: str | None = None
    evidence_path: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.run_id or self.evidence_path or "run"


@dataclass
class Evidence:
    """Everything one fetch returned, and where it came from."""

    source: SourceKind
    location: str | None
    runs: list[RunEvidence]
    model: ModelRef | None = None


@dataclass(frozen=True)
class PublishRequest:
    """A decision to write back: tags on a model version, files on its source run."""

    model: ModelRef
    tags: dict[str, str]
    files: tuple[Path, ...]
    folder: str = "governance"


@dataclass(frozen=True)
class PublishReceipt:
    model_name: str
    model_version: str
    run_id: str
    tags: dict[str, str]
    artifacts: tuple[str, ...]


class EvidenceSource(ABC):
    """A place evidence comes from: an experiment tracker, or plain files."""

    kind: SourceKind

    @abstractmethod
    def fetch(self, selection: Selection, plan: FetchPlan) -> Evidence:
        """Every selected run with what ``plan`` asks for; nothing partial on failure."""

    def publish(self, request: PublishRequest) -> PublishReceipt:
        """Write a decision back next to the evidence, where the source supports it."""
        raise SourceUsageError(f"a {self.kind.value} source cannot take decisions back")
