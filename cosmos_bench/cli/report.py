"""``cosmos-bench leaderboard`` and ``report``: tables, charts and the HTML report from a results store."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from .errors import fail
from .formats import FORMAT_HELP, append_step_summary, board_annotations, board_lines, check_format, echo_lines, resolve_format
from .options import DEFAULT_BOARDS, DEFAULT_STORE, PairedBaseline, StoreSuite, WrittenStore
from .output import console, err_console, print_board


def _store_suites(store: Path, suite: Optional[str]) -> list[str]:
    """The suites a results command works on: ``suite`` if the store has it, else every suite there."""
    from ..results.store import ResultStore

    if not store.exists():
        fail(f"{store}: results store not found (run `cosmos-bench run` first, or pass --store)", 2)
    with ResultStore(store) as db:
        found = db.suites()
    if suite and suite not in found:
        fail(f"suite {suite!r} has no results in {store}; suites there: {found}", 2)
    return [suite] if suite else found


def leaderboard_cmd(
    suite: StoreSuite = None,
    store: WrittenStore = DEFAULT_STORE,
    out: Path = typer.Option(DEFAULT_BOARDS, "--out", help="Folder for <suite>.md, .csv, .samples.csv and charts."),
    baseline: PairedBaseline = "base",
    n_boot: int = typer.Option(2000, "--bootstrap", min=100, help="Bootstrap resamples for the CIs."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed (regenerating gives identical tables)."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write one PNG chart per metric."),
    report: bool = typer.Option(True, "--report/--no-report", help="Also rewrite the HTML report (<out>/<suite>.report/), as run does."),
    output_format: str = typer.Option("auto", "--format", callback=check_format, help=FORMAT_HELP),
    github_actions: bool = typer.Option(False, "--github-actions", envvar="GITHUB_ACTIONS", hidden=True),
    step_summary: Optional[Path] = typer.Option(None, "--step-summary", envvar="GITHUB_STEP_SUMMARY", help="With --format github: markdown file the leaderboard is appended to (default: $GITHUB_STEP_SUMMARY)."),
) -> None:
    """Regenerate leaderboards from the results store: mean, 95% CI, n, failures, paired tests vs base;
    and the HTML report beside them, so it never shows older numbers than the tables."""
    from ..results.leaderboard import check_leaderboards_folder, leaderboard_from_store, write_leaderboard
    from ..results.store import ResultStore
    from ..results.store_check import check_store

    check_store(store, write=False)  # a directory or another file: one line, exit 2
    check_leaderboards_folder(out)  # somebody else's folder: exit 2 before anything is computed
    suites = _store_suites(store, suite)
    with ResultStore(store) as db:
        for name in suites:
            board = leaderboard_from_store(db, name, baseline=baseline, n_boot=n_boot, seed=seed)
            notes: list[str] = []  # what it replaced of an earlier leaderboard (and report)
            paths = write_leaderboard(board, out, plots=plots, notes=notes)
            if report:
                from ..report import default_report_dir, report_for_board

                paths["report"] = report_for_board(board, default_report_dir(out, name), store=str(store), plots=plots,
                                                   notes=notes)
            fmt = resolve_format(output_format, github_actions=github_actions, terminal=console.is_terminal)
            if fmt in ("table", "plain"):  # markdown and github output is the document alone
                for line in notes:
                    err_console.print(escape(line))
            _show_board(board, paths, fmt, step_summary)


def _show_board(board, paths: dict[str, Path], output_format: str, step_summary: Optional[Path]) -> None:
    """The board in the chosen format; plain and github read the results file just written (the same numbers)."""
    import json

    if output_format == "table":
        print_board(board)
        console.print(f"[green]wrote[/] {escape(', '.join(str(p) for p in paths.values()))}")
        return
    markdown = paths["markdown"].read_text(encoding="utf-8")
    if output_format == "markdown":
        typer.echo(markdown, nl=False)
        return
    doc = json.loads(paths["results"].read_text(encoding="utf-8"))
    echo_lines(board_lines(doc))
    if output_format == "github":
        echo_lines(board_annotations(doc))
        append_step_summary(step_summary, markdown)
    typer.echo(f"wrote {', '.join(str(p) for p in paths.values())}")


def report_cmd(
    suite: StoreSuite = None,
    store: WrittenStore = DEFAULT_STORE,
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default: leaderboards/<suite>.report/)."),
    baseline: PairedBaseline = "base",
    bundle: bool = typer.Option(False, "--bundle", help="Copy the videos and images into the report folder (for publishing it alone)."),
) -> None:
    """Write a static HTML report from the results store: leaderboard, charts, every candidate's videos side by side."""
    from ..report import build_report, check_report_folder, default_report_dir

    if out is not None:
        check_report_folder(out)  # before the store is read: a file or somebody else's folder is exit 2
    suites = _store_suites(store, suite)
    if out is not None and len(suites) > 1:
        fail(f"--out names one folder but {store} holds {len(suites)} suites; pass --suite", 2)
    for name in suites:
        notes: list[str] = []
        index = build_report(store, name, out or default_report_dir(DEFAULT_BOARDS, name), baseline=baseline, bundle=bundle,
                             notes=notes)
        for line in notes:
            console.print(escape(line))
        console.print(f"[green]wrote[/] report {escape(str(index))}")
