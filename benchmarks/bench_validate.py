"""Cold-start and throughput of `govrl validate`, next to the bare libraries.

Run by hand: `.venv/bin/python benchmarks/bench_validate.py`. Prints medians
and ratios; absolute times on a shared machine are noisy, ratios less so.
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


if __name__ == "__main__":
    main()
