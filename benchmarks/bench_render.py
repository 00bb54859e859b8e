"""Render time of each govrl document next to bare WeasyPrint on the same HTML, and a batch
of approvals rendered by one `govrl render` next to one command per record.

Run by hand: `.venv/bin/python benchmarks/bench_render.py [--quick] [--batch N] [--json]`.
Each pair of actions runs interleaved, so background load hits both alike; the ratios are
of medians, with min/median/max of each side shown. Absolute times on a shared machine are
noisy, ratios less so.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXAMPLE = ROOT / "examples" / "sepsis-offline-rl.yaml"
DATE = dt.date(2026, 5, 1)


def interleaved(*actions: Callable[[], Any], runs: int) -> list[list[float]]:
    """Seconds of ``runs`` calls of each action, taking turns, so load hits all alike."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(runs):
        for action, bucket in zip(actions, times, strict=True):
            start = time.perf_counter()
            action()
            bucket.append(time.perf_counter() - start)
    return times


def spread(times: list[float]) -> dict[str, float]:
    return {"min": min(times), "median": statistics.median(times), "max": max(times)}


def shown(figures: dict[str, float]) -> str:
    return f"{figures['min']:7.2f} {figures['median']:7.2f} {figures['max']:7.2f}"


def single_documents(runs: int) -> list[dict[str, Any]]:
    """Each kind: govrl's whole render (view, templates, PDF/A, fields) against WeasyPrint
    alone writing a PDF from the identical HTML."""
    import weasyprint  # type: ignore[import-untyped]

    import govrl.documents.html_to_pdf as pdf_module
    from govrl.documents.render import Kind, render, shipped_templates
    from govrl.record.files import load_record
    from govrl.review.checklist import ChecklistLibrary
    from govrl.review.policy import load_policy

    record = load_record(EXAMPLE).record
    policy, library = load_policy(), ChecklistLibrary.discover()
    captured: dict[str, str] = {}
    original = pdf_module.html_to_pdf

    def keep_html(html: str, *args: Any, **kwargs: Any) -> Any:
        captured["html"] = html
        return original(html, *args, **kwargs)

    pdf_module.html_to_pdf = keep_html  # render() looks the writer up when it runs
    base_url = shipped_templates().as_uri() + "/"
    rows = []
    try:
        for kind in Kind:

            def govrl_render(kind: Kind = kind) -> Any:
                return render(record, kind=kind, policy=policy, library=library, on=DATE)

            pages = govrl_render().pages  # warm-up: imports, fonts, templates
            html = captured["html"]

            def bare(html: str = html) -> Any:
                return weasyprint.HTML(string=html, base_url=base_url).write_pdf()

            bare()
            ours, theirs = interleaved(govrl_render, bare, runs=runs)
            rows.append(
                {
                    "kind": kind.value,
                    "pages": pages,
                    "govrl": spread(ours),
                    "weasyprint": spread(theirs),
                    "ratio": statistics.median(ours) / statistics.median(theirs),
                }
            )
    finally:
        pdf_module.html_to_pdf = original
    return rows


def write_records(folder: Path, count: int) -> list[Path]:
    """``count`` distinct revisions of the example, with the policy folder they are bound to."""
    from govrl.record.files import dump_yaml
    from govrl.yamlio import loads

    shutil.copytree(EXAMPLE.parent / "policies", folder / "policies")
    base = loads(EXAMPLE.read_text()).data
    files = []
    for index in range(count):
        data = copy.deepcopy(base)
        version = f"2.1.{index}"
        data["system"]["version"] = version
        data["changelog"][-1]["version"] = version
        path = folder / f"record-{index:03d}.yaml"
        path.write_text(dump_yaml(data))
        files.append(path)
    return files


def batch(count: int, runs: int) -> dict[str, Any]:
    """One `govrl render FOLDER` of ``count`` approvals, with its worker processes (one per
    core) and with --jobs 1, against ``count`` separate commands."""
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "records").mkdir()
        files = write_records(work / "records", count)
        govrl = [sys.executable, "-m", "govrl", "render", "--kind", "approval"]
        date = ["--date", DATE.isoformat(), "--overwrite"]

        def one_command(*jobs: str) -> Callable[[], None]:
            def run() -> None:
                out = work / "batch"
                subprocess.run([*govrl, str(work / "records"), "-o", str(out), *date, *jobs],
                               check=True, capture_output=True, cwd=ROOT)  # fmt: skip

            return run

        def separate_commands() -> None:
            for index, path in enumerate(files):
                out = work / f"single-{index:03d}.pdf"
                subprocess.run([*govrl, str(path), "-o", str(out), *date], check=True,
                               capture_output=True, cwd=ROOT)  # fmt: skip

        parallel, serial, apart = interleaved(
            one_command(), one_command("--jobs", "1"), separate_commands, runs=runs
        )
    return {
        "documents": count,
        "one_command": spread(parallel),
        "one_command_one_process": spread(serial),
        "separate_commands": spread(apart),
        "speedup": statistics.median(apart) / statistics.median(parallel),
        "speedup_one_process": statistics.median(apart) / statistics.median(serial),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 runs, a batch of 5")
    parser.add_argument("--runs", type=int, help="interleaved runs per figure (default 7)")
    parser.add_argument("--batch", type=int, help="approvals in the batch (default 50)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    count = args.batch or (5 if args.quick else 50)
    documents = single_documents(runs)
    together = batch(count, 1 if args.quick else 3)
    if args.json:
        print(json.dumps({"runs": runs, "documents": documents, "batch": together}, indent=2))
        return
    print(f"each document, {runs} interleaved runs, seconds (min median max)")
    print(f"{'document':24} {'pages':>5}  {'govrl':>23}  {'bare WeasyPrint':>23}  ratio")
    for row in documents:
        print(
            f"{row['kind']:24} {row['pages']:>5}  {shown(row['govrl'])}  "
            f"{shown(row['weasyprint'])}  {row['ratio']:5.2f}x"
        )
    print(f"\n{count} approvals, seconds (min median max)")
    rows = [
        ("one govrl render of the folder", together["one_command"]),
        ("the same with --jobs 1", together["one_command_one_process"]),
        (f"{count} separate govrl render commands", together["separate_commands"]),
    ]
    for label, figures in rows:
        print(f"  {label:36} {shown(figures)}")
    print(
        f"  speed-up: {together['speedup']:.2f}x "
        f"({together['speedup_one_process']:.2f}x with --jobs 1)"
    )


if __name__ == "__main__":
    main()
