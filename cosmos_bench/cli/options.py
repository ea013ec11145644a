"""Options shared by several commands, defined once, and the checks that turn option values into library input.

An option that two commands spell the same way (``--steps``, ``--store``, ``--judge-server``, ...) is one
``Annotated`` alias here, so its flag, default checks and help text cannot drift apart between ``run``,
``rescore`` and ``generate``. Options whose help differs on purpose per command stay in that command.
Nothing here imports more than typer and the catalogue: ``--help`` stays fast.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..catalog import metrics_help
from .errors import fail

DEFAULT_STORE = Path("runs/results.sqlite")
DEFAULT_BOARDS = Path("leaderboards")
SUITE_HELP = "Suite folder (GR1 test layout + optional suite.yaml)."
METRICS_HELP = metrics_help()
MODELS_FILE_HELP = "Models YAML (default: $COSMOS_BENCH_MODELS, else ./models.yaml)."
SERVER_HELP = ("Judge server kind, which sets the request form: vllm (Cosmos Reason2's documented form: top_k, "
                "penalties, fps and pixel budget), openai, generic (standard fields only), or auto (ask the server; "
                "default: $COSMOS_BENCH_JUDGE_SERVER or auto).")


# ------------------------------------------------------------------ option checks (click callbacks)
def check_backend(value: str) -> str:
    """``--backend``: one of the geometric metric backends (checked at parse time, before any work)."""
    from ..metrics.matching import BACKENDS

    if value not in BACKENDS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(BACKENDS)}")
    return value


def check_positive(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise typer.BadParameter(f"must be greater than 0, got {value}")
    return value


def check_output_file(value: Path | None) -> Path | None:
    """An output file option: refuse a folder, or a path under a file, before the work that fills it."""
    if value is None:
        return value
    if value.is_dir():
        raise typer.BadParameter(f"{value} is a folder; give a file name")
    parent = value.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise typer.BadParameter(f"{value}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK):
        raise typer.BadParameter(f"{value}: {parent} is not writable")
    try:  # access() says yes to root everywhere, /proc included: create (and remove) a file there to know
        fd, probe = tempfile.mkstemp(prefix=".cosmos-bench-probe.", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise typer.BadParameter(f"{value}: cannot create files under {parent} ({exc.strerror or exc})") from None
    return value


def one_of(*choices: str):
    """A callback refusing any value but ``choices``, naming the option (click's usage error, exit 2)."""

    def check(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


# ------------------------------------------------------------------ shared options
SuiteFolder = Annotated[Path, typer.Option("--suite", help=SUITE_HELP)]
ModelsFile = Annotated[Optional[Path], typer.Option("--models-file", help=MODELS_FILE_HELP)]
Steps = Annotated[Optional[int], typer.Option("--steps", min=1, help="Denoising steps (default 36).")]
VideoSize = Annotated[Optional[str], typer.Option("--size", help="HEIGHTxWIDTH of the generated video, whole grid for grid suites (default: from the suite, else 432x768).")]
Guidance = Annotated[Optional[float], typer.Option("--guidance", help="Guidance scale (default: each model's own; Cosmos 7.0).")]
VideoFps = Annotated[Optional[float], typer.Option("--fps", help="Frame rate written into the videos (default: the suite's, else 16).")]
ViewSize = Annotated[str, typer.Option("--size", help="HEIGHTxWIDTH of one view.")]
RunStore = Annotated[Path, typer.Option("--store", help="Results store (SQLite).")]
Leaderboards = Annotated[Path, typer.Option("--leaderboards", help="Folder for the regenerated leaderboards.")]
JudgeServer = Annotated[Optional[str], typer.Option("--judge-server", "--server", help=SERVER_HELP)]
StoreSuite = Annotated[Optional[str], typer.Option("--suite", help="Suite name (default: every suite in the store).")]
WrittenStore = Annotated[Path, typer.Option("--store", help="Results store (SQLite) written by `run`.")]
PairedBaseline = Annotated[str, typer.Option("--baseline", help="Model every candidate is compared against (paired).")]


# ------------------------------------------------------------------ option values -> library input
def judge_config(judge_url: Optional[str], judge_model: Optional[str], judge_samples: int, judge_server: Optional[str] = None):
    """The run's judge config, resolved here once (see ``judge_config_if_asked``): None when no endpoint is named."""
    from ..judge.client import judge_config_if_asked

    try:
        return judge_config_if_asked(judge_url, model=judge_model, samples=judge_samples, server=judge_server)
    except ValueError as exc:
        fail(str(exc), 2)


MARGINS = "if=0.25,physics=0.25,tse=5%,cse=5%"


def sequential_options(margin: str, bound: Optional[str], alpha: float, max_pairs: Optional[int], max_videos: Optional[int],
                        gpu_hours: Optional[float], order_seed: int, population: str):
    """The sequential design from the options, checked before any work (bad input: one line, exit 2)."""
    from ..results.sequential import Budget, metric_rules
    from ..sequential_run import SequentialOptions

    if population not in ("prompts", "suite"):
        fail(f"--population must be 'prompts' or 'suite', got {population!r}", 2)
    metric_rules(margin, bound)  # checked before any work
    return SequentialOptions(margin=margin, bound=bound, alpha=alpha, order_seed=order_seed, population=population,
                             budget=Budget(max_pairs=max_pairs, max_videos=max_videos, gpu_hours=gpu_hours))


def only_suite_of(rows, prefix: str) -> str:
    """The rows' one suite; several (or none) is bad input, and the line says which option chooses."""
    from ..results.selection import SuiteChoiceError, only_suite

    try:
        return only_suite(rows)
    except SuiteChoiceError as exc:
        fail(f"{prefix}{exc}" + (": pass --suite" if exc.suites else ""), 2)
