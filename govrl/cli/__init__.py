"""The govrl command line: parse options, call the library, print, exit."""

from __future__ import annotations

import os
from typing import Any

import click

from govrl import __version__
from govrl.cli.options import echo_text
from govrl.errors import GovrlError

INTERNAL_ERROR_EXIT = 4  # never 3, so that a bug is not mistaken for a failed environment


def _print_traceback() -> None:
    import traceback  # only on the way out, for a bug report

    traceback.print_exc()


class GovrlGroup(click.Group):
    """Converts every error to a message and an exit code, in this one place; loads each
    command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS) + [name for name in self.commands if name not in COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.commands.get(cmd_name) or load_command(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        verbose = bool(ctx.params.get("verbose")) or os.environ.get("GOVRL_VERBOSE") == "1"
        try:
            return super().invoke(ctx)
        except GovrlError as exc:
            if verbose:
                _print_traceback()
            echo_text(f"error: {exc.diagnostics()}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            if verbose:
                _print_traceback()
            echo_text(
                f"internal error, please report: {type(exc).__name__}: {exc}\n"
                "This is a bug in govrl. Run again with --verbose and report the traceback.",
                err=True,
            )
            ctx.exit(INTERNAL_ERROR_EXIT)


@click.group(cls=GovrlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="govrl")
@click.option("--verbose", "-v", is_flag=True, help="Show a traceback with every error.")
def main(verbose: bool) -> None:
    """Pre-deployment assessment for reinforcement-learning systems.

    Exit codes: 0 success; 1 the check ran and failed; 2 usage error;
    3 the environment failed (a server, a system library, the disk);
    4 a bug in govrl (internal error, please report; --verbose shows the traceback).
    """


# Each command and the module defining it, in the order --help lists them. A command's
# module is imported only when that command runs (or --help lists them all), so
# `govrl validate` does not pay for pyHanko, WeasyPrint or MLflow.
COMMANDS = {
    "init": "record_cmds",
    "validate": "record_cmds",
    "schema": "record_cmds",
    "checklists": "assess_cmds",
    "gate": "assess_cmds",
    "status": "assess_cmds",
    "fill": "fill_cmds",
    "collect": "collect_cmds",
    "publish": "collect_cmds",
    "render": "render_cmds",
    "keys": "sign_cmds",
    "sign": "sign_cmds",
    "verify": "sign_cmds",
    "archive": "archive_cmds",
    "diff": "review_cmds",
    "export": "review_cmds",
    "demo": "demo_cmds",
}


def load_command(name: str) -> click.Command | None:
    """The command called ``name``, importing only the module that defines it."""
    module_name = COMMANDS.get(name)
    if module_name is None:
        return None
    import importlib

    module = importlib.import_module(f"govrl.cli.{module_name}")
    found: click.Command | None = next((c for c in module.COMMANDS if c.name == name), None)
    return found
