"""Static HTML report of one suite, rebuilt from the results store: leaderboard, charts, side-by-side videos.

Layer: between ``results`` and ``runner`` (it reads the store, the leaderboard and the generator's
sidecars; ``run`` and the CLI call it). ``report_model`` is the pure part (rows → page model);
``write_report`` renders it; :func:`build_report` does both from a store.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..results.leaderboard import Leaderboard, leaderboard_from_store
from ..results.store import ResultStore
from .model import ComparisonRow, ReportModel, comparison_rows, report_model, row_index
from .sources import collect_outputs, training_logs
from .write import INDEX_FILE, check_report_folder, write_report


def default_report_dir(leaderboards: str | os.PathLike, suite: str) -> Path:
    """``leaderboards/<suite>.report/``: beside the suite's markdown and CSV tables."""
    return Path(leaderboards) / f"{suite}.report"


def report_for_board(board: Leaderboard, out_dir: str | os.PathLike, *, bundle: bool = False, store: str | None = None,
                     root: str | os.PathLike | None = None, plots: bool = True, notes: list[str] | None = None) -> Path:
    """Write the report of an already built leaderboard (``run`` has one); returns ``index.html``.
    A line saying what it replaced of an earlier report is appended to ``notes``."""
    from ..results.sequential_report import read_decisions_csv

    outputs = collect_outputs(board.rows, root=root)
    model = report_model(board, outputs, training_logs(outputs, board.models))
    model.sequential = read_decisions_csv(Path(out_dir).parent, board.suite)  # written beside the leaderboards
    return write_report(model, out_dir, bundle=bundle, store=store, plots=plots, notes=notes)


def build_report(store: str | os.PathLike, suite: str, out_dir: str | os.PathLike, *, baseline: str = "base",
                 bundle: bool = False, root: str | os.PathLike | None = None, notes: list[str] | None = None,
                 **leaderboard_options) -> Path:
    """Regenerate ``suite``'s report from the results store alone; returns the path of ``index.html``."""
    check_report_folder(out_dir)  # a file, or somebody else's folder: refused before the leaderboard is computed
    with ResultStore(store) as db:
        board = leaderboard_from_store(db, suite, baseline=baseline, **leaderboard_options)
    return report_for_board(board, out_dir, bundle=bundle, store=str(store), root=root, notes=notes)


__all__ = [
    "ComparisonRow", "INDEX_FILE", "ReportModel", "build_report", "check_report_folder", "comparison_rows", "default_report_dir",
    "report_for_board", "report_model", "row_index", "write_report",
]
