"""Fetching metric histories from a real `mlflow server`: govrl next to bare bulk REST calls.

Seeds an MLflow database (RUNS runs x METRICS metrics x STEPS steps, written straight into
its tables, as a long training job leaves them), starts `mlflow server` on it, then times
in interleaved rounds:

- govrl: ``MlflowSource.fetch`` of the experiment with every history (what `collect` reads);
- bare: the same fetch with ``urllib`` and ``json`` over MLflow's bulk endpoints
  (runs/search, then get-history-bulk with as many runs per request as fit its cap).

It prints min/median/max of each and of their ratio (govrl / bare, per round), and the
peak Python memory (tracemalloc) of govrl's fetch at two step counts and of one history longer
than a bulk answer holds: histories are thinned as they stream in, so memory is bounded by
one answer (25,000 points) and the summaries, whatever the length of the histories.

    python benchmarks/bench_collect.py --quick      # minutes
    python benchmarks/bench_collect.py              # 100 x 20 x 10,000: 20M points, hours

Needs only govrl and mlflow installed; the `mlflow` command must be on PATH or beside the
Python running this.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

BULK = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
BULK_CAP = 25_000  # points the server returns per bulk request, at most
T0 = 1_777_000_000_000


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--small-steps", type=int, default=1_000, help="for the memory check")
    parser.add_argument(
        "--long-steps", type=int, default=100_000, help="one history, for the memory check"
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument(
        "--quick", action="store_true", help="4 runs x 2 metrics, 3 rounds: a smoke run"
    )
    found = parser.parse_args()
    if found.quick:
        found.runs, found.metrics, found.rounds = 4, 2, 3
    return found


# ------------------------------------------------------------------ the store


def create_store(database: Path, artifacts: Path) -> None:
    """An empty MLflow database, with MLflow's own schema."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{database}", str(artifacts))
    store.engine.dispose()


def seed(database: Path, experiment: str, runs: int, metrics: int, steps: int) -> None:
    """Runs with full histories, inserted in bulk (logging 20M points via REST takes hours)."""
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.execute(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time,"
            " last_update_time) VALUES (?, ?, 'active', ?, ?)",
            (experiment, f"mlflow-artifacts:/{experiment}", T0, T0),
        )
        (exp_id,) = db.execute(
            "SELECT experiment_id FROM experiments WHERE name = ?", (experiment,)
        ).fetchone()
        for r in range(runs):
            run_id = uuid.uuid4().hex
            db.execute(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name,"
                " user_id, status, start_time, end_time, source_version, lifecycle_stage,"
                " artifact_uri, experiment_id) VALUES (?, ?, 'LOCAL', '', '', 'bench',"
                " 'FINISHED', ?, ?, '', 'active', ?, ?)",
                (run_id, f"run-{r}", T0 + r, T0 + r + 1, f"mlflow-artifacts:/{run_id}", exp_id),
            )
            for m in range(metrics):
                key = f"train/m{m}"
                db.executemany(
                    "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, 0)",
                    ((key, 1.0 / (s + 1 + m + r), T0 + s, run_id, s) for s in range(steps)),
                )
                last = steps - 1
                db.execute(
                    "INSERT INTO latest_metrics VALUES (?, ?, ?, ?, 0, ?)",
                    (key, 1.0 / (last + 1 + m + r), T0 + last, last, run_id),
                )


