"""Seeds, episodes and importance weights logged to a real `mlflow server`, turned into
intervals by govrl and checked against numpy."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from govrl.cli import GovrlGroup
from govrl.cli.collect_cmds import COMMANDS
from govrl.record.files import load_record
from tests.support.mlflow_server import MlflowServer
from tests.support.paths import DATA

APP = GovrlGroup(name="govrl", commands={c.name: c for c in COMMANDS})
METHOD = "0.95 percentile bootstrap (scipy.stats.bootstrap), 10000 resamples, seed 0"

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]


class Experiment:
    """A fresh experiment on the server, and runs logged the way an RL team logs them."""

    def __init__(self, server: MlflowServer, folder: Path) -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(server.url)
        self.name = f"seeds-{uuid.uuid4().hex}"
        self.id = self.client.create_experiment(self.name)
        self.folder = folder
        self.server = server

    def run(
        self,
        name: str,
        *,
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        tables: dict[str, str] | None = None,
    ) -> str:
        from mlflow.entities import Metric, Param, RunTag

        run_id: str = self.client.create_run(self.id, run_name=name).info.run_id
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, v, 1_777_000_000_000, 0) for k, v in (metrics or {}).items()],
            params=[Param(k, v) for k, v in (params or {}).items()],
            tags=[RunTag(k, v) for k, v in (tags or {}).items()],
        )
        for file, text in (tables or {}).items():
            local = self.folder / name / file
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_text(text)
            self.client.log_artifact(run_id, str(local), "govrl")
        return run_id

    def collect(self, record: Path, *extra: str) -> Result:
        args = ["collect", "mlflow", str(record), "--tracking-uri", self.server.url]
        return CliRunner().invoke(APP, [*args, "--experiment", self.name, *extra])


@pytest.fixture
def experiment(mlflow_server: MlflowServer, tmp_path: Path) -> Experiment:
    return Experiment(mlflow_server, tmp_path / "logged")


def fresh_record(folder: Path, name: str = "record.yaml") -> Path:
    return Path(shutil.copy(DATA / "valid-minimal.yaml", folder / name))


def evaluation(path: Path) -> dict[str, Any]:
    return load_record(path).record.evaluation.model_dump(mode="json", exclude_none=True)


def entry(path: Path, section: str, entry_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in evaluation(path)[section] if e["id"] == entry_id)
    return found


def bootstrap_of_mean(values: np.ndarray) -> tuple[float, float]:
    """An independent percentile bootstrap of the mean, with numpy's own generator."""
    picks = np.random.default_rng(2024).integers(0, len(values), size=(40_000, len(values)))
    low, high = np.quantile(values[picks].mean(axis=1), [0.025, 0.975])
    return float(low), float(high)


def episodes_csv(metric: str, returns: np.ndarray) -> str:
    rows = "".join(f"{metric},{i},{float(r)!r}\n" for i, r in enumerate(returns))
    return "metric,episode,return\n" + rows


# ----------------------------------------------------------------- seeds


def test_seeds_of_one_configuration_become_a_mean_with_a_bootstrap_interval(
    experiment: Experiment, tmp_path: Path
) -> None:
    per_seed = {0: 41.2, 1: 38.9, 2: 44.0, 3: 40.1, 4: 39.5}
    for seed, value in per_seed.items():
        # the seed as a tag for some runs and as a param (mlflow.log_param) for others
        where = {"tags": {"seed": str(seed)}} if seed % 2 else {"params": {"seed": str(seed)}}
        experiment.run(
            f"ppo-seed{seed}",
            metrics={"eval/return/value": value},
            tags={"govrl.config": "ppo-lr3e-4", **where.get("tags", {})},
            params=where.get("params"),
        )
    record = fresh_record(tmp_path)
    result = experiment.collect(record)
    assert result.exit_code == 0, result.output
    assert "comes from both" not in result.output

    found = entry(record, "metrics", "return")
    values = np.array(list(per_seed.values()))
    assert found["value"] == pytest.approx(values.mean())
    low, high = bootstrap_of_mean(values)
    assert found["ci_low"] == pytest.approx(low, abs=0.1)
    assert found["ci_high"] == pytest.approx(high, abs=0.1)
    assert found["ci_level"] == 0.95
    note = found["provenance"]["note"]
    assert "mean over 5 seeds of configuration ppo-lr3e-4" in note
    assert METHOD in note
    sorted_middle = np.sort(values)[1:4]  # IQM of 5: trim 1 from each end (scipy trim_mean)
    assert f"IQM {sorted_middle.mean():.6g}" in note
    for seed, value in per_seed.items():
        assert f"seed {seed}: {value:.6g} (run ppo-seed{seed}, " in note
    assert found["provenance"]["experiment"] == experiment.name
    assert found["provenance"]["metric_key"] == "eval/return/value"

    # the same runs give the same interval, byte for byte
    again = fresh_record(tmp_path, "again.yaml")
    assert experiment.collect(again).exit_code == 0
    assert entry(again, "metrics", "return") | {"provenance": None} == found | {"provenance": None}
    repeat = experiment.collect(record)
    assert repeat.exit_code == 0 and "nothing changed" in repeat.output


