"""The README's commands and CI cannot drift apart, and every command documents itself."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from govrl.cli import main
from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _opening_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    return [block.strip() for block in blocks[:2]]


def test_readme_opens_with_two_single_line_commands() -> None:
    main_job, tests = _opening_commands()
    assert "\n" not in main_job and "\n" not in tests
    assert "govrl" in main_job
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, tests = _opening_commands()
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.mlflow
@pytest.mark.pdf
@pytest.mark.slow
def test_readme_main_job_succeeds(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the main job writes into the current folder
    main_job, _ = _opening_commands()
    govrl_part = main_job.split(".venv/bin/govrl", 1)[1]
    result = runner.invoke(main, shlex.split(govrl_part), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_every_command_has_help(runner: CliRunner) -> None:
    def walk(group, prefix):  # type: ignore[no-untyped-def]
        for name, command in group.commands.items():
            assert command.help and command.help.strip(), f"{' '.join([*prefix, name])} has no help"
            result = runner.invoke(main, [*prefix, name, "--help"])
            assert result.exit_code == 0 and "Usage:" in result.output
            if hasattr(command, "commands"):
                walk(command, [*prefix, name])

    walk(main, [])


def test_readme_has_no_unfilled_sections() -> None:
    assert "PERFORMANCE_TABLE" not in README
