"""Leaderboard defects of issue 29, each written so it fails on the code before the fix: an exploding
bootstrap-t interval, ranks over unpaired means, and the "newest" generation key chosen by the last
rescore instead of the key's creation."""

from __future__ import annotations

import math

import numpy as np

from cosmos_bench.results import stats
from cosmos_bench.results.gate import check_regression
from cosmos_bench.results.leaderboard import build_leaderboard, summarize
from cosmos_bench.results.selection import newest_generation
from cosmos_bench.results.store import ResultRow


def row(model: str, sample: str, seed: int, value: float, *, key: str | None = None, version: str = "v1",
        created_at: float = 1.0, status: str = "ok") -> ResultRow:
    return ResultRow("demo", model, key or f"g-{model}", sample, seed, "tse", version, "lower",
                     value if status == "ok" else None, status, created_at=created_at)


def test_nearly_equal_pair_means_give_a_finite_interval_around_them() -> None:
    # five test pairs of ~0.22 px: resamples of the four equal ones have a rounding-size standard error
    values = [0.22, 0.22, 0.22, 0.22, 0.221]
    s = summarize([row("base", f"p{i}", 0, v) for i, v in enumerate(values)], "base", "tse", n_boot=2000,
                  confidence=0.95, seed=0)
    assert s.has_interval and 0.215 < s.ci_low <= s.mean <= s.ci_high < 0.225, s  # was [0.220, 2.9e9]
    for x in ([0.22] * 4 + [0.2200001], [0.22, 0.22, 0.22, 0.22 + 1e-5, 0.5]):
        ci = stats.interval(np.array(x))
        assert math.isfinite(ci.high) and ci.high - ci.low < 10 * (max(x) - min(x)) + 1e-12, ci


def test_a_skewed_sample_keeps_its_bootstrap_interval() -> None:
    rng = np.random.default_rng(3)
    x = np.exp(np.log(0.3) + 0.5 * rng.standard_normal(20))
    assert stats.interval(x).method == "bootstrap"  # the fallback is for collapsed scales only


def test_ranks_use_the_videos_both_models_have_and_cells_show_the_unpaired_count() -> None:
    # 20 pairs; the candidate is 10% worse on each, and has no rows for the 15 hardest (largest-error) pairs
    base = [row("base", f"p{i:02d}", 0, 0.1 * (i + 1)) for i in range(20)]
    lora = [row("lora", f"p{i:02d}", 0, 0.1 * (i + 1) * 1.1) for i in range(5)]
    board = build_leaderboard(base + lora, "demo")
    assert board.summaries[("lora", "tse")].mean < board.summaries[("base", "tse")].mean  # its own easy pairs
    assert board.rank("tse") == ["base", "lora"]  # over the 5 shared pairs lora is worse (was first)
    cell = board.comparisons[("lora", "tse")]
    assert cell.diff > 0 and cell.n_unpaired == 15
    assert "(15 unpaired)" in board.to_markdown()
    header, *lines = board.to_csv().splitlines()
    assert header.endswith(",n_unpaired_pairs") and any(line.endswith(",15") for line in lines if ",lora,tse," in line)


def test_newest_generation_key_is_the_last_created_not_the_last_rescored() -> None:
    old = [row("lora", f"p{i}", 0, 1.0, key="g-old", created_at=1.0) for i in range(6)]
    new = [row("lora", f"p{i}", 0, 2.0, key="g-new", created_at=2.0) for i in range(6)]
    rescored_old = [row("lora", f"p{i}", 0, 1.0, key="g-old", version="v2", created_at=3.0) for i in range(6)]
    kept, choice = newest_generation(old + new + rescored_old)
    assert choice["lora"].key == "g-new" and choice["lora"].dropped == {"g-old": 12}
    assert {r.generation_key for r in kept} == {"g-new"}
    # the gate judges the retrained adapter, not the rescored old one
    base = [row("base", f"p{i}", 0, 1.0) for i in range(6)]
    report = check_regression(base, old + new + rescored_old, candidate="lora", baseline="base")
    assert report.generations["candidate lora"].key == "g-new"
