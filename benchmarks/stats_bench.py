"""Can the leaderboard's intervals and the gate's verdicts be trusted? A simulation over the project's own code.

    python benchmarks/stats_bench.py --datasets 500 --workers 2      # the RESULTS.md tables (minutes)
    python benchmarks/stats_bench.py --quick                          # 60 datasets per cell (seconds)

Each simulated dataset is a suite of P test pairs × S seeds (50×5, 10×2, 5×2) scored for several
models, built as ``ResultRow``s and fed to ``build_leaderboard`` / ``summarize`` / ``compare`` /
``check_regression`` exactly as the CLI does. Two kinds of metric:

* **Sampson-like** (lower is better): ``0.3 px · exp(u_p + w_ps + e_psm)`` with a prompt effect
  ``u_p ~ N(0, 0.35²)``, a seed effect ``w_ps ~ N(0, 0.25²)`` shared by every model (the same seed
  gives every model the same noise) and a model's own noise ``e_psm ~ N(0, 0.2²)``: lognormal around
  0.3 px. A regression of r multiplies the values by 1 + r.
* **judge-like** (higher is better): 1–5 integers, ``clip(round(3.2 + u_p + w_ps + e_psm), 1, 5)``
  with SDs 0.7, 0.5, 0.5. A regression of r lowers the latent score by r × 3.2; the true change of
  the mean of the rounded scores (what the truth of a coverage check is) is computed by Monte Carlo
  on 2,000,000 draws.

Degenerate videos: each (model, pair, seed) video is degenerate with probability q, independently,
at the same rate for every model (nothing changed). Tables: coverage of the 95% intervals of a
mean and of a paired difference; the gate's false-failure rate under no change (also with 1–5%
degenerate videos and 6 gated metrics); its power at 2/5/10/20% regressions with the default 5%
margin, beside its own stated minimum detectable effect; how often any cell of a 4 candidates ×
6 metrics paired table is bold when nothing differs (the board's sign-flip test + Holm, and the
t-test + Holm rule used before, on the same boards), and how often the cell of a candidate 5% or
10% worse on one Sampson-like and one judge-like metric is bold (their power). Every rate is over ``--datasets`` simulated
datasets per cell, printed as ``rate ± Monte Carlo standard error`` (binomial). Dataset i of cell c
uses ``numpy.random.default_rng([seed, c, i])``; bootstraps use the project's default seed 0.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cosmos_bench.results.gate import check_regression  # noqa: E402
from cosmos_bench.results.leaderboard import (  # noqa: E402
    build_leaderboard,
    cluster_bootstrap_ci,
    compare,
    paired_differences,
    summarize,
)
from cosmos_bench.results import stats  # noqa: E402
from cosmos_bench.results.store import ResultRow  # noqa: E402

SIZES = {"50×5": (50, 5), "10×2": (10, 2), "5×2": (5, 2)}
SAMPSON_SD = (0.35, 0.25, 0.2)  # prompt, shared seed, own noise (log scale)
JUDGE_SD = (0.7, 0.5, 0.5)
JUDGE_CENTRE = 3.2
SIX_METRICS = (("tse", "sampson"), ("cse", "sampson"), ("tse_mean", "sampson"), ("cse_mean", "sampson"),
               ("physics", "judge"), ("if", "judge"))
REGRESSIONS = (0.02, 0.05, 0.10, 0.20)
MARGIN = 0.05
BOOTSTRAP_CHECKED = (0.05, 0.10)  # regressions at which the bootstrap method's seed stability is measured
POWER_METRICS = ("tse", "physics")  # a Sampson-like and a judge-like metric on which c1 is worse in the bold-power cells
BOLD_SHIFTS = (0.05, 0.10)  # how much worse c1 is in the bold-power cells


# ------------------------------------------------------------------------------------------ data
def simulate(kind: str, rng: np.random.Generator, prompts: int, seeds: int, shifts: list[float],
             degenerate: float = 0.0) -> np.ndarray:
    """Values of shape (models, prompts, seeds) for a regression ``shifts[m]`` per model; NaN = degenerate."""
    sd_u, sd_w, sd_e = SAMPSON_SD if kind == "sampson" else JUDGE_SD
    u = rng.normal(0, sd_u, size=(1, prompts, 1))
    w = rng.normal(0, sd_w, size=(1, prompts, seeds))
    e = rng.normal(0, sd_e, size=(len(shifts), prompts, seeds))
    r = np.asarray(shifts, dtype=np.float64)[:, None, None]
    if kind == "sampson":
        values = 0.3 * np.exp(u + w + e) * (1 + r)
    else:
        values = np.clip(np.rint(JUDGE_CENTRE + u + w + e - r * JUDGE_CENTRE), 1, 5)
    if degenerate > 0:
        values[rng.random(values.shape) < degenerate] = np.nan
    return values


@lru_cache(maxsize=None)
def true_mean(kind: str, shift: float) -> float:
    """Population mean of one model's values (analytic for Sampson-like, 2e6 draws for judge-like)."""
    if kind == "sampson":
        return 0.3 * math.exp(sum(s * s for s in SAMPSON_SD) / 2) * (1 + shift)
    rng = np.random.default_rng(12345)
    z = JUDGE_CENTRE + rng.normal(0, math.sqrt(sum(s * s for s in JUDGE_SD)), size=2_000_000) - shift * JUDGE_CENTRE
    return float(np.clip(np.rint(z), 1, 5).mean())


