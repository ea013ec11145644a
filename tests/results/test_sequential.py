"""The sequential rule, proven by simulation with known truth (sizes and seeds stated in each test).

Monte Carlo error: with 2,000 runs a true error rate of 5% is estimated with SD
sqrt(0.05 · 0.95 / 2000) ≈ 0.49 percentage points, so "at most alpha" is checked as
≤ alpha + 3 SD = 6.5%. The betting sequence is conservative, so the observed rates are far lower.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cosmos_bench.results.confseq import betting_confidence_path
from cosmos_bench.results.sequential import (
    VERDICT_CODES, Budget, SequentialMonitor, clipped_differences, first_decisions, metric_rules, pair_order,
    wrong_verdicts,
)
from cosmos_bench.results.simulation import JUDGE, Components, judge_scores, sampson_values
from cosmos_bench.results.store import ResultRow

RUNS = 2000
POOL = 50
ALPHA = 0.05
MC_LIMIT = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / RUNS)
GRID = 301  # coarser than the monitor's 801: rounding is outwards, so validity holds, power is a bit lower
SAMPSON_HEAVY = Components(between=0.6, interaction=0.08, seed_shared=0.15, seed_own=0.12, tail_df=3.0)
RULES = metric_rules("if=0.25,tse=5%")


def _run(base: np.ndarray, cand: np.ndarray, metric: str, direction: str, pool_size: int | None = None):
    """Monitor every simulated run after every pair; return stop, verdict code, interval at stop, suite mean."""
    rule = RULES[metric]
    diffs, _ = clipped_differences(cand.mean(axis=2), base.mean(axis=2), rule)
    path = betting_confidence_path(diffs, low=-rule.bound, high=rule.bound, alpha=ALPHA, pool_size=pool_size,
                                   anchors=(rule.margin, -rule.margin), grid_points=GRID)
    stop, code = first_decisions(path.low, path.high, rule.margin, direction)
    rows = np.arange(len(stop))
    low, high = path.low[rows, stop - 1], path.high[rows, stop - 1]
    return stop, code, low, high, diffs.mean(axis=1)


def _sampson(improvement: float, seed: int):
    return sampson_values(np.random.default_rng(seed), runs=RUNS, pairs=POOL, seeds=2,
                          components=SAMPSON_HEAVY, improvement=improvement)


def _judge(improvement: float, seed: int, seeds: int = 2):
    return judge_scores(np.random.default_rng(seed), runs=RUNS, pairs=POOL, seeds=seeds, improvement=improvement)


@pytest.mark.parametrize("data, metric, direction", [
    (lambda: _judge(0.0, 1), "if", "higher"),          # tied integer 1–5 scores
    (lambda: _sampson(0.0, 2), "tse", "lower"),        # log-t(3) errors: heavy right tail
])
def test_null_declares_better_or_worse_in_at_most_alpha_of_runs(data, metric, direction):
    """Population form (pairs = draws from a population of prompts): the population difference is 0."""
    base, cand = data()
    _, code, low, high, _ = _run(base, cand, metric, direction)
    false_claims = np.isin(code, [VERDICT_CODES.index("better"), VERDICT_CODES.index("worse")]).mean()
    assert false_claims <= MC_LIMIT
    # ... and the interval at the stopping time covers the true mean (0) in >= 1 - alpha of runs
    assert ((low <= 0) & (0 <= high)).mean() >= 1 - MC_LIMIT


@pytest.mark.parametrize("data, metric, direction", [
    (lambda: _judge(0.0, 11), "if", "higher"),
    (lambda: _sampson(0.05, 12), "tse", "lower"),
])
def test_suite_form_errs_about_the_suite_mean_in_at_most_alpha_of_runs(data, metric, direction):
    """Without-replacement form: its truth is each simulated suite's own mean clipped difference."""
    base, cand = data()
    stop, code, low, high, suite_mean = _run(base, cand, metric, direction, pool_size=POOL)
    wrong = wrong_verdicts(code, suite_mean, RULES[metric].margin, direction)
    assert wrong.mean() <= MC_LIMIT
    assert ((low <= suite_mean) & (suite_mean <= high)).mean() >= 1 - MC_LIMIT


def test_the_same_check_catches_a_naive_rule_that_peeks():
    """A fixed-n 95% t-interval recomputed after every pair errs far more than 5%: the check has teeth."""
    base, cand = _judge(0.0, 3)
    d = (cand - base).mean(axis=2)
    n = np.arange(1, POOL + 1)
    mean = np.cumsum(d, axis=1) / n
    sd = np.sqrt(np.maximum(np.cumsum(d * d, axis=1) / n - mean**2, 0) * n / np.maximum(n - 1, 1))
    significant = (np.abs(mean) > 2.01 * sd / np.sqrt(n))[:, 2:]  # from 3 pairs on
    assert significant.any(axis=1).mean() > 2 * MC_LIMIT


