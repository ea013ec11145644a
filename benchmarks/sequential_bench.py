"""The sequential rule on issue 29's data model: error under no difference, power and videos at a 10%
improvement, and `equivalent` for a candidate 8% worse, at 1, 2 and 5 seeds.

    python benchmarks/sequential_bench.py --runs 1000 --json sequential.jsonl     # the RESULTS.md table (~1 min)

Data model (per model m, test pair i, seed s): latent = mu + u_i + w_is + a_mi + e_mis (+ the model's
shift); u is shared by all models, w by models on the same seed, a is prompt x model, e own noise.

* Sampson-like (lower is better): value = exp(latent), mu = log 0.3, sd(u) = sd(e) = 0.30, no w or a;
  "x% better" multiplies the value by 1 - x ("x% worse" by 1 + x). Gated at tse=5% (log ratio of seed means).
* judge-like (higher is better): value = clip(round(latent), 1, 5), mu = 3.3, sd(u) = 0.6, sd(w) = 0.495,
  sd(a) = 0.15, sd(e) = 0.495; "x% better" raises the population mean score by x% (the latent shift that
  does so is solved on 400,000 draws). Gated at if=0.25 points.

Every run is a suite of 50 test pairs x S seeds monitored after every pair with the very function the
monitor uses (``confseq.repeated_confidence_path`` over ``sequential.differences``; a test checks that
``SequentialMonitor`` decides identically), alpha 0.05 (one gated metric) or 0.0125 (4 gated metrics,
Bonferroni as the run splits it). Cell c uses ``numpy.random.default_rng([seed, c])`` for all its
runs at once. Rates are over ``--runs`` runs, with their binomial standard error. Last, ``--check-runs``
simulated stores per cell go through the gate's own path (``replay_check`` and ``gate_exit_code``, what
``check --sequential`` runs), giving the shares of exit codes 0 / 1 / 3.
"""

from __future__ import annotations

import argparse
import math
import sys
from functools import cache
from pathlib import Path

import numpy as np
from scipy import optimize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_io import emit

from cosmos_bench.results.confseq import (
    RCI_MIN_PAIRS,
    RCI_SHAPE,
    repeated_confidence_path,
)
from cosmos_bench.results.sequential import (
    differences,
    first_decisions,
    gate_exit_code,
    metric_rules,
)
from cosmos_bench.results.store import ResultRow
from cosmos_bench.sequential_run import SequentialOptions, replay_check

PAIRS = 50
RULES = metric_rules("if=0.25,tse=5%")
KINDS = {"sampson": ("tse", "lower"), "judge": ("if", "higher")}
JUDGE_SD = {"u": 0.6, "w": 0.495, "a": 0.15, "e": 0.495}


@cache
def judge_shift(change: float) -> float:
    """The latent shift that moves the population mean score by ``change`` (0.1 = 10% higher)."""
    z = 3.3 + np.random.default_rng(1).normal(0, math.sqrt(sum(v * v for v in JUDGE_SD.values())), 400_000)
    base = np.clip(np.rint(z), 1, 5).mean()
    return float(optimize.brentq(lambda d: np.clip(np.rint(z + d), 1, 5).mean() - (1 + change) * base, -3, 3))


def simulate(kind: str, rng: np.random.Generator, runs: int, seeds: int, better: float) -> tuple[np.ndarray, np.ndarray]:
    """(base, candidate) values of shape (runs, pairs, seeds); ``better`` > 0 improves, < 0 worsens."""
    shape = (runs, PAIRS, seeds)
    if kind == "sampson":
        u = rng.normal(0, 0.3, (runs, PAIRS, 1))
        base = np.exp(math.log(0.3) + u + rng.normal(0, 0.3, shape))
        return base, np.exp(math.log(0.3) + u + rng.normal(0, 0.3, shape)) * (1 - better)
    u, w = rng.normal(0, JUDGE_SD["u"], (runs, PAIRS, 1)), rng.normal(0, JUDGE_SD["w"], shape)

    def scores(shift: float) -> np.ndarray:
        a = rng.normal(0, JUDGE_SD["a"], (runs, PAIRS, 1))
        return np.clip(np.rint(3.3 + shift + u + w + a + rng.normal(0, JUDGE_SD["e"], shape)), 1, 5)

    return scores(0.0), scores(judge_shift(better))


