"""Run the render and validate benchmarks and print the README's performance table (Markdown).

Run by hand: `.venv/bin/python benchmarks/table.py [--quick]`. Takes minutes (a full run, with
its batch of 50 approvals, most of an hour on a small machine); --quick gives rougher figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run(script: str, quick: bool) -> dict[str, Any]:
    """A benchmark's figures, from its --json output."""
    argv = [sys.executable, str(HERE / script), "--json", *(["--quick"] if quick else [])]
    done = subprocess.run(argv, check=True, capture_output=True, text=True, cwd=HERE.parent)
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def seconds(figures: dict[str, float]) -> str:
    return f"{figures['median']:.2f} s ({figures['min']:.2f}–{figures['max']:.2f})"


def table(render: dict[str, Any], validate: dict[str, Any]) -> str:
    """The README table: what was measured, govrl, the baseline, and govrl's time over the
    baseline's (below 1: govrl is faster)."""
    lines = [
        "| measured | govrl | baseline | ratio |",
        "|---|---|---|---|",
    ]
    starts = validate["cold_start"]
    lines.append(
        f"| `govrl validate` cold start (min of {validate['runs']}) "
        f"| {starts['validate']['min'] * 1000:.0f} ms "
        f'| {starts["bare"]["min"] * 1000:.0f} ms: `python -c "from pydantic import BaseModel; '
        f'import yaml, click"` | {validate["cold_start_ratio"]:.2f}x |'
    )
    for row in render["documents"]:
        lines.append(
            f"| {row['kind']} PDF, {row['pages']} pages (median of {render['runs']}) "
            f"| {seconds(row['govrl'])} | {seconds(row['weasyprint'])}: bare WeasyPrint, "
            f"same HTML | {row['ratio']:.2f}x |"
        )
    batch = render["batch"]
    lines.append(
        f"| {batch['documents']} approvals, one `govrl render` of their folder "
        f"| {seconds(batch['one_command'])} | {seconds(batch['separate_commands'])}: "
        f"{batch['documents']} `govrl render` commands | {1 / batch['speedup']:.2f}x |"
    )
    lines.append(
        f"| the same with `--jobs 1` (one process) | {seconds(batch['one_command_one_process'])} "
        f"| the same | {1 / batch['speedup_one_process']:.2f}x |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs and a batch of 5")
    args = parser.parse_args()
    validate = run("bench_validate.py", args.quick)
    render = run("bench_render.py", args.quick)
    print(table(render, validate))


if __name__ == "__main__":
    main()
