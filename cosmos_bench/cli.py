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


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
