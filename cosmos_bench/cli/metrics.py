"""``cosmos-bench metrics``: temporal and cross-view Sampson error of video files."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .errors import fail
from .options import check_backend, check_output_file
from .output import console, err_console


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

    from ..data.video import VideoError, iter_file_views, parse_grid, view_names
    from ..metrics import sampson_metrics
    from ..metrics.summary import summary_lines

    if mode not in ("pooled", "per_frame"):
        fail(f"--mode must be pooled or per_frame (calibrated needs cameras: use the library), got {mode!r}", 2)
    rows, cols = parse_grid(grid) if grid else (1, 1)
    try:
        names = view_names(views, rows, cols)
    except VideoError as exc:
        fail(f"--views: {exc}", 2)
    everything: dict = {}
    failed = 0
    for path in paths:
        try:
            windows = iter_file_views(path, rows, cols, names)
            results = sampson_metrics(windows, stride=stride, mode=mode if rows * cols > 1 else None,
                                      backend=backend, device=device, keep=keep)
        except (VideoError, ValueError, OSError) as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
            everything[str(path)] = {"error": str(exc)}
            failed += 1
            continue
        everything[str(path)] = results
        frames = next(iter(results.values())).details.get("frames") if results else None
        table = Table(title=f"{escape(str(path))} — {rows * cols} view(s), {frames} frames, {backend}")
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
        from ..metrics.plot import plot_per_frame

        ok_videos = {p: v for p, v in everything.items() if "error" not in v}
        if ok_videos:
            console.print(f"[green]wrote[/] {plot_per_frame(ok_videos, plot)}")
    if failed:
        raise typer.Exit(1)