@pytest.mark.parametrize("data, metric, direction", [
    (lambda: _judge(0.10, 4, seeds=5), "if", "higher"),  # 5 seeds: 2 need more than 50 pairs (README)
    (lambda: _sampson(0.10, 5), "tse", "lower"),
])
def test_a_true_ten_percent_improvement_is_decided_better_and_covered(data, metric, direction):
    base, cand = data()
    stop, code, low, high, suite_means = _run(base, cand, metric, direction)
    assert (code == VERDICT_CODES.index("better")).mean() >= 0.9
    assert (code == VERDICT_CODES.index("worse")).mean() == 0
    assert np.median(stop) < POOL  # decided before the suite is exhausted
    truth = suite_means.mean()  # the population's mean clipped difference, over 2,000 x 50 pairs
    assert ((low <= truth) & (truth <= high)).mean() >= 1 - MC_LIMIT


def test_without_replacement_sequence_shrinks_to_the_pool_mean():
    values = np.random.default_rng(6).uniform(-1, 1, (3, 20))
    path = betting_confidence_path(values, low=-1, high=1, alpha=0.05, pool_size=20)
    assert np.allclose(path.low[:, -1], values.mean(axis=1)) and np.allclose(path.high[:, -1], values.mean(axis=1))
    assert np.all(np.diff(path.high - path.low, axis=1) <= 1e-12)  # never widens


# ---------------------------------------------------------------------------- the monitor
def _rows(model: str, sample: str, metric: str, direction: str, values: dict[int, float | None]) -> list[ResultRow]:
    return [ResultRow(suite="s", model=model, generation_key=f"k-{model}", sample=sample, seed=seed, metric=metric,
                      metric_version="v1", direction=direction, value=v, status="ok" if v is not None else "degenerate")
            for seed, v in values.items()]


