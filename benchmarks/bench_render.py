"""Render time of govrl's documents next to bare WeasyPrint on the same HTML; batch throughput.

Run by hand: `.venv/bin/python benchmarks/bench_render.py [--batch N]`. Prints medians
and ratios; absolute times on a shared machine are noisy, ratios less so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXAMPLE = ROOT / "examples" / "sepsis-offline-rl.yaml"
DATE = dt.date(2026, 5, 1)
RUNS = 7


def _context() -> tuple[Any, Any, Any]:
    from govrl.record.files import load_record
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.policy import load_policy

    return load_record(EXAMPLE).record, load_policy(), ChecklistLibrary.discover()


def paired_medians(first: Any, second: Any) -> tuple[float, float]:
    """Median times of two actions run alternately, so background load hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(RUNS):
        for action, bucket in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            action()
            bucket.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def single_documents() -> None:
    """Each document: govrl's whole render against WeasyPrint alone on the identical HTML."""
    import weasyprint

    import govrl.documents.html_to_pdf as pdf_module
    from govrl.documents.render import Kind, render, shipped_templates

    record, policy, library = _context()
    captured: dict[str, str] = {}
    original = pdf_module.html_to_pdf

    def spy(html: str, *args: Any, **kwargs: Any) -> Any:
        captured["html"] = html
        return original(html, *args, **kwargs)

    pdf_module.html_to_pdf = spy  # render() looks the writer up at call time
    base_url = shipped_templates().as_uri() + "/"
    print(f"{'document':12} {'pages':>5} {'govrl s':>8} {'bare s':>8} {'ratio':>6}")
    for kind in Kind:

        def govrl_render(kind: Kind = kind) -> Any:
            return render(record, kind=kind, policy=policy, library=library, on=DATE)

        pages = govrl_render().pages  # warm-up: imports, font loading
        html = captured["html"]

        def bare(html: str = html) -> Any:
            return weasyprint.HTML(string=html, base_url=base_url).write_pdf()

        bare()
        ours, theirs = paired_medians(govrl_render, bare)
        print(f"{kind.value:12} {pages:>5} {ours:8.3f} {theirs:8.3f} {ours / theirs:6.2f}")
    pdf_module.html_to_pdf = original


def _variant(data: dict[str, Any], index: int) -> dict[str, Any]:
    import copy

    data = copy.deepcopy(data)
    version = f"2.1.{index}"
    data["system"]["version"] = version
    data["changelog"][-1]["version"] = version
    return data


def _render_one(data: dict[str, Any]) -> int:
    from govrl.documents.render import Kind, render
    from govrl.record import AssessmentRecord
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.policy import load_policy

    record = AssessmentRecord.model_validate(data)
    out = render(
        record,
        kind=Kind.APPROVAL,
        policy=load_policy(),
        library=ChecklistLibrary.discover(),
        on=DATE,
    )
    return len(out.content)


def batch(count: int) -> None:
    """``count`` distinct approvals, one process, then a pool over every core (cold workers)."""
    record, _, _ = _context()
    base = record.model_dump(mode="json", exclude_none=True)
    records = [_variant(base, i) for i in range(count)]
    _render_one(records[0])  # warm this process, as a long-running caller would be
    start = time.perf_counter()
    for data in records:
        _render_one(data)
    serial = time.perf_counter() - start
    workers = os.cpu_count() or 1
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_render_one, records))
    pooled = time.perf_counter() - start
    print(f"\nbatch of {count} approvals ({workers} cores)")
    print(f"  one process: {serial:6.1f} s  ({count / serial:5.2f} documents/s)")
    print(f"  process pool: {pooled:6.1f} s  ({count / pooled:5.2f} documents/s)")
    print(f"  speed-up: {serial / pooled:4.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=50, help="records in the batch (default 50)")
    args = parser.parse_args()
    single_documents()
    batch(args.batch)


if __name__ == "__main__":
    main()
