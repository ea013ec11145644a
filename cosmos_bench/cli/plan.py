"""``cosmos-bench plan``: pairs and seeds for a wanted power, from pilot data."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .errors import fail
from .options import only_suite_of
from .output import console


def _pilot_rows(pilot: Path, suite: Optional[str]):
    """Rows of one suite (current metric versions) from a results store or a samples.csv export."""
    from ..results.leaderboard import read_samples_csv
    from ..results.store import ResultStore

    if not pilot.exists():
        fail(f"--pilot {pilot}: no such file", 2)
    try:
        if pilot.suffix == ".csv":  # an export holds the current metric versions only
            rows, versions = read_samples_csv(pilot), None
        else:
            with ResultStore(pilot) as db:
                rows = db.rows()
                versions = {s: db.current_versions(s) for s in db.suites()}
    except (ValueError, OSError) as exc:
        fail(f"--pilot {pilot}: {exc}", 2)
    if suite is None:
        suite = only_suite_of(rows, f"--pilot {pilot}: ")
    return [r for r in rows if r.suite == suite
            and (versions is None or versions[suite].get(r.metric) == r.metric_version)]


def plan_cmd(
    pilot: Path = typer.Option(..., "--pilot", help="Pilot results: a results store (.sqlite) or a samples.csv export with base and a candidate."),
    effect: str = typer.Option("10%", "--effect", help="Improvement to detect: a percentage of base (10%) or an amount in the metric's unit."),
    margin: str = typer.Option("if=0.25,physics=0.25,tse=5%,cse=5%", "--margin", help="Per-metric margins, as for a sequential run (metric=amount or metric=percent)."),
    bound: Optional[str] = typer.Option(None, "--bound", help="Per-metric clipping bounds (default: 1 point for judge scores, ratio 1.5 for percent margins)."),
    baseline: str = typer.Option("base", "--baseline", help="Baseline model in the pilot."),
    candidates: Optional[str] = typer.Option(None, "--candidates", help="Comma-separated candidates (default: every other model in the pilot)."),
    suite: Optional[str] = typer.Option(None, "--suite", help="Suite (default: the pilot's only suite)."),
    alpha: float = typer.Option(0.05, "--alpha", min=1e-6, max=0.5, help="The run's overall error rate, split over its candidates x gated metrics as the run splits it."),
    run_candidates: Optional[int] = typer.Option(None, "--run-candidates", min=1, help="Candidates the run will compare (default: the pilot's)."),
    power: float = typer.Option(0.9, "--power", min=0.5, max=0.999, help="Wanted power."),
    pool: int = typer.Option(50, "--pool", min=2, help="Test pairs the suite has (the most a sequential run can use)."),
    seeds: str = typer.Option("1,2,3,5", "--seeds", help="Seeds-per-pair options to compare."),
) -> None:
    """Plan pairs and seeds from pilot data: fixed vs sequential design, for a given effect and power."""
    from ..results.planner import plan_from_rows
    from ..results.sequential import metric_rules

    try:
        seed_options = tuple(int(s) for s in seeds.split(",") if s.strip())
        if not seed_options or min(seed_options) < 1:
            raise ValueError
    except ValueError:
        fail(f"--seeds {seeds!r}: give positive integers, e.g. 1,2,5", 2)
    rows = _pilot_rows(pilot, suite)
    rules = metric_rules(margin, bound)
    results = plan_from_rows(rows, rules, effect=effect, baseline=baseline,
                             candidates=candidates.split(",") if candidates else None, alpha=alpha,
                             power=power, pool=pool, seed_options=seed_options, run_candidates=run_candidates)
    for pilot_var, size, plans in results:
        rule = rules[pilot_var.metric]
        console.print(
            f"[bold]{pilot_var.candidate} vs {baseline}, {pilot_var.metric}[/] ({rule.describe()}): pilot {pilot_var.n_pairs} pairs x "
            f"{pilot_var.seeds} seeds; per-pair difference variance = {pilot_var.interaction:.3g} (prompt x model) + "
            f"{pilot_var.within:.3g} / seeds (seed noise); base-candidate correlation {pilot_var.correlation:.2f}; "
            f"effect {size:.3g} in the rule's unit")
        table = Table()
        for col in ("seeds", "fixed pairs", "fixed videos", f"fixed power@{pool}",
                    "seq. median videos", "seq. p90 videos", f"seq. power@{pool}"):
            table.add_column(col)
        for p in plans:
            table.add_row(str(p.seeds), str(p.fixed_pairs), str(p.fixed_videos), f"{p.fixed_power_at_pool:.0%}",
                          f"{p.sequential_median_videos:g}", f"{p.sequential_p90_videos:g}", f"{p.sequential_power:.0%}")
        console.print(table)
    k = run_candidates or len({p.candidate for p, _, _ in results})
    each = alpha / (k * len(rules))
    console.print(f"Videos are per candidate (base needs as many, shared by all candidates). alpha {alpha} split over "
                  f"{k} candidate(s) x {len(rules)} gated metric(s) = {each:.4g} per comparison, for both designs. "
                  f"Fixed: paired t-test, two-sided, power {power:.0%}; sequential: the run's own rule (repeated "
                  "confidence intervals over the suite's pairs), simulated.")