def to_rows(values: np.ndarray, models: list[str], metric: str, kind: str, *, created_at: float = 1.0) -> list[ResultRow]:
    direction = "lower" if kind == "sampson" else "higher"
    rows = []
    for m, model in enumerate(models):
        for p in range(values.shape[1]):
            for s in range(values.shape[2]):
                v = values[m, p, s]
                ok = math.isfinite(v)
                rows.append(ResultRow("sim", model, f"g-{model}", f"p{p:02d}", s, metric, "v1", direction,
                                      float(v) if ok else None, "ok" if ok else "degenerate",
                                      reason=None if ok else "simulated", created_at=created_at))
    return rows


def dataset_rng(seed: int, cell: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, cell, index])


# ------------------------------------------------------------------------------------------ cells
@dataclass(frozen=True)
class Cell:
    """One table cell: a size, a scenario, and what to measure; ``run(index)`` measures one dataset."""

    table: str
    size: str
    scenario: str
    kind: str = "sampson"
    shift: float = 0.0
    degenerate: float = 0.0
    metrics: int = 1

    def run(self, seed: int, cell: int, index: int) -> dict[str, float]:
        rng = dataset_rng(seed, cell, index)
        prompts, seeds = SIZES[self.size]
        return getattr(self, f"_{self.table}")(rng, prompts, seeds)

    def _coverage(self, rng, prompts, seeds) -> dict[str, float]:
        values = simulate(self.kind, rng, prompts, seeds, [0.0, self.shift])
        rows = to_rows(values, ["base", "cand"], "m", self.kind)
        truth = true_mean(self.kind, 0.0)
        true_diff = true_mean(self.kind, self.shift) - truth
        out = {}
        for method in ("auto", "t", "bootstrap"):
            s = summarize(rows, "base", "m", n_boot=2000, confidence=0.95, seed=0, interval=method)
            out[f"mean_{method}"] = float(s.ci_low <= truth <= s.ci_high)
        # Monte Carlo error of the bootstrap bounds: how far they move with another resampling seed
        a, b = (summarize(rows, "base", "m", n_boot=2000, confidence=0.95, seed=s, interval="bootstrap") for s in (0, 1))
        out["mc_shift"] = max(abs(a.ci_low - b.ci_low), abs(a.ci_high - b.ci_high)) / (a.ci_high - a.ci_low)
        base = [r for r in rows if r.model == "base"]
        cand = [r for r in rows if r.model == "cand"]
        _, low, high = cluster_bootstrap_ci([r.value for r in base], [r.sample for r in base], n_boot=2000)
        out["mean_old"] = float(low <= truth <= high)
        c = compare(rows, "cand", "base", "m", n_boot=2000, confidence=0.95, seed=0)
        out["diff_auto"] = float(c.ci_low <= true_diff <= c.ci_high)
        diffs, samples = paired_differences(cand, base)
        _, low, high = cluster_bootstrap_ci(diffs, samples, n_boot=2000)
        out["diff_old"] = float(low <= true_diff <= high)
        return out

    def _gate(self, rng, prompts, seeds) -> dict[str, float]:
        kinds = [k for _, k in SIX_METRICS] if self.metrics == 6 else [self.kind]
        names = [m for m, _ in SIX_METRICS] if self.metrics == 6 else ["m"]
        base, cand = [], []
        for name, kind in zip(names, kinds):
            values = simulate(kind, rng, prompts, seeds, [0.0, self.shift], self.degenerate)
            base += to_rows(values[:1], ["lora"], name, kind, created_at=1.0)
            cand += to_rows(values[1:], ["lora"], name, kind, created_at=2.0)
        report = check_regression(base, cand, candidate="lora", baseline="lora", max_regression=MARGIN)
        out = {"fail": float(report.outcome == "regression"), "undecided": float(report.outcome == "undecided"),
               # the rule the gate had before: any metric with more failed/degenerate videos than the baseline fails
               "old_count_rule": float(any(sum(r.status != "ok" for r in cand if r.metric == n)
                                           > sum(r.status != "ok" for r in base if r.metric == n) for n in names))}
        v = report.verdicts[0]
        out["mde_rel"] = v.mde / abs(v.baseline_mean) if math.isfinite(v.mde) else math.nan
        if self.shift in BOOTSTRAP_CHECKED:  # with --method bootstrap: does another resampling seed change the verdict?
            runs = [check_regression(base, cand, candidate="lora", baseline="lora", max_regression=MARGIN,
                                     method="bootstrap", seed=s) for s in (0, 1)]
            out["boot_fail"] = float(runs[0].outcome == "regression")
            out["flip"] = float(runs[0].outcome != runs[1].outcome)
            out["mc_error"] = runs[0].verdicts[0].mc_error
        return out

    def _bold(self, rng, prompts, seeds) -> dict[str, float]:
        """A 4 candidates × 6 metrics board; with ``shift``, c1 is that much worse on POWER_METRICS only.

        Measured: the board's own bold marks (sign-flip + Holm) and, on the same data, the rule used
        before (two-sided t-test on the per-pair mean differences + Holm).
        """
        models = ["base", "c1", "c2", "c3", "c4"]
        rows = []
        for name, kind in SIX_METRICS:
            shifts = [0.0, self.shift if name in POWER_METRICS else 0.0, 0.0, 0.0, 0.0]
            rows += to_rows(simulate(kind, rng, prompts, seeds, shifts), models, name, kind)
        board = build_leaderboard(rows, "sim")
        keys = list(board.comparisons)
        comps = [board.comparisons[k] for k in keys]
        t_bold = [p < 0.05 for p in stats.holm([_t_two_sided(rows, *k) for k in keys])]
        if self.shift:
            return {f"power_{name}": float(board.comparisons[("c1", name)].significant) for name in POWER_METRICS} | \
                   {f"power_t_{name}": float(t_bold[keys.index(("c1", name))]) for name in POWER_METRICS}
        return {"any_bold": float(any(c.significant for c in comps)), "any_bold_t": float(any(t_bold)),
                "any_raw": float(any(c.p_value < c.alpha for c in comps))}


