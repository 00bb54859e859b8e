"""Histories are summarised as they stream in: the same summary as from the whole history, in
memory that does not grow with its length."""

from __future__ import annotations

import datetime as dt
import math
import random
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from govrl.evidence import mlflow as mlflow_source
from govrl.evidence import mlflow_rest
from govrl.evidence.collect import fetch_plan, merge
from govrl.evidence.convention import Convention
from govrl.evidence.history import Thinned, summarise, thin, thin_pages
from govrl.evidence.interface import Evidence, FetchPlan, Point, RunEvidence, Selection
from govrl.evidence.local_store import SeededStore as DemoStore
from govrl.evidence.mapping import Mapping, MetricRule
from govrl.evidence.mlflow import MlflowSource
from govrl.vocabulary import Direction, SourceKind
from tests.support.mlflow_server import MlflowServer, counting_requests

ORDERED = [(Direction.HIGHER, (None, None)), (Direction.LOWER, (None, None)), (None, (None, None))]
FETCHED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def kept(history: Any) -> tuple[list[Point], int]:
    """What the convention keeps of a history, and how many points it reports as dropped."""
    points = [p for p in history if p[0] >= 0 and math.isfinite(p[2])]
    return points, len(history) - len(points)


def noisy(count: int, seed: int) -> list[Point]:
    """A shuffled training curve with ties, repeated steps, NaN, infinities and negative steps."""
    rng = random.Random(seed)
    points = []
    for i in range(count):
        value = round(1.0 / (1 + i) + rng.gauss(0, 0.05), rng.choice([1, 2, 6]))
        if rng.random() < 0.01:
            value = rng.choice([math.nan, math.inf, -math.inf])
        step = i if rng.random() < 0.9 else rng.randint(-2, count)
        points.append((step, rng.randint(0, 3), value))
    rng.shuffle(points)
    return points


def pages(points: list[Point], size: int) -> Iterator[list[Point]]:
    for start in range(0, len(points), size):
        yield points[start : start + size]


# ------------------------------------------------------------------ the summary


@pytest.mark.parametrize("count", [2, 199, 200, 201, 1_000, 12_345])
@pytest.mark.parametrize(("window", "limit"), [(10, 200), (1, 3), (50, 40)])
@pytest.mark.parametrize("page", [None, 1, 250, 5_000])
def test_a_thinned_history_summarises_as_the_whole_one(
    count: int, window: int, limit: int, page: int | None
) -> None:
    points = noisy(count, seed=count + window + limit)
    thinned = (
        thin(points, window, limit)
        if page is None
        else thin_pages(pages(points, page), window, limit)
    )
    whole, dropped = kept(points)
    ours, our_dropped = kept(thinned)
    assert our_dropped == dropped and len(whole) > 1
    assert len(ours) <= limit + window + 4 or count <= limit
    for direction, target in ORDERED:
        expected = summarise(whole, direction=direction, window=window, max_points=limit)
        got = summarise(ours, direction=direction, target=target, window=window, max_points=limit)
        assert got == expected, direction


def test_a_thinned_history_is_summarised_only_as_it_was_thinned() -> None:
    ours, _ = kept(thin([(i, 0, float(i)) for i in range(1000)], 10, 200))
    with pytest.raises(ValueError, match="thinned for a window of 10 and 200 points"):
        summarise(ours, direction=None, window=20)
    with pytest.raises(ValueError, match="thinned for a window of 10 and 200 points"):
        summarise(ours, direction=None, max_points=100)


@pytest.mark.parametrize(
    ("values", "band"),
    [
        ([math.sin(i / 50) for i in range(5_000)], (-0.7, -0.6)),  # the final window in it
        ([i / 5_000 for i in range(5_000)], (2.0, 3.0)),  # every point below the band
        ([1 + math.cos(i) for i in range(5_000)], (None, -1.0)),  # every point above it
        ([1 + math.cos(i) for i in range(150)], (0.2, 0.3)),  # no more points than drawn
    ],
    ids=["window-in-band", "all-below", "all-above", "short"],
)
def test_a_within_band_best_is_exact_where_the_module_says(
    values: list[float], band: tuple[float | None, float | None]
) -> None:
    points = [(i, 0, v) for i, v in enumerate(values)]
    ours, _ = kept(thin(points, 10, 200))
    expected = summarise(points, direction=Direction.BAND, target=band)
    assert summarise(ours, direction=Direction.BAND, target=band) == expected


