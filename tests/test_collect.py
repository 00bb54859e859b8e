"""Collecting evidence: from a real MLflow server, the embedded store, and plain files."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from govrl.cli import GovrlGroup
from govrl.cli.collect_cmds import COMMANDS
from govrl.evidence.convention import Convention
from govrl.evidence.history import summarise
from govrl.evidence.mlflow import public_uri
from govrl.record.files import load_record
from govrl.vocabulary import Direction
from tests.support.mlflow_server import MlflowServer, counting_requests, free_port, start_server
from tests.support.paths import DATA
from tests.support.sepsis_store import DemoStore

APP = GovrlGroup(name="govrl", commands={c.name: c for c in COMMANDS})
BULK = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
DEMO_ENTRIES = 33  # 8 metrics, 5 estimates, 8 stress tests, 11 subgroups, 1 OOD result
FAST = 15.0  # seconds a user waits, at most, to hear that something is wrong


# The failure modes the demo store's stress tests name, as the sepsis example defines them.
FAILURE_MODES = (
    "feature-pipeline-mismatch",
    "arterial-line-artefacts",
    "confounding-by-indication",
    "unsupported-actions",
)


def with_failure_modes(path: Path) -> Path:
    """The record at ``path`` with the failure modes stress tests may name added to its reward."""
    text = path.read_text()
    modes = "".join(
        f"    - {{id: {m}, description: {m.replace('-', ' ')}}}\n" for m in FAILURE_MODES
    )
    path.write_text(text.replace("evaluation:\n", f"  failure_modes:\n{modes}evaluation:\n", 1))
    return path


@pytest.fixture
def demo_record(minimal_record: Path) -> Path:
    """The minimal record, ready for the demo store's evidence."""
    return with_failure_modes(minimal_record)


def govrl(*args: object) -> Result:
    return CliRunner().invoke(APP, [str(a) for a in args])


def collect_demo(record: Path, uri: str, *extra: object) -> Result:
    model = ("--model", "sepsis-policy@candidate", "--with-children")
    return govrl("collect", "mlflow", record, "--tracking-uri", uri, *model, *extra)


def evaluation(path: Path) -> dict[str, Any]:
    return load_record(path).record.evaluation.model_dump(mode="json", exclude_none=True)


def normalised(data: Any) -> Any:
    """The evaluation with the fields that must differ between stores blanked (the digest
    binds the values to their tracking URI)."""
    if isinstance(data, dict):
        return {
            k: "*" if k in ("tracking_uri", "fetched_at", "value_sha256") else normalised(v)
            for k, v in data.items()
        }
    return [normalised(v) for v in data] if isinstance(data, list) else data


def entries(ev: dict[str, Any]) -> list[dict[str, Any]]:
    found = [e for key in ("metrics", "off_policy", "stress_tests", "subgroups") for e in ev[key]]
    return found + ([ev["ood_detection"]] if "ood_detection" in ev else [])


# ----------------------------------------------------------------- MLflow