def _t_two_sided(rows: list[ResultRow], model: str, metric: str) -> float:
    """Two-sided t-test p of "no difference" on the per-pair mean differences (the bold marks' test before)."""
    diffs, samples = paired_differences([r for r in rows if r.model == model and r.metric == metric],
                                        [r for r in rows if r.model == "base" and r.metric == metric])
    x = stats.pair_means(diffs, samples)
    return min(1.0, 2 * min(stats.t_p_greater(x, 0.0), stats.t_p_greater(-x, 0.0)))


def cells() -> list[Cell]:
    out = []
    for size in SIZES:
        for kind in ("sampson", "judge"):
            out.append(Cell("coverage", size, kind, kind=kind, shift=0.10))
    for size in SIZES:
        for kind, deg in (("sampson", 0.0), ("sampson", 0.01), ("sampson", 0.05), ("judge", 0.0), ("judge", 0.05)):
            out.append(Cell("gate", size, f"{kind}, {deg:.0%} degenerate", kind=kind, degenerate=deg))
        out.append(Cell("gate", size, "6 metrics, 5% degenerate", degenerate=0.05, metrics=6))
    for size in SIZES:
        for kind in ("sampson", "judge"):
            for r in REGRESSIONS:
                out.append(Cell("power", size, f"{kind}, {r:.0%} worse", kind=kind, shift=r))
    for size in SIZES:
        out.append(Cell("bold", size, "4 candidates × 6 metrics"))
        for shift in BOLD_SHIFTS:
            out.append(Cell("bold", size, f"c1 {shift:.0%} worse on {' and '.join(POWER_METRICS)}", shift=shift))
    return out


