"""Collection time and HTTP requests against a real local MLflow server, bulk versus naive.

Run by hand: `.venv/bin/python benchmarks/bench_collect.py`. It starts `mlflow server`
on a free port, logs 3 runs x 10 metrics x 1,000 steps, then times (median of a few
rounds) govrl's fetch, which reads each metric's history for all runs in one bulk
request, against the naive client loop of one get_metric_history per run and metric,
and the whole `collect` (fetch, summarise, merge, write) on top. Requests are counted
at the HTTP adapter, so every call the MLflow client makes is seen.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.mlflow_server import counting_requests, start_server  # noqa: E402

RUNS, METRICS, STEPS, ROUNDS = 3, 10, 1000, 5
EXPERIMENT = "bench-collect"


def seed(url: str) -> list[str]:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(url)
    experiment = client.create_experiment(EXPERIMENT)
    run_ids = []
    for r in range(RUNS):
        run_id = client.create_run(experiment, run_name=f"seed-{r}").info.run_id
        for m in range(METRICS):
            points = [
                Metric(f"train/m{m}", 1.0 / (s + 1 + m + r), 1_000 + s, s) for s in range(STEPS)
            ]
            client.log_batch(run_id, metrics=points)
        run_ids.append(run_id)
    return run_ids


def measure(action: Callable[[], Any]) -> tuple[float, int]:
    """Median seconds over ROUNDS, and the requests one round makes."""
    times, counts = [], []
    for _ in range(ROUNDS):
        with counting_requests() as counter:
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
        counts.append(counter.total)
    return statistics.median(times), max(counts)


def main() -> None:
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    folder = Path(tempfile.mkdtemp(prefix="govrl-bench-"))
    server = start_server(folder / "mlflow.db", folder / "artifacts")
    try:
        from mlflow import MlflowClient

        from govrl.evidence import Selection, open_source
        from govrl.evidence.collect import collect
        from govrl.evidence.convention import Convention
        from govrl.evidence.mapping import Mapping, MetricRule

        run_ids = seed(server.url)
        mapping = Mapping(metrics=[MetricRule(key="train/m*", per_run=True)])
        plan = Convention(mapping).plan()
        source = open_source(server.url)
        selection = Selection(experiment=EXPERIMENT)
        client = MlflowClient(server.url)

        def govrl_fetch() -> None:
            evidence = source.fetch(selection, plan)
            assert sum(len(p) for r in evidence.runs for p in r.histories.values()) == (
                RUNS * METRICS * STEPS
            )

        def naive_fetch() -> None:
            total = 0
            for run_id in run_ids:
                run = client.get_run(run_id)
                for key in run.data.metrics:
                    total += len(client.get_metric_history(run_id, key))
            assert total == RUNS * METRICS * STEPS

        record = folder / "record.yaml"
        template = ROOT / "tests" / "data" / "valid-minimal.yaml"

        def govrl_collect() -> None:
            shutil.copy(template, record)
            report = collect(record, source, selection, mapping=mapping)
            assert report.count("added") == RUNS * METRICS or report.changes == []

        govrl_fetch(), naive_fetch()  # warm up: imports, connections, server caches
        rows = [
            ("govrl fetch (bulk history)", *measure(govrl_fetch)),
            ("naive fetch (get_metric_history)", *measure(naive_fetch)),
            ("govrl collect (fetch+summarise+write)", *measure(govrl_collect)),
        ]
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{RUNS} runs x {METRICS} metrics x {STEPS} steps, median of {ROUNDS} rounds")
    print(f"{'approach':40} {'time (ms)':>10} {'requests':>9}")
    for name, seconds, requests in rows:
        print(f"{name:40} {seconds * 1000:10.0f} {requests:9d}")
    (_, bulk_s, bulk_n), (_, naive_s, naive_n) = rows[0], rows[1]
    print(f"naive / bulk: {naive_s / bulk_s:.1f}x the time, {naive_n / bulk_n:.1f}x the requests")


if __name__ == "__main__":
    main()
