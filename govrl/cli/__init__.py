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
    """Converts every error to a message and an exit code, in this one place."""

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


def _register() -> None:
    from govrl.cli import (
        archive_cmds,
        assess_cmds,
        collect_cmds,
        demo_cmds,
        fill_cmds,
        record_cmds,
        render_cmds,
        review_cmds,
        sign_cmds,
    )

    modules = (
        record_cmds,
        assess_cmds,
        fill_cmds,
        collect_cmds,
        render_cmds,
        sign_cmds,
        archive_cmds,
        review_cmds,
        demo_cmds,
    )
    for module in modules:
        for command in module.COMMANDS:
            main.add_command(command)


_register()