def test_a_within_band_best_elsewhere_is_the_latest_nearest_kept_point() -> None:
    # in the band only around step 2,500: an exact best would need every point kept
    values = [2.0 - abs(i - 2_500) / 1_000 for i in range(5_000)]
    points = [(i, 0, v) for i, v in enumerate(values)]
    ours, _ = kept(thin(points, 10, 200))
    summary = summarise(ours, direction=Direction.BAND, target=(1.9995, 2.5))
    assert summary["best"] >= 1.9995  # in the band, the latest of the kept points there
    assert summary == summarise(ours, direction=Direction.BAND, target=(1.9995, 2.5))
    assert summary["best"] in [p["value"] for p in summary["points"]]


def test_thinned_histories_go_through_the_convention_as_whole_ones() -> None:
    points = noisy(20_000, seed=7)
    mapping = Mapping(metrics=[MetricRule(key="train/loss", id="loss", direction=Direction.LOWER)])
    convention = Convention(mapping)

    def harvested(history: Any) -> tuple[dict[str, Any], list[str]]:
        histories = {"train/loss": history}
        run = RunEvidence(run_id="r1", metrics={"train/loss": 0.5}, histories=histories)
        out = convention.harvest(Evidence(SourceKind.FILE, None, [run]), FETCHED)
        (entry,) = out.entries
        return merge(entry, None, mapping)["history"], out.warnings

    whole = harvested(points)
    assert harvested(thin(points, mapping.window, mapping.points)) == whole
    assert any("non-finite points left out" in w for w in whole[1])


# ------------------------------------------------------------------ memory


def peak(action: Callable[[], Any]) -> int:
    action()  # once first: imports and caches are not the history's
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_to_thin_a_streamed_history_does_not_grow_with_its_length() -> None:
    def streamed(count: int) -> Callable[[], Thinned]:
        def stream() -> Iterator[list[Point]]:
            for start in range(0, count, 1_000):  # each page made as it is asked for
                yield [(s, s, 1.0 / (1 + s)) for s in range(start, min(count, start + 1_000))]

        return lambda: thin_pages(stream(), 10, 200)

    short, long = peak(streamed(2_000)), peak(streamed(20_000))
    assert long < 2 * short, (short, long)


# ------------------------------------------------------------------ from MLflow

STEPS = 20_000


@pytest.fixture(scope="module")
def long_runs(demo_store: DemoStore) -> dict[int, str]:
    """Runs in the demo store (which the test server serves) with long ``train/loss`` histories,
    by length: resumed half way, so later timestamps go back in steps; with NaN and infinity."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(demo_store.tracking_uri)
    experiment = client.create_experiment(f"long-{uuid.uuid4().hex[:8]}")
    runs = {}
    for steps in (2_000, STEPS):
        run_id = client.create_run(experiment).info.run_id
        resumed = steps // 2
        logged = [(s, 1_000 + s, 1.0 / (1 + s) + (s % 7) / 100) for s in range(resumed + 500)]
        logged += [(s, 10**6 + s, 1.0 / (1 + s)) for s in range(resumed, steps)]
        logged[100] = (100, 1_100, math.nan)
        logged[200] = (200, 1_200, math.inf)
        for start in range(0, len(logged), 1_000):
            batch = [Metric("train/loss", v, t, s) for s, t, v in logged[start : start + 1_000]]
            client.log_batch(run_id, metrics=batch)
        runs[steps] = run_id
    return runs


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers of 1,000 points, so that a long history takes many pages."""
    monkeypatch.setattr(mlflow_source, "BULK_LIMIT", 1_000)
    monkeypatch.setattr(mlflow_source, "SQLITE_PAGE", 1_000)
    monkeypatch.setattr(mlflow_rest, "HISTORY_PAGE", 1_000)


