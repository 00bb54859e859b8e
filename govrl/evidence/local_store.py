"""Seed a local MLflow store with a record's own evaluation, logged by the convention.

`govrl demo` uses it to put the shipped grid example's evidence where a team would
keep it: a training run whose learning curves are metric histories, a nested
evaluation run carrying the result tables as `govrl/*.json` artifacts, and a
registered model version with an alias. Collecting the version back with
`--with-children` and the written mapping gives the record's evaluation again,
now with provenance pointing into the store.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govrl.evidence.interface import SourceUsageError
from govrl.evidence.mlflow import fast_failing

if TYPE_CHECKING:
    from govrl.record import AssessmentRecord

_T0 = 1_777_000_000_000  # a fixed clock (ms): every seeded store holds the same points
_LEAVE_OUT = {"provenance", "history"}  # where a value came from is the store's to say
_TABLES = (
    ("metrics", "govrl/metrics.json"),
    ("off_policy", "govrl/ope.json"),
    ("stress_tests", "govrl/stress.json"),
    ("subgroups", "govrl/subgroups.json"),
)
_DESCRIBED = ("name", "description", "unit", "split")
_NESTED = ("target", "criterion", "difference")  # target_low, criterion_comparator, ...


@dataclass(frozen=True)
class SeededStore:
    """Where the seeded store lives and what is in it."""

    folder: Path
    tracking_uri: str
    experiment: str
    model_name: str
    model_alias: str
    model_version: str
    runs: dict[str, str]  # run name -> run id
    mapping: Path  # the mapping that collects the seeded values back

    @property
    def model_ref(self) -> str:
        return f"{self.model_name}@{self.model_alias}"


def _flat(entry: Any) -> dict[str, Any]:
    """An entry as a table row: nested fields as the convention's flat columns."""
    row: dict[str, Any] = entry.model_dump(mode="json", exclude_none=True, exclude=_LEAVE_OUT)
    for name in _NESTED:
        nested = row.get(name)
        if isinstance(nested, dict):  # an estimate's target is text, a metric's a band
            del row[name]
            row |= {f"{name}_{field}": value for field, value in nested.items()}
    return row


def _curve_tags(metric: Any) -> dict[str, str]:
    """A curve's descriptions as ``govrl.metric.<id>.<field>`` tags, flat like table columns."""
    row = _flat(metric)
    tags = {
        f"govrl.metric.{metric.id}.{name}": str(row[name])
        for name in (*_DESCRIBED, "direction", "target_low", "target_high")
        if name in row
    }
    if metric.ci_level is not None:
        tags["govrl.ci_level"] = str(metric.ci_level)
    return tags


def _curve_points(metric: Any) -> list[tuple[str, float, int]]:
    """The curve's points under ``eval/<id>``, and its interval as single values."""
    points = [(f"eval/{metric.id}", p.value, p.step) for p in metric.history.points]
    last_step = metric.history.points[-1].step
    for name in ("ci_low", "ci_high"):
        value = getattr(metric, name)
        if value is not None:
            points.append((f"eval/{metric.id}/{name}", value, last_step))
    return points


def seed_record_store(
    folder: Path,
    record: AssessmentRecord,
    *,
    experiment: str,
    model: str,
    alias: str = "candidate",
) -> SeededStore:
    """Create ``folder``/mlflow.db and ``folder``/artifacts holding ``record``'s evaluation."""
    database = folder / "mlflow.db"
    if database.exists():
        raise SourceUsageError(f"{database} exists already; seed into an empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    evaluation = record.evaluation
    curves = [m for m in evaluation.metrics if m.history is not None and m.history.points]
    tables: dict[str, list[dict[str, Any]]] = {}
    for section, path in _TABLES:
        rows = [_flat(entry) for entry in getattr(evaluation, section) if entry not in curves]
        if rows:
            tables[path] = rows
    if evaluation.ood_detection is not None:
        tables["govrl/ood.json"] = [_flat(evaluation.ood_detection)]
    uri = f"sqlite:///{database.resolve()}"
    with fast_failing(30.0):
        from mlflow import MlflowClient
        from mlflow.entities import Metric, Param, RunTag

        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        artifacts = (folder / "artifacts").resolve()
        experiment_id = client.create_experiment(experiment, artifact_location=artifacts.as_uri())
        training = client.create_run(
            experiment_id, start_time=_T0, run_name=f"{record.system.id} training"
        ).info.run_id
        metrics = [
            Metric(key, float(value), _T0 + index, step)
            for curve in curves
            for index, (key, value, step) in enumerate(_curve_points(curve))
        ]
        tags = {key: value for curve in curves for key, value in _curve_tags(curve).items()}
        params = [Param("algorithm", record.model.algorithm)]
        for start in range(0, max(len(metrics), 1), 1000):  # log_batch takes 1,000 metrics
            client.log_batch(
                training,
                metrics=metrics[start : start + 1000],
                params=params if start == 0 else [],
                tags=[RunTag(k, v) for k, v in tags.items()] if start == 0 else [],
            )
        client.set_terminated(training, end_time=_T0 + 3_600_000)
        evaluation_run = client.create_run(
            experiment_id,
            start_time=_T0 + 3_600_000,
            tags={"mlflow.parentRunId": training},
            run_name="evaluation suite",
        ).info.run_id
        with tempfile.TemporaryDirectory() as tmp:
            for path, rows in tables.items():
                local = Path(tmp) / path
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")
                client.log_artifact(evaluation_run, str(local), "govrl")
        client.set_terminated(evaluation_run, end_time=_T0 + 7_200_000)
        client.create_registered_model(model, description=record.system.name)
        source = client.get_run(training).info.artifact_uri + "/policy"
        version = client.create_model_version(model, source=source, run_id=training)
        client.set_registered_model_alias(model, alias, version.version)
    windows = sorted({c.history.window for c in curves if c.history and c.history.window})
    mapping = folder / "mapping.yaml"
    mapping.write_text(f"window: {windows[0]}\n" if windows else "{}\n", encoding="utf-8")
    runs = {"training": training, "evaluation": evaluation_run}
    return SeededStore(folder, uri, experiment, model, alias, str(version.version), runs, mapping)
