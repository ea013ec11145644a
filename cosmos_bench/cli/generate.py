"""``cosmos-bench generate``: a video for every (model, test pair, seed), resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from .options import Guidance, ModelSet, ModelsFile, Steps, VideoFps, VideoSize
from .output import console, err_console


def generate_cmd(
    models: str = typer.Option(..., "--models", help="Comma-separated model names from the models YAML, e.g. base,lora8."),
    suite: Path = typer.Option(..., "--suite", help="Suite folder: GR1 test layout (<name>.txt + <name>.png), optional suite.yaml."),
    out: Path = typer.Option(..., "--out", help="Output folder: <out>/<model>/<generation key>/seed<seed>/<sample>.mp4 + .json sidecar."),
    seeds: int = typer.Option(5, "--seeds", min=1, help="Seeds 0..N-1 for every test pair."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N test pairs (sorted by name)."),
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: this process's share of the work (default: RANK/WORLD_SIZE under accelerate launch or torchrun, else everything)."),
    steps: Steps = None,
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Frames per video (default: the suite's, else 93)."),
    size: VideoSize = None,
    guidance: Guidance = None,
    fps: VideoFps = None,
    models_file: ModelsFile = None,
    set_: ModelSet = [],
    overwrite: bool = typer.Option(False, "--overwrite", help="Regenerate outputs that are already complete."),
) -> None:
    """Generate a video for every (model, test pair, seed); an interrupted run resumes where it stopped.

    Outputs are in the suite's storage form (a multi-view grid suite gets grid videos). Each has a JSON
    sidecar with the model, adapter hash, seed, settings and library versions. Changed adapters or
    settings get a new generation key (a new folder), so old videos are never reused for them.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from ..data.suite import load_suite, parse_size
    from ..models.base import load_models
    from ..models.generate import check_videos_folder, generate, parse_shard, settings_for_suite

    check_videos_folder(out)  # a file or somebody else's folder: exit 2 before any model loads
    the_suite = load_suite(suite)
    size_t = parse_size(size, where="--size") if size else None
    shard_t = parse_shard(shard)
    settings = settings_for_suite(the_suite, frames=frames, size=size_t, steps=steps, guidance=guidance, fps=fps)
    from ..bounds import check_video_size
    from ..models.overrides import parse_overrides

    files = len(the_suite.views) if the_suite.storage.kind == "files" else 1  # the size is per file
    check_video_size(settings.num_frames, settings.height, settings.width, files, option="frames")
    world_models = load_models(models, models_file, overrides=parse_overrides(set_))
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