def thinned_plan() -> FetchPlan:
    return fetch_plan(Convention(Mapping(metrics=[MetricRule(key="train/loss")])))


def fetched(uri: str, run_id: str, plan: FetchPlan) -> Any:
    (run,) = MlflowSource(uri).fetch(Selection(run_ids=(run_id,)), plan).runs
    return run.histories["train/loss"]


@pytest.mark.mlflow
@pytest.mark.slow
@pytest.mark.usefixtures("small_pages")
@pytest.mark.parametrize("where", ["server", "sqlite"])
def test_a_history_read_page_by_page_summarises_as_the_whole_one(
    where: str, long_runs: dict[int, str], mlflow_server: MlflowServer, demo_store: DemoStore
) -> None:
    uri = mlflow_server.url if where == "server" else demo_store.tracking_uri
    whole = fetched(uri, long_runs[STEPS], FetchPlan(lambda key: True))
    assert len(whole) == STEPS + 500  # every point, none twice
    thinned = fetched(uri, long_runs[STEPS], thinned_plan())
    assert isinstance(thinned, Thinned) and len(thinned.kept) < 250
    (whole_points, dropped), (ours, our_dropped) = kept(whole), kept(thinned)
    assert our_dropped == dropped == 1  # the NaN; MLflow stores infinity as the largest float
    for direction, target in ORDERED:
        expected = summarise(whole_points, direction=direction)
        assert summarise(ours, direction=direction, target=target) == expected


@pytest.mark.mlflow
@pytest.mark.slow
@pytest.mark.usefixtures("small_pages")
@pytest.mark.parametrize("where", ["server", "sqlite"])
def test_memory_to_fetch_a_history_does_not_grow_with_its_length(
    where: str, long_runs: dict[int, str], mlflow_server: MlflowServer, demo_store: DemoStore
) -> None:
    uri = mlflow_server.url if where == "server" else demo_store.tracking_uri
    plan = thinned_plan()
    short = peak(lambda: fetched(uri, long_runs[2_000], plan))
    long = peak(lambda: fetched(uri, long_runs[STEPS], plan))
    assert long < 2 * short, (short, long)
    whole = peak(lambda: fetched(uri, long_runs[STEPS], FetchPlan(lambda key: True)))
    assert whole > 2 * long  # what keeping every point costs, for scale


@pytest.mark.mlflow
@pytest.mark.slow
@pytest.mark.usefixtures("small_pages")
def test_a_cut_answer_keeps_the_runs_it_holds_whole_and_sizes_the_next_by_them(
    demo_store: DemoStore, mlflow_server: MlflowServer
) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(demo_store.tracking_uri)
    experiment = client.create_experiment(f"twice-a-step-{uuid.uuid4().hex[:8]}")
    logged: dict[str, list[Point]] = {}
    for r in range(3):  # two points a step: the latest step promises half the points there are
        run_id = client.create_run(experiment).info.run_id
        logged[run_id] = [(i // 2, 1_000 + i, float(i + r)) for i in range(400)]
        batch = [Metric("train/loss", v, t, s) for s, t, v in logged[run_id]]
        client.log_batch(run_id, metrics=batch)
    name = client.get_experiment(experiment).name

    with counting_requests() as requests:
        evidence = MlflowSource(mlflow_server.url).fetch(
            Selection(experiment=name), FetchPlan(lambda key: True)
        )
    assert {run.run_id: list(run.histories["train/loss"]) for run in evidence.runs} == logged
    # all three asked for, cut after two whole runs (1,000 points); then the third alone
    assert requests.paths.count(mlflow_rest.BULK_HISTORY) == 2, requests.paths
    assert mlflow_rest.HISTORY not in requests.paths
