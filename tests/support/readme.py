"""The README's two opening commands, and one real run of its main job shared by the tests."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def opening_commands() -> tuple[str, str]:
    """The main job and the test command, the first two ```sh blocks."""
    blocks = [block.strip() for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S)]
    return blocks[0], blocks[1]


@dataclass(frozen=True)
class DemoRun:
    """The main job as a real process: where it ran, its output folder, and what it printed."""

    cwd: Path
    out: Path
    result: subprocess.CompletedProcess[str]


def run_main_job(cwd: Path) -> DemoRun:
    """Run the govrl part of the README's main job in ``cwd``, through ``python -m govrl``."""
    main_job, _ = opening_commands()
    args = shlex.split(main_job.split(".venv/bin/govrl", 1)[1])
    out = cwd / args[args.index("--out") + 1]
    command = [sys.executable, "-m", "govrl", *args]
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=600)
    return DemoRun(cwd, out, result)