@pytest.mark.mlflow
@pytest.mark.slow
def test_server_and_embedded_store_yield_the_same_evaluation(
    demo_store: DemoStore,
    mlflow_server: MlflowServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # MLflow must not leave ./mlflow.db behind
    over_http, from_sqlite = tmp_path / "http.yaml", tmp_path / "sqlite.yaml"
    for path in (over_http, from_sqlite):
        with_failure_modes(Path(shutil.copy(DATA / "valid-minimal.yaml", path)))
    with counting_requests() as requests:
        result = collect_demo(over_http, mlflow_server.url)
    assert result.exit_code == 0, result.output
    assert f"{DEMO_ENTRIES} added" in result.output
    result = collect_demo(from_sqlite, demo_store.tracking_uri)
    assert result.exit_code == 0, result.output

    http, local = evaluation(over_http), evaluation(from_sqlite)
    assert normalised(http) == normalised(local)
    assert not (tmp_path / "mlflow.db").exists()
    assert "TODO" not in over_http.read_text()  # the demo describes every entry it holds
    # histories came in bulk, one request per key, not one per run and key
    assert BULK in requests.paths and "/api/2.0/mlflow/metrics/get-history" not in requests.paths
    assert requests.total <= 15, requests.paths

    collected = [e for e in entries(http) if e.get("id") != "mean-return"]
    assert len(collected) == DEMO_ENTRIES
    for entry in collected:
        prov = entry["provenance"]
        assert prov["source"] == "mlflow" and prov["tracking_uri"] == mlflow_server.url
        assert prov["run_id"] in demo_store.runs.values()
        assert prov["experiment"] == "sepsis-vaso-fluids"
        assert (prov["model_name"], prov["model_version"]) == ("sepsis-policy", "1")
        assert prov["fetched_at"]
        assert "metric_key" in prov or prov["artifact_sha256"].startswith("sha256:")
    local_uris = {e["provenance"]["tracking_uri"] for e in entries(local) if "provenance" in e}
    assert local_uris == {demo_store.tracking_uri}

    wis = next(e for e in http["off_policy"] if e["id"] == "wis-internal")
    assert (wis["estimator"], wis["value"], wis["ci_low"], wis["ci_high"]) == (
        "WIS",
        8.91,
        6.08,
        10.74,
    )
    assert (wis["ci_level"], wis["ess"], wis["episodes"], wis["behaviour_value"]) == (
        0.95,
        41.3,
        3569,
        7.68,
    )
    assert wis["provenance"]["metric_key"] == "ope/WIS/internal/value"
    curve = next(e for e in http["metrics"] if e["id"] == "fqe-value-validation")["history"]
    assert (curve["steps"], curve["last"], curve["best"], len(curve["points"])) == (
        200000,
        8.49,
        8.51,
        21,
    )
    stress_file = next(demo_store.folder.glob("artifacts/*/artifacts/govrl/stress.json"))
    digest = "sha256:" + hashlib.sha256(stress_file.read_bytes()).hexdigest()
    assert {s["provenance"]["artifact_sha256"] for s in http["stress_tests"]} == {digest}
    # the store logs criteria, not verdicts: each is judged on its conservative bound
    failed = {s["id"] for s in http["stress_tests"] if not s["passed"]}
    assert failed == {"fault-arterial-line-unfiltered", "edge-ckd-dialysis", "shift-covid-period"}
    covid = next(s for s in http["stress_tests"] if s["id"] == "shift-covid-period")
    assert covid["criterion"] == {"comparator": "<", "threshold": 0.05}
    assert covid["failure_modes"] == ["feature-pipeline-mismatch"]
    directions = {m["id"]: m.get("direction") for m in http["metrics"]}
    assert directions["est-mortality-90d-dr"] == "lower-is-better"
    assert directions["fqe-value-validation"] == "higher-is-better"
    assert len(http["subgroups"]) == 11
    assert (http["ood_detection"]["auroc"], http["ood_detection"]["detection_rate"]) == (0.87, 0.71)


@pytest.mark.mlflow
@pytest.mark.slow
def test_the_demo_store_holds_the_sepsis_examples_evaluation(
    demo_store: DemoStore, sepsis_record: Path
) -> None:
    result = collect_demo(
        sepsis_record, demo_store.tracking_uri, "--mapping", demo_store.mapping, "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["removed"], report["changed"]) == (0, 0, DEMO_ENTRIES)
    for change in report["changes"]:  # the same evidence, only fetched from elsewhere
        for field in change["fields"]:
            if field["field"] == "history.window_std":  # the example rounds it by hand
                assert field["new"] == pytest.approx(field["old"], abs=5e-4)
            else:
                assert field["field"].startswith("provenance."), (change["entry"], field)


@pytest.mark.mlflow
@pytest.mark.slow
def test_recollecting_unchanged_evidence_leaves_the_file_byte_identical(
    demo_store: DemoStore, mlflow_server: MlflowServer, demo_record: Path
) -> None:
    assert collect_demo(demo_record, mlflow_server.url).exit_code == 0
    before = demo_record.read_bytes()
    result = collect_demo(demo_record, mlflow_server.url)
    assert result.exit_code == 0, result.output
    assert f"0 added, 0 changed, 0 removed, {DEMO_ENTRIES} unchanged" in result.output
    assert "nothing changed" in result.output
    assert demo_record.read_bytes() == before


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_changed_value_is_reported_old_to_new_and_only_its_entry_is_refetched(
    mlflow_server: MlflowServer, minimal_record: Path, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server.url)  # a fresh experiment: artifacts via the server
    run_id = client.create_run(client.create_experiment(f"change-{uuid.uuid4().hex}")).info.run_id
    client.log_metric(run_id, "eval/sim_return/value", 40.0, step=0)
    client.log_metric(run_id, "eval/sim_return/value", 41.0, step=1)
    table = tmp_path / "ope.json"
    estimate = {"estimator": "DR", "target": "return", "value": 7.5, "ess": 120.0}
    table.write_text(json.dumps([estimate | {"id": "dr"}, estimate | {"id": "dr-shifted"}]))
    client.log_artifact(run_id, str(table), "govrl")
    collect = (
        "collect",
        "mlflow",
        minimal_record,
        "--tracking-uri",
        mlflow_server.url,
        "--run",
        run_id,
    )
    assert govrl(*collect).exit_code == 0
    first = evaluation(minimal_record)

    client.log_metric(run_id, "eval/sim_return/value", 42.5, step=2)
    table.write_text(json.dumps([estimate | {"id": "dr"}]))
    client.log_artifact(run_id, str(table), "govrl")
    before = minimal_record.read_bytes()
    dry = govrl(*collect, "--dry-run")
    assert dry.exit_code == 0 and "dry run" in dry.output
    assert minimal_record.read_bytes() == before

    result = govrl(*collect)
    assert result.exit_code == 0, result.output
    # the table changed, so the estimate that stayed now cites the new file's digest
    assert "0 added, 2 changed, 1 removed" in result.output
    assert "~ evaluation.metrics[sim-return]" in result.output
    assert "~ evaluation.off_policy[dr]\n      provenance.artifact_sha256: sha256:" in result.output
    assert "value: 41.0 -> 42.5" in result.output and "history.last: 41.0 -> 42.5" in result.output
    assert "- evaluation.off_policy[dr-shifted]" in result.output
    assert dry.output.replace("dry run: the file was not changed\n", "") == result.output
    second = evaluation(minimal_record)
    metric = next(m for m in second["metrics"] if m["id"] == "sim-return")
    assert metric["value"] == 42.5 and metric["history"]["steps"] == 2
    assert [e["id"] for e in second["off_policy"]] == ["dr"]
    old_dr, new_dr = first["off_policy"][0], second["off_policy"][0]
    assert {k: v for k, v in new_dr.items() if k != "provenance"} == {
        k: v for k, v in old_dr.items() if k != "provenance"
    }


@pytest.mark.mlflow
@pytest.mark.slow
def test_hand_written_entries_are_not_overwritten_without_replace(
    demo_store: DemoStore, demo_record: Path
) -> None:
    text = demo_record.read_text().replace(
        "evaluation:\n  metrics:\n",
        "evaluation:\n  metrics:\n    - id: dose-change-too-large-rate\n"
        "      name: Dose changes of two bins or more\n      description: Counted by hand.\n"
        "      value: 0.5\n",
    )
    demo_record.write_text(text)
    result = collect_demo(demo_record, demo_store.tracking_uri)
    assert result.exit_code == 1
    assert (
        "hand-written" in result.output and "metrics[dose-change-too-large-rate]" in result.output
    )
    assert demo_record.read_text() == text

    result = collect_demo(demo_record, demo_store.tracking_uri, "--replace")
    assert result.exit_code == 0, result.output
    metric = next(
        m for m in evaluation(demo_record)["metrics"] if m["id"] == "dose-change-too-large-rate"
    )
    assert metric["value"] == 0.031 and metric["provenance"]["source"] == "mlflow"
    assert metric["description"] == "Counted by hand."  # descriptions the source lacks are kept
    assert metric["name"] == "Dose-change-too-large rate"  # the source names it: the source wins


@pytest.mark.mlflow
def test_a_closed_port_fails_fast_with_exit_3(minimal_record: Path) -> None:
    before = minimal_record.read_bytes()
    url = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    result = collect_demo(minimal_record, url)
    assert time.monotonic() - start < FAST
    assert result.exit_code == 3
    assert f"cannot reach MLflow at {url}" in result.output
    assert minimal_record.read_bytes() == before


@pytest.mark.mlflow
@pytest.mark.slow
@pytest.mark.parametrize(
    ("selection", "message"),
    [
        (["--model", "sepsis-policy@nope"], "no alias 'nope'"),
        (["--model", "sepsis-policy/9"], "version=9) not found"),
        (["--model", "no-such-model@candidate"], "no-such-model not found"),
        (["--run", "0" * 32], "not found"),
        (["--experiment", "no-such-experiment"], "no experiment 'no-such-experiment'"),
    ],
)
def test_a_wrong_name_is_exit_1_with_what_was_wrong(
    mlflow_server: MlflowServer, minimal_record: Path, selection: list[str], message: str
) -> None:
    before = minimal_record.read_bytes()
    start = time.monotonic()
    result = govrl(
        "collect", "mlflow", minimal_record, "--tracking-uri", mlflow_server.url, *selection
    )
    assert time.monotonic() - start < FAST
    assert result.exit_code == 1, result.output
    assert message in result.output
    if "nope" in message:
        assert "its aliases: candidate" in result.output
    assert minimal_record.read_bytes() == before


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_server_killed_mid_collection_leaves_the_record_untouched(
    demo_store: DemoStore, minimal_record: Path, tmp_path: Path
) -> None:
    shutil.copy(demo_store.folder / "mlflow.db", tmp_path / "mlflow.db")
    server = start_server(tmp_path / "mlflow.db", tmp_path / "artifacts")
    try:
        before = minimal_record.read_bytes()
        start = time.monotonic()
        # three answers arrive (model, run, child runs), then the server dies
        with counting_requests(before=lambda n: server.kill() if n == 4 else None) as requests:
            result = collect_demo(minimal_record, server.url)
        assert time.monotonic() - start < FAST
        assert result.exit_code == 3, (result.output, requests.paths)
        assert server.process.poll() is not None and requests.total == 4
        assert f"cannot reach MLflow at {server.url}" in result.output
        assert minimal_record.read_bytes() == before
    finally:
        server.stop()


@pytest.mark.mlflow
def test_a_missing_sqlite_database_is_refused_not_created(
    minimal_record: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = minimal_record.read_bytes()
    result = collect_demo(minimal_record, "sqlite:///missing/mlflow.db")
    assert result.exit_code == 3
    assert "no MLflow database at missing/mlflow.db" in result.output
    assert not (tmp_path / "missing").exists() and not (tmp_path / "mlflow.db").exists()
    assert minimal_record.read_bytes() == before


@pytest.mark.mlflow
def test_a_hung_server_is_given_up_on_after_the_timeout(minimal_record: Path) -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        start = time.monotonic()
        result = collect_demo(minimal_record, url, "--timeout", "1")
        assert time.monotonic() - start < 5
    assert result.exit_code == 3
    assert "no answer within 1 s" in result.output


@pytest.mark.mlflow
def test_a_sqlite_file_that_is_not_an_mlflow_store_is_left_alone(
    minimal_record: Path, tmp_path: Path
) -> None:
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE users (name TEXT)")
    before = other.read_bytes()
    result = collect_demo(minimal_record, f"sqlite:///{other}")
    assert result.exit_code == 3
    assert "is not an MLflow database" in result.output
    assert other.read_bytes() == before  # MLflow would have added its tables


def test_credentials_in_the_tracking_uri_never_reach_the_record() -> None:
    assert public_uri("https://ada:s3cret@mlflow.example.org:8443/team/?token=x") == (
        "https://mlflow.example.org:8443/team"
    )
    assert public_uri("sqlite:////srv/mlflow.db") == "sqlite:////srv/mlflow.db"


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_mapping_brings_in_training_curves_and_overrides_descriptions(
    demo_store: DemoStore, demo_record: Path, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "metrics:\n"
        "  - {key: train/td_loss, id: td-loss, name: TD loss, higher_is_better: false,"
        " value: best}\n"
        "describe:\n"
        "  off_policy:\n"
        "    wis-internal: {notes: Weights degenerate; do not rely on it.}\n"
    )
    result = collect_demo(demo_record, demo_store.tracking_uri, "--mapping", mapping)
    assert result.exit_code == 0, result.output
    ev = evaluation(demo_record)
    loss = next(m for m in ev["metrics"] if m["id"] == "td-loss")
    history = loss["history"]
    assert loss["name"] == "TD loss" and loss["provenance"]["metric_key"] == "train/td_loss"
    assert len(history["points"]) <= 200 and history["steps"] == 199_800
    assert history["points"][0]["step"] == 0 and history["points"][-1]["step"] == 199_800
    assert loss["value"] == history["best"] == min(p["value"] for p in history["points"])
    assert loss["direction"] == "lower-is-better"  # the mapping's legacy higher_is_better: false
    wis = next(e for e in ev["off_policy"] if e["id"] == "wis-internal")
    assert wis["notes"] == "Weights degenerate; do not rely on it."
    assert "train/td_loss" not in result.output  # no longer among the keys left out


def logged_run(
    server: MlflowServer,
    folder: Path,
    *,
    metrics: dict[str, float | list[float]] | None = None,
    tags: dict[str, str] | None = None,
    tables: dict[str, str] | None = None,
) -> str:
    """A run in a fresh experiment on ``server``: metric histories, tags, ``govrl/`` tables."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, RunTag

    client = MlflowClient(server.url)
    experiment = client.create_experiment(f"direction-{uuid.uuid4().hex}")
    run_id: str = client.create_run(experiment, run_name="suite").info.run_id
    points = [
        Metric(key, value, 1_777_000_000_000 + step, step)
        for key, values in (metrics or {}).items()
        for step, value in enumerate(values if isinstance(values, list) else [values])
    ]
    client.log_batch(run_id, metrics=points, tags=[RunTag(k, v) for k, v in (tags or {}).items()])
    for name, text in (tables or {}).items():
        (folder / name).write_text(text)
        client.log_artifact(run_id, str(folder / name), "govrl")
    return run_id


def collect_run(record: Path, server: MlflowServer, run_id: str) -> Result:
    return govrl("collect", "mlflow", record, "--tracking-uri", server.url, "--run", run_id)


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_metrics_direction_and_band_survive_collection(
    mlflow_server: MlflowServer, minimal_record: Path, tmp_path: Path
) -> None:
    run_id = logged_run(
        mlflow_server,
        tmp_path,
        metrics={
            "eval/freq_deviation/value": [0.9, 0.3, 0.05, 0.15, 0.6],
            "eval/freq_deviation/ci_low": 0.4,
            "eval/freq_deviation/ci_high": 0.8,
            "eval/td_loss/value": [0.9, 0.2, 0.4],
        },
        tags={
            "govrl.ci_level": "0.95",
            "govrl.metric.freq-deviation.direction": "within-band",
            "govrl.metric.freq-deviation.target_low": "0.0",
            "govrl.metric.freq-deviation.target_high": "0.2",
            "govrl.metric.td-loss.direction": "lower-is-better",
        },
        tables={
            "metrics.csv": "id,name,value,direction,target_high\n"
            "soc,State of charge,0.55,,0.9\n"  # a band without a direction is within-band
            "cost,Battery cycles,1.12,lower-is-better,\n"
        },
    )
    result = collect_run(minimal_record, mlflow_server, run_id)
    assert result.exit_code == 0, result.output
    metrics = {m["id"]: m for m in evaluation(minimal_record)["metrics"]}
    band = metrics["freq-deviation"]
    assert (band["direction"], band["target"]) == ("within-band", {"low": 0.0, "high": 0.2})
    assert band["history"]["best"] == 0.15  # inside the band, the latest of those
    loss = metrics["td-loss"]
    assert (loss["direction"], loss["history"]["best"]) == ("lower-is-better", 0.2)
    assert (metrics["soc"]["direction"], metrics["soc"]["target"]) == ("within-band", {"high": 0.9})
    assert metrics["cost"]["direction"] == "lower-is-better" and "target" not in metrics["cost"]
    assert "target: {high: 0.9}" in minimal_record.read_text()


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_legacy_higher_is_better_tag_or_column_maps_to_the_direction(
    mlflow_server: MlflowServer, minimal_record: Path, tmp_path: Path
) -> None:
    run_id = logged_run(
        mlflow_server,
        tmp_path,
        metrics={"eval/td_loss/value": [0.9, 0.2, 0.4]},
        tags={"govrl.metric.td-loss.higher_is_better": "False"},
        tables={
            "metrics.json": json.dumps([{"id": "reward", "value": 3.0, "higher_is_better": True}])
        },
    )
    result = collect_run(minimal_record, mlflow_server, run_id)
    assert result.exit_code == 0, result.output
    metrics = {m["id"]: m for m in evaluation(minimal_record)["metrics"]}
    assert metrics["td-loss"]["direction"] == "lower-is-better"
    assert metrics["td-loss"]["history"]["best"] == 0.2
    assert metrics["reward"]["direction"] == "higher-is-better"
    assert "higher_is_better" not in minimal_record.read_text()


@pytest.mark.mlflow
@pytest.mark.slow
@pytest.mark.parametrize(
    ("tags", "tables", "message"),
    [
        (
            {"govrl.metric.loss.direction": "down"},
            {},
            "run suite: tag govrl.metric.loss.direction must be one of higher-is-better, "
            "lower-is-better, within-band (got 'down')",
        ),
        (
            {"govrl.metric.loss.higher_is_better": "maybe"},
            {},
            "tag govrl.metric.loss.higher_is_better must be true or false (got 'maybe')",
        ),
        (
            {"govrl.metric.loss.direction": "within-band"},
            {},
            "tag govrl.metric.loss.direction is within-band, but no target_low or target_high",
        ),
        (
            {},
            {"metrics.csv": "id,value,direction\nloss,0.3,sideways\n"},
            "suite:govrl/metrics.csv row 1 direction: must be one of higher-is-better",
        ),
        (
            {},
            {"metrics.csv": "id,value,direction,target_low\nloss,0.3,lower-is-better,0.1\n"},
            "row 1 target_low: is for a within-band metric, but direction says lower-is-better",
        ),
    ],
)
def test_a_bad_direction_is_refused_with_exit_1_naming_the_tag_or_column(
    mlflow_server: MlflowServer,
    minimal_record: Path,
    tmp_path: Path,
    tags: dict[str, str],
    tables: dict[str, str],
    message: str,
) -> None:
    run_id = logged_run(
        mlflow_server, tmp_path, metrics={"eval/loss/value": 0.3}, tags=tags, tables=tables
    )
    before = minimal_record.read_bytes()
    result = collect_run(minimal_record, mlflow_server, run_id)
    assert result.exit_code == 1, result.output
    assert message in result.output.replace("\n", " ")
    assert minimal_record.read_bytes() == before


STRESS_TABLE = [
    {  # the point estimate meets the criterion, the conservative bound does not
        "id": "shift-covid-period",
        "kind": "distribution-shift",
        "metric": "Dose-change-too-large rate",
        "value": 0.044,
        "ci_low": 0.036,
        "ci_high": 0.053,
        "ci_level": 0.95,
        "failure_modes": ["feature-pipeline-mismatch"],
        "criterion_comparator": "<",
        "criterion_threshold": 0.05,
    },
    {
        "id": "edge-high-dose",
        "kind": "edge-case",
        "metric": "De-escalation of three or more bands",
        "value": 0.007,
        "ci_low": 0.002,
        "ci_high": 0.016,
        "ci_level": 0.95,
        "failure_modes": "confounding-by-indication, unsupported-actions",
        "criterion_comparator": "<",
        "criterion_threshold": 0.02,
    },
]


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_stress_tests_criterion_survives_and_decides_passed_on_the_conservative_bound(
    mlflow_server: MlflowServer, demo_record: Path, tmp_path: Path
) -> None:
    run_id = logged_run(
        mlflow_server,
        tmp_path,
        metrics={
            "stress/sensor-fault/dropped_frames/value": 0.93,
            "stress/sensor-fault/dropped_frames/ci_low": 0.88,
            "stress/sensor-fault/dropped_frames/ci_high": 0.96,
            "stress/sensor-fault/dropped_frames/ci_level": 0.9,
        },
        tags={
            "govrl.stress.dropped-frames.metric": "Share of steps tracked",
            "govrl.stress.dropped-frames.criterion_comparator": ">=",
            "govrl.stress.dropped-frames.criterion_threshold": "0.9",
            "govrl.stress.dropped-frames.failure_modes": "arterial-line-artefacts",
        },
        tables={"stress.json": json.dumps(STRESS_TABLE)},
    )
    result = collect_run(demo_record, mlflow_server, run_id)
    assert result.exit_code == 0, result.output
    tests = {t["id"]: t for t in evaluation(demo_record)["stress_tests"]}
    covid = tests["shift-covid-period"]
    assert covid["criterion"] == {"comparator": "<", "threshold": 0.05}
    assert covid["failure_modes"] == ["feature-pipeline-mismatch"]
    assert covid["passed"] is False  # ci_high 0.053 is not below 0.05, though 0.044 is
    high_dose = tests["edge-high-dose"]
    assert high_dose["failure_modes"] == ["confounding-by-indication", "unsupported-actions"]
    assert high_dose["passed"] is True
    frames = tests["dropped-frames"]
    assert frames["criterion"] == {"comparator": ">=", "threshold": 0.9}
    assert frames["failure_modes"] == ["arterial-line-artefacts"]
    assert frames["passed"] is False  # ci_low 0.88 is below 0.9, though 0.93 is not


@pytest.mark.mlflow
@pytest.mark.slow
def test_a_stress_test_naming_an_unknown_failure_mode_is_refused(
    mlflow_server: MlflowServer, minimal_record: Path, tmp_path: Path
) -> None:
    run_id = logged_run(mlflow_server, tmp_path, tables={"stress.json": json.dumps(STRESS_TABLE)})
    before = minimal_record.read_bytes()
    result = collect_run(minimal_record, mlflow_server, run_id)
    assert result.exit_code == 1, result.output
    output = result.output.replace("\n", " ")
    assert (
        "failure mode 'feature-pipeline-mismatch' is not the id of any reward.failure_modes"
        in output
    )
    assert (
        "evaluation.stress_tests[shift-covid-period] from suite:govrl/stress.json row 1" in output
    )
    assert minimal_record.read_bytes() == before


@pytest.mark.mlflow
@pytest.mark.slow
@pytest.mark.parametrize(
    ("metrics", "tables", "where"),
    [
        (
            {
                "stress/shift/value": 0.044,
                "stress/shift/ci_low": 0.036,
                "stress/shift/ci_high": 0.053,
                "stress/shift/ci_level": 0.95,
                "stress/shift/passed": 1.0,
            },
            {},
            "evaluation.stress_tests[shift]: run suite key stress/shift/passed says passed",
        ),
        (
            {},
            {"stress.json": json.dumps([STRESS_TABLE[0] | {"id": "shift", "passed": True}])},
            "evaluation.stress_tests[shift]: suite:govrl/stress.json row 1 column passed "
            "says passed",
        ),
    ],
)
def test_a_logged_pass_its_criterion_refutes_is_refused_naming_the_run_and_key(
    mlflow_server: MlflowServer,
    demo_record: Path,
    tmp_path: Path,
    metrics: dict[str, float],
    tables: dict[str, str],
    where: str,
) -> None:
    tags = {"govrl.stress.shift.criterion_comparator": "<"}
    tags["govrl.stress.shift.criterion_threshold"] = "0.05"
    run_id = logged_run(mlflow_server, tmp_path, metrics=metrics, tags=tags, tables=tables)
    before = demo_record.read_bytes()
    result = collect_run(demo_record, mlflow_server, run_id)
    assert result.exit_code == 1, result.output
    output = result.output.replace("\n", " ")
    assert where in output
    assert "but its ci_high 0.053 does not meet its criterion < 0.05" in output
    assert demo_record.read_bytes() == before


@pytest.mark.mlflow
@pytest.mark.slow
def test_an_off_policy_difference_survives_collection(
    mlflow_server: MlflowServer, minimal_record: Path, tmp_path: Path
) -> None:
    run_id = logged_run(
        mlflow_server,
        tmp_path,
        metrics={
            "ope/DR/internal/value": 8.37,
            "ope/DR/internal/behaviour_value": 7.68,
            "ope/DR/internal/difference_value": 0.69,
            "ope/DR/internal/difference_ci_low": 0.12,
            "ope/DR/internal/difference_ci_high": 1.31,
        },
        tags={"govrl.ci_level": "0.9", "govrl.ope.dr-internal.target": "return per episode"},
        tables={
            "ope.csv": "id,estimator,target,value,difference_value,difference_ci_low,"
            "difference_ci_high,difference_ci_level\nwis,WIS,return,8.9,1.2,-0.8,3.1,0.95\n"
        },
    )
    result = collect_run(minimal_record, mlflow_server, run_id)
    assert result.exit_code == 0, result.output
    estimates = {e["id"]: e for e in evaluation(minimal_record)["off_policy"]}
    assert estimates["dr-internal"]["difference"] == {
        "value": 0.69,
        "ci_low": 0.12,
        "ci_high": 1.31,
        "ci_level": 0.9,  # from the run's govrl.ci_level, as for any interval without one
    }
    assert estimates["wis"]["difference"] == {
        "value": 1.2,
        "ci_low": -0.8,
        "ci_high": 3.1,
        "ci_level": 0.95,
    }


def test_importing_the_commands_does_not_import_mlflow() -> None:
    code = (
        "import sys; from click.testing import CliRunner;"
        "from govrl.cli.collect_cmds import COMMANDS;"
        "import govrl.evidence.collect, govrl.evidence.publish;"
        "import govrl.evidence.mlflow, govrl.evidence.local_store;"
        "CliRunner().invoke(COMMANDS[0], ['mlflow', '--help']);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ files


def test_plain_files_collect_by_the_same_convention(minimal_record: Path, tmp_path: Path) -> None:
    folder = tmp_path / "evidence"
    (folder / "tables").mkdir(parents=True)
    (folder / "tables" / "subgroups.csv").write_text(
        "attribute,group,metric,n,value,ci_low,ci_high,ci_level\n"
        "region,north,Mean return,412,39.1,37.0,41.2,0.95\n"
    )
    (folder / "evidence.yaml").write_text(
        "runs:\n"
        "  - id: sim-eval-7\n"
        "    experiment: shelf-ranker/eval\n"
        "    tags: {govrl.metric.return.name: Simulated return}\n"
        "    metrics:\n"
        "      eval/return/value: [{step: 0, value: 30.5}, {step: 1, value: 38.0}]\n"
        "      eval/return/ci_low: 36.1\n"
        "      eval/return/ci_high: 39.9\n"
        "      eval/return/ci_level: 0.9\n"
        "      ope/WIS/value: 37.2\n"
        "      stress/sensor-fault/dropped_frames/value: 0.04\n"
        "      stress/sensor-fault/dropped_frames/passed: 1\n"
        "    artifacts: [tables/subgroups.csv]\n"
    )
    result = govrl("collect", "file", minimal_record, "--from", folder / "evidence.yaml")
    assert result.exit_code == 0, result.output
    assert "4 added" in result.output
    assert "off_policy[wis].target: the source does not say; wrote a TODO" in result.output
    ev = evaluation(minimal_record)
    ret = next(m for m in ev["metrics"] if m["id"] == "return")
    assert (ret["name"], ret["value"], ret["ci_level"], ret["history"]["best"]) == (
        "Simulated return",
        38.0,
        0.9,
        38.0,
    )
    assert ret["provenance"] == ret["provenance"] | {
        "source": "file",
        "run_id": "sim-eval-7",
        "artifact_path": "evidence/evidence.yaml",
        "metric_key": "eval/return/value",
    }
    stress = ev["stress_tests"][0]
    assert (stress["id"], stress["kind"], stress["scenario"], stress["passed"]) == (
        "dropped-frames",
        "sensor-fault",
        "dropped frames",
        True,
    )
    subgroup = ev["subgroups"][0]
    table = (folder / "tables" / "subgroups.csv").read_bytes()
    assert subgroup["provenance"]["artifact_path"] == "evidence/tables/subgroups.csv"
    assert subgroup["provenance"]["artifact_sha256"][7:] == hashlib.sha256(table).hexdigest()

    points = tmp_path / "points.csv"
    points.write_text("key,step,value\neval/return/value,0,30.5\neval/return/value,1,38.5\n")
    result = govrl(
        "collect", "file", minimal_record, "--from", points
    )  # collected: replaced freely
    assert result.exit_code == 0, result.output
    assert "value: 38.0 -> 38.5" in result.output


def test_plain_files_with_seeds_and_episodes_are_computed_as_from_mlflow(
    minimal_record: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "evidence"
    returns = {0: [40.0, 42.0, 44.0], 1: [38.0, 39.0], 2: [45.0, 41.0, 43.0, 47.0]}
    runs = []
    for seed, values in returns.items():
        (folder / f"seed{seed}").mkdir(parents=True)
        rows = "".join(f"return,{v}\n" for v in values)
        (folder / f"seed{seed}" / "episodes.csv").write_text("metric,return\n" + rows)
        runs.append(
            f"  - {{id: run-{seed}, params: {{seed: {seed}}}, "
            f"artifacts: [seed{seed}/episodes.csv]}}\n"
        )
    (folder / "evidence.yaml").write_text("runs:\n" + "".join(runs))
    result = govrl("collect", "file", minimal_record, "--from", folder / "evidence.yaml")
    assert result.exit_code == 0, result.output
    ret = next(m for m in evaluation(minimal_record)["metrics"] if m["id"] == "return")
    per_seed = [statistics.fmean(v) for v in returns.values()]
    assert ret["value"] == pytest.approx(statistics.fmean(per_seed))
    assert min(per_seed) <= ret["ci_low"] < ret["value"] < ret["ci_high"] <= max(per_seed)
    note = ret["provenance"]["note"]
    assert "mean over 3 seeds, each seed's value the mean of its episodes" in note
    assert "seed 1: 38.5 (run run-1, run-1)" in note
    assert ret["provenance"]["source"] == "file" and "run_id" not in ret["provenance"]


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        ("metrics: {eval/a/value: 1.0, eval/a/ci_low: 0.5}\n", "has an interval but no ci_level"),
        ("metrics: {ope/WIS/value: 1.0, ope/WIS/ess: 2.5, ope/WIS/episodes: 3.5}\n", "whole"),
        ("metrics: {eval/a/value: .nan}\n", "finite number"),
        ("metrics: {stress/x/passed: 0.5}\n", "must be 0 or 1"),
        ("metrics: {ope/WIS/value: 1.0, ope/wis/value: 2.0}\n", "comes from both"),
        ("metrics: {}\nartifacts: [govrl/ope.csv]\n", "row 1: unknown column(s) colour"),
        ("metrics: {}\nartifacts: [../outside.csv]\n", "must stay inside"),
    ],
)
def test_bad_evidence_is_refused_with_where_and_why(
    minimal_record: Path, tmp_path: Path, evidence: str, message: str
) -> None:
    (tmp_path / "govrl").mkdir()
    (tmp_path / "govrl" / "ope.csv").write_text("id,colour\nwis,blue\n")
    source = tmp_path / "evidence.yaml"
    source.write_text(evidence)
    before = minimal_record.read_bytes()
    result = govrl("collect", "file", minimal_record, "--from", source)
    assert result.exit_code == 1, result.output
    assert message in result.output.replace("\n", " ")
    assert minimal_record.read_bytes() == before


# ------------------------------------------------------------- convention


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("ope/WIS/internal/ci_low", ("off_policy", ("WIS", "internal"), "ci_low")),
        ("ope/DR/ess", ("off_policy", ("DR",), "ess")),
        ("eval/mortality", ("metrics", ("mortality",), "value")),
        (
            "stress/edge-case/high_dose/baseline",
            ("stress_tests", ("edge-case", "high_dose"), "baseline"),
        ),
        (
            "subgroup/age band/80 and over/return/n",
            ("subgroups", ("age band", "80 and over", "return"), "n"),
        ),
        ("subgroup/age band/return", None),
        ("ood/auroc", ("ood_detection", (), "auroc")),
        ("ood/method", None),
        ("train/loss", None),
        ("ope//value", None),
    ],
)
def test_metric_keys_map_to_sections_by_the_documented_convention(
    key: str, parsed: tuple[str, tuple[str, ...], str] | None
) -> None:
    assert Convention().classify(key) == parsed


def test_a_history_summary_keeps_first_last_and_best_and_states_the_final_window() -> None:
    values = [10.0 - 0.01 * i + (20.0 if i == 617 else 0.0) for i in range(1000)]
    points = [(i * 10, 0, v) for i, v in enumerate(values)]
    summary = summarise(
        list(reversed(points)), direction=Direction.HIGHER, window=10, max_points=200
    )
    steps = [p["step"] for p in summary["points"]]
    assert len(steps) <= 200 and steps == sorted(steps)
    assert steps[0] == 0 and steps[-1] == 9990 and 6170 in steps
    assert (summary["best"], summary["last"], summary["steps"]) == (values[617], values[-1], 9990)
    tail = values[-10:]
    assert summary["window_mean"] == pytest.approx(statistics.fmean(tail))
    assert summary["window_std"] == pytest.approx(statistics.pstdev(tail))
    assert (summary["window_min"], summary["window_max"]) == (min(tail), max(tail))
    lowest = summarise(points, direction=Direction.LOWER)
    assert lowest["best"] == min(values)
    unstated = summarise(points, direction=None)
    assert unstated["best"] == max(values)


def test_the_best_of_a_within_band_history_is_the_latest_point_nearest_the_band() -> None:
    values = [5.0, 1.5, 0.2, -0.1, 3.0, 0.9, 2.5]
    points = [(i, 0, v) for i, v in enumerate(values)]
    band = summarise(points, direction=Direction.BAND, target=(0.0, 1.0))
    assert band["best"] == 0.9  # inside the band, and later than 0.2
    below = summarise(points, direction=Direction.BAND, target=(None, -0.5))
    assert below["best"] == -0.1  # nothing inside: the nearest
    assert 3 in [p["step"] for p in below["points"]]
