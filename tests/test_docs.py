"""The README's commands and CI cannot drift apart, and every command documents itself."""

from __future__ import annotations

from click.testing import CliRunner

from govrl.cli import main
from tests.support.paths import ROOT
from tests.support.readme import DemoRun, opening_commands

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_two_single_line_commands() -> None:
    main_job, tests = opening_commands()
    assert "\n" not in main_job and "\n" not in tests
    assert "govrl" in main_job
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, tests = opening_commands()
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_main_job_succeeds(readme_demo: DemoRun) -> None:
    result = readme_demo.result
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert (readme_demo.out / "approval-signed.pdf").is_file()


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
