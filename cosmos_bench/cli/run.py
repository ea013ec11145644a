"""``cosmos-bench run``, ``rescore`` and ``demo``: the benchmark through the runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..catalog import metrics_of_stage, selectable_metrics
from .errors import fail
from .options import (
    DEFAULT_BOARDS, DEFAULT_STORE, MARGINS, METRICS_HELP, Guidance, JudgeConcurrency, JudgeConfigFile, JudgeControls, JudgeFps,
    JudgeFramesMode, JudgeModel, JudgeNumFrames, JudgeSamples, JudgeServer, JudgeTimeout, Leaderboards, ModelSet, OutputDir,
    RunStore, Steps, SuiteFolder, VideoFps, VideoSize, ViewSize, check_backend, in_output_dir, judge_config, sequential_options,
)
from .output import console, exit_if_work_failed, print_decisions, print_summary, stage_reporter


def _run_config(models: str, suite: Path, models_file: Optional[Path], metrics: str, seeds: int, limit: Optional[int],
                out: Optional[Path], store: Path, leaderboards: Path, backend: str, device: Optional[str],
                judge: Any, **extra):
    from ..runner import RunConfig, parse_metrics

    try:
        metric_list = parse_metrics(metrics)
    except ValueError as exc:
        fail(str(exc), 2)
    names = [m.strip() for m in models.split(",") if m.strip()] if models else []
    return RunConfig(
        models=names, suite=suite, models_file=models_file, metrics=metric_list, seeds=seeds, limit=limit, out=out,
        store=store, leaderboards=leaderboards, backend=backend, device=device,
        judge=judge, judge_cache=(store.parent / "judge_cache.jsonl"), **extra,
    )


def _executor_options(executor: str, out: Optional[Path], ray_address: Optional[str], gpus_per_worker: float,
                      workers: Optional[int], max_retries: int, artifacts: Optional[Path], compile_cache: Optional[Path],
                      worker_import: list[str]) -> dict:
    """RunConfig fields for ``--executor`` (the Ray options are checked here, before any work)."""
    if executor not in ("local", "ray"):
        fail(f"--executor must be 'local' or 'ray', got {executor!r}", 2)
    if executor == "local":
        given = [name for name, value in (("--ray-address", ray_address), ("--workers", workers), ("--artifacts", artifacts),
                                          ("--compile-cache", compile_cache), ("--worker-import", worker_import)) if value]
        if given:
            fail(f"{', '.join(given)} {'apply' if len(given) > 1 else 'applies'} only with --executor ray", 2)
        return {"out": out}
    if artifacts is not None and out is not None:
        fail("give --artifacts or --out, not both (with --executor ray, --artifacts is where the videos go)", 2)
    from ..ray_executor import RayOptions

    out = artifacts if artifacts is not None else out
    cache = compile_cache if compile_cache is not None else (artifacts / "compile-cache" if artifacts is not None else None)
    opts = RayOptions(address=ray_address, gpus_per_worker=gpus_per_worker, workers=workers, max_retries=max_retries,
                      worker_imports=tuple(worker_import), compile_cache=None if cache is None else str(cache))
    return {"out": out, "executor": "ray", "ray": opts}



def run_cmd(
    models: str = typer.Option(..., "--models", help="Comma-separated model names from the models YAML, e.g. base,lora8,dora32."),
    suite: SuiteFolder = ...,
    models_file: Optional[Path] = typer.Option(None, "--models-file", help="Models YAML (default: ./models.yaml or $COSMOS_BENCH_MODELS)."),
    metrics: str = typer.Option(",".join(selectable_metrics()), "--metrics", help=METRICS_HELP),
    seeds: int = typer.Option(5, "--seeds", min=1, help="Seeds per test pair (seeds 0..N-1)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N test pairs (by name), for a quick look."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where generated videos go (default: runs/<suite name>)."),
    store: RunStore = DEFAULT_STORE,
    leaderboards: Leaderboards = DEFAULT_BOARDS,
    output_dir: OutputDir = None,
    set_: ModelSet = [],
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Frames per video (default: suite.yaml, else 93)."),
    steps: Steps = None,
    size: VideoSize = None,
    guidance: Guidance = None,
    fps: VideoFps = None,
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: generate only shard I of N (one per GPU)."),
    backend: str = typer.Option("opencv", "--backend", callback=check_backend, help="Geometric metric backend: opencv (CPU) or kornia (GPU/CPU)."),
    device: Optional[str] = typer.Option(None, "--device", help="Device for the kornia backend (default: cuda if present)."),
    judge_url: Optional[str] = typer.Option(None, "--judge-url", help="OpenAI-compatible judge endpoint (e.g. http://localhost:8000/v1; a comma list spreads the videos over several servers of the same model; or $COSMOS_BENCH_JUDGE_URL, key in $COSMOS_BENCH_JUDGE_API_KEY); without one the judge is not run (OPENAI_* variables are ignored)."),
    judge_model: JudgeModel = None,
    judge_samples: JudgeSamples = None,
    judge_config_file: JudgeConfigFile = None,
    frames_mode: JudgeFramesMode = None,
    judge_num_frames: JudgeNumFrames = None,
    judge_fps: JudgeFps = None,
    judge_timeout: JudgeTimeout = None,
    judge_concurrency: JudgeConcurrency = None,
    judge_controls: JudgeControls = None,
    executor: str = typer.Option("local", "--executor", help="local: this process (with --shard under torchrun/accelerate); ray: one warm worker per GPU of a Ray cluster (pip install 'cosmos-bench\\[ray]')."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="With --executor ray: 'auto' (the cluster of this node), ray://HOST:10001, or none to start Ray here (or join $RAY_ADDRESS)."),
    gpus_per_worker: float = typer.Option(1.0, "--gpus-per-worker", min=0.0, help="With --executor ray: GPUs each worker holds."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="With --executor ray: number of workers (default: the cluster's GPUs / --gpus-per-worker)."),
    max_retries: int = typer.Option(3, "--max-retries", min=0, help="With --executor ray: retries of an item whose worker died or whose generation failed, before it becomes error rows."),
    artifacts: Optional[Path] = typer.Option(None, "--artifacts", help="With --executor ray: shared folder (visible to every node) for the videos and the compile cache; replaces --out."),
    compile_cache: Optional[Path] = typer.Option(None, "--compile-cache", help="With --executor ray: folder of torch.compile artifacts shared by workers (default: <artifacts>/compile-cache)."),
    worker_import: list[str] = typer.Option([], "--worker-import", help="With --executor ray: a module each worker imports first (for world-model kinds registered in-process). Repeatable."),
    judge_server: JudgeServer = None,
    sequential: bool = typer.Option(False, "--sequential", help="Generate pair by pair in a seeded order and stop each candidate once its verdicts are known (anytime-valid; see README)."),
    margin: str = typer.Option(MARGINS, "--margin", help="With --sequential: gated metrics and margins, metric=amount or metric=percent."),
    bound: Optional[str] = typer.Option(None, "--bound", help="With --sequential: per-metric clipping bounds (default: 1 point for judge scores, ratio 1.5 for percent margins)."),
    alpha: float = typer.Option(0.05, "--alpha", min=1e-6, max=0.5, help="With --sequential: chance that any verdict of the run is wrong."),
    max_pairs: Optional[int] = typer.Option(None, "--max-pairs", min=1, help="With --sequential: stop after this many test pairs."),
    max_videos: Optional[int] = typer.Option(None, "--max-videos", min=1, help="With --sequential: never generate beyond this many videos."),
    budget_gpu_hours: Optional[float] = typer.Option(None, "--budget-gpu-hours", min=0.0, help="With --sequential: stop once generation has taken this many GPU-hours."),
    order_seed: int = typer.Option(0, "--order-seed", help="With --sequential: seed of the random order of test pairs (recorded next to the store)."),
    population: str = typer.Option("prompts", "--population", help="With --sequential: prompts (verdicts about the prompts' population) or suite (about this suite's pairs)."),
) -> None:
    """Generate → geometric metrics → judge → store → leaderboard. Interrupt any time; rerun to resume."""
    from ..data.suite import parse_size
    from ..models.overrides import parse_overrides
    from ..runner import run

    size_hw = parse_size(size, where="--size") if size else None
    out, store, leaderboards = in_output_dir(output_dir, suite, out, store, leaderboards)
    extra = _executor_options(executor, out, ray_address, gpus_per_worker, workers, max_retries, artifacts,
                              compile_cache, worker_import)
    judge = judge_config(judge_url, judge_model, judge_samples, judge_server, config_file=judge_config_file,
                         frames_mode=frames_mode, num_frames=judge_num_frames, fps=judge_fps, timeout=judge_timeout,
                         concurrency=judge_concurrency, controls=judge_controls)
    cfg = _run_config(models, suite, models_file, metrics, seeds, limit, extra.pop("out"), store, leaderboards, backend,
                      device, judge, frames=frames, steps=steps, shard=shard,
                      size=size_hw, guidance=guidance, fps=fps, model_overrides=parse_overrides(set_), **extra)
    if not sequential and (bound or max_pairs or max_videos or budget_gpu_hours is not None):
        fail("--bound, --max-pairs, --max-videos and --budget-gpu-hours apply only with --sequential", 2)
    seq = sequential_options(margin, bound, alpha, max_pairs, max_videos, budget_gpu_hours, order_seed, population) if sequential else None
    with stage_reporter() as reporter:
        if seq is not None:
            from ..sequential_run import run_sequential

            result = run_sequential(cfg, seq, reporter=reporter)
            summary = result.run
        else:
            summary = run(cfg, reporter=reporter)
    print_summary(summary)
    if seq is not None:
        print_decisions(result.decisions)
        console.print(f"cost: {result.cost.describe()}")
    exit_if_work_failed(summary)


def rescore_cmd(
    suite: SuiteFolder = ...,
    models: str = typer.Option("", "--models", help="Comma-separated models to rescore (default: every model found under --out)."),
    metrics: str = typer.Option(",".join(metrics_of_stage("judge")), "--metrics", help=METRICS_HELP),
    out: Optional[Path] = typer.Option(None, "--out", help="Where the videos were generated (default: runs/<suite name>)."),
    store: RunStore = DEFAULT_STORE,
    leaderboards: Leaderboards = DEFAULT_BOARDS,
    output_dir: OutputDir = None,
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N test pairs."),
    backend: str = typer.Option("opencv", "--backend", callback=check_backend, help="Geometric metric backend: opencv or kornia."),
    device: Optional[str] = typer.Option(None, "--device", help="Device for the kornia backend."),
    judge_url: Optional[str] = typer.Option(None, "--judge-url", help="OpenAI-compatible judge endpoint (a comma list: several servers of the same model)."),
    judge_model: JudgeModel = None,
    judge_samples: JudgeSamples = None,
    judge_server: JudgeServer = None,
    judge_config_file: JudgeConfigFile = None,
    frames_mode: JudgeFramesMode = None,
    judge_num_frames: JudgeNumFrames = None,
    judge_fps: JudgeFps = None,
    judge_timeout: JudgeTimeout = None,
    judge_concurrency: JudgeConcurrency = None,
    judge_controls: JudgeControls = None,
) -> None:
    """Score existing videos again where rows failed or are missing (e.g. after a judge outage); never generates."""
    from ..runner import rescore

    out, store, leaderboards = in_output_dir(output_dir, suite, out, store, leaderboards)
    judge = judge_config(judge_url, judge_model, judge_samples, judge_server, config_file=judge_config_file,
                         frames_mode=frames_mode, num_frames=judge_num_frames, fps=judge_fps, timeout=judge_timeout,
                         concurrency=judge_concurrency, controls=judge_controls)
    cfg = _run_config(models, suite, None, metrics, 1, limit, out, store, leaderboards, backend, device, judge)
    with stage_reporter() as reporter:
        summary = rescore(cfg, reporter=reporter)
    print_summary(summary)
    exit_if_work_failed(summary)


def demo_cmd(
    out: Path = typer.Option(Path("demo_out"), "--out", help="Folder for the demo suite, videos, store and leaderboards."),
    samples: int = typer.Option(3, "--samples", min=1, help="Synthetic test pairs."),
    seeds: int = typer.Option(2, "--seeds", min=1, help="Seeds per test pair."),
    frames: int = typer.Option(17, "--frames", min=3, help="Frames per video."),
    size: ViewSize = "256x448",
    tiny_cosmos: bool = typer.Option(True, "--tiny-cosmos/--no-tiny-cosmos", help="Also run the tiny random-weight Cosmos pipeline and a LoRA on it (its own small suite)."),
    judge_url: Optional[str] = typer.Option(None, "--judge-url", help="Judge endpoint, if you have one (else judge columns say 'not run')."),
    judge_model: JudgeModel = None,
    judge_samples: JudgeSamples = None,
    judge_server: JudgeServer = None,
    judge_config_file: JudgeConfigFile = None,
    frames_mode: JudgeFramesMode = None,
    judge_num_frames: JudgeNumFrames = None,
    judge_fps: JudgeFps = None,
    judge_timeout: JudgeTimeout = None,
    judge_concurrency: JudgeConcurrency = None,
    judge_controls: JudgeControls = None,
) -> None:
    """Run the whole benchmark offline on a synthetic suite with known answers, and check the ranking.

    Candidates: `base` (exact renderer), `warp1`/`warp3` (1 and 3 px elastic warps), `shift4` (objects
    shifted 4 px across views). A second, small run puts the tiny random-weight Cosmos pipeline and a
    random LoRA through the same runner (real diffusers/peft code; its numbers mean nothing).
    Exits 1 if the known order is not reproduced.
    """
    from ..data.suite import parse_size
    from ..demo import run_demo

    height, width = parse_size(size, where="--size")
    judge = judge_config(judge_url, judge_model, judge_samples, judge_server, config_file=judge_config_file,
                         frames_mode=frames_mode, num_frames=judge_num_frames, fps=judge_fps, timeout=judge_timeout,
                         concurrency=judge_concurrency, controls=judge_controls)
    with stage_reporter() as reporter:
        result = run_demo(out, samples=samples, seeds=seeds, frames=frames, size=(height, width), tiny_cosmos=tiny_cosmos,
                          judge=judge, reporter=reporter)
    if result.cosmos_summary is not None:
        console.rule("tiny Cosmos Predict 2.5, RANDOM weights: shows the diffusers/peft path runs; numbers mean nothing")
        print_summary(result.cosmos_summary)
        console.rule("synthetic candidates with known quality")
    print_summary(result.summary)
    table = Table(title="known-answer check: does the leaderboard rank the synthetic candidates correctly?")
    for col in ("metric", "expected (best first)", "observed", "verdict"):
        table.add_column(col)
    for c in result.checks:
        table.add_row(c.metric, " < ".join(c.expected), " < ".join(c.observed), "[green]ok[/]" if c.holds else "[red]WRONG[/]")
    console.print(table)
    if "report" in result.summary.files:
        console.print(f"[green]HTML report:[/] {result.summary.files['report']} (open it in a browser)")
    if not result.order_holds:
        fail("the demo's leaderboard does not reproduce the known order: a metric or the statistics is broken", 1)
    console.print(f"[green]demo passed:[/] everything is in {escape(str(out))}/ (leaderboards/, results.sqlite, videos/, suite/)")