def _run_chunk(args: tuple[Cell, int, int, list[int]]) -> list[dict[str, float]]:
    cell, seed, number, indices = args
    table = "gate" if cell.table == "power" else cell.table
    runner = Cell(table, cell.size, cell.scenario, cell.kind, cell.shift, cell.degenerate, cell.metrics)
    return [runner.run(seed, number, i) for i in indices]


def measure(selected: list[Cell], datasets: int, seed: int, workers: int) -> list[dict[str, list[float]]]:
    """Per cell, the list of per-dataset measurements of every quantity."""
    chunks = max(1, workers * 2)
    jobs = [(cell, seed, number, list(range(datasets))[k::chunks]) for number, cell in enumerate(selected) for k in range(chunks)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_run_chunk, jobs))
    else:
        results = [_run_chunk(j) for j in jobs]
    per_cell: list[dict[str, list[float]]] = [{} for _ in selected]
    for (cell, _, number, _), records in zip(jobs, results):
        for rec in records:
            for key, value in rec.items():
                per_cell[number].setdefault(key, []).append(value)
    return per_cell


# ------------------------------------------------------------------------------------------ tables
def rate(values: list[float] | None) -> str:
    if not values:
        return "—"
    p = float(np.mean(values))
    se = math.sqrt(p * (1 - p) / len(values))
    return f"{100 * p:.1f} ± {100 * se:.1f}"


