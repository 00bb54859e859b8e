"""Cold-start and throughput of `govrl validate`, next to the bare libraries.

Run by hand: `.venv/bin/python benchmarks/bench_validate.py [--quick] [--json]`. The
commands run interleaved, round after round, so background load hits each alike; the
cold-start ratio is of the minimum of each (the median's is printed beside it). Absolute
times on a shared machine are noisy. The commands run with bytecode cached, as from an
installed wheel, after one untimed round that writes it (--as-is keeps the environment as
it is, PYTHONDONTWRITEBYTECODE included). Also the gate (decide) over 1,000 generated
records next to their validation.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sepsis-offline-rl.yaml"
COLD_EXAMPLE = ROOT / "examples" / "grid-frequency-control.yaml"
RUNS = 15


def cold_starts(
    commands: dict[str, list[str]], runs: int, env: dict[str, str] | None = None
) -> dict[str, dict[str, float]]:
    """Seconds per command, min/median/max over ``runs`` rounds that run each once in turn,
    after one untimed round (it writes the bytecode the timed ones read)."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():
        subprocess.run(argv, check=False, capture_output=True, cwd=ROOT, env=env)
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, check=False, capture_output=True, cwd=ROOT, env=env)
            times[name].append(time.perf_counter() - start)
    return {
        name: {"min": min(t), "median": statistics.median(t), "max": max(t)}
        for name, t in times.items()
    }


def cached_bytecode_env(cache: str) -> dict[str, str]:
    """The environment with bytecode written to and read from ``cache``, as an installed
    wheel reads its compiled modules, whatever PYTHONDONTWRITEBYTECODE says."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def throughput(n: int = 1000) -> tuple[float, float, float]:
    """Records per second: govrl from YAML text, bare PyYAML + pydantic, and from data."""
    import yaml

    from govrl.record.files import parse_record
    from govrl.yamlio import loads

    text = EXAMPLE.read_text()
    base = loads(text).data
    texts, datas = [], []
    for i in range(n):
        data = copy.deepcopy(base)
        data["system"]["version"] = f"1.{i}.0"
        data["changelog"][-1]["version"] = f"1.{i}.0"
        for metric in data["evaluation"]["metrics"]:
            metric["value"] = (
                metric["value"] + i * 1e-6 if metric.get("value") is not None else None
            )
        datas.append(data)
        texts.append(text.replace(f'version: "{base["system"]["version"]}"', f'version: "1.{i}.0"'))
    start = time.perf_counter()
    for i, t in enumerate(texts):
        parse_record(loads(t, f"record-{i}.yaml"))
    from_text = n / (time.perf_counter() - start)
    from govrl.record import AssessmentRecord

    start = time.perf_counter()
    for t in texts:
        AssessmentRecord.model_validate(yaml.load(t, Loader=yaml.CSafeLoader))
    bare = n / (time.perf_counter() - start)

    start = time.perf_counter()
    for data in datas:
        AssessmentRecord.model_validate(data)
    from_data = n / (time.perf_counter() - start)
    return from_text, bare, from_data


def gate_throughput(n: int = 1000) -> tuple[float, float, float]:
    """Seconds for n generated records: validation alone, the gate (decide) alone, and ratio."""
    import datetime as dt

    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.gate import decide
    from govrl.review.policy import load_policy
    from govrl.yamlio import loads

    base = loads(EXAMPLE.read_text()).data
    datas = []
    for i in range(n):
        data = copy.deepcopy(base)
        for metric in data["evaluation"]["metrics"]:
            if metric.get("value") is not None:
                metric["value"] += i * 1e-6
        datas.append(data)
    policy = load_policy(EXAMPLE.parent / "policies" / "sepsis.yaml")
    library = ChecklistLibrary.discover()
    today = dt.date(2026, 11, 1)
    from govrl.record import AssessmentRecord

    start = time.perf_counter()
    records = [AssessmentRecord.model_validate(d) for d in datas]
    validation = time.perf_counter() - start
    start = time.perf_counter()
    for record in records:
        decide(record, policy, library, today=today)
    gate = time.perf_counter() - start
    return validation, gate, gate / validation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 rounds, 100 generated records")
    parser.add_argument("--runs", type=int, help="interleaved rounds (default 15)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="run the commands in this environment as it is, bytecode settings included",
    )
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else RUNS)
    py = sys.executable
    commands = {
        "bare": [py, "-c", "from pydantic import BaseModel; import yaml, click"],
        "help": [py, "-m", "govrl", "--help"],
        "validate": [py, "-m", "govrl", "validate", str(COLD_EXAMPLE)],
    }
    with tempfile.TemporaryDirectory(prefix="govrl-bytecode-") as cache:
        starts = cold_starts(commands, runs, None if args.as_is else cached_bytecode_env(cache))
    # Minimum against minimum: the run least disturbed by whatever else the machine does.
    ratio = starts["validate"]["min"] / starts["bare"]["min"]
    median_ratio = starts["validate"]["median"] / starts["bare"]["median"]
    n = 100 if args.quick else 1000
    from_text, bare_text, from_data = throughput(n)
    validation, gate, gate_ratio = gate_throughput(n)
    if args.json:
        figures = {
            "runs": runs,
            "cold_start": starts,
            "cold_start_ratio": ratio,
            "cold_start_median_ratio": median_ratio,
            "bytecode": "as-is" if args.as_is else "cached",
            "records": n,
            "records_per_second": {"govrl": from_text, "bare": bare_text, "from_data": from_data},
            "gate_over_validation": gate_ratio,
        }
        print(json.dumps(figures, indent=2))
        return
    bytecode = "environment as it is" if args.as_is else "bytecode cached"
    print(f"cold start, {runs} interleaved rounds, {bytecode}, ms (min median max):")
    labels = {
        "bare": "python -c 'from pydantic import BaseModel; import yaml, click'",
        "help": "govrl --help",
        "validate": f"govrl validate {COLD_EXAMPLE.name}",
    }
    for name, label in labels.items():
        f = starts[name]
        print(
            f"  {label:62} {f['min'] * 1000:6.0f} {f['median'] * 1000:6.0f} {f['max'] * 1000:6.0f}"
        )
    print(
        f"  ratio validate / bare: minimum of each {ratio:5.2f}x, median of each "
        f"{median_ratio:5.2f}x  (aim: at most 1.5x, of the minimum)"
    )
    print(f"throughput over {n:,} generated records like {EXAMPLE.name} (in-process):")
    print(f"  govrl: YAML text -> validated record   {from_text:8.0f} records/s")
    print(f"  bare:  PyYAML CSafeLoader + pydantic   {bare_text:8.0f} records/s")
    print(f"  parsed data -> validated record {from_data:8.0f} records/s")
    print(f"gate over {n:,} generated records like {EXAMPLE.name} (in-process):")
    print(f"  validation (data -> record)      {validation * 1000:8.1f} ms")
    print(f"  gate (decide, sepsis policy)     {gate * 1000:8.1f} ms")
    print(f"  ratio gate / validation          {gate_ratio:8.2f}x  (aim: at most 1.5x)")


if __name__ == "__main__":
    main()
