"""``cosmos-bench check``: the CI regression gate (fixed design, or the sequential rule replayed)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from .errors import fail
from .formats import (FORMAT_HELP, append_step_summary, check_format, closing_line, echo_lines, gate_annotations,
                      gate_lines, gate_markdown, resolve_format)
from .options import DEFAULT_STORE, check_output_file, only_suite_of, sequential_options
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
    json_file: Optional[Path] = typer.Option(None, "--json", callback=check_output_file, help="Also write the verdicts as JSON (schema: docs/check.schema.json)."),
    junit_file: Optional[Path] = typer.Option(None, "--junit", callback=check_output_file, help="Also write the verdicts as JUnit XML (one test case per metric)."),
    output_format: str = typer.Option("auto", "--format", callback=check_format, help=FORMAT_HELP),
    github_actions: bool = typer.Option(False, "--github-actions", envvar="GITHUB_ACTIONS", hidden=True),
    step_summary: Optional[Path] = typer.Option(None, "--step-summary", envvar="GITHUB_STEP_SUMMARY", help="With --format github: markdown file the table is appended to (default: $GITHUB_STEP_SUMMARY)."),
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
    sinks = Sinks(resolve_format(output_format, github_actions=github_actions, terminal=console.is_terminal),
                  json_file, junit_file, step_summary)
    inputs = {"baseline_file": None if baseline_file is None else str(baseline_file), "baseline_model": baseline_model,
              "current": str(current_file if current_file is not None else store), "suite": suite, "metrics": metrics}
    if sequential:
        if baseline_file is not None:
            fail("--baseline FILE does not apply with --sequential: it replays one run's rows (--store or --current)", 2)
        seq = sequential_options(margin, bound, alpha, None, None, None, order_seed, population)
        return _check_sequential(current_rows, suite, candidate, baseline_model or "base", store if current_file is None else None,
                                 seq, sinks, inputs)
    chosen = gate_rows(current_rows, suite=suite, candidate=candidate, baseline=baseline_model, baseline_rows=file_rows,
                       current_from=str(current_file if current_file is not None else store),
                       baseline_from=None if baseline_file is None else str(baseline_file))
    base_name, base_rows, cand_rows = chosen.baseline, chosen.baseline_rows, chosen.candidate_rows
    report = check_regression(
        base_rows, cand_rows, candidate=candidate, baseline=base_name,
        metrics=metrics.split(",") if metrics else None, max_regression=max_regression,
        method=method, alpha=alpha, failure_alpha=failure_alpha, max_mde_ratio=max_mde_ratio,
    )
    from ..results.export import gate_document, run_provenance

    doc = gate_document(report, suite=suite, provenance=run_provenance(inputs=inputs | {"max_regression": max_regression}))
    if sinks.format == "table":
        _print_gate(report, title=escape(f"regression gate: {candidate} vs {base_name} ({suite}, {method})"))
    sinks.emit(doc)
    raise typer.Exit(report.exit_code)


class Sinks:
    """Where the verdicts go: the chosen format on stdout, and the JSON, JUnit and step-summary files."""

    def __init__(self, output_format: str, json_file: Path | None, junit_file: Path | None, step_summary: Path | None) -> None:
        self.format, self.json_file, self.junit_file, self.step_summary = output_format, json_file, junit_file, step_summary

    def emit(self, doc: dict) -> None:
        """Write the files first (a CI step reads them even when the gate fails), then the output and the closing line."""
        import json

        from ..atomic import atomic_write_text
        from ..results.junit import junit_xml

        if self.json_file is not None:
            atomic_write_text(self.json_file, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        if self.junit_file is not None:
            atomic_write_text(self.junit_file, junit_xml(doc))
        if self.format == "github":
            append_step_summary(self.step_summary, gate_markdown(doc))
        if self.format == "markdown":
            typer.echo(gate_markdown(doc), nl=False)
        elif self.format in ("plain", "github"):
            echo_lines(gate_lines(doc))
        if self.format == "github":
            echo_lines(gate_annotations(doc))
        tone, text = closing_line(doc)
        if self.format == "table":
            style = {"error": "bold red", "warning": "bold yellow", "ok": "green"}[tone]
            head, _, rest = text.partition(":")
            (console if tone == "ok" else err_console).print(f"[{style}]{escape(head)}:[/]{escape(rest)}")
        else:
            typer.echo(text, err=tone == "error" or self.format == "markdown")  # markdown on stdout stays pure


def _print_gate(report, *, title: str) -> None:
    """The gate's rich table for a terminal (the closing line comes from :meth:`Sinks.emit`)."""
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


def _check_sequential(rows, suite: str, candidate: str, baseline: str, store: Optional[Path], options, sinks: Sinks,
                      inputs: dict) -> None:
    """``check --sequential``: the run's own rule over its rows. Exit 1 on worse, 3 whenever a gated
    metric has no verdict (never a silent pass), 0 only when every gated metric is decided and none is worse."""
    from ..results.sequential import RULE_NAME
    from ..sequential_run import SequentialOptions, read_provenance, replay_check

    rows = [r for r in rows if r.suite == suite]
    recorded = read_provenance(store, suite) if store is not None else None
    candidates, pairs, seeds = [candidate], None, None
    if recorded is not None and candidate in recorded["candidates"] and recorded["baseline"] == baseline:
        options = SequentialOptions.from_provenance(recorded)
        candidates, pairs, seeds = recorded["candidates"], recorded["order"], recorded["seeds"]
        typer.echo(f"design recorded by the sequential run on {suite!r} (order seed {options.order_seed}, "
                   f"alpha {options.alpha}, margins {options.margin})")
    notes = []
    if recorded is not None and pairs is not None and recorded.get("rule") != RULE_NAME:
        notes.append(f"that run used an earlier rule ({recorded.get('rule', 'clipped betting sequence')}); its rows are "
                     f"replayed under the current one ({RULE_NAME}), whose verdicts may differ")
    monitor = replay_check(rows, candidates=candidates, baseline=baseline, options=options, pairs=pairs, seeds=seeds)
    decisions = [d for d in monitor.decisions() if d.candidate == candidate]
    missing = {model: monitor.missing.get(model, []) for model in (baseline, candidate)}
    for model, lacking in missing.items():
        if lacking:
            named = ", ".join(lacking[:5]) + (", ..." if len(lacking) > 5 else "")
            notes.append(f"missing: {model} has no result for {len(lacking)} of the {len(monitor.order)} test pairs ({named})")
    if monitor.blocked_at is not None:
        notes.append(f"the replay stopped at pair {monitor.blocked_at!r}, which lacks results: no verdict past it")
    from ..results.export import run_provenance, sequential_document

    settings = {"margin": options.margin, "bound": options.bound, "alpha": options.alpha, "order_seed": options.order_seed,
                "population": options.population, "design_recorded": recorded is not None and pairs is not None}
    doc = sequential_document(decisions, suite=suite, candidate=candidate, baseline=baseline, settings=settings,
                              provenance=run_provenance(inputs=inputs), notes=notes, missing=missing)
    if sinks.format == "table":
        print_decisions(decisions)
        for note in notes:
            err_console.print(f"note: {escape(note)}")
    sinks.emit(doc)
    raise typer.Exit(doc["exit_code"])