def test_identical_seeds_give_a_zero_width_interval(experiment: Experiment, tmp_path: Path) -> None:
    for seed in range(3):
        experiment.run(f"s{seed}", metrics={"eval/return/value": 12.5}, tags={"seed": str(seed)})
    record = fresh_record(tmp_path)
    result = experiment.collect(record)
    assert result.exit_code == 0, result.output
    found = entry(record, "metrics", "return")
    assert (found["value"], found["ci_low"], found["ci_high"]) == (12.5, 12.5, 12.5)


def test_the_same_seed_twice_in_one_configuration_is_refused(
    experiment: Experiment, tmp_path: Path
) -> None:
    for name in ("first", "second"):
        experiment.run(name, metrics={"eval/return/value": 1.0}, tags={"seed": "7"})
    result = experiment.collect(fresh_record(tmp_path))
    assert result.exit_code == 1
    assert "runs first and second are both seed 7" in result.output


def test_runs_without_seeds_still_clash_and_say_how_seeds_are_aggregated(
    experiment: Experiment, tmp_path: Path
) -> None:
    experiment.run("a", metrics={"eval/return/value": 1.0})
    experiment.run("b", metrics={"eval/return/value": 2.0}, tags={"seed": "1"})
    result = experiment.collect(fresh_record(tmp_path))
    assert result.exit_code == 1
    assert "evaluation.metrics[return] comes from both run a" in result.output
    assert "seed tag or param" in result.output


# ----------------------------------------------------------------- episodes


def test_per_episode_returns_become_the_value_and_its_interval(
    experiment: Experiment, tmp_path: Path
) -> None:
    returns = np.random.default_rng(11).gamma(4.0, 10.0, size=400)
    experiment.run(
        "eval-run",
        # what the team computed by hand, slightly off: reported, not trusted
        metrics={"eval/return/value": 41.0},
        tags={"govrl.metric.return.direction": "higher-is-better"},
        tables={"episodes.csv": episodes_csv("return", returns)},
    )
    record = fresh_record(tmp_path)
    result = experiment.collect(record)
    assert result.exit_code == 0, result.output

    found = entry(record, "metrics", "return")
    assert found["value"] == pytest.approx(returns.mean())
    low, high = bootstrap_of_mean(returns)
    assert found["ci_low"] == pytest.approx(low, rel=0.01)
    assert found["ci_high"] == pytest.approx(high, rel=0.01)
    assert found["direction"] == "higher-is-better"
    provenance = found["provenance"]
    assert provenance["artifact_path"] == "govrl/episodes.csv"
    assert provenance["note"].startswith("govrl computed the mean of 400 episodes")
    assert METHOD in provenance["note"]
    flat = " ".join(result.output.split())
    assert (
        f"evaluation.metrics[return]: run eval-run key eval/return/value says value 41, but "
        f"govrl computes {returns.mean():.6g} from 400 episodes of return" in flat
    )


# ----------------------------------------------------------------- importance weights


