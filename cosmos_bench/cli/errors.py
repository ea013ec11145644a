"""How the CLI reports errors: one line per failure, the traceback only behind ``--debug``.

This is the one place that maps errors to exit codes (README "Exit codes and errors"). Every command
runs inside :class:`ErrorReportingGroup`, so no command catches the library's errors itself: a
:class:`~cosmos_bench.errors.CosmosBenchError` (every domain error of the package derives from it)
becomes its message and its class's ``exit_code`` (2 bad input; 1 work that could not be done, e.g. no
Ray worker or no judge server); any other exception becomes ``TypeName: message`` and exit code 4, with
a hint to rerun with ``--debug``, which re-raises it so the full traceback shows. A command catches a
library error only to add the option that fixes it (the library's messages name no flag), and
problems the CLI finds itself go through :func:`fail`, which prints the same one line.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from ..errors import EXIT_FAILED_WORK, EXIT_INTERNAL, CosmosBenchError
from ..interrupts import Interrupted, sigterm_interrupts

_state = {"debug": False}


def set_debug(on: bool) -> None:
    """``--debug``: full tracebacks, and cosmos-bench's debug log (e.g. a failed generation's traceback)."""
    _state["debug"] = on
    if on:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("cosmos_bench").setLevel(logging.DEBUG)


def error_line(exc: BaseException) -> str:
    """One line for ``exc``: its message (a CosmosBenchError, with the flag of the parameter it names)
    or its type and message (anything else)."""
    if isinstance(exc, CosmosBenchError):
        text = exc.message if exc.option is None else f"--{exc.option.replace('_', '-')}: {exc.message}"
        return " ".join(text.split()) or repr(exc)
    text = " ".join(str(exc).split()) or repr(exc)
    return f"{type(exc).__name__}: {text}"


def exit_code_of(exc: BaseException) -> int:
    """The exit code a command ends with when ``exc`` escapes it: the domain error's own, else 4."""
    return exc.exit_code if isinstance(exc, CosmosBenchError) else EXIT_INTERNAL


def fail(message: str, code: int = EXIT_FAILED_WORK) -> NoReturn:
    """A problem the CLI found itself: one error line (``message`` is plain text; user-supplied names
    are escaped), then exit with ``code``."""
    _print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


class ErrorReportingGroup(TyperGroup):
    """The root command group: turns exceptions escaping a command into one line and an exit code."""

    def invoke(self, ctx):
        try:
            with sigterm_interrupts():  # SIGTERM unwinds like Ctrl-C: the run's claims are released
                return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # typer's own exits and usage errors
            raise
        except KeyboardInterrupt as exc:  # SIGINT or SIGTERM: one line, exit 128 + the signal
            stopped = exc if isinstance(exc, Interrupted) else Interrupted()
            _print(f"[yellow]{escape(stopped.line())}[/]")
            raise typer.Exit(stopped.exit_code) from None
        except (Exception, sqlite3.Error) as exc:  # noqa: BLE001 - the one place that catches everything
            if _state["debug"]:
                raise
            hint = "" if isinstance(exc, CosmosBenchError) else " [dim](rerun with --debug for the traceback)[/]"
            _print(f"[bold red]error:[/] {escape(error_line(exc))}{hint}")
            raise typer.Exit(exit_code_of(exc)) from None


def _print(markup: str) -> None:
    Console(stderr=True).print(markup, soft_wrap=True)
