"""Long histories come whole from MLflow's bulk endpoint, sized by the runs already read."""

from __future__ import annotations

import uuid

import pytest

from govrl.evidence.interface import FetchPlan, Selection
from govrl.evidence.mlflow import MlflowSource
from tests.support.mlflow_server import MlflowServer, counting_requests

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]

BULK = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
PAGED = "/api/2.0/mlflow/metrics/get-history"
STEPS = 12_000  # two runs fill one bulk answer (25,000 points); three overflow it


def test_histories_that_overflow_one_bulk_answer_arrive_whole_without_paging(
    mlflow_server: MlflowServer,
) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(mlflow_server.url)
    experiment = client.create_experiment(f"long-{uuid.uuid4().hex[:8]}")
    logged: dict[str, list[tuple[int, float]]] = {}
    for r in range(3):
        run_id = client.create_run(experiment).info.run_id
        points = [(s, (s * 7 + r) % 101 / 100) for s in range(STEPS)]
        for start in range(0, STEPS, 1000):
            batch = [Metric("train/loss", v, 1_000 + s, s) for s, v in points[start : start + 1000]]
            client.log_batch(run_id, metrics=batch)
        logged[run_id] = points
    name = client.get_experiment(experiment).name

    source = MlflowSource(mlflow_server.url)
    plan = FetchPlan(wants_history=lambda key: key == "train/loss")
    with counting_requests() as requests:
        evidence = source.fetch(Selection(experiment=name), plan)

    fetched = {
        run.run_id: [(s, v) for s, _, v in run.histories["train/loss"]] for run in evidence.runs
    }
    assert fetched == logged  # every point of every run, none twice
    # the first answer is cut after one whole run; the next asks for the two left
    assert requests.paths.count(BULK) == 2, requests.paths
    assert PAGED not in requests.paths
