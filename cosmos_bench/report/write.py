"""Write a report folder: ``index.html``, its script and style, charts, and one small script per row.

Why one script file per comparison row (``rows/<n>.js``, loaded when the row is shown): a benchmark
has ~1,250 videos, and the judges' reasoning alone can run to megabytes; a page that opened all of
it at once would be slow, and a browser will not ``fetch()`` JSON from a page opened from disk,
while it does run ``<script src>`` files. The index the page sorts and filters by stays inline.

Videos and conditioning images are referenced by paths relative to the report folder (so the
folder and ``runs/`` can move together); ``bundle=True`` copies them under ``media/`` instead, for
publishing the folder on its own (a CI artifact, GitHub Pages).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape

from ..atomic import atomic_copy, atomic_write_text
from ..results.leaderboard import plot_metric
from .model import (BOARD_FIELDS, COMPARISON_FIELDS, SUMMARY_FIELDS, ComparisonRow, Curve, ReportModel, VideoFile,
                    extra_fields, format_value)
from .forest import DEFAULT_MAX_REGRESSION, forest_plot
from .svg import legend, line_chart, value_range

ASSETS = ("report.css", "report.js")
INDEX_FILE = "index.html"
ROWS_DIR = "rows"
MEDIA_DIR = "media"
CHARTS_DIR = "charts"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("cosmos_bench.report", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = _num
    env.filters["signed"] = _signed
    env.filters["exact"] = lambda x: "" if x is None else repr(float(x))
    env.globals.update(extra_fields=extra_fields, format_value=format_value, SUMMARY_FIELDS=SUMMARY_FIELDS,
                       COMPARISON_FIELDS=COMPARISON_FIELDS, BOARD_FIELDS=BOARD_FIELDS)
    return env


def _num(x: float | None, digits: int = 3) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _signed(x: float | None, digits: int = 3) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:+.{digits}f}"


class Media:
    """Turns a file on disk into the ``src`` the page uses: a relative path, or a copy under ``media/``."""

    def __init__(self, out: Path, bundle: bool):
        self.out = out.resolve()
        self.bundle = bundle
        self.copied: dict[Path, str] = {}

    def href(self, path: Path, bundle_name: str) -> str:
        source = path.resolve()
        if not self.bundle:
            return quote(Path(os.path.relpath(source, self.out)).as_posix())
        if source not in self.copied:
            if source.is_file():
                atomic_copy(source, self.out / MEDIA_DIR / bundle_name)
            self.copied[source] = quote(f"{MEDIA_DIR}/{bundle_name}")
        return self.copied[source]


def _row_view(row: ComparisonRow, metrics: list[str], media: Media) -> dict:
    """What the row template needs beyond the row: hrefs, curves as SVG on one scale per metric."""
    charts: dict[tuple[str, str], str] = {}
    for metric in metrics:
        flat = [curve for cell in row.cells if metric in cell.metrics for curve in cell.metrics[metric].curves]
        if not flat:
            continue
        frames = [x for c in flat for x, _ in c.points]
        x_range, y_range = (min(frames), max(frames)), value_range(flat)
        for cell in row.cells:
            mc = cell.metrics.get(metric)
            if mc is not None and mc.curves:
                charts[(cell.model, metric)] = line_chart(mc.curves, x_range=x_range, y_range=y_range, y_label="frame") + \
                    f'<div class="legend">{legend(mc.curves)}</div>'
    videos: dict[str, list[tuple[str, VideoFile]]] = {}
    for cell in row.cells:
        if cell.output is None:
            continue
        videos[cell.model] = [
            (media.href(f.path, f"{cell.model}/seed{row.seed}/{f.path.name}"), f) for f in cell.output.files
        ]
    image = media.href(row.image, f"inputs/{row.image.name}") if row.image is not None and row.image.is_file() else None
    return {"charts": charts, "videos": videos, "image": image}


def write_report(model: ReportModel, out_dir: str | os.PathLike, *, bundle: bool = False, store: str | None = None,
                 plots: bool = True) -> Path:
    """Write the report folder for ``model``; returns the path of its ``index.html``."""
    out = Path(out_dir)
    (out / ROWS_DIR).mkdir(parents=True, exist_ok=True)
    env = _environment()
    board = model.board
    media = Media(out, bundle)
    for name in ASSETS:
        text = (Path(__file__).parent / "assets" / name).read_text(encoding="utf-8")
        atomic_write_text(out / name, text)
    charts = []
    if plots:
        (out / CHARTS_DIR).mkdir(exist_ok=True)
        for metric in board.metrics:
            if any((m, metric) in board.summaries and board.summaries[(m, metric)].n > 0 for m in board.models):
                plot_metric(board, metric, out / CHARTS_DIR / f"{metric}.png")
                charts.append((metric, f"{CHARTS_DIR}/{metric}.png"))
    training = []
    for log in model.training:
        points = tuple(zip(log.steps, log.losses))
        svg = ""
        if points:
            curve = Curve(f"{log.model} loss", points)
            svg = line_chart([curve], x_range=(min(log.steps), max(log.steps)), y_range=value_range([curve]),
                             width=520, height=180, y_label="step", css_class="loss")
        training.append({"log": log, "svg": svg})

    row_template = env.get_template("row.html.j2")
    written = set()
    for i, row in enumerate(model.rows):
        html = row_template.render(row=row, board=board, view=_row_view(row, board.metrics, media))
        name = f"{i:05d}.js"
        atomic_write_text(out / ROWS_DIR / name, f"cosmosReport.addRow({i}, {json.dumps(html)});\n")
        written.add(name)
    for stale in (out / ROWS_DIR).glob("*.js"):
        if stale.name not in written:
            stale.unlink()
    if not bundle and (out / MEDIA_DIR).is_dir():
        shutil.rmtree(out / MEDIA_DIR)  # an earlier --bundle's copies would otherwise go stale beside the references
    index = json.dumps({"rows": model.index, "models": board.models, "metrics": board.metrics, "baseline": board.baseline,
                        "directions": board.directions}, separators=(",", ":")).replace("</", "<\\/")
    forests = [(metric, svg) for metric in board.metrics if (svg := forest_plot(board, metric))]
    html = env.get_template("index.html.j2").render(board=board, model=model, charts=charts, training=training,
                                                    index_json=index, store=store, bundle=bundle, forests=forests,
                                                    max_regression=DEFAULT_MAX_REGRESSION)
    return atomic_write_text(out / INDEX_FILE, html)
