"""What the commands print: progress of the runner's stages, leaderboards, run summaries, sequential decisions.

One console for results (stdout) and one for problems (stderr), so a CI log can tell them apart.
"""

from __future__ import annotations

import contextlib

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import EXIT_FAILED_WORK, EXIT_INCOMPLETE
from .errors import fail

console = Console()
err_console = Console(stderr=True)


def is_sample_progress(event) -> bool:
    """The judge's per-sample progress notes (``physics: 3/10 samples``): the stage's advance events
    already count the same items, so showing both would report each item twice."""
    return event.kind == "note" and event.stage == "judge" and event.message.endswith(" samples")


class RichReporter:
    """Shows the runner's stages as rich progress bars with counts and ETA."""

    def __init__(self, progress) -> None:
        self.progress = progress
        self.tasks: dict[str, int] = {}
        self.status: dict[str, dict[str, int]] = {}

    def __call__(self, event) -> None:
        if event.kind == "note":
            if not is_sample_progress(event):
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


class PlainReporter:
    """Progress as plain lines, for output that is not a terminal (a CI log, a pipe), where rich's live
    bars print nothing until the end: a line per stage start, about every tenth item, and the last."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.totals: dict[str, int] = {}
        self.done: dict[str, dict[str, int]] = {}

    def __call__(self, event) -> None:
        if is_sample_progress(event):
            return
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
def stage_reporter():
    """Rich bars on a terminal, plain progress lines anywhere else."""
    if console.is_terminal:
        with progress_bars() as progress:
            yield RichReporter(progress)
    else:
        yield PlainReporter(console)


def progress_bars():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=console)



def print_board(board) -> None:
    """The leaderboard as rendered markdown (tables stay tables in a terminal)."""
    from rich.markdown import Markdown

    console.print(Markdown(board.to_markdown()))


def print_summary(summary) -> None:
    print_board(summary.leaderboard)
    gen = summary.generation
    if gen:
        console.print(f"generation: {gen.get('generated', 0)} generated, {gen.get('skipped', 0)} reused, {gen.get('failed', 0)} failed")
    console.print(f"scores: {summary.rows_written} rows written, {summary.rows_skipped} already in the store; judge: {escape(summary.judge_status)}")
    print_shared_work(summary)
    for err in summary.errors[:10]:
        err_console.print(f"[yellow]problem:[/] {escape(err)}")
    if len(summary.errors) > 10:
        err_console.print(f"[yellow]... and {len(summary.errors) - 10} more problem(s)[/]")
    for name, path in summary.files.items():
        console.print(f"[green]wrote[/] {name}: {escape(str(path))}")


def exit_if_work_failed(summary) -> None:
    """Exit 1 when this run's requested work produced error rows; everything finished stays in the store."""
    if summary.errors:
        fail(f"{len(summary.errors)} problem(s) in this run (listed above); finished results are kept in the store "
              "and a rerun retries only what failed", EXIT_FAILED_WORK)
    waiting = getattr(summary, "still_awaited", 0)
    if waiting:
        fail(f"{waiting} requested row(s) are not in the store yet: another run on it holds that work; when it ends "
             "(or its claims lapse) the same command finishes it", EXIT_INCOMPLETE)


def print_shared_work(summary) -> None:
    """What another run on the same store is doing instead of this one, and work computed in vain."""
    left = {stage: n for stage, n in summary.left_to_others.items() if n}
    if left:
        what = ", ".join(f"{n} {'video(s) to generate' if stage == 'generate' else f'video(s) to score ({stage})'}"
                         for stage, n in left.items())
        console.print(f"left to another run on this store: {what}; their rows land in the store when it finishes "
                      "(`cosmos-bench leaderboard` then shows them)")
    if summary.rows_discarded:
        console.print(f"{summary.rows_discarded} computed row(s) discarded: the store already had them (from another or an earlier run)")



def print_decisions(decisions) -> None:
    table = Table(title="sequential decisions (candidate - base)")
    for col in ("candidate", "metric", "verdict", "pairs", "videos", "estimate [interval]", "alpha"):
        table.add_column(col, overflow="fold")
    for d in decisions:
        style = {"worse": "red", "better": "green", "equivalent": "cyan"}.get(d.verdict, "yellow")
        word = d.verdict if d.decided else ("INCONCLUSIVE at budget" if d.verdict == "inconclusive at budget" else "INCONCLUSIVE (no more data)")
        table.add_row(d.candidate, d.metric, f"[{style}]{word}[/]", str(d.n_pairs), str(d.videos), d.interval_text(), f"{d.alpha:.3g}")
    console.print(table)
    for d in decisions:
        if d.suite_text():  # --population suite: a description of these videos, never a verdict
            console.print(f"{d.candidate} {d.metric}: {d.suite_text()} (a description, not a verdict)")
