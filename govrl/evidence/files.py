"""Plain files as an evidence source, for teams without an experiment tracker.

YAML or JSON runs, or CSV rows of ``key,value[,step][,run]``; docs/collect.md shows both.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from govrl.errors import InputError, Problem
from govrl.evidence.interface import (
    ArtifactFile,
    Evidence,
    EvidenceNotFound,
    EvidenceSource,
    FetchPlan,
    Point,
    RunEvidence,
    Selection,
    SourceUsageError,
)
from govrl.evidence.tables import coerce
from govrl.record.base import Count, Identifier, Name, StrictModel, Text
from govrl.vocabulary import SourceKind

MAX_BYTES = 16 * 1024 * 1024
FiniteNumber = Annotated[StrictFloat, Field(allow_inf_nan=False)] | StrictInt


class FilePoint(StrictModel):
    step: Count
    value: FiniteNumber


class FileRun(StrictModel):
    """One run in an evidence file."""

    id: Identifier | None = None
    name: Name | None = None
    experiment: Name | None = None
    params: dict[Name, StrictStr | StrictInt | StrictFloat | StrictBool] = Field(
        default_factory=dict
    )
    tags: dict[Name, StrictStr] = Field(default_factory=dict)
    metrics: dict[Name, FiniteNumber | list[FilePoint]] = Field(default_factory=dict)
    artifacts: list[Text] = Field(default_factory=list, description="tables beside this file")


class EvidenceFile(StrictModel):
    runs: list[FileRun] = Field(min_length=1)


def _relative(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive on Windows: keep it absolute
        return str(path.resolve())


class FileSource(EvidenceSource):
    """Evidence read from a YAML, JSON or CSV file; paths in provenance are relative to ``base``."""

    kind = SourceKind.FILE

    def __init__(self, path: Path, *, base: Path | None = None) -> None:
        self.path = path
        self.base = base or Path.cwd()

    def fetch(self, selection: Selection, plan: FetchPlan) -> Evidence:
        if selection.experiment or selection.model:
            raise SourceUsageError("a file source selects runs by --run only")
        if not self.path.is_file():
            raise InputError([Problem("evidence file not found", str(self.path))])
        if self.path.stat().st_size > MAX_BYTES:
            raise InputError([Problem(f"is larger than {MAX_BYTES} bytes", str(self.path))])
        location = _relative(self.path, self.base)
        if self.path.suffix.lower() == ".csv":
            runs = self._from_csv(location)
        else:
            runs = self._from_document(location, plan)
        if selection.run_ids:
            chosen = [
                r for r in runs if r.run_id in selection.run_ids or r.name in selection.run_ids
            ]
            missing = set(selection.run_ids) - {r.run_id for r in chosen} - {r.name for r in chosen}
            if missing:
                raise EvidenceNotFound(f"{location}: no run {', '.join(sorted(missing))}")
            runs = chosen
        return Evidence(SourceKind.FILE, location, runs)

    def _from_document(self, location: str, plan: FetchPlan) -> list[RunEvidence]:
        from govrl.yamlio import load
        from govrl.yamlmodel import validate_document

        doc = load(self.path)  # JSON is YAML 1.2: one bounded, line-aware loader for both
        if isinstance(doc.data, dict) and "runs" not in doc.data:
            doc.data = {"runs": [doc.data]}
            doc.lines = {("runs", 0, *loc): line for loc, line in doc.lines.items()}
        parsed = validate_document(EvidenceFile, doc, "evidence file")
        runs = []
        for index, run in enumerate(parsed.runs):
            found = RunEvidence(
                run_id=run.id,
                name=run.name or (None if run.id else f"{self.path.stem}[{index}]"),
                experiment=run.experiment,
                params={k: str(v) for k, v in run.params.items()},
                tags=dict(run.tags),
                evidence_path=location,
            )
            for key, metric in run.metrics.items():
                if isinstance(metric, list):
                    if not metric:
                        continue
                    points = [(p.step, i, float(p.value)) for i, p in enumerate(metric)]
                    found.histories[key] = points
                    found.metrics[key] = max(points, key=lambda p: (p[0], p[1]))[2]
                else:
                    found.metrics[key] = float(metric)
            for listed in run.artifacts:
                found.artifacts[listed] = self._artifact(listed, plan)
            runs.append(found)
        return runs

    def _artifact(self, listed: str, plan: FetchPlan) -> ArtifactFile:
        folder = self.path.parent.resolve()
        target = (folder / listed).resolve()
        where = f"{self.path}: artifacts: {listed}"
        if not target.is_relative_to(folder):
            raise InputError([Problem("must stay inside the evidence file's folder", where)])
        if target.name not in plan.artifact_names:
            known = ", ".join(sorted(plan.artifact_names))
            raise InputError([Problem(f"is not a table govrl reads ({known})", where)])
        if not target.is_file():
            raise InputError([Problem("not found", where)])
        if target.stat().st_size > plan.max_artifact_bytes:
            raise InputError([Problem(f"is larger than {plan.max_artifact_bytes} bytes", where)])
        return ArtifactFile(_relative(target, self.base), target.read_bytes())

    def _from_csv(self, location: str) -> list[RunEvidence]:
        try:
            text = self.path.read_text(encoding="utf-8-sig")
            rows = list(csv.DictReader(io.StringIO(text)))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InputError([Problem(f"is not a UTF-8 CSV file: {exc}", str(self.path))]) from None
        if not rows or not {"key", "value"} <= set(rows[0]):
            raise InputError([Problem("needs columns key and value", str(self.path), 1)])
        series: dict[str, dict[str, list[Point]]] = {}
        for line, row in enumerate(rows, start=2):
            key, run = (row.get("key") or "").strip(), (row.get("run") or "").strip()
            if not key:
                raise InputError([Problem("key is empty", str(self.path), line)])
            value = coerce("value", row.get("value"), source=str(self.path), row=line - 1)
            points = series.setdefault(run, {}).setdefault(key, [])
            step_text = (row.get("step") or "").strip()
            step = (
                coerce("n", step_text, source=str(self.path), row=line - 1)
                if step_text
                else len(points)
            )
            points.append((step, line, value))
        runs = []
        for run, metrics in series.items():
            found = RunEvidence(run_id=None, name=run or self.path.stem, evidence_path=location)
            for key, points in metrics.items():
                found.metrics[key] = max(points, key=lambda p: (p[0], p[1]))[2]
                if len(points) > 1:
                    found.histories[key] = points
            runs.append(found)
        return runs
