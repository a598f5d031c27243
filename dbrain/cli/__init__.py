"""The ``dbrain`` command line.

Each command lives in its own module and only parses arguments and calls the
public core functions. :func:`main` is the one place that turns errors into
exit codes: a :class:`~dbrain.errors.DbrainError` (bad input) prints one
``dbrain: …`` line on stderr and exits with 2; usage errors exit with 2; any
other exception is a dbrain bug and exits with 1. Tracebacks only with
``--debug``.
"""

from __future__ import annotations

import sys

import typer
from typer.exceptions import Abort, Exit, TyperException

from ..errors import DbrainError

app = typer.Typer(
    name="dbrain",
    help="dbrain: open clinical EEG review and analysis.",
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
):
    """dbrain: open clinical EEG review and analysis."""
    _state["debug"] = debug
    if version:
        from .. import __version__

        typer.echo(f"dbrain {__version__}")
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(2)


def _register():
    # Imported here so that `dbrain --help` does not pay for every command's imports.
    from . import admin, analyze, batch, convert, deidentify, evaluate, info, ledger, monitor, nfb, serve, simulate, train, worker

    for module in (
        info,
        analyze,
        convert,
        deidentify,
        simulate,
        ledger,
        evaluate,
        train,
        serve,
        worker,
        admin,
        batch,
        monitor,
        nfb,
    ):
        module.register(app)


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return (via SystemExit) its exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    _register()
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="dbrain", standalone_mode=False)
        code = code if isinstance(code, int) else 0
    except Exit as exc:
        code = exc.exit_code
    except Abort:
        sys.stderr.write("dbrain: aborted\n")
        code = 130
    except TyperException as exc:  # usage errors: unknown option, missing argument, bad value
        sys.stderr.write(f"dbrain: {_one_line(exc.format_message())}\n")
        code = 2
    except DbrainError as exc:
        if debug:
            raise
        sys.stderr.write(f"dbrain: {_one_line(exc)}\n")
        code = 2
    except KeyboardInterrupt:
        sys.stderr.write("dbrain: interrupted\n")
        code = 130
    except Exception as exc:  # noqa: BLE001 - the one place that maps bugs to exit code 1
        if debug:
            raise
        sys.stderr.write(f"dbrain: internal error ({type(exc).__name__}): {_one_line(exc)} (rerun with --debug for details)\n")
        code = 1
    sys.exit(code)
