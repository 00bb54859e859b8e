"""The command line's contract: one exit code per kind of outcome, and no traceback unless asked."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from govrl.cli import main
from govrl.errors import EnvironmentFailure


@pytest.fixture
def broken_commands() -> Iterator[None]:
    """Two commands on the real group: one with a bug, one whose environment fails."""

    @click.command("crash")
    def crash() -> None:
        {}["missing"]  # noqa: B018 - a bug: an unexpected KeyError

    @click.command("no-server")
    def no_server() -> None:
        raise EnvironmentFailure("the tracking server at http://127.0.0.1:9 did not answer")

    main.add_command(crash)
    main.add_command(no_server)
    try:
        yield
    finally:
        main.commands.pop("crash")
        main.commands.pop("no-server")


def test_a_bug_exits_4_and_asks_for_a_report_without_a_traceback(broken_commands: None) -> None:
    result = CliRunner().invoke(main, ["crash"])
    assert result.exit_code == 4
    assert "internal error, please report" in result.output
    assert "KeyError" in result.output
    assert "Traceback" not in result.output


def test_verbose_adds_the_traceback_to_a_bug_report(broken_commands: None) -> None:
    result = CliRunner().invoke(main, ["--verbose", "crash"])
    assert result.exit_code == 4
    assert "Traceback" in result.output and "internal error, please report" in result.output


def test_a_failed_environment_is_3_not_a_bug(broken_commands: None) -> None:
    result = CliRunner().invoke(main, ["no-server"])
    assert result.exit_code == 3
    assert "did not answer" in result.output and "internal error" not in result.output


def test_the_help_names_every_exit_code() -> None:
    text = " ".join(CliRunner().invoke(main, ["--help"]).output.split())
    for code in ("0 success", "1 the check ran and failed", "2 usage error", "3 the environment"):
        assert code in text
    assert "4 a bug in govrl" in text


def test_importing_main_module_runs_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import govrl.__main__"], capture_output=True, text=True
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_python_dash_m_runs_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "govrl", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("govrl, version ")


def test_the_command_table_names_every_command_where_it_is_defined() -> None:
    import importlib

    from govrl.cli import COMMANDS

    folder = Path(importlib.import_module("govrl.cli").__file__ or "").parent
    defined = {
        command.name: path.stem
        for path in sorted(folder.glob("*_cmds.py"))
        for command in importlib.import_module(f"govrl.cli.{path.stem}").COMMANDS
    }
    assert {name: defined[name] for name in COMMANDS} == COMMANDS
    assert set(COMMANDS) == set(defined)


def test_a_command_imports_only_its_own_module() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from govrl.cli import main\n"
            "try:\n"
            "    main(['validate', '--help'])\n"
            "except SystemExit:\n"
            "    pass\n"
            "print(sorted(m for m in sys.modules if m.endswith('_cmds')))",
        ],
        capture_output=True,
        text=True,
    )
    assert done.stdout.splitlines()[-1] == "['govrl.cli.record_cmds']", done.stderr


def test_every_exporter_in_the_table_is_a_command_that_writes_its_file(tmp_path: Path) -> None:
    from govrl.exports import EXPORTERS

    record = Path(__file__).resolve().parent.parent / "examples" / "grid-frequency-control.yaml"
    assert {e.name for e in EXPORTERS} == {"hf", "cyclonedx"}
    for exporter in EXPORTERS:
        out = tmp_path / exporter.name
        result = CliRunner().invoke(main, ["export", exporter.name, str(record), "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert "aldermere-sfc-rl" in out.read_text()  # the system id, in either format


def test_the_help_lists_every_command_with_its_short_help() -> None:
    from govrl.cli import COMMANDS, load_command

    listing = CliRunner().invoke(main, ["--help"]).output
    lines = {line.split()[0]: line for line in listing.splitlines() if line.startswith("  ")}
    for name in COMMANDS:
        command = load_command(name)
        assert command is not None and command.help, f"{name} has no help text"
        short = command.get_short_help_str(limit=45).removesuffix("...")
        assert name in lines, f"{name} missing from govrl --help"
        assert short[:20] in lines[name], (name, lines[name])


SUCCESS_PATH = """
import sys
from govrl.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
print(sorted(m for m in sys.modules if m.endswith('_cmds')))
print(sorted(sys.modules))
"""

# Not even traceback: it is imported only to report a bug.
HEAVY = ("traceback", "jinja2", "weasyprint", "pyhanko", "mlflow")
# What validate has no use for: YAML round-tripping and file writing are for editors of a
# record, govrl.toml is for the commands that judge trust, JSON for --json.
NOT_FOR_VALIDATE = ("ruamel", "tomllib", "json", "govrl.config", "govrl.atomicfile")


@pytest.mark.parametrize(
    ("argv", "loaded", "absent"),
    [
        (
            ["validate", "examples/grid-frequency-control.yaml"],
            ["govrl.cli.record_cmds"],
            HEAVY + NOT_FOR_VALIDATE,
        ),
        (["render", "--help"], ["govrl.cli.render_cmds"], HEAVY),
        (["checklists", "list"], ["govrl.cli.assess_cmds"], HEAVY),
    ],
)
def test_a_command_loads_its_own_module_and_no_heavy_library(
    argv: list[str], loaded: list[str], absent: tuple[str, ...]
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SUCCESS_PATH, *argv],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    commands, modules = done.stdout.splitlines()[-2:]
    assert commands == repr(loaded)
    imported = [
        name
        for name in absent
        for module in ast.literal_eval(modules)
        if module == name or module.startswith(name + ".")
    ]
    assert imported == []


def test_checklists_do_not_build_the_record_models() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "govrl", "checklists", "list"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "finance" in done.stdout
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, govrl.review.checklist, govrl.record\n"
            "print('govrl.record.assessment' in sys.modules)\n"
            "from govrl.record import AssessmentRecord\n"
            "print(AssessmentRecord.__name__)",
        ],
        capture_output=True,
        text=True,
    )
    assert probe.stdout.split() == ["False", "AssessmentRecord"], probe.stderr
