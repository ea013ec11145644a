"""``cosmos-bench check``: the CI regression gate (fixed design, or the sequential rule replayed)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from .errors import fail
from .options import DEFAULT_STORE, only_suite_of, sequential_options
from .output import console, err_console, print_decisions


def check_cmd(
    candidate: str = typer.Option(..., "--candidate", help="Model whose new results are checked."),
    baseline_file: Optional[Path] = typer.Option(None, "--baseline", help="Committed per-sample export (leaderboards/<suite>.samples.csv) of an earlier run."),
    baseline_model: Optional[str] = typer.Option(None, "--baseline-model", help="Compare against this model instead (from --baseline file if given, else from the store)."),
    current_file: Optional[Path] = typer.Option(None, "--current", help="Per-sample export holding the candidate's new results (default: read the store)."),
    store: Path = typer.Option(DEFAULT_STORE, "--store", help="Results store holding the candidate's new results."),
    suite: Optional[str] = typer.Option(None, "--suite", help="Suite to check (default: the baseline file's suite, or the only suite in the store)."),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="Comma-separated metrics to gate on (default: all shared)."),
    max_regression: float = typer.Option(0.05, "--max-regression", min=0.0, help="Allowed worsening, relative to the baseline mean (0.05 = 5%)."),
    method: str = typer.Option("auto", "--method", help="auto (= t), t (one-sided t-test on per-pair means), bootstrap (studentized, Monte Carlo error stated), or wilcoxon (signed-rank on per-pair means)."),
    alpha: float = typer.Option(0.05, "--alpha", help="Two-sided level in (0, 0.5]: a metric fails when the lower bound of its 1-alpha interval lies above the margin (one-sided alpha/2, Holm over the gated metrics)."),
    max_mde_ratio: float = typer.Option(10.0, "--max-mde-ratio", min=1.0, help="A metric whose test cannot catch this many margins of worsening with 80% power is 'cannot decide' (exit 3) instead of a pass: 10 = 50% at the default 5% margin, which most 10x2 smoke suites reach and 2- or 5-pair suites do not."),
    failure_alpha: float = typer.Option(0.01, "--failure-alpha", help="Level in (0, 0.5] of the exact McNemar test on failed/degenerate videos (Holm over the gated metrics)."),
    sequential: bool = typer.Option(False, "--sequential", help="Replay the sequential rule over the rows: exit 1 on 'worse', 3 when a gated metric has no verdict, 0 when all are decided and none is worse (a sequential run's recorded design wins over the flags below)."),
    margin: str = typer.Option("if=0.25,physics=0.25,tse=5%,cse=5%", "--margin", help="With --sequential: gated metrics and margins."),
    bound: Optional[str] = typer.Option(None, "--bound", help="With --sequential: per-metric clipping bounds."),
    order_seed: int = typer.Option(0, "--order-seed", help="With --sequential: seed of the pair order."),
    population: str = typer.Option("prompts", "--population", help="With --sequential: prompts or suite."),
) -> None:
    """CI regression gate. Exit codes: 0 pass, 1 regression, 2 bad input, 3 cannot decide (too few test pairs, or a test too weak for --max-mde-ratio)."""
    from ..results.gate import EXIT_BAD_INPUT, check_regression
    from ..results.leaderboard import read_samples_csv
    from ..results.selection import gate_rows
    from ..results.store import ResultStore
    from ..results.store_check import check_store

    for flag, level in (("--alpha", alpha), ("--failure-alpha", failure_alpha)):
        if not 0 < level <= 0.5:
            fail(f"{flag} must be in (0, 0.5], got {level}", EXIT_BAD_INPUT)
    if baseline_file is None and baseline_model is None and not sequential:
        fail("give --baseline FILE (an earlier export) and/or --baseline-model NAME", 2)
    file_rows = read_samples_csv(baseline_file) if baseline_file else None
    if current_file is not None:
        current_rows = read_samples_csv(current_file)
    elif store.exists():
        check_store(store, write=False)
        with ResultStore(store) as db:
            current_rows = db.rows()
    else:
        fail(f"{store}: results store not found; pass --current FILE or --store", 2)
    if suite is None:
        suite = only_suite_of(file_rows or current_rows, "")
    if sequential:
        if baseline_file is not None:
            fail("--baseline FILE does not apply with --sequential: it replays one run's rows (--store or --current)", 2)
        seq = sequential_options(margin, bound, alpha, None, None, None, order_seed, population)
        return _check_sequential(current_rows, suite, candidate, baseline_model or "base", store if current_file is None else None, seq)
    chosen = gate_rows(current_rows, suite=suite, candidate=candidate, baseline=baseline_model, baseline_rows=file_rows,
                       current_from=str(current_file if current_file is not None else store),
                       baseline_from=None if baseline_file is None else str(baseline_file))
    base_name, base_rows, cand_rows = chosen.baseline, chosen.baseline_rows, chosen.candidate_rows
    report = check_regression(
        base_rows, cand_rows, candidate=candidate, baseline=base_name,
        metrics=metrics.split(",") if metrics else None, max_regression=max_regression,
        method=method, alpha=alpha, failure_alpha=failure_alpha, max_mde_ratio=max_mde_ratio,
    )
    _print_gate(report, title=escape(f"regression gate: {candidate} vs {base_name} ({suite}, {method})"))


def _print_gate(report, *, title: str) -> None:
    """The gate's table and one closing line; exits with the report's code (see `check --help`)."""
    table = Table(title=title)
    for col in ("metric", "test pairs", "baseline mean", "worsening", "margin", "MDE (80%)", "verdict", "why"):
        table.add_column(col, overflow="fold")
    labels = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "undecided": "[yellow]cannot decide[/]"}

    def num(x: float, fmt: str) -> str:
        return format(x, fmt) if x is not None and x == x and abs(x) != float("inf") else "—"

    for v in report.verdicts:
        table.add_row(v.metric, str(v.n_test_pairs), num(v.baseline_mean, ".4g"), num(v.worsening, "+.4g"),
                      num(v.margin, ".4g"), num(v.mde, "+.4g"), labels[v.status], escape(v.why))
    console.print(table)
    for note in report.notes():
        console.print(f"note: {escape(note)}")
    def names(status: str) -> str:
        return ", ".join(v.metric for v in report.verdicts if v.status == status)

    if report.outcome == "regression":
        err_console.print(f"[bold red]regression:[/] {escape(report.candidate)} got worse than {escape(report.baseline)} on {names('fail')}")
    elif report.outcome == "undecided":
        err_console.print(f"[bold yellow]cannot decide:[/] too little paired data (or too weak a test) on {names('undecided')}; this is not a pass")
    else:
        console.print(f"[green]pass:[/] {escape(report.candidate)} shows no regression against {escape(report.baseline)}.")
    raise typer.Exit(report.exit_code)



def _check_sequential(rows, suite: str, candidate: str, baseline: str, store: Optional[Path], options) -> None:
    """``check --sequential``: the run's own rule over its rows. Exit 1 on worse, 3 whenever a gated
    metric has no verdict (never a silent pass), 0 only when every gated metric is decided and none is worse."""
    from ..results.sequential import RULE_NAME, gate_exit_code
    from ..sequential_run import SequentialOptions, read_provenance, replay_check

    rows = [r for r in rows if r.suite == suite]
    recorded = read_provenance(store, suite) if store is not None else None
    candidates, pairs, seeds = [candidate], None, None
    if recorded is not None and candidate in recorded["candidates"] and recorded["baseline"] == baseline:
        options = SequentialOptions.from_provenance(recorded)
        candidates, pairs, seeds = recorded["candidates"], recorded["order"], recorded["seeds"]
        console.print(f"design recorded by the sequential run on {suite!r} (order seed {options.order_seed}, "
                      f"alpha {options.alpha}, margins {options.margin})")
        if recorded.get("rule") != RULE_NAME:
            err_console.print(f"note: that run used an earlier rule ({escape(str(recorded.get('rule', 'clipped betting sequence')))}); "
                              f"its rows are replayed under the current one ({RULE_NAME}), whose verdicts may differ")
    monitor = replay_check(rows, candidates=candidates, baseline=baseline, options=options, pairs=pairs, seeds=seeds)
    decisions = [d for d in monitor.decisions() if d.candidate == candidate]
    print_decisions(decisions)
    for model in (baseline, candidate):
        lacking = monitor.missing.get(model, [])
        if lacking:
            named = ", ".join(lacking[:5]) + (", ..." if len(lacking) > 5 else "")
            err_console.print(f"missing: {escape(model)} has no result for {len(lacking)} of the {len(monitor.order)} "
                              f"test pairs ({escape(named)})")
    code = gate_exit_code(decisions)
    worse = [d.metric for d in decisions if d.verdict == "worse"]
    open_ = [d.metric for d in decisions if not d.decided]
    if worse:
        err_console.print(f"[bold red]regression:[/] {candidate} is worse than {baseline} beyond the margin on {', '.join(worse)}")
    elif open_:
        why = (f"the replay stopped at pair {monitor.blocked_at!r}, which lacks results (see 'missing' above)"
               if monitor.blocked_at is not None else f"{monitor.pairs_done} pair(s) gave no verdict")
        err_console.print(f"[bold yellow]cannot decide:[/] no verdict for {candidate} on {', '.join(open_)}: {escape(why)}; "
                          "this is not a pass")
    else:
        console.print(f"[green]pass:[/] {candidate} is decided and not worse than {baseline} on any gated metric.")
    raise typer.Exit(code)
