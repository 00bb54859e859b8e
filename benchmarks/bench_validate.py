"""Cold-start and throughput of `govrl validate`, next to the bare libraries.

Run by hand: `.venv/bin/python benchmarks/bench_validate.py`. Prints medians
and ratios; absolute times on a shared machine are noisy, ratios less so. Also
the gate (decide) over 1,000 generated records next to their validation.
"""

from __future__ import annotations

import copy
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sepsis-offline-rl.yaml"
RUNS = 15


def cold(argv: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, check=False, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
    py = sys.executable
    bare = cold([py, "-c", "import pydantic, yaml"])
    bare_models = cold([py, "-c", "from pydantic import BaseModel; import yaml, click"])
    govrl = cold([py, "-m", "govrl", "validate", str(EXAMPLE)])
    helptime = cold([py, "-m", "govrl", "--help"])
    print(f"cold start, median of {RUNS}:")
    print(f"  python -c 'import pydantic, yaml'            {bare * 1000:7.1f} ms")
    print(f"  python -c 'from pydantic import BaseModel; ...'  {bare_models * 1000:7.1f} ms")
    print(f"  govrl --help                                 {helptime * 1000:7.1f} ms")
    print(f"  govrl validate {EXAMPLE.name:30s} {govrl * 1000:7.1f} ms")
    print(f"  ratio validate / import pydantic, yaml      {govrl / bare:7.2f}x")
    print(f"  ratio validate / BaseModel+yaml+click        {govrl / bare_models:7.2f}x")
    from_text, bare_text, from_data = throughput()
    print(f"throughput over 1,000 generated records like {EXAMPLE.name} (in-process):")
    print(f"  govrl: YAML text -> validated record   {from_text:8.0f} records/s")
    print(f"  bare:  PyYAML CSafeLoader + pydantic   {bare_text:8.0f} records/s")
    print(f"  parsed data -> validated record {from_data:8.0f} records/s")
    validation, gate, ratio = gate_throughput()
    print(f"gate over 1,000 generated records like {EXAMPLE.name} (in-process):")
    print(f"  validation (data -> record)      {validation * 1000:8.1f} ms")
    print(f"  gate (decide, sepsis policy)     {gate * 1000:8.1f} ms")
    print(f"  ratio gate / validation          {ratio:8.2f}x  (aim: at most 1.5x)")


if __name__ == "__main__":
    main()