def tables(selected: list[Cell], measured: list[dict[str, list[float]]], datasets: int) -> str:
    by_table: dict[str, list[tuple[Cell, dict]]] = {}
    for cell, m in zip(selected, measured):
        by_table.setdefault(cell.table, []).append((cell, m))
    out = []
    if "coverage" in by_table:
        out += ["### Coverage of the 95% intervals (%, target ≥ 93)", "",
                "Mean of `base`; paired difference `cand − base` at a true 10% regression. *old* = the percentile "
                "cluster bootstrap the leaderboard used before; *t* = Student t on pair means; *boot-t* = studentized "
                "bootstrap over test pairs (2000 resamples); *auto* = the rule used now (a mean: boot-t from 5 test "
                "pairs, t below; a paired difference: t).", "",
                "*seed shift* = the larger move of a boot-t bound between bootstrap seeds 0 and 1, as % of the "
                "interval's width (mean over datasets): the Monte Carlo error of the printed bounds.", "",
                "| size | metric | mean: old | mean: t | mean: boot-t | mean: **auto** | diff: old | diff: **auto** | boot-t seed shift |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for c, m in by_table["coverage"]:
            out.append(f"| {c.size} | {c.kind} | {rate(m['mean_old'])} | {rate(m['mean_t'])} | {rate(m['mean_bootstrap'])} "
                       f"| {rate(m['mean_auto'])} | {rate(m['diff_old'])} | {rate(m['diff_auto'])} "
                       f"| {100 * np.nanmean(m['mc_shift']):.1f}% |")
        out.append("")
    if "gate" in by_table:
        out += ["### Gate under no change (%, target: false failures ≤ 5)", "",
                f"`check_regression(..., max_regression={MARGIN})` with its defaults (alpha 0.05, failure alpha 0.01, "
                "method auto); baseline and candidate are two draws of the same model on the same inputs.", "",
                "*old count rule* = how often the rule used before (more failed or degenerate videos than the "
                "baseline fails) fired on the same datasets.", "",
                "| size | scenario | false failures | cannot decide | old count rule |", "|---|---|---:|---:|---:|"]
        for c, m in by_table["gate"]:
            out.append(f"| {c.size} | {c.scenario} | {rate(m['fail'])} | {rate(m['undecided'])} | {rate(m['old_count_rule'])} |")
        out.append("")
    if "power" in by_table:
        out += ["### Gate power at the default 5% margin (% of runs that fail)", "",
                "MDE = the minimum detectable effect the gate states (median over datasets, relative to the "
                "baseline mean): the worsening it should catch in 80% of runs. The default method (*auto*) is the "
                "t-test, which has no Monte Carlo error. *bootstrap* = `--method bootstrap` (studentized) at 5% and "
                "10% worse, its *flips* = verdicts that change between bootstrap seeds 0 and 1, and its largest "
                "stated Monte Carlo error of the p-value.", "",
                "| size | metric | 2% worse | 5% worse | 10% worse | 20% worse | stated MDE | bootstrap 5% / 10% | flips | max MC error |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        rows: dict[tuple[str, str], dict[float, dict]] = {}
        for c, m in by_table["power"]:
            rows.setdefault((c.size, c.kind), {})[c.shift] = m
        for (size, kind), per in rows.items():
            mde = np.nanmedian([x for m in per.values() for x in m["mde_rel"]])
            flips = [x for m in per.values() for x in m.get("flip", [])]
            mc = [x for m in per.values() for x in m.get("mc_error", []) if x is not None]  # None: t fallback
            cells_ = " | ".join(rate(per[r]["fail"]) if r in per else "—" for r in REGRESSIONS)
            boot = " / ".join(rate(per[r].get("boot_fail")) if r in per else "—" for r in BOOTSTRAP_CHECKED)
            flip_text = f"{int(sum(flips))} / {len(flips)}" if flips else "—"
            mc_text = f"{max(mc):.4f}" if mc else "—"
            out.append(f"| {size} | {kind} | {cells_} | {100 * mde:.1f}% | {boot} | {flip_text} | {mc_text} |")
        out.append("")
    if "bold" in by_table:
        out += ["### Any bold cell in a 4 candidates × 6 metrics paired table, nothing different (%, target ≤ 5)", "",
                "*now* = the board's bold marks (paired sign-flip test + Holm over the 24 cells); *t + Holm* = the rule "
                "used before (two-sided t-test on per-pair mean differences + Holm) on the same boards; *raw* = any "
                "sign-flip p < 0.05 without correction.", "",
                "| size | any bold: **now** | any bold: t + Holm | any raw p < 0.05 |", "|---|---:|---:|---:|"]
        power = [(c, m) for c, m in by_table["bold"] if c.shift]
        for c, m in by_table["bold"]:
            if not c.shift:
                out.append(f"| {c.size} | {rate(m['any_bold'])} | {rate(m['any_bold_t'])} | {rate(m['any_raw'])} |")
        out.append("")
        if power:
            out += ["### Power of the bold marks (% of boards where the worse candidate's cell is bold)", "",
                    f"Candidate c1 worse by the stated amount on {' and '.join(POWER_METRICS)} (Sampson-like ×(1 + r), "
                    "judge-like latent − r × 3.2), nothing else different; same 4 × 6 board and Holm family.", "",
                    "| size | c1 worse by | " + " | ".join(f"{n}: **now** | {n}: t + Holm" for n in POWER_METRICS) + " |",
                    "|---|---:|" + "---:|" * (2 * len(POWER_METRICS))]
            for c, m in power:
                cols = " | ".join(f"{rate(m[f'power_{n}'])} | {rate(m[f'power_t_{n}'])}" for n in POWER_METRICS)
                out.append(f"| {c.size} | {c.shift:.0%} | {cols} |")
            out.append("")
    out.append(f"{datasets} simulated datasets per cell; ± = binomial Monte Carlo standard error of the rate.")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=500, help="Simulated datasets per cell (RESULTS.md uses 500).")
    ap.add_argument("--quick", action="store_true", help="60 datasets per cell.")
    ap.add_argument("--seed", type=int, default=2026, help="Base seed of the simulated datasets.")
    ap.add_argument("--workers", type=int, default=1, help="Processes (the machine here has 2 cores).")
    ap.add_argument("--tables", default="coverage,gate,power,bold", help="Which tables to compute.")
    ap.add_argument("--sizes", default=",".join(SIZES), help="Which suite sizes (e.g. 10×2 or 10x2).")
    ap.add_argument("--raw", type=Path, help="Also write every per-dataset measurement to this JSON file.")
    args = ap.parse_args(argv)
    datasets = 60 if args.quick else args.datasets
    if datasets < 1:
        ap.error(f"--datasets must be >= 1, got {datasets}")
    wanted = set(args.tables.split(","))
    sizes = {s.replace("x", "×") for s in args.sizes.split(",")}
    unknown = (wanted - {"coverage", "gate", "power", "bold"}) | (sizes - set(SIZES))
    if unknown:
        ap.error(f"unknown table(s) or size(s): {sorted(unknown)}")
    selected = [c for c in cells() if c.table in wanted and c.size in sizes]
    start = time.perf_counter()
    measured = measure(selected, datasets, args.seed, args.workers)
    if args.raw:  # the per-dataset measurements, so the tables can be re-made without re-running
        args.raw.write_text(json.dumps([{"cell": asdict(c), "measured": m} for c, m in zip(selected, measured)]))
    print(tables(selected, measured, datasets))
    print(f"\n({time.perf_counter() - start:.0f} s, {args.workers} worker(s), seed {args.seed}, "
          f"{datetime.date.today().isoformat()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
