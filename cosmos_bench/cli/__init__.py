"""``cosmos-bench`` command line: a thin typer layer over the library.

Every command calls one library function and only formats its result, so notebooks and CI can do
the same work without the CLI (the lm-evaluation-harness pattern). Heavy imports (torch, diffusers,
cv2) happen inside commands so ``--help`` stays fast.

One module per command group (``init``, ``data``, ``models``, ``generate``, ``metrics``, ``report``, ``check``,
``judge``, ``run``, ``train``, ``plan``); what they share lives below them: ``options`` (option
definitions and checks), ``output`` (what is printed) and ``errors`` (the one place errors become exit
codes). This module only builds the app and registers the commands, in the order ``--help`` lists them.
"""

from __future__ import annotations

import typer

from .. import __version__
from . import check, data, generate, init, judge, metrics, models, plan, report, run, train
from .errors import ErrorReportingGroup, set_debug
from .output import console

app = typer.Typer(
    cls=ErrorReportingGroup,
    name="cosmos-bench",
    help=(
        "Benchmark robot-video world models (Cosmos Predict 2.5 and its LoRA/DoRA adapters): "
        "geometric consistency (temporal and cross-view Sampson error), a VLM judge, "
        "leaderboards and a CI regression gate."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)


def _flags_show_no_type() -> None:
    """typer's rich help prints ``<bool>`` beside every on/off flag (its plain help does not): a flag takes no
    value, so it shows none. Patched once, here, for every command of this app."""
    from typer.core import TyperOption

    original = TyperOption.display_type_rich
    if getattr(original, "flags_show_no_type", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag and not self.count else original(self, ctx)

    display_type_rich.flags_show_no_type = True
    TyperOption.display_type_rich = display_type_rich


_flags_show_no_type()


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"cosmos-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", envvar="COSMOS_BENCH_DEBUG",
                               help="Show full tracebacks and debug logs instead of one-line errors."),
) -> None:
    """cosmos-bench: is the adapter really better than the base model, and by how much?

    Exit codes: 0 done; 1 the work ran but some of it failed (error rows, failed videos, a regression);
    2 bad input (option, file, store), found before any work; 3 `check` cannot decide; 4 an unexpected
    error (--debug shows it).
    """
    set_debug(debug)


app.add_typer(data.data_app, name="data")
app.add_typer(models.models_app, name="models")
for name, command in (
    ("init", init.init_cmd),
    ("generate", generate.generate_cmd),
    ("metrics", metrics.metrics_cmd),
    ("leaderboard", report.leaderboard_cmd),
    ("report", report.report_cmd),
    ("check", check.check_cmd),
    ("judge", judge.judge_cmd),
    ("run", run.run_cmd),
    ("rescore", run.rescore_cmd),
    ("demo", run.demo_cmd),
    ("train", train.train_cmd),
    ("plan", plan.plan_cmd),
):
    app.command(name)(command)


def main() -> None:
    app()


__all__ = ["app", "main"]