def cell(kind: str, seeds: int, better: float, alpha: float, runs: int, seed: int, index: int) -> dict:
    metric, direction = KINDS[kind]
    rule = RULES[metric]
    base, cand = simulate(kind, np.random.default_rng([seed, index]), runs, seeds, better)
    d = differences(cand.mean(axis=2), base.mean(axis=2), rule)
    path = repeated_confidence_path(d, alpha=alpha, horizon=PAIRS)
    stop, code = first_decisions(path.low, path.high, rule.margin, direction)
    decided = code > 0
    rates = {name: float(np.mean(code == i)) for i, name in enumerate(("undecided", "better", "worse", "equivalent"))}
    videos = stop * seeds
    return {
        "kind": kind, "metric": metric, "seeds": seeds, "pairs": PAIRS, "change": -better, "alpha": alpha, "runs": runs,
        "estimand": float(d.mean()), **rates,
        "se": {k: math.sqrt(v * (1 - v) / runs) for k, v in rates.items()},
        "median_videos_decided_or_not": float(np.median(videos)),
        "p90_videos": float(np.quantile(videos, 0.9)),
        "median_videos_when_decided": float(np.median(videos[decided])) if decided.any() else math.nan,
        "rule": f"repeated CI, Wang-Tsiatis shape {RCI_SHAPE}, no verdict before {RCI_MIN_PAIRS} pairs",
    }


def through_check(kind: str, better: float, runs: int, seed: int, index: int) -> dict:
    """Exit codes of the CI gate's own path (``replay_check`` + ``gate_exit_code``, what ``check --sequential``
    runs) on ``runs`` simulated stores of 50 pairs x 5 seeds, the default margins' rule for this metric."""
    metric, direction = KINDS[kind]
    base, cand = simulate(kind, np.random.default_rng([seed, 1000 + index]), runs, 5, better)
    codes = []
    for r in range(runs):
        rows = [ResultRow("sim", model, f"g-{model}", f"p{p:02d}", s, metric, "v1", direction, float(v[r, p, s]), "ok",
                          created_at=1.0)
                for model, v in (("base", base), ("cand", cand)) for p in range(PAIRS) for s in range(5)]
        monitor = replay_check(rows, candidates=["cand"], baseline="base",
                               options=SequentialOptions(margin="tse=5%" if metric == "tse" else "if=0.25"))
        codes.append(gate_exit_code(monitor.decisions()))
    return {"table": "check_sequential", "kind": kind, "change": -better, "runs": runs, "seeds": 5, "pairs": PAIRS,
            **{f"exit_{c}": float(np.mean([x == c for x in codes])) for c in (0, 1, 3)}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--json", type=Path, default=None, help="append one JSON line per cell here")
    parser.add_argument("--check-runs", type=int, default=300, help="runs through check --sequential's path per cell")
    args = parser.parse_args(argv)
    cells = []
    for kind in KINDS:
        for alpha in (0.05, 0.0125):
            for seeds in (1, 2, 5):
                cells.append((kind, seeds, 0.0, alpha))  # no difference
            cells.append((kind, 5, 0.10, alpha))  # a true 10% improvement
        for seeds in (1, 2, 5):
            cells.append((kind, seeds, -0.08, 0.05))  # 8% worse: beyond the margin
    for index, (kind, seeds, better, alpha) in enumerate(cells):
        emit(cell(kind, seeds, better, alpha, args.runs, args.seed, index), args.json)
    for index, (kind, better) in enumerate((("sampson", 0.0), ("sampson", 0.10), ("judge", 0.0), ("judge", -0.08))):
        emit(through_check(kind, better, args.check_runs, args.seed, index), args.json)


if __name__ == "__main__":
    main()
