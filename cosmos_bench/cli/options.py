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
SERVER_HELP = ("Judge server kind, which sets the request form: vllm (Cosmos Reason2's documented sampling: top_k, "
                "penalties; the video's fps as media_io_kwargs), openai, generic (standard fields only), or auto (ask "
                "the server; default: $COSMOS_BENCH_JUDGE_SERVER or auto).")


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
# The judge's options, spelled the same in `judge`, `run`, `rescore` and `demo`. Defaults are None so that a
# --judge-config file's value is kept where the option is not given (the defaults are JudgeConfig's).
JudgeConfigFile = Annotated[Optional[Path], typer.Option("--judge-config", help="YAML file of judge settings, keyed by JudgeConfig's field names (base_url, model, server, video_mode, fps, num_frames, samples, timeout_s, concurrency, ...); options given on the command line win.")]
JudgeModel = Annotated[Optional[str], typer.Option("--judge-model", help="Judge model id (default: $COSMOS_BENCH_JUDGE_MODEL or nvidia/Cosmos-Reason2-8B).")]
JudgeSamples = Annotated[Optional[int], typer.Option("--judge-samples", min=1, help="Judge samples per video; the score is their mean (default 1; 2+: the judge's test-retest agreement too).")]
JudgeFramesMode = Annotated[Optional[bool], typer.Option("--frames-mode/--video-mode", help="Send the judge N JPEG frames as images, or the video itself (default: the video to vLLM, frames to other servers, and frames once a server refuses the video).")]
JudgeNumFrames = Annotated[Optional[int], typer.Option("--num-frames", min=1, help="Frames sent to the judge in frames mode (default 8).")]
JudgeFps = Annotated[Optional[float], typer.Option("--judge-fps", min=0.1, help="Frames per second vLLM samples from the video in video mode (default 4; sent as media_io_kwargs).")]
JudgeTimeout = Annotated[Optional[float], typer.Option("--timeout", "--judge-timeout", min=1.0, help="Seconds the judge has to answer one request before it is retried (default 300).")]
JudgeControls = Annotated[Optional[float], typer.Option("--controls", "--judge-controls", min=0.0, max=1.0, help="Share of the videos also scored as a control that must score lower (video_physics: frames shuffled in time; video_IF: another video's instruction); reports the mean drop and flags a judge that does not discriminate (default 0).")]
JudgeConcurrency = Annotated[Optional[int], typer.Option("--concurrency", "--judge-concurrency", min=1, help="Judge requests in flight at once (default 8).")]
StoreSuite = Annotated[Optional[str], typer.Option("--suite", help="Suite name (default: every suite in the store).")]
WrittenStore = Annotated[Path, typer.Option("--store", help="Results store (SQLite) written by `run`.")]
PairedBaseline = Annotated[str, typer.Option("--baseline", help="Model every candidate is compared against (paired).")]
ModelSet = Annotated[list[str], typer.Option("--set", help="NAME.KEY=VALUE: one model option for this run only (e.g. lora8.lora_scale=0.5; VALUE is YAML); part of the model's generation key. Repeatable.")]
OutputDir = Annotated[Optional[Path], typer.Option("--output-dir", help="One folder for everything a run writes: DIR/runs/<suite> (videos), DIR/results.sqlite, DIR/leaderboards; --out, --store, --leaderboards still win where given.")]


def in_output_dir(output_dir: Optional[Path], suite: Path, out: Optional[Path], store: Path,
                  leaderboards: Path) -> tuple[Optional[Path], Path, Path]:
    """``--output-dir DIR``: the videos, store and leaderboards under DIR, except those named on their own
    (an option left at its default is taken as not named)."""
    if output_dir is None:
        return out, store, leaderboards
    if output_dir.exists() and not output_dir.is_dir():
        raise typer.BadParameter(f"{output_dir} is a file, not a folder", param_hint="--output-dir")
    from ..data.suite import load_suite

    name = load_suite(suite).name
    return (out if out is not None else output_dir / "runs" / name,
            store if store != DEFAULT_STORE else output_dir / DEFAULT_STORE.name,
            leaderboards if leaderboards != DEFAULT_BOARDS else output_dir / DEFAULT_BOARDS.name)


# ------------------------------------------------------------------ option values -> library input
def judge_settings(config_file: Optional[Path] = None, *, frames_mode: Optional[bool] = None, **given) -> dict:
    """JudgeConfig keyword arguments from the judge options: the ``--judge-config`` file's, then those given on
    the command line (``None``: not given). ``frames_mode`` True/False is ``video_mode`` frames/video."""
    from ..judge.config_file import read_judge_config

    values = read_judge_config(config_file) if config_file is not None else {}
    if frames_mode is not None:
        given["video_mode"] = "frames" if frames_mode else "video"
    values.update({k: v for k, v in given.items() if v is not None})
    return values


def judge_config(judge_url: Optional[str], judge_model: Optional[str] = None, judge_samples: Optional[int] = None,
                 judge_server: Optional[str] = None, *, config_file: Optional[Path] = None, frames_mode: Optional[bool] = None,
                 num_frames: Optional[int] = None, fps: Optional[float] = None, timeout: Optional[float] = None,
                 concurrency: Optional[int] = None, controls: Optional[float] = None):
    """The run's judge config from its options, resolved here once (see ``judge_config_if_asked``): None when no
    endpoint is named (by ``--judge-url``, the config file's ``base_url`` or ``$COSMOS_BENCH_JUDGE_URL``)."""
    from ..judge.client import judge_config_if_asked

    values = judge_settings(config_file, frames_mode=frames_mode, base_url=judge_url, model=judge_model,
                            samples=judge_samples, server=judge_server, num_frames=num_frames, fps=fps, timeout_s=timeout,
                            concurrency=concurrency, control_share=controls)
    try:
        return judge_config_if_asked(values.pop("base_url", None), **values)
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