def mlflow_command() -> str:
    beside = Path(sys.executable).with_name("mlflow")
    return str(beside) if beside.exists() else shutil.which("mlflow") or "mlflow"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def mlflow_server(database: Path, artifacts: Path) -> Iterator[str]:
    port = free_port()
    env = os.environ | {
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    command = [mlflow_command(), "server", "--backend-store-uri", f"sqlite:///{database}"]
    command += ["--artifacts-destination", str(artifacts), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    log = database.with_suffix(".log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"mlflow server exited; see {log.name}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url + "/health", timeout=1):
                break
            time.sleep(0.2)
        else:
            raise SystemExit("mlflow server did not start within 120 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# ------------------------------------------------------------------ the fetches


def bare_fetch(url: str, experiment_id: str, steps: int) -> int:
    """The same histories with urllib and json over the bulk endpoints; returns the points."""

    def call(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url + path, data=data)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=600) as answer:
            found: dict[str, Any] = json.loads(answer.read())
            return found

    runs: list[dict[str, Any]] = []
    token = None
    while True:
        body = {"experiment_ids": [experiment_id], "max_results": 1000}
        page = call("/api/2.0/mlflow/runs/search", body | ({"page_token": token} if token else {}))
        runs += page.get("runs", [])
        token = page.get("next_page_token")
        if not token:
            break
    keys = sorted({m["key"] for run in runs for m in run["data"].get("metrics", [])})
    ids = [run["info"]["run_id"] for run in runs]
    per_request = max(1, (BULK_CAP - 1) // steps)
    points = 0
    for key in keys:
        for start in range(0, len(ids), per_request):
            query = [("metric_key", key), ("max_results", BULK_CAP)]
            query += [("run_id", run_id) for run_id in ids[start : start + per_request]]
            points += len(call(f"{BULK}?{urllib.parse.urlencode(query)}").get("metrics", []))
    return points


def govrl_fetch(url: str, experiment: str, runs: int) -> Callable[[], int]:
    """What `collect` fetches: every history, thinned as it streams in; returns the points."""
    from govrl.evidence import Selection, open_source
    from govrl.evidence.collect import fetch_plan
    from govrl.evidence.convention import Convention
    from govrl.evidence.history import Thinned
    from govrl.evidence.mapping import Mapping, MetricRule

    plan = fetch_plan(Convention(Mapping(metrics=[MetricRule(key="train/*", per_run=True)])))
    source = open_source(url, timeout=600)
    selection = Selection(experiment=experiment, max_runs=runs)

    def points(history: Any) -> int:
        return history.count + history.dropped if isinstance(history, Thinned) else len(history)

    def fetch() -> int:
        evidence = source.fetch(selection, plan)
        return sum(points(h) for run in evidence.runs for h in run.histories.values())

    return fetch


def experiment_id(url: str, name: str) -> str:
    query = urllib.parse.urlencode({"experiment_name": name})
    with urllib.request.urlopen(f"{url}/api/2.0/mlflow/experiments/get-by-name?{query}") as answer:
        return str(json.loads(answer.read())["experiment"]["experiment_id"])


def peak_memory(action: Callable[[], int]) -> tuple[int, int]:
    """(points fetched, peak bytes Python allocated while fetching them)."""
    tracemalloc.start()
    try:
        points = action()
        return points, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def spread(values: list[float]) -> str:
    return f"{min(values):8.2f} {statistics.median(values):8.2f} {max(values):8.2f}"


def main() -> None:
    options = arguments()
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    folder = Path(tempfile.mkdtemp(prefix="govrl-bench-collect-"))
    try:
        database, artifacts = folder / "mlflow.db", folder / "artifacts"
        big, small = f"bench-{options.steps}", f"bench-{options.small_steps}"
        long = f"bench-long-{options.long_steps}"
        shape = f"{options.runs} runs x {options.metrics} metrics"
        print(f"seeding {shape} x {options.steps:,} (and x {options.small_steps:,}) steps ...")
        create_store(database, artifacts)
        seed(database, big, options.runs, options.metrics, options.steps)
        seed(database, small, options.runs, options.metrics, options.small_steps)
        seed(database, long, 1, 1, options.long_steps)
        expected = options.runs * options.metrics * options.steps
        with mlflow_server(database, artifacts) as url:
            ours = govrl_fetch(url, big, options.runs)
            big_id = experiment_id(url, big)
            theirs = lambda: bare_fetch(url, big_id, options.steps)  # noqa: E731
            assert ours() == theirs() == expected  # warm up, and both fetch every point
            times: dict[str, list[float]] = {"govrl": [], "bare": []}
            for round_ in range(options.rounds):  # interleaved, the order alternating
                pair = [("govrl", ours), ("bare", theirs)]
                for name, action in pair if round_ % 2 == 0 else pair[::-1]:
                    start = time.perf_counter()
                    action()
                    times[name].append(time.perf_counter() - start)
            memory = {
                steps: peak_memory(govrl_fetch(url, name, options.runs))
                for steps, name in ((options.small_steps, small), (options.steps, big))
            }
            one_long = peak_memory(govrl_fetch(url, long, 1))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    ratios = [g / b for g, b in zip(times["govrl"], times["bare"], strict=True)]
    print(f"\n{shape} x {options.steps:,} steps = {expected:,} points, {options.rounds} rounds")
    print(f"{'':28} {'min':>8} {'median':>8} {'max':>8}")
    print(f"{'govrl fetch (s)':28} {spread(times['govrl'])}")
    print(f"{'bare bulk REST fetch (s)':28} {spread(times['bare'])}")
    print(f"{'govrl / bare':28} {spread(ratios)}")
    print("\npeak Python memory of govrl's fetch (tracemalloc)")
    for steps, (points, peak) in memory.items():
        print(f"  {steps:>7,} steps: {points:>11,} points, {peak / 2**20:8.1f} MiB")
    (s_points, s_peak), (b_points, b_peak) = memory.values()
    print(f"  {b_points / s_points:.1f}x the points -> {b_peak / s_peak:.1f}x the memory")
    points, peak = one_long
    print(f"  one history of {options.long_steps:,} steps: {points:>11,} points, ", end="")
    print(f"{peak / 2**20:8.1f} MiB")


if __name__ == "__main__":
    main()
