"""Sequential vs fixed 50 x 5 design on simulated paired data with known truth.

For effect sizes 0, 5, 10, 20% (judge-like 1–5 scores and Sampson-like errors) and each design
(seeds per pair; population or suite form), 2,000 simulated runs monitored after every pair give
the distribution of candidate videos used, the error rate, the power and the interval width at the
stop; the fixed design's power is a paired t-test on the same simulated 50 x 5 data.

Variance: Sampson components come from a demo store (``--store``, from ``cosmos-bench demo``):
the planner's one-way ANOVA on per-seed log ratios of ``--candidate`` vs base gives the seed noise
and prompt x model interaction, base's own values the between-pair spread; judge components are the
stated assumptions in ``simulation.JUDGE`` (no judge runs offline). Usage::

    python benchmarks/sequential_bench.py --store demo_out/results.sqlite --candidate warp1 --runs 2000
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from cosmos_bench.results.confseq import betting_confidence_path
from cosmos_bench.results.planner import pilot_variance
from cosmos_bench.results.sequential import VERDICT_CODES, clipped_differences, first_decisions, metric_rules, wrong_verdicts
from cosmos_bench.results.simulation import JUDGE, Components, judge_scores, sampson_values
from cosmos_bench.results.store import ResultStore

EFFECTS = (0.0, 0.05, 0.10, 0.20)
FIXED_PAIRS, FIXED_SEEDS = 50, 5
RULES = metric_rules("if=0.25,tse=5%")
# (seeds per pair, population form, alpha): the protocol's seeds, fewer seeds, the suite form,
# and Bonferroni for 4 candidates x 4 metrics
DESIGNS = ((5, "prompts", 0.05), (2, "prompts", 0.05), (5, "suite", 0.05), (2, "suite", 0.05),
           (5, "suite", 0.05 / 16))


def sampson_components(store: Path, candidate: str, tail_df: float) -> Components:
    with ResultStore(store) as db:
        suite = db.suites()[0]
        version = db.current_versions(suite)["tse"]
        rows = db.rows(suite=suite, metric="tse", metric_version=version)
    pilot = pilot_variance(rows, candidate=candidate, baseline="base", rule=RULES["tse"])
    return pilot.components(tail_df=tail_df)


def simulate(kind: str, effect: float, seeds: int, population: str, alpha: float, runs: int, rng_seed: int,
             sampson: Components, rules: dict = RULES) -> dict:
    rng = np.random.default_rng(rng_seed)
    metric, direction = ("if", "higher") if kind == "judge" else ("tse", "lower")
    rule = rules[metric]
    make = (lambda s, p: judge_scores(rng, runs=runs, pairs=p, seeds=s, improvement=effect)) if kind == "judge" else \
        (lambda s, p: sampson_values(rng, runs=runs, pairs=p, seeds=s, components=sampson, improvement=effect))
    base, cand = make(seeds, FIXED_PAIRS)
    diffs, _ = clipped_differences(cand.mean(axis=2), base.mean(axis=2), rule)
    path = betting_confidence_path(diffs, low=-rule.bound, high=rule.bound, alpha=alpha,
                                   pool_size=FIXED_PAIRS if population == "suite" else None,
                                   anchors=(rule.margin, -rule.margin), grid_points=401)
    stop, code = first_decisions(path.low, path.high, rule.margin, direction)
    rows = np.arange(runs)
    width = path.high[rows, stop - 1] - path.low[rows, stop - 1]
    better, worse = code == VERDICT_CODES.index("better"), code == VERDICT_CODES.index("worse")
    # each form's own truth: the population's mean clipped difference (0 under no effect, else
    # estimated from all runs' pairs) or each simulated suite's own mean
    truth = diffs.mean(axis=1) if population == "suite" else (0.0 if effect == 0 else float(diffs.mean()))
    wrong = wrong_verdicts(code, truth, rule.margin, direction)
    fb, fc = make(FIXED_SEEDS, FIXED_PAIRS) if seeds != FIXED_SEEDS else (base, cand)
    fixed_d, _ = clipped_differences(fc.mean(axis=2), fb.mean(axis=2), rule)
    t = fixed_d.mean(axis=1) / (fixed_d.std(axis=1, ddof=1) / math.sqrt(FIXED_PAIRS))
    fixed_sig = np.abs(t) > stats.t.ppf(1 - 0.05 / 2, FIXED_PAIRS - 1)
    fixed_better = fixed_sig & ((t > 0) if direction == "higher" else (t < 0))
    videos = stop * seeds
    decided = code > 0
    return {
        "kind": kind, "effect": effect, "seeds": seeds, "population": population, "alpha": alpha, "runs": runs,
        "power_better": float(better.mean()), "error_rate": float(wrong.mean()),
        "claims_better_or_worse": float((better | worse).mean()),
        "decided": float(decided.mean()), "equivalent": float((code == VERDICT_CODES.index("equivalent")).mean()),
        "videos_median": float(np.median(videos)), "videos_p10": float(np.quantile(videos, 0.1)),
        "videos_p90": float(np.quantile(videos, 0.9)), "videos_mean": float(videos.mean()),
        "fraction_of_fixed": float(np.median(videos)) / (FIXED_PAIRS * FIXED_SEEDS),
        "width_median": float(np.median(width)),
        "fixed_power_better": float(fixed_better.mean()),
        "fixed_error_rate": float((fixed_sig if effect == 0 else (fixed_sig & ~fixed_better)).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, help="demo results store to derive Sampson variance from")
    ap.add_argument("--candidate", default="warp1", help="demo candidate whose tse differences give the seed noise")
    ap.add_argument("--tail-df", type=float, default=3.0, help="Student-t degrees of freedom of the Sampson noise")
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", default="judge,sampson", help="which data to simulate")
    ap.add_argument("--effects", default=",".join(f"{e:g}" for e in EFFECTS), help="true improvements (fractions)")
    ap.add_argument("--bound", help="clipping bounds instead of the defaults, e.g. if=4 or tse=100%%")
    ap.add_argument("--json", type=Path, help="write all cells here")
    args = ap.parse_args(argv)
    sampson = sampson_components(args.store, args.candidate, args.tail_df) if args.store else \
        Components(between=0.6, interaction=0.08, seed_shared=0.15, seed_own=0.12, tail_df=args.tail_df)
    print(f"sampson components (log scale): {sampson}")
    print(f"judge components (points): {JUDGE}")
    cells = []
    header = ("kind", "effect", "seeds", "form", "alpha", "power", "error", "decided", "median videos (of 250)",
              "p10-p90", "median width", "fixed 50x5 power")
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    rules = metric_rules("if=0.25,tse=5%", args.bound)
    for kind in args.kinds.split(","):
        for effect in (float(e) for e in args.effects.split(",")):
            for i, (seeds, population, alpha) in enumerate(DESIGNS):
                c = simulate(kind, effect, seeds, population, alpha, args.runs, args.seed + 7 * i, sampson, rules)
                cells.append(c)
                print(f"| {kind} | {effect:.0%} | {seeds} | {population} | {alpha:.4g} | {c['power_better']:.1%} | "
                      f"{c['error_rate']:.1%} | {c['decided']:.1%} | {c['videos_median']:g} ({c['fraction_of_fixed']:.0%}) | "
                      f"{c['videos_p10']:g}-{c['videos_p90']:g} | {c['width_median']:.3g} | {c['fixed_power_better']:.1%} |",
                      flush=True)
    if args.json:
        args.json.write_text(json.dumps({"sampson": sampson.__dict__, "judge": JUDGE.__dict__, "cells": cells}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