def test_wis_and_its_diagnostics_are_computed_from_logged_weights(
    experiment: Experiment, tmp_path: Path
) -> None:
    rng = np.random.default_rng(5)
    returns = rng.normal(8.0, 3.0, size=250)
    behaviour = rng.uniform(0.05, 0.9, size=250)
    target = rng.uniform(0.05, 0.9, size=250)
    w = target / behaviour
    flat = "".join(f"flat,{float(r)!r},1.0,,\n" for r in returns)
    shifted = "".join(
        f"wis-shifted,{float(r)!r},,{float(b)!r},{float(t)!r}\n"
        for r, b, t in zip(returns, behaviour, target, strict=True)
    )
    wis = float(np.sum(w * returns) / np.sum(w))
    experiment.run(
        "ope-run",
        metrics={"ope/WIS/shifted/value": round(wis, 2) + 0.5, "ope/WIS/shifted/ess": 250.0},
        tables={"weights.csv": "id,return,weight,behaviour_prob,target_prob\n" + flat + shifted},
    )
    record = fresh_record(tmp_path)
    result = experiment.collect(record)
    assert result.exit_code == 0, result.output

    flat_entry = entry(record, "off_policy", "flat")
    # all weights equal: WIS is the mean return and ESS the number of episodes
    assert flat_entry["value"] == pytest.approx(returns.mean())
    assert flat_entry["ess"] == pytest.approx(250.0)
    assert flat_entry["episodes"] == 250
    assert flat_entry["behaviour_value"] == pytest.approx(returns.mean())
    assert flat_entry["difference"]["ci_low"] == pytest.approx(0.0, abs=1e-9)
    assert flat_entry["difference"]["ci_high"] == pytest.approx(0.0, abs=1e-9)

    shifted = entry(record, "off_policy", "wis-shifted")
    assert shifted["estimator"] == "WIS"
    assert shifted["value"] == pytest.approx(wis)
    ess = float(np.sum(w) ** 2 / np.sum(w**2))
    assert shifted["ess"] == pytest.approx(ess)
    assert shifted["difference"]["value"] == pytest.approx(wis - returns.mean())
    picks = np.random.default_rng(9).integers(0, 250, size=(20_000, 250))
    stats = np.sum(w[picks] * returns[picks], axis=1) / np.sum(w[picks], axis=1)
    low, high = np.quantile(stats, [0.025, 0.975])
    assert shifted["ci_low"] == pytest.approx(low, abs=0.1)
    assert shifted["ci_high"] == pytest.approx(high, abs=0.1)
    note = shifted["provenance"]["note"]
    assert f"relative ESS {ess / 250:.4g}" in note
    assert f"largest weight {w.max() / w.sum():.4g} of the total" in note
    assert METHOD in note
    output = " ".join(result.output.split())
    assert f"says value {round(wis, 2) + 0.5:.6g}, but govrl computes {wis:.6g}" in output
    assert f"says ess 250, but govrl computes {ess:.6g}" in output


# ----------------------------------------------------------------- probability of improvement


def test_probability_of_improvement_over_the_baseline_seeds(
    experiment: Experiment, tmp_path: Path
) -> None:
    ours = [41.0, 39.0, 44.0, 40.0]
    theirs = [38.0, 40.0, 36.5]
    direction = {"govrl.metric.return.direction": "higher-is-better"}
    for seed, value in enumerate(ours):
        experiment.run(
            f"ppo{seed}", metrics={"eval/return/value": value}, tags={"seed": str(seed)} | direction
        )
    for seed, value in enumerate(theirs):
        experiment.run(
            f"incumbent{seed}",
            metrics={"eval/return/value": value},
            tags={"seed": str(seed), "govrl.config": "incumbent", "govrl.baseline": "true"},
        )
    record = fresh_record(tmp_path)
    result = experiment.collect(record)
    assert result.exit_code == 0, result.output

    x, y = np.array(ours)[:, None], np.array(theirs)[None, :]
    expected = float((x > y).mean() + 0.5 * (x == y).mean())
    found = entry(record, "metrics", "prob-improvement-return")
    assert found["value"] == pytest.approx(expected)
    assert found["ci_low"] <= expected <= found["ci_high"] and found["ci_level"] == 0.95
    assert found["direction"] == "higher-is-better" and found["unit"] == "probability"
    assert "candidate seed X (4:" in found["provenance"]["note"]
    assert METHOD in found["provenance"]["note"]
    assert entry(record, "metrics", "return")["value"] == pytest.approx(np.mean(ours))
    baseline = entry(record, "metrics", "return-baseline")
    assert baseline["value"] == pytest.approx(np.mean(theirs))
    assert "configuration incumbent" in baseline["provenance"]["note"]


