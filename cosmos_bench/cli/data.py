"""``cosmos-bench data``: check a GR1 folder, render a synthetic suite, import a LeRobot dataset."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .errors import fail
from .options import ViewSize, check_positive, one_of
from .output import console


data_app = typer.Typer(
    help="Data folders: check a GR1 train/test layout, render synthetic suites with known geometry.",
    no_args_is_help=True,
)


@data_app.command("check")
def data_check(
    path: Path = typer.Argument(..., help="A GR1 train folder, test folder, or a root holding train/ and test/."),
    quick: bool = typer.Option(False, "--quick", help="Only open videos instead of decoding every frame (misses truncation)."),
) -> None:
    """Validate a GR1-layout folder and list every problem; exits 1 if any error is found.

    Train: videos/*.mp4 + metas/*.txt (same stems) + metadata.csv. Test: <name>.txt (prompt) +
    <name>.png (first frame), optional suite.yaml and reference videos.
    """
    from ..data.layout import check_layout, detect_layout

    if path.is_file():
        fail(f"{path}: is a file; `data check` takes a folder (a GR1 train or test folder, or a root holding both)", 2)
    if not path.is_dir():
        fail(f"{path}: folder not found", 2)
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
    size: ViewSize = "256x448",
    fps: float = typer.Option(16.0, "--fps", callback=check_positive, help="Frame rate written into the videos."),
    seed: int = typer.Option(0, "--seed", help="Seed of the first scene; scene i uses seed+i."),
    camera_motion: str = typer.Option("orbit", "--camera-motion", callback=one_of("orbit", "static"), help="orbit (the rig moves) or static."),
    object_motion: str = typer.Option("none", "--object-motion", callback=one_of("none", "translate", "independent", "arm"), help="none, translate (one box moves rigidly), independent (three boxes, each its own rigid motion) or arm (a three-link arm swings over the table)."),
    degrade: List[str] = typer.Option([], "--degrade", help="KIND:PIXELS, repeatable: elastic:2, drift:3, view_shift:4, deform:2 (bends the moving objects)."),
    storage: str = typer.Option("grid", "--storage", callback=one_of("grid", "files"), help="grid (views tiled 1xN in one mp4) or files (one mp4 per view)."),
    name: Optional[str] = typer.Option(None, "--name", help="Suite name (default: the folder name)."),
) -> None:
    """Render a synthetic multi-view suite with known cameras and ground-truth fundamental matrices."""
    from ..data.suite import parse_size
    from ..data.synthetic import SceneConfig, parse_degradation
    from ..data.synthetic_suite import write_synthetic_suite

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


@data_app.command("import-lerobot")
def data_import_lerobot(
    dataset: Path = typer.Argument(..., help="A LeRobot dataset folder (v2.1 or v3.0: meta/info.json, meta/episodes, videos/)."),
    out: Path = typer.Option(..., "--out", help="Suite folder to write (GR1 test layout + reference videos + suite.yaml)."),
    episodes: Optional[str] = typer.Option(None, "--episodes", help="Episode indices, e.g. 0,3,10-12 (default: all)."),
    split: Optional[str] = typer.Option(None, "--split", help="A split of meta/info.json (e.g. test) instead of --episodes."),
    cameras: Optional[str] = typer.Option(None, "--cameras", help="Camera keys or short names, comma-separated (default: all)."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Frames per reference video (default: the shortest episode)."),
    name: Optional[str] = typer.Option(None, "--name", help="Suite name (default: the folder name)."),
) -> None:
    """Write a suite from a LeRobot dataset: each episode's task text and first frame become a test pair,
    its cameras the views (tiled 1xN), its first frames the reference video."""
    from ..data.lerobot import import_lerobot

    chosen = [c.strip() for c in cameras.split(",") if c.strip()] if cameras else None
    suite = import_lerobot(dataset, out, episodes=episodes, split=split, cameras=chosen, frames=frames, name=name)
    console.print(f"[green]wrote[/] suite [bold]{escape(suite.name)}[/] to {escape(str(out))}: views {suite.views}, "
                  f"{suite.frames} frames at {suite.fps:g} fps")