def _store_rows(seed: int = 7, pairs: int = 30) -> list[ResultRow]:
    """base, 'good' (IF +0.6, TSE × 0.7) and 'same' (= base's distribution) on `pairs` pairs × 2 seeds."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(pairs):
        sample = f"pair_{i:02d}"
        level = rng.normal(3, 0.7)
        for model, shift, factor in (("base", 0, 1.0), ("good", 0.6, 0.7), ("same", 0, 1.0)):
            ifs = {s: float(np.clip(np.rint(level + shift + rng.normal(0, 0.5)), 1, 5)) for s in (0, 1)}
            tse = {s: float(factor * np.exp(rng.normal(0, 0.1))) for s in (0, 1)}
            rows += _rows(model, sample, "if", "higher", ifs) + _rows(model, sample, "tse", "lower", tse)
    return rows


def _monitor(**kwargs) -> SequentialMonitor:
    args = dict(candidates=["good", "same"], pairs=[f"pair_{i:02d}" for i in range(30)], seeds=[0, 1],
                rules=RULES, order_seed=3)
    return SequentialMonitor(**{**args, **kwargs})


def test_replay_is_deterministic_and_stops_each_candidate_once_decided():
    rows = _store_rows()
    first = _monitor().replay(rows)
    again = _monitor().replay(list(reversed(rows)))  # row order in the store does not matter
    assert [(d.candidate, d.metric, d.verdict, d.n_pairs, d.low, d.high) for d in first] == \
           [(d.candidate, d.metric, d.verdict, d.n_pairs, d.low, d.high) for d in again]
    verdicts = {(d.candidate, d.metric): d for d in first}
    assert verdicts[("good", "if")].verdict == "better" and verdicts[("good", "tse")].verdict == "better"
    assert verdicts[("same", "if")].verdict not in ("better", "worse")
    assert verdicts[("same", "tse")].verdict not in ("better", "worse")
    assert max(d.n_pairs for d in first if d.candidate == "good") < 30  # stopped early


def test_update_pair_by_pair_matches_replay_and_pending_drops_decided_candidates():
    rows = _store_rows()
    table: dict = {}
    for r in rows:
        table.setdefault(r.sample, {}).setdefault(r.model, {}).setdefault(r.metric, {})[r.seed] = r.value
    live = _monitor()
    seen_pending = []
    while (pair := live.next_pair()) is not None:
        seen_pending.append(tuple(live.pending()))
        live.update(pair, table[pair])
    assert seen_pending[0] == ("good", "same") and ("good",) not in seen_pending[-1:]
    assert [(d.verdict, d.n_pairs) for d in live.decisions()] == [(d.verdict, d.n_pairs) for d in _monitor().replay(rows)]
    with pytest.raises(ValueError, match="out of order"):
        _monitor().update("not_the_first_pair", table["pair_00"])
    fresh = _monitor()
    first = fresh.next_pair()
    incomplete = {m: {k: dict(v) for k, v in per.items()} for m, per in table[first].items()}
    del incomplete["good"]["tse"][1]
    with pytest.raises(ValueError, match=r"'good' has no tse result for seeds \[1\]"):
        fresh.update(first, incomplete)
    assert fresh.pairs_done == 0


def test_a_partial_store_resumes_to_the_same_decisions():
    """Rows of the first k pairs in the order, then the rest: the same decisions as all at once."""
    rows = _store_rows()
    order = pair_order([f"pair_{i:02d}" for i in range(30)], 3)
    partial = _monitor()
    partial.replay([r for r in rows if r.sample in order[:5]])
    assert partial.pairs_done == 5 and partial.next_pair() == order[5]
    resumed = _monitor().replay(rows)
    assert [d.verdict for d in resumed] == [d.verdict for d in _monitor().replay(rows)]


def test_budget_ends_undecided_as_inconclusive():
    decisions = _monitor(budget=Budget(max_videos=12)).replay(_store_rows())
    # 2 seeds x (base + 2 candidates) = 6 videos a pair: two pairs fit in 12 videos
    assert {d.n_pairs for d in decisions} == {2}
    assert {d.verdict for d in decisions} == {"inconclusive at budget"}


def test_a_failed_candidate_video_counts_as_the_worst_difference():
    rule = RULES["tse"]
    rows = []
    for i in range(30):
        rows += _rows("base", f"pair_{i:02d}", "tse", "lower", {0: 1.0, 1: 1.0})
        rows += _rows("broken", f"pair_{i:02d}", "tse", "lower", {0: None, 1: None})
    monitor = SequentialMonitor(candidates=["broken"], pairs=[f"pair_{i:02d}" for i in range(30)], seeds=[0, 1],
                                rules={"tse": rule})
    (decision,) = monitor.replay(rows)
    assert decision.verdict == "worse" and decision.n_clipped == decision.n_pairs


def test_pair_order_is_seeded_and_ignores_listing_order():
    pairs = [f"p{i}" for i in range(20)]
    assert pair_order(pairs, 1) == pair_order(list(reversed(pairs)), 1)
    assert pair_order(pairs, 1) != pair_order(pairs, 2)
    assert sorted(pair_order(pairs, 1)) == sorted(pairs)
    recorded = _monitor(order_seed=9).provenance()
    assert recorded["order"] == pair_order([f"pair_{i:02d}" for i in range(30)], recorded["order_seed"])


@pytest.mark.parametrize("margins, bounds, message", [
    ("if=abc", None, "^margin: 'if=abc'"),  # the library names its parameter; the CLI shows --margin
    ("if=0.25,if=0.3", None, "given twice"),
    ("sharpness=0.1", None, "no known scale"),
    ("tse=5%", "tse=0.4", "margin's unit"),
    ("if=0.25", "tse=50%", "has no margin"),
])
def test_bad_margins_get_one_clear_line(margins, bounds, message):
    with pytest.raises(ValueError, match=message):
        metric_rules(margins, bounds)


def test_relative_rules_are_log_ratios_of_the_stated_percent():
    rules = metric_rules("tse=5%,if=0.25", "tse=40%")
    assert rules["tse"].margin == pytest.approx(math.log(1.05)) and rules["tse"].bound == pytest.approx(math.log(1.4))
    assert rules["if"].bound == 1.0 and not rules["if"].relative


def test_relative_differences_of_identical_models_average_zero():
    """Log ratios are symmetric when candidate and base do not differ; c/b - 1 would average > 0 (Jensen)."""
    noisy = Components(between=0.6, interaction=0.3, seed_shared=0.1, seed_own=0.4, tail_df=3.0)
    base, cand = sampson_values(np.random.default_rng(8), runs=200, pairs=500, seeds=2, components=noisy)
    diffs, _ = clipped_differences(cand.mean(axis=2), base.mean(axis=2), RULES["tse"])
    assert abs(diffs.mean()) < 0.003  # 100,000 pairs: the SD of this mean is about 0.001


def test_a_verdict_is_made_once_and_never_revised_by_later_pairs():
    """'two' is decided on `if` early, stays undecided on `tse`; later pairs where its `if` collapses
    do not touch the frozen verdict, and update() reports each decision exactly once."""
    pairs = [f"pair_{i:02d}" for i in range(40)]
    monitor = SequentialMonitor(candidates=["two"], pairs=pairs, seeds=[0], rules=RULES, order_seed=5)
    made = []
    step = 0
    while (pair := monitor.next_pair()) is not None:
        gain = 1.0 if step < 12 else -1.0  # better at first, far worse afterwards
        rng = np.random.default_rng(step)
        tse = float(np.exp(rng.normal(0, 0.3)))
        values = {"base": {"if": {0: 3.0}, "tse": {0: 1.0}}, "two": {"if": {0: 3.0 + gain}, "tse": {0: tse}}}
        made += [(d.candidate, d.metric, d.verdict, d.n_pairs) for d in monitor.update(pair, values)]
        step += 1
    if_decisions = [m for m in made if m[1] == "if"]
    assert len(if_decisions) == 1 and if_decisions[0][2] == "better" and if_decisions[0][3] <= 12
    final = {d.metric: d for d in monitor.decisions()}
    assert final["if"].verdict == "better" and final["if"].n_pairs == if_decisions[0][3]
    assert monitor.pairs_done > 12  # tse kept the candidate running past the collapse
