"""``cosmos-bench`` command line: a thin typer layer over the library.

Every command calls one library function and only formats its result, so notebooks and CI can do
the same work without the CLI (the lm-evaluation-harness pattern). Heavy imports (torch, diffusers,
cv2) happen inside commands so ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from . import __version__

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
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
) -> None:
    """cosmos-bench: is the adapter really better than the base model, and by how much?"""


def _fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


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

    if not path.is_dir():
        _fail(f"{path}: folder not found", 2)
    kind = detect_layout(path)
    problems = check_layout(path, decode=not quick)
    errors = [p for p in problems if p.severity == "error"]
    if not problems:
        console.print(f"[green]OK[/] {path} ({kind} layout): no problems found.")
        return
    table = Table(title=f"{path} ({kind} layout): {len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
    table.add_column("severity")
    table.add_column("problem")
    table.add_column("file", overflow="fold")
    table.add_column("detail", overflow="fold")
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        table.add_row(f"[{style}]{p.severity}[/]", p.kind, p.path, p.message)
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
    fps: float = typer.Option(16.0, "--fps", help="Frame rate written into the videos."),
    seed: int = typer.Option(0, "--seed", help="Seed of the first scene; scene i uses seed+i."),
    camera_motion: str = typer.Option("orbit", "--camera-motion", help="orbit (the rig moves) or static."),
    object_motion: str = typer.Option("none", "--object-motion", help="none, or translate (one box moves rigidly)."),
    degrade: List[str] = typer.Option([], "--degrade", help="KIND:PIXELS, repeatable: elastic:2, drift:3, view_shift:4."),
    storage: str = typer.Option("grid", "--storage", help="grid (views tiled 1xN in one mp4) or files (one mp4 per view)."),
    name: Optional[str] = typer.Option(None, "--name", help="Suite name (default: the folder name)."),
) -> None:
    """Render a synthetic multi-view suite with known cameras and ground-truth fundamental matrices."""
    from .data.suite import parse_size
    from .data.synthetic import SceneConfig, parse_degradation
    from .data.synthetic_suite import write_synthetic_suite

    try:
        height, width = parse_size(size, where="--size")
        degradations = [parse_degradation(d) for d in degrade]
    except ValueError as exc:
        _fail(str(exc), 2)
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


# --------------------------------------------------------------------------------------- results
DEFAULT_STORE = Path("runs/results.sqlite")
DEFAULT_BOARDS = Path("leaderboards")


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

    if not store.exists():
        _fail(f"{store}: results store not found (run `cosmos-bench run` first, or pass --store)", 2)
    with ResultStore(store) as db:
        suites = [suite] if suite else db.suites()
        if suite and suite not in db.suites():
            _fail(f"suite {suite!r} has no results in {store}; suites there: {db.suites()}", 2)
        for name in suites:
            board = leaderboard_from_store(db, name, baseline=baseline, n_boot=n_boot, seed=seed)
            paths = write_leaderboard(board, out, plots=plots)
            console.print(board.to_markdown())
            console.print(f"[green]wrote[/] {', '.join(str(p) for p in paths.values())}")


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
    method: str = typer.Option("bootstrap", "--method", help="bootstrap (paired cluster bootstrap CI) or wilcoxon (signed-rank test)."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level (1 - CI level for bootstrap)."),
) -> None:
    """CI regression gate: exit 1 when the candidate is worse than the baseline beyond the noise."""
    from .results.gate import check_regression
    from .results.leaderboard import read_samples_csv
    from .results.store import ResultStore

    if baseline_file is None and baseline_model is None:
        _fail("give --baseline FILE (an earlier export) and/or --baseline-model NAME", 2)
    try:
        file_rows = read_samples_csv(baseline_file) if baseline_file else None
        if current_file is not None:
            current_rows = read_samples_csv(current_file)
        elif store.exists():
            with ResultStore(store) as db:
                current_rows = db.rows()
        else:
            _fail(f"{store}: results store not found; pass --current FILE or --store", 2)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc), 2)
    suites = sorted({r.suite for r in (file_rows or current_rows)})
    if suite is None:
        if len(suites) != 1:
            _fail(f"several suites found {suites}: pass --suite", 2)
        suite = suites[0]
    base_name = baseline_model or candidate
    base_source = file_rows if file_rows is not None else current_rows
    base_rows = [r for r in base_source if r.suite == suite and r.model == base_name]
    cand_rows = [r for r in current_rows if r.suite == suite and r.model == candidate]
    if not base_rows:
        _fail(f"no rows for baseline model {base_name!r} in suite {suite!r}", 2)
    if not cand_rows:
        _fail(f"no rows for candidate {candidate!r} in suite {suite!r}", 2)
    try:
        report = check_regression(
            base_rows, cand_rows, candidate=candidate, baseline=base_name,
            metrics=metrics.split(",") if metrics else None, max_regression=max_regression,
            method=method, alpha=alpha, confidence=1 - alpha,
        )
    except ValueError as exc:
        _fail(str(exc), 2)
    table = Table(title=f"regression gate: {candidate} vs {base_name} ({suite}, {method})")
    for col in ("metric", "pairs", "baseline mean", "worsening", "margin", "verdict", "why"):
        table.add_column(col, overflow="fold")
    for v in report.verdicts:
        verdict = "[green]pass[/]" if v.passed else "[red]FAIL[/]"
        table.add_row(v.metric, str(v.n_pairs), f"{v.baseline_mean:.4g}", f"{v.worsening:+.4g}", f"{v.margin:.4g}", verdict, v.why)
    console.print(table)
    if not report.passed:
        err_console.print(f"[bold red]regression:[/] {candidate} got worse than {base_name} on "
                          + ", ".join(v.metric for v in report.verdicts if not v.passed))
        raise typer.Exit(1)
    console.print(f"[green]pass:[/] {candidate} shows no regression against {base_name}.")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
