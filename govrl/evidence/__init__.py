"""Evidence sources behind one interface; ``open_source`` picks the backend by name or URI."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from govrl.evidence.interface import (
    EvidenceNotFound,
    EvidenceSource,
    FetchPlan,
    ModelRef,
    PublishReceipt,
    PublishRequest,
    Selection,
    SourceError,
    SourceUnavailable,
    SourceUsageError,
)

__all__ = [
    "EvidenceNotFound",
    "EvidenceSource",
    "FetchPlan",
    "ModelRef",
    "PublishReceipt",
    "PublishRequest",
    "Selection",
    "SourceError",
    "SourceUnavailable",
    "SourceUsageError",
    "open_source",
]

_FILE_SUFFIXES = {".json", ".yaml", ".yml", ".csv"}


def open_source(
    location: str,
    *,
    kind: str | None = None,
    timeout: float | None = None,
    base: Path | None = None,
) -> EvidenceSource:
    """The source at ``location``: ``kind`` "mlflow" or "file", or guessed from the URI.

    Backends are imported here, not above, so that naming a source costs nothing
    until one is opened (the MLflow one imports mlflow only when it first talks).
    """
    if kind is None:
        looks_like_file = (
            urlsplit(location).scheme == "" and Path(location).suffix in _FILE_SUFFIXES
        )
        kind = "file" if looks_like_file else "mlflow"
    if kind == "file":
        from govrl.evidence.files import FileSource

        return FileSource(Path(location), base=base)
    if kind == "mlflow":
        from govrl.evidence.mlflow import DEFAULT_TIMEOUT, MlflowSource

        return MlflowSource(location, timeout=timeout or DEFAULT_TIMEOUT)
    raise SourceUsageError(f"no evidence source {kind!r} (known: mlflow, file)")
