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
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape

from ..atomic import atomic_copy, atomic_write_text
from ..owned import OwnedFolder, check_owned
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

    def __init__(self, out: OwnedFolder, bundle: bool):
        self.owned = out
        self.out = out.path.resolve()
        self.bundle = bundle
        self.copied: dict[Path, str] = {}

    def href(self, path: Path, bundle_name: str) -> str:
        source = path.resolve()
        if not self.bundle:
            return quote(Path(os.path.relpath(source, self.out)).as_posix())
        if source not in self.copied:
            if source.is_file():
                atomic_copy(source, self.owned.target(f"{MEDIA_DIR}/{bundle_name}"))
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


def is_report_folder(folder: Path) -> bool:
    """A report written before reports kept a manifest: its ``index.html`` loads the report script."""
    try:
        return "cosmosReport" in (folder / INDEX_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def check_report_folder(out_dir: str | os.PathLike) -> None:
    """Refuse (exit 2), before any work, a report folder that is a file or holds files no report wrote."""
    check_owned(out_dir, "report", recognise=is_report_folder, option="out")


def open_report_folder(out_dir: str | os.PathLike) -> OwnedFolder:
    """The report folder, marked as the report's: empty, new, or an earlier report (else exit 2)."""
    return OwnedFolder.adopt(out_dir, "report", recognise=is_report_folder, option="out")


def write_report(model: ReportModel, out_dir: str | os.PathLike, *, bundle: bool = False, store: str | None = None,
                 plots: bool = True, notes: list[str] | None = None) -> Path:
    """Write the report folder for ``model``; returns the path of its ``index.html``.

    Only files an earlier report wrote are replaced or removed (see ``owned.py``); a line saying
    what was replaced is appended to ``notes``.
    """
    owned = open_report_folder(out_dir)
    out = owned.path
    (out / ROWS_DIR).mkdir(parents=True, exist_ok=True)
    env = _environment()
    board = model.board
    media = Media(owned, bundle)
    for name in ASSETS:
        text = (Path(__file__).parent / "assets" / name).read_text(encoding="utf-8")
        atomic_write_text(owned.target(name), text)
    charts = []
    if plots:
        (out / CHARTS_DIR).mkdir(exist_ok=True)
        for metric in board.metrics:
            if any((m, metric) in board.summaries and board.summaries[(m, metric)].n > 0 for m in board.models):
                plot_metric(board, metric, owned.target(f"{CHARTS_DIR}/{metric}.png"))
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
    for i, row in enumerate(model.rows):
        html = row_template.render(row=row, board=board, view=_row_view(row, board.metrics, media))
        atomic_write_text(owned.target(f"{ROWS_DIR}/{i:05d}.js"), f"cosmosReport.addRow({i}, {script_json(html)});\n")
    index = script_json({"rows": model.index, "models": board.models, "metrics": board.metrics,
                         "baseline": board.baseline, "directions": board.directions})
    forests = [(metric, svg) for metric in board.metrics if (svg := forest_plot(board, metric))]
    html = env.get_template("index.html.j2").render(board=board, model=model, charts=charts, training=training,
                                                    index_json=index, store=store, bundle=bundle, forests=forests,
                                                    max_regression=DEFAULT_MAX_REGRESSION)
    index_path = atomic_write_text(owned.target(INDEX_FILE), html)
    # what the last report wrote and this one did not (rows that are gone, an earlier --bundle's media)
    line = owned.describe(owned.finish())
    if line is not None and notes is not None:
        notes.append(line)
    return index_path


_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(value: object) -> str:
    """JSON that is safe inside an HTML ``<script>`` element, and still the same value to JSON.parse.

    Escaping only ``</`` is not enough: ``<!--`` followed by ``<script`` puts the HTML tokenizer in its
    double-escaped state, which swallows the page's next ``</script>``. So every ``<``, ``>`` and ``&``
    (and U+2028/U+2029, line breaks to older JavaScript) becomes its ``\\uXXXX`` escape, which only
    occurs inside JSON strings, where it means the same character.
    """
    text = json.dumps(value, separators=(",", ":"))
    return "".join(_SCRIPT_ESCAPES.get(ch, ch) for ch in text) if any(ch in text for ch in _SCRIPT_ESCAPES) else text