def test_probability_of_improvement_per_episode_follows_a_lower_is_better_direction(
    experiment: Experiment, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    ours, theirs = rng.normal(1.0, 1.0, size=60), rng.normal(1.5, 1.0, size=80)
    experiment.run(
        "candidate",
        tags={"govrl.metric.cost.direction": "lower-is-better"},
        tables={"episodes.csv": episodes_csv("cost", ours)},
    )
    experiment.run(
        "incumbent",
        tags={"govrl.baseline": "true"},
        tables={"episodes.csv": episodes_csv("cost", theirs)},
    )
    record = fresh_record(tmp_path)
    result = experiment.collect(record, "--json")
    assert result.exit_code == 0, result.output
    found = entry(record, "metrics", "prob-improvement-cost")
    expected = float((ours[:, None] < theirs[None, :]).mean())
    assert found["value"] == pytest.approx(expected)
    assert found["ci_low"] < expected < found["ci_high"]
    assert "P(X < Y)" in found["provenance"]["note"]
    assert "candidate episode X (60:" in found["provenance"]["note"]


def test_a_baseline_logged_differently_from_the_candidate_is_not_compared(
    experiment: Experiment, tmp_path: Path
) -> None:
    for seed in range(3):
        experiment.run(
            f"ppo{seed}", metrics={"eval/return/value": 40.0 + seed}, tags={"seed": str(seed)}
        )
    experiment.run("incumbent", metrics={"eval/return/value": 39.0}, tags={"govrl.baseline": "1"})
    record = fresh_record(tmp_path)
    result = experiment.collect(record, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert any(
        "prob-improvement-return: not computed; the candidate gives 3 seeds and the baseline "
        "one logged value" in w
        for w in report["warnings"]
    )
    ids = [m["id"] for m in evaluation(record)["metrics"]]
    assert "return-baseline" in ids and "prob-improvement-return" not in ids


# ----------------------------------------------------------------- the documented example


def test_the_logging_example_in_the_docs_is_collected_as_documented(
    mlflow_server: MlflowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (Path(__file__).parents[1] / "docs" / "collect.md").read_text()
    section = text[text.index("## Logging an evaluation") :]
    example = section[section.index("```python\n") + 10 : section.index("```\n", 10)]
    name = f"pendulum-{uuid.uuid4().hex}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.chdir(tmp_path)
    exec(compile(example.replace('"pendulum-ppo"', repr(name)), "collect.md", "exec"), {})

    record = fresh_record(tmp_path)
    args = ["collect", "mlflow", str(record), "--tracking-uri", mlflow_server.url]
    result = CliRunner().invoke(APP, [*args, "--experiment", name])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output  # what the team logged agrees with govrl

    # the example's own numbers, recomputed
    seeds = [np.random.default_rng(s).normal(-150.0, 20.0, size=100).mean() for s in range(5)]
    ours = entry(record, "metrics", "return")
    assert ours["value"] == pytest.approx(np.mean(seeds))
    assert ours["ci_low"] < ours["value"] < ours["ci_high"]
    assert ours["direction"] == "higher-is-better"
    assert "each seed's value the mean of its episodes" in ours["provenance"]["note"]
    assert entry(record, "metrics", "return-baseline")["value"] < ours["value"]
    assert entry(record, "metrics", "prob-improvement-return")["value"] == 1.0
    wis = entry(record, "off_policy", "wis-logged")
    assert (wis["estimator"], wis["episodes"]) == ("WIS", 2000)
    assert wis["target"] == "expected return per episode"
    assert 0 < wis["ess"] < 2000


def test_an_aggregate_no_longer_produced_is_removed_on_recollection(
    experiment: Experiment, tmp_path: Path
) -> None:
    for seed in range(3):
        experiment.run(
            f"s{seed}",
            metrics={"eval/return/value": 10.0 + seed, "eval/length/value": 200.0 + seed},
            tags={"seed": str(seed)},
        )
    record = fresh_record(tmp_path)
    assert experiment.collect(record).exit_code == 0
    assert {"return", "length"} <= {m["id"] for m in evaluation(record)["metrics"]}
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text('ignore: ["eval/length/*"]\n')
    result = experiment.collect(record, "--mapping", str(mapping))
    assert result.exit_code == 0, result.output
    assert "- evaluation.metrics[length]" in result.output
    assert "length" not in {m["id"] for m in evaluation(record)["metrics"]}
