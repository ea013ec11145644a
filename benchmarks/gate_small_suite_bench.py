"""The fixed gate on small suites, on issue 29's Sampson-like model: is the printed MDE the one the test
delivers, how often does `--max-mde-ratio` turn a pass into "cannot decide", and do failures count.

    python benchmarks/gate_small_suite_bench.py --datasets 500 --json gate.jsonl     # RESULTS.md (~4 min)

Model: value = exp(log 0.3 + u_i + e_mis), sd(u) = sd(e) = 0.30; "r worse" multiplies the candidate's
values by 1 + r. Each dataset is a suite of P test pairs x S seeds (2x2, 5x2, 10x2, 50x5) for the
baseline and the candidate, fed to ``check_regression`` as the CLI does (one metric, 5% margin, alpha
0.05, default options). Per size, with ``numpy.random.default_rng([seed, P, S])``:

* ``own_mde_caught``: the dataset's candidate multiplied by (1 + its own printed MDE / baseline mean)
  fails the gate in this share of datasets (datasets whose MDE is infinite: counted apart);
* ``caught_at_median_mde``: fresh datasets whose candidate is worse by the median printed MDE;
* the outcome shares (pass / cannot decide / fail) of an unchanged candidate and of a doubled one;
* failures at 10x2: the candidate's videos fail (degenerate) 10 points more often than the baseline's.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_io import emit

from cosmos_bench.results.gate import check_regression
from cosmos_bench.results.store import ResultRow

SIZES = ((2, 2), (5, 2), (10, 2), (50, 5))


def values(rng: np.random.Generator, prompts: int, seeds: int, worse: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    u = rng.normal(0, 0.3, size=(prompts, 1))
    base = np.exp(math.log(0.3) + u + rng.normal(0, 0.3, size=(prompts, seeds)))
    return base, np.exp(math.log(0.3) + u + rng.normal(0, 0.3, size=(prompts, seeds))) * (1 + worse)


def rows(v: np.ndarray, created_at: float) -> list[ResultRow]:
    return [ResultRow("sim", "lora", "g", f"p{p:02d}", s, "tse", "v1", "lower", float(v[p, s]) if math.isfinite(v[p, s]) else None,
                      "ok" if math.isfinite(v[p, s]) else "degenerate", created_at=created_at)
            for p in range(v.shape[0]) for s in range(v.shape[1])]


def gate(base: np.ndarray, cand: np.ndarray, **kw):
    return check_regression(rows(base, 1.0), rows(cand, 2.0), candidate="lora", baseline="lora", **kw)


def size_cell(prompts: int, seeds: int, datasets: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, prompts, seeds])
    mdes, caught, outcomes, doubled = [], [], [], []
    for _ in range(datasets):
        base, cand = values(rng, prompts, seeds)
        report = gate(base, cand)
        outcomes.append(report.outcome)
        (v,) = gate(base, cand, max_mde_ratio=None).verdicts
        rel = v.mde / v.baseline_mean
        mdes.append(rel)
        if math.isfinite(rel):
            caught.append(gate(base, cand * (1 + rel), max_mde_ratio=None).outcome == "regression")
    finite = np.array([m for m in mdes if math.isfinite(m)])
    median = float(np.median(mdes))
    at_median = []
    for _ in range(datasets):
        if math.isfinite(median):
            at_median.append(gate(*values(rng, prompts, seeds, median), max_mde_ratio=None).outcome == "regression")
        doubled.append(gate(*values(rng, prompts, seeds, 1.0)).outcome)

    def share(xs: list[str], what: str) -> float:
        return float(np.mean([x == what for x in xs]))

    return {
        "table": "gate_mde", "size": f"{prompts}x{seeds}", "datasets": datasets,
        "printed_mde_median": median, "printed_mde_p90": float(np.quantile(mdes, 0.9)),
        "infinite_mde_share": 1 - finite.size / len(mdes),
        "own_mde_caught": float(np.mean(caught)) if caught else math.nan,
        "caught_at_median_mde": float(np.mean(at_median)) if at_median else math.nan,
        "unchanged": {k: share(outcomes, k) for k in ("pass", "undecided", "regression")},
        "doubled": {k: share(doubled, k) for k in ("pass", "undecided", "regression")},
    }


def failure_cell(base_rate: float, rise: float, datasets: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, int(1000 * base_rate), int(1000 * rise)])
    outcomes = []
    for _ in range(datasets):
        base, cand = values(rng, 10, 2)
        base[rng.random(base.shape) < base_rate] = np.nan
        cand[rng.random(cand.shape) < base_rate + rise] = np.nan
        outcomes.append(gate(base, cand).outcome)
    return {"table": "gate_failures", "size": "10x2", "datasets": datasets, "base_failure_rate": base_rate,
            "candidate_failure_rise": rise,
            **{k: float(np.mean([o == k for o in outcomes])) for k in ("pass", "undecided", "regression")}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=500)
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    for prompts, seeds in SIZES:
        emit(size_cell(prompts, seeds, args.datasets, args.seed), args.json)
    for base_rate, rise in ((0.0, 0.0), (0.05, 0.0), (0.0, 0.10), (0.05, 0.10), (0.0, 0.20)):
        emit(failure_cell(base_rate, rise, args.datasets, args.seed), args.json)


if __name__ == "__main__":
    main()
