"""``cosmos-bench`` command line: a thin typer layer over the library.

Every command calls one library function and only formats its result, so notebooks and CI can do
the same work without the CLI (the lm-evaluation-harness pattern). Heavy imports (torch, diffusers,
cv2) happen inside commands so ``--help`` stays fast.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from .cli_errors import ErrorReportingGroup, check_backend, check_output_file, check_positive, fail, one_of, set_debug
from .errors import EXIT_FAILED_WORK
from .catalog import metrics_help, metrics_of_stage, selectable_metrics

console = Console()
err_console = Console(stderr=True)

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
data_app = typer.Typer(
    help="Data folders: check a GR1 train/test layout, render synthetic suites with known geometry.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")


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


_fail = fail  # a problem the CLI finds itself: one line, as cli_errors prints every error


# --------------------------------------------------------------------------------------- data
@data_app.command("check")
def data_check(
    path: Path = typer.Argument(..., help="A GR1 train folder, test folder, or a root holding train/ and test/."),
    quick: bool = typer.Option(False, "--quick", help="Only open videos instead of decoding every frame (misses truncation)."),
) -> None:
    """Validate a GR1-layout folder and list every problem; exits 1 if any error is found.

    Train: videos/*.mp4 + metas/*.txt (same stems) + metadata.csv. Test: <name>.txt (prompt) +
    <name>.png (first frame), optional suite.yaml and reference videos.
    """
    from .data.layout import check_layout, detect_layout

    if path.is_file():
        _fail(f"{path}: is a file; `data check` takes a folder (a GR1 train or test folder, or a root holding both)", 2)
    if not path.is_dir():
        _fail(f"{path}: folder not found", 2)
    kind = detect_layout(path)
    problems = check_layout(path, decode=not quick)
    errors = [p for p in problems if p.severity == "error"]
    if not problems:
        console.print(f"[green]OK[/] {escape(str(path))} ({kind} layout): no problems found.")
        return
    table = Table(title=f"{escape(str(path))} ({kind} layout): {len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
    table.add_column("severity")
    table.add_column("problem")
    table.add_column("file", overflow="fold")
    table.add_column("detail", overflow="fold")
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        table.add_row(f"[{style}]{p.severity}[/]", p.kind, escape(str(p.path)), escape(p.message))
    console.print(table)
    if errors:
        raise typer.Exit(1)


@data_app.command("synth")
def data_synth(
    out: Path = typer.Option(..., "--out", help="Folder to write the suite into (GR1 test layout + videos + cameras)."),
    samples: int = typer.Option(4, "--samples", min=1, help="Number of test pairs (scenes) to render."),
    views: int = typer.Option(2, "--views", min=1, help="Cameras in the rig."),
    frames: int = typer.Option(33, "--frames", min=2, help="Frames per video."),
    size: str = typer.Option("256x448", "--size", help="HEIGHTxWIDTH of one view."),
    fps: float = typer.Option(16.0, "--fps", callback=check_positive, help="Frame rate written into the videos."),
    seed: int = typer.Option(0, "--seed", help="Seed of the first scene; scene i uses seed+i."),
    camera_motion: str = typer.Option("orbit", "--camera-motion", callback=one_of("orbit", "static"), help="orbit (the rig moves) or static."),
    object_motion: str = typer.Option("none", "--object-motion", callback=one_of("none", "translate", "independent", "arm"), help="none, translate (one box moves rigidly), independent (three boxes, each its own rigid motion) or arm (a three-link arm swings over the table)."),
    degrade: List[str] = typer.Option([], "--degrade", help="KIND:PIXELS, repeatable: elastic:2, drift:3, view_shift:4, deform:2 (bends the moving objects)."),
    storage: str = typer.Option("grid", "--storage", callback=one_of("grid", "files"), help="grid (views tiled 1xN in one mp4) or files (one mp4 per view)."),
    name: Optional[str] = typer.Option(None, "--name", help="Suite name (default: the folder name)."),
) -> None:
    """Render a synthetic multi-view suite with known cameras and ground-truth fundamental matrices."""
    from .data.suite import parse_size
    from .data.synthetic import SceneConfig, parse_degradation
    from .data.synthetic_suite import write_synthetic_suite

    height, width = parse_size(size, where="--size")
    degradations = [parse_degradation(d) for d in degrade]
    config = SceneConfig(
        views=views, frames=frames, height=height, width=width, fps=fps, seed=seed,
        camera_motion=camera_motion, object_motion=object_motion,
    )
    suite = write_synthetic_suite(
        out, config, samples=samples, degradations=degradations, storage=storage, name=name, console=console
    )
    console.print(
        f"[green]wrote[/] suite [bold]{suite.name}[/] to {out}: {samples} sample(s), views {suite.views}, "
        f"{frames} frames at {height}x{width}, storage {suite.storage.kind}"
    )


# --------------------------------------------------------------------------------------- models
MODELS_FILE_HELP = "Models YAML (default: $COSMOS_BENCH_MODELS, else ./models.yaml)."

models_app = typer.Typer(
    help="World models: list configured models and installed kinds; register a trained adapter.",
    invoke_without_command=True,
)
app.add_typer(models_app, name="models")


def _models_table(models_file: Optional[Path]) -> None:
    from .models.base import AdapterNotTrainedError, ModelConfigError, available_kinds, build_model, load_models_config, train_command

    config = load_models_config(models_file, missing_ok=True)
    table = Table(title=f"models in {escape(str(config.path))}" + ("" if config.path and config.path.exists() else " (file not found)"))
    for col in ("name", "kind", "details", "status"):
        table.add_column(col, overflow="fold")
    broken = 0
    for name in config.names:
        spec = config.spec(name)  # extends chains were checked when the file was read
        try:
            model = build_model(spec)
            describe = getattr(model, "describe", None)
            details = describe() if callable(describe) else spec.options
            text = ", ".join(f"{k}={v}" for k, v in details.items() if v not in (None, ""))
            table.add_row(escape(name), escape(spec.kind), escape(text), "[green]ok[/]")
        except AdapterNotTrainedError as exc:  # a note, not a failure: a fresh checkout has trained nothing
            table.add_row(escape(name), escape(spec.kind), "", f"[yellow]not trained yet[/]: {escape(train_command(spec, exc.path))}")
        except ModelConfigError as exc:
            broken += 1
            table.add_row(escape(name), escape(spec.kind), "", f"[red]{escape(str(exc))}[/]")
    console.print(table)
    kinds = Table(title="world-model kinds")
    for col in ("kind", "source", "factory"):
        kinds.add_column(col, overflow="fold")
    for info in available_kinds().values():
        kinds.add_row(info.name, info.source, info.target)
    console.print(kinds)
    if broken:
        raise typer.Exit(1)


@models_app.callback()
def models_root(
    ctx: typer.Context,
    models_file: Optional[Path] = typer.Option(None, "--models-file", help=MODELS_FILE_HELP),
) -> None:
    """List the configured models (with their base, adapter, safety checker) and the installed kinds."""
    if ctx.invoked_subcommand is None:
        _models_table(models_file)


@models_app.command("list")
def models_list(models_file: Optional[Path] = typer.Option(None, "--models-file", help=MODELS_FILE_HELP)) -> None:
    """List the configured models and the installed world-model kinds; exits 1 if an entry is broken
    (an adapter not trained yet is a note with the command that trains it)."""
    _models_table(models_file)


@models_app.command("register")
def models_register(
    name: str = typer.Argument(..., help="New model name, e.g. lora8."),
    adapter: Path = typer.Option(..., "--adapter", help="Folder holding pytorch_lora_weights.safetensors (as the trainer writes it), or the file."),
    base: str = typer.Option("base", "--base", help="Models-YAML entry the adapter is applied to."),
    fuse: bool = typer.Option(False, "--fuse/--no-fuse", help="Fuse the adapter into the base weights (pipe.fuse_lora)."),
    lora_scale: Optional[float] = typer.Option(None, "--lora-scale", help="Adapter scale (default 1.0)."),
    models_file: Optional[Path] = typer.Option(None, "--models-file", help=MODELS_FILE_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing entry of that name."),
) -> None:
    """Add a trained adapter to the models YAML as `NAME: {extends: BASE, adapter: DIR}`."""
    from .models.base import default_models_path, load_models_config
    from .models.registration import ModelExistsError, adapter_entry, register_adapter

    path = (models_file or default_models_path()).resolve()
    try:
        entry = adapter_entry(adapter, path, base=base, fuse=fuse, lora_scale=lora_scale)
        done = register_adapter(name, entry, load_models_config(path, missing_ok=True), overwrite=overwrite)
    except ModelExistsError as exc:
        _fail(f"{exc} (pass --overwrite to replace it)", 2)
    console.print(f"[green]registered[/] {escape(name)} in {escape(str(done.path))}: {escape(str(done.entry))}")


@app.command("generate")
def generate_cmd(
    models: str = typer.Option(..., "--models", help="Comma-separated model names from the models YAML, e.g. base,lora8."),
    suite: Path = typer.Option(..., "--suite", help="Suite folder: GR1 test layout (<name>.txt + <name>.png), optional suite.yaml."),
    out: Path = typer.Option(..., "--out", help="Output folder: <out>/<model>/<generation key>/seed<seed>/<sample>.mp4 + .json sidecar."),
    seeds: int = typer.Option(5, "--seeds", min=1, help="Seeds 0..N-1 for every test pair."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N test pairs (sorted by name)."),
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: this process's share of the work (default: RANK/WORLD_SIZE under accelerate launch or torchrun, else everything)."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Denoising steps (default 36)."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Frames per video (default: the suite's, else 93)."),
    size: Optional[str] = typer.Option(None, "--size", help="HEIGHTxWIDTH of the generated video, whole grid for grid suites (default: from the suite, else 432x768)."),
    guidance: Optional[float] = typer.Option(None, "--guidance", help="Guidance scale (default: each model's own; Cosmos 7.0)."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frame rate written into the videos (default: the suite's, else 16)."),
    models_file: Optional[Path] = typer.Option(None, "--models-file", help=MODELS_FILE_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Regenerate outputs that are already complete."),
) -> None:
    """Generate a video for every (model, test pair, seed); an interrupted run resumes where it stopped.

    Outputs are in the suite's storage form (a multi-view grid suite gets grid videos). Each has a JSON
    sidecar with the model, adapter hash, seed, settings and library versions. Changed adapters or
    settings get a new generation key (a new folder), so old videos are never reused for them.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from .data.suite import load_suite, parse_size
    from .models.base import load_models
    from .models.generate import generate, parse_shard, settings_for_suite

    the_suite = load_suite(suite)
    size_t = parse_size(size, where="--size") if size else None
    shard_t = parse_shard(shard)
    settings = settings_for_suite(the_suite, frames=frames, size=size_t, steps=steps, guidance=guidance, fps=fps)
    world_models = load_models(models, models_file)
    console.print(
        f"generating [bold]{', '.join(m.name for m in world_models)}[/] on suite [bold]{the_suite.name}[/] "
        f"({settings.num_frames} frames, {settings.height}x{settings.width}, {settings.steps} steps, seeds 0..{seeds - 1}), "
        f"shard {shard_t[0]}/{shard_t[1]} -> {out}"
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("videos", total=None)

        def on_item(result) -> None:
            status = {"generated": "[green]done[/]", "skipped": "[dim]skip[/]", "failed": "[red]FAILED[/]"}[result.status]
            progress.update(task, advance=1, description=f"{status} {result.item.model}/{result.item.sample}/seed{result.item.seed}")

        report = generate(
            world_models, the_suite, out, seeds=seeds, settings=settings, limit=limit, shard=shard_t,
            overwrite=overwrite, on_start=lambda total: progress.update(task, total=total), on_item=on_item,
        )
    table = Table(title=f"generation keys ({escape(str(out))})")
    table.add_column("model")
    table.add_column("generation key")
    table.add_column("folder", overflow="fold")
    for name, key in report.keys.items():
        table.add_row(escape(name), key, escape(str(out / name / key)))
    console.print(table)
    console.print(report.summary())
    for failure in report.failed:
        err_console.print(f"[red]failed[/] {escape(f'{failure.item.model}/{failure.item.sample}/seed{failure.item.seed}: {failure.error}')}")
    if report.failed:
        raise typer.Exit(1)


# --------------------------------------------------------------------------------------- metrics
@app.command("metrics")
def metrics_cmd(
    paths: List[Path] = typer.Argument(..., help="Video file(s); a multi-view video is a grid of tiles (--grid)."),
    grid: Optional[str] = typer.Option(None, "--grid", help="Split each video into RxC views, row-major, e.g. 1x2."),
    views: Optional[str] = typer.Option(None, "--views", help="Comma-separated view names (default view0, view1, ...)."),
    backend: str = typer.Option("opencv", "--backend", callback=check_backend, help="opencv (CPU) or kornia (CPU or CUDA)."),
    device: Optional[str] = typer.Option(None, "--device", help="kornia: cpu or cuda (default: cuda when present)."),
    stride: int = typer.Option(1, "--stride", min=1, help="Temporal pairs are frames (t, t+stride)."),
    mode: str = typer.Option("pooled", "--mode", help="Cross-view F: pooled (rigid rig, one F per view pair) or per_frame."),
    keep: float = typer.Option(1.0, "--keep", min=0.01, max=1.0, help="Fraction of each pair's lowest errors kept (1 = all matches)."),
    json_out: Optional[Path] = typer.Option(None, "--json", callback=check_output_file, help="Write every result (per-pair details) to this JSON file."),
    plot: Optional[Path] = typer.Option(None, "--plot", callback=check_output_file, help="PNG of per-frame TSE (solid) and CSE (dashed)."),
) -> None:
    """Temporal (TSE) and cross-view (CSE) Sampson error of videos, in pixels (lower is better)."""
    import json

    from .data.video import VideoError, parse_grid, read_views, view_names
    from .metrics import sampson_metrics
    from .metrics.summary import summary_lines

    if mode not in ("pooled", "per_frame"):
        _fail(f"--mode must be pooled or per_frame (calibrated needs cameras: use the library), got {mode!r}", 2)
    rows, cols = parse_grid(grid) if grid else (1, 1)
    try:
        names = view_names(views, rows, cols)
    except VideoError as exc:
        _fail(f"--views: {exc}", 2)
    everything: dict = {}
    failed = 0
    for path in paths:
        try:
            video, split = read_views(path, rows, cols, names)
            results = sampson_metrics(split, stride=stride, mode=mode if len(split) > 1 else None,
                                      backend=backend, device=device, keep=keep)
        except (VideoError, ValueError, OSError) as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
            everything[str(path)] = {"error": str(exc)}
            failed += 1
            continue
        everything[str(path)] = results
        table = Table(title=f"{escape(str(path))} — {len(split)} view(s), {video.num_frames} frames, {backend}")
        for col in ("metric", "value (px)", "mean of means", "pairs ok", "degenerate", "static cam"):
            table.add_column(col, justify="left" if col == "metric" else "right")
        for line in summary_lines(results):
            value = line.value if line.failed is None else f"[red]{line.failed}[/]"
            table.add_row(f"  {escape(line.label)}" if line.group else line.label, value, line.mean_of_means,
                          line.pairs_ok, line.degenerate, line.static_pairs)
        console.print(table)
        for r in results.values():
            if not r.ok:
                console.print(f"  [yellow]{r.name}:[/] {escape(str(r.reason))}")
        console.print(f"  [dim]{escape(next(iter(results.values())).version) if results else ''}[/]")
    if json_out is not None:
        payload = {p: (v if "error" in v else {k: r.to_dict() for k, r in v.items()}) for p, v in everything.items()}
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(payload, indent=1, allow_nan=False))
        console.print(f"[green]wrote[/] {escape(str(json_out))}")
    if plot is not None:
        from .metrics.plot import plot_per_frame

        ok_videos = {p: v for p, v in everything.items() if "error" not in v}
        if ok_videos:
            console.print(f"[green]wrote[/] {plot_per_frame(ok_videos, plot)}")
    if failed:
        raise typer.Exit(1)


# --------------------------------------------------------------------------------------- results
DEFAULT_STORE = Path("runs/results.sqlite")
DEFAULT_BOARDS = Path("leaderboards")


def _store_suites(store: Path, suite: Optional[str]) -> list[str]:
    """The suites a results command works on: ``suite`` if the store has it, else every suite there."""
    from .results.store import ResultStore

    if not store.exists():
        _fail(f"{store}: results store not found (run `cosmos-bench run` first, or pass --store)", 2)
    with ResultStore(store) as db:
        found = db.suites()
    if suite and suite not in found:
        _fail(f"suite {suite!r} has no results in {store}; suites there: {found}", 2)
    return [suite] if suite else found


@app.command("leaderboard")
def leaderboard_cmd(
    suite: Optional[str] = typer.Option(None, "--suite", help="Suite name (default: every suite in the store)."),
    store: Path = typer.Option(DEFAULT_STORE, "--store", help="Results store (SQLite) written by `run`."),
    out: Path = typer.Option(DEFAULT_BOARDS, "--out", help="Folder for <suite>.md, .csv, .samples.csv and charts."),
    baseline: str = typer.Option("base", "--baseline", help="Model every candidate is compared against (paired)."),
    n_boot: int = typer.Option(2000, "--bootstrap", min=100, help="Bootstrap resamples for the CIs."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed (regenerating gives identical tables)."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write one PNG chart per metric."),
) -> None:
    """Regenerate leaderboards from the results store: mean, 95% CI, n, failures, paired tests vs base."""
    from .results.leaderboard import leaderboard_from_store, write_leaderboard
    from .results.store import ResultStore
    from .results.store_check import check_store

    check_store(store, write=False)  # a directory or another file: one line, exit 2
    suites = _store_suites(store, suite)
    with ResultStore(store) as db:
        for name in suites:
            board = leaderboard_from_store(db, name, baseline=baseline, n_boot=n_boot, seed=seed)
            paths = write_leaderboard(board, out, plots=plots)
            _print_board(board)
            console.print(f"[green]wrote[/] {escape(', '.join(str(p) for p in paths.values()))}")


@app.command("report")
def report_cmd(
    suite: Optional[str] = typer.Option(None, "--suite", help="Suite name (default: every suite in the store)."),
    store: Path = typer.Option(DEFAULT_STORE, "--store", help="Results store (SQLite) written by `run`."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default: leaderboards/<suite>.report/)."),
    baseline: str = typer.Option("base", "--baseline", help="Model every candidate is compared against (paired)."),
    bundle: bool = typer.Option(False, "--bundle", help="Copy the videos and images into the report folder (for publishing it alone)."),
) -> None:
    """Write a static HTML report from the results store: leaderboard, charts, every candidate's videos side by side."""
    from .report import build_report, default_report_dir

    suites = _store_suites(store, suite)
    if out is not None and len(suites) > 1:
        _fail(f"--out names one folder but {store} holds {len(suites)} suites; pass --suite", 2)
    for name in suites:
        index = build_report(store, name, out or default_report_dir(DEFAULT_BOARDS, name), baseline=baseline, bundle=bundle)
        console.print(f"[green]wrote[/] report {index}")


@app.command("check")
def check_cmd(
    candidate: str = typer.Option(..., "--candidate", help="Model whose new results are checked."),
    baseline_file: Optional[Path] = typer.Option(None, "--baseline", help="Committed per-sample export (leaderboards/<suite>.samples.csv) of an earlier run."),
    baseline_model: Optional[str] = typer.Option(None, "--baseline-model", help="Compare against this model instead (from --baseline file if given, else from the store)."),
    current_file: Optional[Path] = typer.Option(None, "--current", help="Per-sample export holding the candidate's new results (default: read the store)."),
    store: Path = typer.Option(DEFAULT_STORE, "--store", help="Results store holding the candidate's new results."),
    suite: Optional[str] = typer.Option(None, "--suite", help="Suite to check (default: the baseline file's suite, or the only suite in the store)."),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="Comma-separated metrics to gate on (default: all shared)."),
    max_regression: float = typer.Option(0.05, "--max-regression", min=0.0, help="Allowed worsening, relative to the baseline mean (0.05 = 5%)."),
    method: str = typer.Option("auto", "--method", help="auto (= t), t (one-sided t-test on per-pair means), bootstrap (studentized, Monte Carlo error stated), or wilcoxon (signed-rank on per-pair means)."),
    alpha: float = typer.Option(0.05, "--alpha", help="Two-sided level in (0, 0.5]: a metric fails when the lower bound of its 1-alpha interval lies above the margin (one-sided alpha/2, Holm over the gated metrics)."),
    failure_alpha: float = typer.Option(0.01, "--failure-alpha", help="Level in (0, 0.5] of the exact McNemar test on failed/degenerate videos (Holm over the gated metrics)."),
    sequential: bool = typer.Option(False, "--sequential", help="Replay the sequential rule over the rows: exit 1 on 'worse', 0 otherwise (a sequential run's recorded design wins over the flags below)."),
    margin: str = typer.Option("if=0.25,physics=0.25,tse=5%,cse=5%", "--margin", help="With --sequential: gated metrics and margins."),
    bound: Optional[str] = typer.Option(None, "--bound", help="With --sequential: per-metric clipping bounds."),
    order_seed: int = typer.Option(0, "--order-seed", help="With --sequential: seed of the pair order."),
    population: str = typer.Option("prompts", "--population", help="With --sequential: prompts or suite."),
) -> None:
    """CI regression gate. Exit codes: 0 pass, 1 regression, 2 bad input, 3 cannot decide (too few test pairs)."""
    from .results.gate import EXIT_BAD_INPUT, check_regression
    from .results.leaderboard import read_samples_csv
    from .results.selection import gate_rows
    from .results.store import ResultStore
    from .results.store_check import check_store

    for flag, level in (("--alpha", alpha), ("--failure-alpha", failure_alpha)):
        if not 0 < level <= 0.5:
            _fail(f"{flag} must be in (0, 0.5], got {level}", EXIT_BAD_INPUT)
    if baseline_file is None and baseline_model is None and not sequential:
        _fail("give --baseline FILE (an earlier export) and/or --baseline-model NAME", 2)
    file_rows = read_samples_csv(baseline_file) if baseline_file else None
    if current_file is not None:
        current_rows = read_samples_csv(current_file)
    elif store.exists():
        check_store(store, write=False)
        with ResultStore(store) as db:
            current_rows = db.rows()
    else:
        _fail(f"{store}: results store not found; pass --current FILE or --store", 2)
    if suite is None:
        suite = _only_suite(file_rows or current_rows, "")
    if sequential:
        if baseline_file is not None:
            _fail("--baseline FILE does not apply with --sequential: it replays one run's rows (--store or --current)", 2)
        seq = _sequential_options(margin, bound, alpha, None, None, None, order_seed, population)
        return _check_sequential(current_rows, suite, candidate, baseline_model or "base", store if current_file is None else None, seq)
    chosen = gate_rows(current_rows, suite=suite, candidate=candidate, baseline=baseline_model, baseline_rows=file_rows,
                       current_from=str(current_file if current_file is not None else store),
                       baseline_from=None if baseline_file is None else str(baseline_file))
    base_name, base_rows, cand_rows = chosen.baseline, chosen.baseline_rows, chosen.candidate_rows
    report = check_regression(
        base_rows, cand_rows, candidate=candidate, baseline=base_name,
        metrics=metrics.split(",") if metrics else None, max_regression=max_regression,
        method=method, alpha=alpha, failure_alpha=failure_alpha,
    )
    _print_gate(report, title=escape(f"regression gate: {candidate} vs {base_name} ({suite}, {method})"))


def _print_gate(report, *, title: str) -> None:
    """The gate's table and one closing line; exits with the report's code (see `check --help`)."""
    table = Table(title=title)
    for col in ("metric", "test pairs", "baseline mean", "worsening", "margin", "MDE (80%)", "verdict", "why"):
        table.add_column(col, overflow="fold")
    labels = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "undecided": "[yellow]cannot decide[/]"}

    def num(x: float, fmt: str) -> str:
        return format(x, fmt) if x is not None and x == x and abs(x) != float("inf") else "—"

    for v in report.verdicts:
        table.add_row(v.metric, str(v.n_test_pairs), num(v.baseline_mean, ".4g"), num(v.worsening, "+.4g"),
                      num(v.margin, ".4g"), num(v.mde, "+.4g"), labels[v.status], escape(v.why))
    console.print(table)
    for note in report.notes():
        console.print(f"note: {escape(note)}")
    def names(status: str) -> str:
        return ", ".join(v.metric for v in report.verdicts if v.status == status)

    if report.outcome == "regression":
        err_console.print(f"[bold red]regression:[/] {escape(report.candidate)} got worse than {escape(report.baseline)} on {names('fail')}")
    elif report.outcome == "undecided":
        err_console.print(f"[bold yellow]cannot decide:[/] too little paired data on {names('undecided')}; this is not a pass")
    else:
        console.print(f"[green]pass:[/] {escape(report.candidate)} shows no regression against {escape(report.baseline)}.")
    raise typer.Exit(report.exit_code)


# --------------------------------------------------------------------------------------- judge
_SERVER_HELP = ("Judge server kind, which sets the request form: vllm (Cosmos Reason2's documented form: top_k, "
                "penalties, fps and pixel budget), openai, generic (standard fields only), or auto (ask the server; "
                "default: $COSMOS_BENCH_JUDGE_SERVER or auto).")


@app.command("judge")
def judge_cmd(
    videos: List[Path] = typer.Argument(..., help="mp4 files to score."),
    rubric: str = typer.Option("video_physics", "--rubric", help="video_physics, video_IF, or a path to a rubric .yaml."),
    instruction: Optional[str] = typer.Option(None, "--instruction", help="The generation prompt, for rubrics that need it (video_IF); applies to every video."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint (default: $COSMOS_BENCH_JUDGE_URL, then $OPENAI_BASE_URL with a note, then http://localhost:8000/v1). The API key comes from $COSMOS_BENCH_JUDGE_API_KEY, then $OPENAI_API_KEY."),
    model: Optional[str] = typer.Option(None, "--model", help="Served model id (default: $COSMOS_BENCH_JUDGE_MODEL or nvidia/Cosmos-Reason2-8B)."),
    server: Optional[str] = typer.Option(None, "--server", help=_SERVER_HELP),
    samples: int = typer.Option(1, "--samples", min=1, help="Judge samples per video; the score is their mean (2+: the judge's test-retest agreement too)."),
    temperature: float = typer.Option(0.6, "--temperature", min=0.0, help="Sampling temperature."),
    seed: int = typer.Option(0, "--seed", help="Seed of sample 0; sample i uses seed+i."),
    fps: float = typer.Option(4.0, "--fps", min=0.1, help="Frames per second the server samples from the video (video mode)."),
    frames_mode: bool = typer.Option(False, "--frames-mode", help="Send N sampled JPEG frames instead of the video (servers without video input)."),
    num_frames: int = typer.Option(8, "--num-frames", min=1, help="Frames sent in --frames-mode."),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="Requests in flight at once."),
    timeout: float = typer.Option(300.0, "--timeout", min=1.0, help="Seconds per request before it is retried."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Score cache (JSON lines; default judge_scores.jsonl under $COSMOS_BENCH_CACHE, else ~/.cache/cosmos-bench)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Ask again for every sample and store nothing."),
    json_out: Optional[Path] = typer.Option(None, "--json", callback=check_output_file, help="Write every result (samples, raw replies, judge version) here."),
) -> None:
    """Score videos 1-5 with a vision-language judge (Cosmos Reason2 behind vLLM/NIM or any OpenAI-compatible server).

    Failed samples are reported as errors, never as numbers; exits 1 if the endpoint is down or any video failed.
    """
    import asyncio
    import json

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .judge import JudgeConfig, JudgeEndpointError, JudgeRequest, ScoreCache, load_rubric, resolve_endpoint
    from .judge.agreement import agreement_of_results
    from .judge.client import generic_env_used
    from .judge.preflight import judge_probed_videos_sync

    the_rubric = load_rubric(rubric)
    config = JudgeConfig.from_env(
        generic=True, base_url=base_url, model=model, server=server, samples=samples, temperature=temperature,
        seed=seed, fps=fps,
        video_mode="frames" if frames_mode else "video", num_frames=num_frames, concurrency=concurrency,
        timeout_s=timeout,
    )
    for name in generic_env_used(base_url):
        err_console.print(f"[yellow]note:[/] using ${name} for the judge (set COSMOS_BENCH_JUDGE_URL / "
                          "COSMOS_BENCH_JUDGE_API_KEY or pass --base-url to choose explicitly)")
    if the_rubric.needs_instruction and not (instruction and instruction.strip()):
        _fail(f"rubric {the_rubric.name!r} judges against the generation prompt: pass --instruction TEXT", 2)
    missing = [str(v) for v in videos if not v.is_file()]
    if missing:
        _fail(f"video file(s) not found: {', '.join(missing)}", 2)
    try:
        config, endpoint = asyncio.run(resolve_endpoint(config, timeout_s=min(timeout, 15.0)))
    except JudgeEndpointError as exc:
        _fail(f"{exc}\nStart a server first, e.g. `vllm serve nvidia/Cosmos-Reason2-8B --max-model-len 16384 "
              "--media-io-kwargs '{\"video\": {\"num_frames\": -1}}' --reasoning-parser qwen3`, "
              "or point --base-url / COSMOS_BENCH_JUDGE_URL at one.")
    for note in endpoint.notes:
        err_console.print(f"[yellow]warning:[/] {note}")
    err_console.print(f"judge server: {endpoint.server} ({endpoint.why})")
    store = None if no_cache else ScoreCache(cache)
    requests = [JudgeRequest(v, instruction) for v in videos]
    with Progress(TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("judge", total=len(requests) * samples)
        results = judge_probed_videos_sync(requests, the_rubric, config, store, progress=lambda e: bar.update(task, completed=e.done))

    table = Table(title=f"{escape(the_rubric.name)} · {escape(config.model)} · judge version {results[0].judge_version if results else '-'}")
    for col, kw in (("video", {"overflow": "fold"}), ("score", {"justify": "right"}), ("spread", {"justify": "right"}),
                    ("samples", {}), ("calls", {"justify": "right"}), ("status", {"overflow": "fold"})):
        table.add_column(col, **kw)
    for r in results:
        per_sample = ",".join("-" if s.score is None else str(s.score) for s in r.samples)
        status = "[green]ok[/]" if r.status == "ok" else f"[red]error[/] {escape(str(r.reason))}"
        table.add_row(
            escape(str(r.video)), "-" if r.score is None else f"{r.score:.2f}", "-" if r.spread is None else f"{r.spread:.2f}",
            per_sample, str(r.calls), status,
        )
    console.print(table)
    if samples >= 2:
        for name, agreement in agreement_of_results(results).items():
            console.print(f"{name}: test-retest agreement of the judge (Krippendorff's ordinal alpha over {samples} samples): "
                          f"{agreement.summary()}")
            if agreement.flagged:
                console.print(f"[yellow]samples disagree by 2+ points:[/] {', '.join(agreement.flagged)}")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
        console.print(f"[green]wrote[/] {escape(str(json_out))}")
    failed = [r for r in results if r.status != "ok"]
    if failed:
        err_console.print(f"[bold red]{len(failed)} of {len(results)} video(s) have no score[/] (errors are never counted as numbers); "
                          "run the same command again to retry only the failed samples.")
        raise typer.Exit(1)


# --------------------------------------------------------------------------------------- run
class _RichReporter:
    """Shows the runner's stages as rich progress bars with counts and ETA."""

    def __init__(self, progress) -> None:
        self.progress = progress
        self.tasks: dict[str, int] = {}
        self.status: dict[str, dict[str, int]] = {}

    def __call__(self, event) -> None:
        if event.kind == "note":
            if event.stage != "judge" or not event.message.endswith("samples"):
                self.progress.console.print(f"[yellow]{event.stage}:[/] {escape(event.message)}")
            return
        label = event.stage + (f" ({event.message})" if event.kind == "start" and event.message else "")
        if event.kind == "start":
            self.tasks[event.stage] = self.progress.add_task(label, total=max(event.total, 0))
            self.status[event.stage] = {}
            if event.total == 0:
                self.progress.update(self.tasks[event.stage], description=f"{label}: nothing to do")
        elif event.kind == "advance" and event.stage in self.tasks:
            counts = self.status[event.stage]
            counts[event.status] = counts.get(event.status, 0) + 1
            text = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            self.progress.update(self.tasks[event.stage], advance=1, description=f"{event.stage} [{text}]")


class _PlainReporter:
    """Progress as plain lines, for output that is not a terminal (a CI log, a pipe), where rich's live
    bars print nothing until the end: a line per stage start, about every tenth item, and the last."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.totals: dict[str, int] = {}
        self.done: dict[str, dict[str, int]] = {}

    def __call__(self, event) -> None:
        if event.kind == "note":
            self.out.print(f"{event.stage}: {escape(event.message)}", highlight=False)
        elif event.kind == "start":
            self.totals[event.stage], self.done[event.stage] = event.total, {}
            self.out.print(f"{event.stage}{f' ({escape(event.message)})' if event.message else ''}: {event.total} to do",
                           highlight=False)
        elif event.kind == "advance" and event.stage in self.totals:
            counts = self.done[event.stage]
            counts[event.status] = counts.get(event.status, 0) + 1
            n, total = sum(counts.values()), self.totals[event.stage]
            if n == total or n % max(1, total // 10) == 0:
                text = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                self.out.print(f"{event.stage}: {n}/{total} ({text})", highlight=False)


@contextlib.contextmanager
def _stage_reporter():
    """Rich bars on a terminal, plain progress lines anywhere else."""
    if console.is_terminal:
        with _progress() as progress:
            yield _RichReporter(progress)
    else:
        yield _PlainReporter(console)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=console)


def _judge_config(judge_url: Optional[str], judge_model: Optional[str], judge_samples: int, judge_server: Optional[str] = None):
    """The run's judge config, resolved here once (see ``judge_config_if_asked``): None when no endpoint is named."""
    from .judge.client import judge_config_if_asked

    try:
        return judge_config_if_asked(judge_url, model=judge_model, samples=judge_samples, server=judge_server)
    except ValueError as exc:
        _fail(str(exc), 2)


def _print_board(board) -> None:
    """The leaderboard as rendered markdown (tables stay tables in a terminal)."""
    from rich.markdown import Markdown

    console.print(Markdown(board.to_markdown()))


def _print_summary(summary) -> None:
    _print_board(summary.leaderboard)
    gen = summary.generation
    if gen:
        console.print(f"generation: {gen.get('generated', 0)} generated, {gen.get('skipped', 0)} reused, {gen.get('failed', 0)} failed")
    console.print(f"scores: {summary.rows_written} rows written, {summary.rows_skipped} already in the store; judge: {escape(summary.judge_status)}")
    _print_shared_work(summary)
    for err in summary.errors[:10]:
        err_console.print(f"[yellow]problem:[/] {escape(err)}")
    if len(summary.errors) > 10:
        err_console.print(f"[yellow]... and {len(summary.errors) - 10} more problem(s)[/]")
    for name, path in summary.files.items():
        console.print(f"[green]wrote[/] {name}: {escape(str(path))}")


def _exit_if_work_failed(summary) -> None:
    """Exit 1 when this run's requested work produced error rows; everything finished stays in the store."""
    if summary.errors:
        _fail(f"{len(summary.errors)} problem(s) in this run (listed above); finished results are kept in the store "
              "and a rerun retries only what failed", EXIT_FAILED_WORK)


def _print_shared_work(summary) -> None:
    """What another run on the same store is doing instead of this one, and work computed in vain."""
    left = {stage: n for stage, n in summary.left_to_others.items() if n}
    if left:
        what = ", ".join(f"{n} {'video(s) to generate' if stage == 'generate' else f'video(s) to score ({stage})'}"
                         for stage, n in left.items())
        console.print(f"left to another run on this store: {what}; their rows land in the store when it finishes "
                      "(`cosmos-bench leaderboard` then shows them)")
    if summary.rows_discarded:
        console.print(f"{summary.rows_discarded} computed row(s) discarded: the store already had them (from another or an earlier run)")


def _run_config(models: str, suite: Path, models_file: Optional[Path], metrics: str, seeds: int, limit: Optional[int],
                out: Optional[Path], store: Path, leaderboards: Path, backend: str, device: Optional[str],
                judge_url: Optional[str], judge_model: Optional[str], judge_samples: int,
                judge_server: Optional[str] = None, **extra):
    from .runner import RunConfig, parse_metrics

    try:
        metric_list = parse_metrics(metrics)
    except ValueError as exc:
        _fail(str(exc), 2)
    names = [m.strip() for m in models.split(",") if m.strip()] if models else []
    return RunConfig(
        models=names, suite=suite, models_file=models_file, metrics=metric_list, seeds=seeds, limit=limit, out=out,
        store=store, leaderboards=leaderboards, backend=backend, device=device,
        judge=_judge_config(judge_url, judge_model, judge_samples, judge_server), judge_cache=(store.parent / "judge_cache.jsonl"), **extra,
    )


def _executor_options(executor: str, out: Optional[Path], ray_address: Optional[str], gpus_per_worker: float,
                      workers: Optional[int], max_retries: int, artifacts: Optional[Path], compile_cache: Optional[Path],
                      worker_import: list[str]) -> dict:
    """RunConfig fields for ``--executor`` (the Ray options are checked here, before any work)."""
    if executor not in ("local", "ray"):
        _fail(f"--executor must be 'local' or 'ray', got {executor!r}", 2)
    if executor == "local":
        given = [name for name, value in (("--ray-address", ray_address), ("--workers", workers), ("--artifacts", artifacts),
                                          ("--compile-cache", compile_cache), ("--worker-import", worker_import)) if value]
        if given:
            _fail(f"{', '.join(given)} {'apply' if len(given) > 1 else 'applies'} only with --executor ray", 2)
        return {"out": out}
    if artifacts is not None and out is not None:
        _fail("give --artifacts or --out, not both (with --executor ray, --artifacts is where the videos go)", 2)
    from .ray_executor import RayOptions

    out = artifacts if artifacts is not None else out
    cache = compile_cache if compile_cache is not None else (artifacts / "compile-cache" if artifacts is not None else None)
    opts = RayOptions(address=ray_address, gpus_per_worker=gpus_per_worker, workers=workers, max_retries=max_retries,
                      worker_imports=tuple(worker_import), compile_cache=None if cache is None else str(cache))
    return {"out": out, "executor": "ray", "ray": opts}


_MARGINS = "if=0.25,physics=0.25,tse=5%,cse=5%"


def _sequential_options(margin: str, bound: Optional[str], alpha: float, max_pairs: Optional[int], max_videos: Optional[int],
                        gpu_hours: Optional[float], order_seed: int, population: str):
    """The sequential design from the options, checked before any work (bad input: one line, exit 2)."""
    from .results.sequential import Budget, metric_rules
    from .sequential_run import SequentialOptions

    if population not in ("prompts", "suite"):
        _fail(f"--population must be 'prompts' or 'suite', got {population!r}", 2)
    metric_rules(margin, bound)  # checked before any work
    return SequentialOptions(margin=margin, bound=bound, alpha=alpha, order_seed=order_seed, population=population,
                             budget=Budget(max_pairs=max_pairs, max_videos=max_videos, gpu_hours=gpu_hours))


def _print_decisions(decisions) -> None:
    table = Table(title="sequential decisions (candidate - base)")
    for col in ("candidate", "metric", "verdict", "pairs", "videos", "estimate [interval]", "alpha"):
        table.add_column(col, overflow="fold")
    for d in decisions:
        style = {"worse": "red", "better": "green", "equivalent": "cyan"}.get(d.verdict, "yellow")
        word = d.verdict if d.decided else ("INCONCLUSIVE at budget" if d.verdict == "inconclusive at budget" else "INCONCLUSIVE (no more data)")
        table.add_row(d.candidate, d.metric, f"[{style}]{word}[/]", str(d.n_pairs), str(d.videos), d.interval_text(), f"{d.alpha:.3g}")
    console.print(table)


_SUITE_HELP = "Suite folder (GR1 test layout + optional suite.yaml)."
_METRICS_HELP = metrics_help()


@app.command("run")
def run_cmd(
    models: str = typer.Option(..., "--models", help="Comma-separated model names from the models YAML, e.g. base,lora8,dora32."),
    suite: Path = typer.Option(..., "--suite", help=_SUITE_HELP),
    models_file: Optional[Path] = typer.Option(None, "--models-file", help="Models YAML (default: ./models.yaml or $COSMOS_BENCH_MODELS)."),
    metrics: str = typer.Option(",".join(selectable_metrics()), "--metrics", help=_METRICS_HELP),
    seeds: int = typer.Option(5, "--seeds", min=1, help="Seeds per test pair (seeds 0..N-1)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N test pairs (by name), for a quick look."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where generated videos go (default: runs/<suite name>)."),
    store: Path = typer.Option(DEFAULT_STORE, "--store", help="Results store (SQLite)."),
    leaderboards: Path = typer.Option(DEFAULT_BOARDS, "--leaderboards", help="Folder for the regenerated leaderboards."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Frames per video (default: suite.yaml, else 93)."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Denoising steps (default 36)."),
    size: Optional[str] = typer.Option(None, "--size", help="HEIGHTxWIDTH of the generated video, whole grid for grid suites (default: from the suite, else 432x768)."),
    guidance: Optional[float] = typer.Option(None, "--guidance", help="Guidance scale (default: each model's own; Cosmos 7.0)."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Frame rate written into the videos (default: the suite's, else 16)."),
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: generate only shard I of N (one per GPU)."),
    backend: str = typer.Option("opencv", "--backend", callback=check_backend, help="Geometric metric backend: opencv (CPU) or kornia (GPU/CPU)."),
    device: Optional[str] = typer.Option(None, "--device", help="Device for the kornia backend (default: cuda if present)."),
    judge_url: Optional[str] = typer.Option(None, "--judge-url", help="OpenAI-compatible judge endpoint (e.g. http://localhost:8000/v1; a comma list spreads the videos over several servers of the same model; or $COSMOS_BENCH_JUDGE_URL, key in $COSMOS_BENCH_JUDGE_API_KEY); without one the judge is not run (OPENAI_* variables are ignored)."),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="Judge model id (default nvidia/Cosmos-Reason2-8B)."),
    judge_samples: int = typer.Option(1, "--judge-samples", min=1, help="Judge samples per video (the score is their mean)."),
    executor: str = typer.Option("local", "--executor", help="local: this process (with --shard under torchrun/accelerate); ray: one warm worker per GPU of a Ray cluster (pip install 'cosmos-bench[ray]')."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="With --executor ray: 'auto' (the cluster of this node), ray://HOST:10001, or none to start Ray here (or join $RAY_ADDRESS)."),
    gpus_per_worker: float = typer.Option(1.0, "--gpus-per-worker", min=0.0, help="With --executor ray: GPUs each worker holds."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="With --executor ray: number of workers (default: the cluster's GPUs / --gpus-per-worker)."),
    max_retries: int = typer.Option(3, "--max-retries", min=0, help="With --executor ray: retries of an item whose worker died or whose generation failed, before it becomes error rows."),
    artifacts: Optional[Path] = typer.Option(None, "--artifacts", help="With --executor ray: shared folder (visible to every node) for the videos and the compile cache; replaces --out."),
    compile_cache: Optional[Path] = typer.Option(None, "--compile-cache", help="With --executor ray: folder of torch.compile artifacts shared by workers (default: <artifacts>/compile-cache)."),
    worker_import: list[str] = typer.Option([], "--worker-import", help="With --executor ray: a module each worker imports first (for world-model kinds registered in-process). Repeatable."),
    judge_server: Optional[str] = typer.Option(None, "--judge-server", "--server", help=_SERVER_HELP),
    sequential: bool = typer.Option(False, "--sequential", help="Generate pair by pair in a seeded order and stop each candidate once its verdicts are known (anytime-valid; see README)."),
    margin: str = typer.Option(_MARGINS, "--margin", help="With --sequential: gated metrics and margins, metric=amount or metric=percent."),
    bound: Optional[str] = typer.Option(None, "--bound", help="With --sequential: per-metric clipping bounds (default: 1 point for judge scores, ratio 1.5 for percent margins)."),
    alpha: float = typer.Option(0.05, "--alpha", min=1e-6, max=0.5, help="With --sequential: chance that any verdict of the run is wrong."),
    max_pairs: Optional[int] = typer.Option(None, "--max-pairs", min=1, help="With --sequential: stop after this many test pairs."),
    max_videos: Optional[int] = typer.Option(None, "--max-videos", min=1, help="With --sequential: never generate beyond this many videos."),
    budget_gpu_hours: Optional[float] = typer.Option(None, "--budget-gpu-hours", min=0.0, help="With --sequential: stop once generation has taken this many GPU-hours."),
    order_seed: int = typer.Option(0, "--order-seed", help="With --sequential: seed of the random order of test pairs (recorded next to the store)."),
    population: str = typer.Option("prompts", "--population", help="With --sequential: prompts (verdicts about the prompts' population) or suite (about this suite's pairs)."),
) -> None:
    """Generate → geometric metrics → judge → store → leaderboard. Interrupt any time; rerun to resume."""
    from .data.suite import parse_size
    from .runner import run

    size_hw = parse_size(size, where="--size") if size else None
    extra = _executor_options(executor, out, ray_address, gpus_per_worker, workers, max_retries, artifacts,
                              compile_cache, worker_import)
    cfg = _run_config(models, suite, models_file, metrics, seeds, limit, extra.pop("out"), store, leaderboards, backend,
                      device, judge_url, judge_model, judge_samples, judge_server, frames=frames, steps=steps, shard=shard,
                      size=size_hw, guidance=guidance, fps=fps, **extra)
    if not sequential and (bound or max_pairs or max_videos or budget_gpu_hours is not None):
        _fail("--bound, --max-pairs, --max-videos and --budget-gpu-hours apply only with --sequential", 2)
    seq = _sequential_options(margin, bound, alpha, max_pairs, max_videos, budget_gpu_hours, order_seed, population) if sequential else None
    with _stage_reporter() as reporter:
        if seq is not None:
            from .sequential_run import run_sequential

            result = run_sequential(cfg, seq, reporter=reporter)
            summary = result.run
        else:
            summary = run(cfg, reporter=reporter)
    _print_summary(summary)
    if seq is not None:
        _print_decisions(result.decisions)
        console.print(f"cost: {result.cost.describe()}")
    _exit_if_work_failed(summary)


@app.command("rescore")
def rescore_cmd(
    suite: Path = typer.Option(..., "--suite", help=_SUITE_HELP),
    models: str = typer.Option("", "--models", help="Comma-separated models to rescore (default: every model found under --out)."),
    metrics: str = typer.Option(",".join(metrics_of_stage("judge")), "--metrics", help=_METRICS_HELP),
    out: Optional[Path] = typer.Option(None, "--out", help="Where the videos were generated (default: runs/<suite name>)."),
    store: Path = typer.Option(DEFAULT_STORE, "--store", help="Results store (SQLite)."),
    leaderboards: Path = typer.Option(DEFAULT_BOARDS, "--leaderboards", help="Folder for the regenerated leaderboards."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N test pairs."),
    backend: str = typer.Option("opencv", "--backend", callback=check_backend, help="Geometric metric backend: opencv or kornia."),
    device: Optional[str] = typer.Option(None, "--device", help="Device for the kornia backend."),
    judge_url: Optional[str] = typer.Option(None, "--judge-url", help="OpenAI-compatible judge endpoint (a comma list: several servers of the same model)."),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="Judge model id."),
    judge_samples: int = typer.Option(1, "--judge-samples", min=1, help="Judge samples per video."),
    judge_server: Optional[str] = typer.Option(None, "--judge-server", "--server", help=_SERVER_HELP),
) -> None:
    """Score existing videos again where rows failed or are missing (e.g. after a judge outage); never generates."""
    from .runner import rescore

    cfg = _run_config(models, suite, None, metrics, 1, limit, out, store, leaderboards, backend, device,
                      judge_url, judge_model, judge_samples, judge_server)
    with _stage_reporter() as reporter:
        summary = rescore(cfg, reporter=reporter)
    _print_summary(summary)
    _exit_if_work_failed(summary)


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("demo_out"), "--out", help="Folder for the demo suite, videos, store and leaderboards."),
    samples: int = typer.Option(3, "--samples", min=1, help="Synthetic test pairs."),
    seeds: int = typer.Option(2, "--seeds", min=1, help="Seeds per test pair."),
    frames: int = typer.Option(17, "--frames", min=3, help="Frames per video."),
    size: str = typer.Option("256x448", "--size", help="HEIGHTxWIDTH of one view."),
    tiny_cosmos: bool = typer.Option(True, "--tiny-cosmos/--no-tiny-cosmos", help="Also run the tiny random-weight Cosmos pipeline and a LoRA on it (its own small suite)."),
    judge_url: Optional[str] = typer.Option(None, "--judge-url", help="Judge endpoint, if you have one (else judge columns say 'not run')."),
) -> None:
    """Run the whole benchmark offline on a synthetic suite with known answers, and check the ranking.

    Candidates: `base` (exact renderer), `warp1`/`warp3` (1 and 3 px elastic warps), `shift4` (objects
    shifted 4 px across views). A second, small run puts the tiny random-weight Cosmos pipeline and a
    random LoRA through the same runner (real diffusers/peft code; its numbers mean nothing).
    Exits 1 if the known order is not reproduced.
    """
    from .data.suite import parse_size
    from .demo import run_demo

    height, width = parse_size(size, where="--size")
    with _stage_reporter() as reporter:
        result = run_demo(out, samples=samples, seeds=seeds, frames=frames, size=(height, width), tiny_cosmos=tiny_cosmos,
                          judge=_judge_config(judge_url, None, 1), reporter=reporter)
    if result.cosmos_summary is not None:
        console.rule("tiny Cosmos Predict 2.5, RANDOM weights: shows the diffusers/peft path runs; numbers mean nothing")
        _print_summary(result.cosmos_summary)
        console.rule("synthetic candidates with known quality")
    _print_summary(result.summary)
    table = Table(title="known-answer check: does the leaderboard rank the synthetic candidates correctly?")
    for col in ("metric", "expected (best first)", "observed", "verdict"):
        table.add_column(col)
    for c in result.checks:
        table.add_row(c.metric, " < ".join(c.expected), " < ".join(c.observed), "[green]ok[/]" if c.holds else "[red]WRONG[/]")
    console.print(table)
    if "report" in result.summary.files:
        console.print(f"[green]HTML report:[/] {result.summary.files['report']} (open it in a browser)")
    if not result.order_holds:
        _fail("the demo's leaderboard does not reproduce the known order: a metric or the statistics is broken", 1)
    console.print(f"[green]demo passed:[/] everything is in {escape(str(out))}/ (leaderboards/, results.sqlite, videos/, suite/)")


# --------------------------------------------------------------------------------------- train
@app.command("train")
def train_cmd(
    recipe: Path = typer.Option(..., "--recipe", help="Training recipe YAML, e.g. trainer/dora32.yaml."),
    data: Path = typer.Option(..., "--data", help="GR1 train folder: videos/*.mp4 + metas/*.txt (+ metadata.csv)."),
    out: Path = typer.Option(..., "--out", help="Output folder: adapter, checkpoints/, loss.csv + loss.jsonl, train_info.json."),
    name: Optional[str] = typer.Option(None, "--name", help="Model name to register (default: the recipe's name)."),
    register: bool = typer.Option(True, "--register/--no-register", help="Add the finished adapter to the models YAML."),
    models_file: Optional[Path] = typer.Option(None, "--models-file", help="Models YAML (default: $COSMOS_BENCH_MODELS, else ./models.yaml)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="Stop after N optimiser steps (checkpointed; --resume continues the same schedule)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint in --out."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Cache of prompt embeddings and VAE latents (default: the recipe's, else $COSMOS_BENCH_CACHE/train)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, or auto (default: CUDA when available)."),
) -> None:
    """Fine-tune a LoRA/DoRA adapter of Cosmos Predict 2.5 on a GR1 train folder (multi-GPU: `accelerate launch -m cosmos_bench.cli train ...`)."""
    import os

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from .models.base import ModelConfigError, load_models_config
    from .models.registration import ModelExistsError, register_adapter
    from .train.recipe import load_recipe
    from .train.trainer import models_entry, train

    main_process = os.environ.get("RANK", "0") == "0"
    spec = load_recipe(recipe)
    if not data.is_dir():
        _fail(f"{data}: training folder not found", 2)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                        TextColumn("ETA"), TimeRemainingColumn(), console=console, disable=not main_process)
    task = None

    def on_event(message: str) -> None:
        if main_process:
            console.print(f"[dim]{escape(message)}[/]")

    def on_step(info) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task(f"train {spec.name}", total=info.stop_step, completed=info.step - 1, loss="-", rate="")
        progress.update(task, completed=info.step, loss=f"{info.loss:.4f}", rate=f"{1.0 / max(info.seconds, 1e-9):.2f} it/s")

    with progress:
        result = train(spec, data, out, resume=resume, max_steps=max_steps, cache_dir=cache, device=device,
                       on_step=on_step, on_event=on_event)
    if not main_process:
        return
    last = f"{result.losses[-1]:.4f}" if result.losses else "-"
    console.print(f"[green]{'finished' if result.finished else 'stopped'}[/] {spec.name}: step {result.steps_done}/{result.total_steps}, "
                  f"last loss {last}; loss log {out / 'loss.csv'}")
    if not result.finished:
        console.print(f"checkpoint {escape(str(result.checkpoint))}; continue with --resume")
        return
    console.print(f"adapter {escape(str(result.adapter))}")
    try:
        models = load_models_config(models_file, missing_ok=True)  # read once: the entry and the registration use it
    except ModelConfigError:
        models = None  # a broken models YAML is reported when registering
    model_name, entry = models_entry(result, spec, models if models is not None else models_file)
    model_name = name or model_name
    if not register:
        console.print(escape(f"models YAML entry (not registered): {model_name}: {entry}"))
        return
    try:
        if models is None:
            models = load_models_config(models_file, missing_ok=True)  # raises the YAML's problem
        done = register_adapter(model_name, entry, models, keep_same=True)
    except ModelExistsError as exc:
        _fail(f"{exc}; pass --name, or add this entry yourself: {model_name}: {entry}", 2)
    except ModelConfigError as exc:
        _fail(f"{exc}; entry not registered: {model_name}: {entry}", 2)
    if not done.added:
        console.print(escape(f"{model_name} already registered in {done.path} with this adapter"))
        return
    console.print(f"[green]registered[/] " + escape(f"{model_name} in {done.path}: {entry} (`cosmos-bench run --models {model_name}` finds it)"))


def _check_sequential(rows, suite: str, candidate: str, baseline: str, store: Optional[Path], options) -> None:
    """``check --sequential``: the run's own rule over its rows; exit 1 on worse, say inconclusive plainly."""
    from .sequential_run import SequentialOptions, check_sequential, read_provenance

    rows = [r for r in rows if r.suite == suite]
    recorded = read_provenance(store, suite) if store is not None else None
    candidates, pairs, seeds = [candidate], None, None
    if recorded is not None and candidate in recorded["candidates"] and recorded["baseline"] == baseline:
        options = SequentialOptions.from_provenance(recorded)
        candidates, pairs, seeds = recorded["candidates"], recorded["order"], recorded["seeds"]
        console.print(f"design recorded by the sequential run on {suite!r} (order seed {options.order_seed}, "
                      f"alpha {options.alpha}, margins {options.margin})")
    decisions = [d for d in check_sequential(rows, candidates=candidates, baseline=baseline, options=options,
                                             pairs=pairs, seeds=seeds) if d.candidate == candidate]
    _print_decisions(decisions)
    worse = [d.metric for d in decisions if d.verdict == "worse"]
    open_ = [d.metric for d in decisions if not d.decided]
    if worse:
        err_console.print(f"[bold red]regression:[/] {candidate} is worse than {baseline} beyond the margin on {', '.join(worse)}")
        raise typer.Exit(1)
    if open_:
        console.print(f"[yellow]inconclusive:[/] no verdict yet for {candidate} on {', '.join(open_)} "
                      "(not a regression; more pairs would decide)")
    else:
        console.print(f"[green]pass:[/] {candidate} is decided and not worse than {baseline} on any gated metric.")


# --------------------------------------------------------------------------------------- plan
def _only_suite(rows, prefix: str) -> str:
    """The rows' one suite; several (or none) is bad input, and the line says which option chooses."""
    from .results.selection import SuiteChoiceError, only_suite

    try:
        return only_suite(rows)
    except SuiteChoiceError as exc:
        _fail(f"{prefix}{exc}" + (": pass --suite" if exc.suites else ""), 2)


def _pilot_rows(pilot: Path, suite: Optional[str]):
    """Rows of one suite (current metric versions) from a results store or a samples.csv export."""
    from .results.leaderboard import read_samples_csv
    from .results.store import ResultStore

    if not pilot.exists():
        _fail(f"--pilot {pilot}: no such file", 2)
    try:
        if pilot.suffix == ".csv":  # an export holds the current metric versions only
            rows, versions = read_samples_csv(pilot), None
        else:
            with ResultStore(pilot) as db:
                rows = db.rows()
                versions = {s: db.current_versions(s) for s in db.suites()}
    except (ValueError, OSError) as exc:
        _fail(f"--pilot {pilot}: {exc}", 2)
    if suite is None:
        suite = _only_suite(rows, f"--pilot {pilot}: ")
    return [r for r in rows if r.suite == suite
            and (versions is None or versions[suite].get(r.metric) == r.metric_version)]


@app.command("plan")
def plan_cmd(
    pilot: Path = typer.Option(..., "--pilot", help="Pilot results: a results store (.sqlite) or a samples.csv export with base and a candidate."),
    effect: str = typer.Option("10%", "--effect", help="Improvement to detect: a percentage of base (10%) or an amount in the metric's unit."),
    margin: str = typer.Option("if=0.25,physics=0.25,tse=5%,cse=5%", "--margin", help="Per-metric margins, as for a sequential run (metric=amount or metric=percent)."),
    bound: Optional[str] = typer.Option(None, "--bound", help="Per-metric clipping bounds (default: 1 point for judge scores, ratio 1.5 for percent margins)."),
    baseline: str = typer.Option("base", "--baseline", help="Baseline model in the pilot."),
    candidates: Optional[str] = typer.Option(None, "--candidates", help="Comma-separated candidates (default: every other model in the pilot)."),
    suite: Optional[str] = typer.Option(None, "--suite", help="Suite (default: the pilot's only suite)."),
    alpha: float = typer.Option(0.05, "--alpha", min=1e-6, max=0.5, help="Error rate of one comparison."),
    power: float = typer.Option(0.9, "--power", min=0.5, max=0.999, help="Wanted power."),
    pool: int = typer.Option(50, "--pool", min=2, help="Test pairs the suite has (the most a sequential run can use)."),
    seeds: str = typer.Option("1,2,3,5", "--seeds", help="Seeds-per-pair options to compare."),
) -> None:
    """Plan pairs and seeds from pilot data: fixed vs sequential design, for a given effect and power."""
    from .results.planner import plan_from_rows
    from .results.sequential import metric_rules

    try:
        seed_options = tuple(int(s) for s in seeds.split(",") if s.strip())
        if not seed_options or min(seed_options) < 1:
            raise ValueError
    except ValueError:
        _fail(f"--seeds {seeds!r}: give positive integers, e.g. 1,2,5", 2)
    rows = _pilot_rows(pilot, suite)
    rules = metric_rules(margin, bound)
    results = plan_from_rows(rows, rules, effect=effect, baseline=baseline,
                             candidates=candidates.split(",") if candidates else None, alpha=alpha,
                             power=power, pool=pool, seed_options=seed_options)
    for pilot_var, size, plans in results:
        rule = rules[pilot_var.metric]
        console.print(
            f"[bold]{pilot_var.candidate} vs {baseline}, {pilot_var.metric}[/] ({rule.describe()}): pilot {pilot_var.n_pairs} pairs x "
            f"{pilot_var.seeds} seeds; per-pair difference variance = {pilot_var.interaction:.3g} (prompt x model) + "
            f"{pilot_var.within:.3g} / seeds (seed noise); base-candidate correlation {pilot_var.correlation:.2f}; "
            f"effect {size:.3g} in the rule's unit")
        table = Table()
        for col in ("seeds", "fixed pairs", "fixed videos", f"fixed power@{pool}",
                    "seq. median videos", "seq. p90 videos", f"seq. power@{pool}"):
            table.add_column(col)
        for p in plans:
            table.add_row(str(p.seeds), str(p.fixed_pairs), str(p.fixed_videos), f"{p.fixed_power_at_pool:.0%}",
                          f"{p.sequential_median_videos:g}", f"{p.sequential_p90_videos:g}", f"{p.sequential_power:.0%}")
        console.print(table)
    console.print(f"Videos are per candidate (base needs as many, shared by all candidates). Fixed: paired t-test, "
                  f"two-sided alpha {alpha}, power {power:.0%}; sequential: the betting confidence sequence, simulated.")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
