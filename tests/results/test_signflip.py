"""The bold marks' test (issue 16): the paired sign-flip p-value is exact where it enumerates, valid
where it samples, deep in the tail where Holm needs it; a board that cannot mark anything says why;
the CSV carries raw and adjusted p and names the test."""

from __future__ import annotations

import csv
import io
import itertools

import numpy as np
import pytest

from cosmos_bench.results import signflip, stats
from cosmos_bench.results.leaderboard import build_leaderboard
from cosmos_bench.results.store import ResultRow


def brute_force_p(x: np.ndarray) -> float:
    """Share of all 2^n sign patterns whose |sum| reaches the observed |sum| (exact rational arithmetic on integers)."""
    observed = abs(int(x.sum()))
    hits = sum(abs(int(np.dot(s, x))) >= observed for s in itertools.product((1, -1), repeat=x.size))
    return hits / 2 ** x.size


# ------------------------------------------------------------------------------------------ the p-value
@pytest.mark.parametrize("n", [2, 3, 5, 8, 11])
def test_sign_flip_p_equals_exact_enumeration_with_ties_and_zeros(n: int) -> None:
    rng = np.random.default_rng(n)
    for _ in range(5):
        x = rng.integers(-3, 4, size=n)  # judge-like: integers, many ties and zeros
        assert signflip.sign_flip_p(x / 5.0) == pytest.approx(brute_force_p(x), abs=1e-12)  # /5: means over 5 seeds


def test_smallest_p_is_two_over_two_to_the_n() -> None:
    assert signflip.sign_flip_p(np.full(5, 0.3)) == pytest.approx(1 / 16) == signflip.smallest_p(5)
    assert signflip.sign_flip_p(np.array([0.2, 0.4, 0.1, 0.3, 0.5, 0.6, 0.2, 0.9, 0.4, 0.7])) == pytest.approx(2 / 1024)
    assert signflip.fewest_pairs(0.05) == 6 and signflip.fewest_pairs(0.05 / 24) == 10
    assert signflip.smallest_p(1) != signflip.smallest_p(1)  # NaN: no test below 2 pairs
    assert np.isnan(signflip.sign_flip_p(np.array([0.4])))


def test_rows_of_a_matrix_get_their_own_p_values() -> None:
    rng = np.random.default_rng(3)
    many = rng.normal(0.1, 1, size=(7, 9))
    assert np.allclose(signflip.sign_flip_p(many), [signflip.sign_flip_p(row) for row in many])
    big = rng.normal(0.1, 1, size=(5, 30))
    assert np.allclose(signflip.sign_flip_p(big, seed=4), [signflip.sign_flip_p(row, seed=4) for row in big])


def test_random_flips_estimate_the_exact_p_and_are_seeded() -> None:
    """18 pairs (beyond exact enumeration): the (1 + count) / (B + 1) estimate lies within 4 Monte Carlo
    standard errors of the p-value over all 2^18 patterns, is never below 1 / (B + 1), and repeats for a seed."""
    x = np.random.default_rng(18).integers(-4, 6, size=18).astype(float)
    assert not signflip.is_exact(x.size)
    patterns = 1.0 - 2.0 * ((np.arange(2 ** 18)[:, None] >> np.arange(18)) & 1)
    exact = float(np.mean(np.abs(patterns @ x) >= abs(x.sum()) - 1e-9))
    flips = 40_000
    p = signflip.sign_flip_p(x, n_flips=flips, seed=1)
    assert 0.001 < exact < 0.2  # a case where the estimate has something to estimate
    assert abs(p - exact) < 4 * np.sqrt(exact * (1 - exact) / flips)
    assert p == signflip.sign_flip_p(x, n_flips=flips, seed=1) and p != signflip.sign_flip_p(x, n_flips=flips, seed=2)
    assert signflip.sign_flip_p(np.full(40, 0.5), n_flips=flips) == pytest.approx(1 / (flips + 1))


@pytest.mark.parametrize("n, flips", [(12, None), (30, 20_000)])
def test_rejection_rate_under_the_null_does_not_exceed_alpha(n: int, flips: int | None) -> None:
    """3,000 null data sets (seed 16): per-pair means over 2 seeds of differences of two exchangeable
    1–5 judge scores (discrete, many ties, the case a t-test misjudges in the tail). At alpha 0.01 and
    at Holm's first level 0.05/24 the rejection rate stays below alpha + 3 binomial standard errors,
    on the exact path (12 pairs) and the random-flip path (30 pairs)."""
    rng = np.random.default_rng(16)
    latent = rng.normal(0, 0.7, size=(3000, n, 1)) + rng.normal(0, 0.5, size=(3000, n, 2))
    a = np.clip(np.rint(3.2 + latent + rng.normal(0, 0.5, size=latent.shape)), 1, 5)
    b = np.clip(np.rint(3.2 + latent + rng.normal(0, 0.5, size=latent.shape)), 1, 5)
    x = (a - b).mean(axis=2)
    p = signflip.sign_flip_p(x, n_flips=flips or signflip.MIN_FLIPS, seed=0)
    for alpha in (0.01, 0.05 / 24):
        limit = alpha + 3 * np.sqrt(alpha * (1 - alpha) / len(p))
        assert np.mean(p < alpha) <= limit, (alpha, np.mean(p < alpha))
    assert np.mean(p < 0.05) > 0.02  # not vacuous: it does reject about alpha of the time


def test_flips_resolve_holm_levels_of_large_families() -> None:
    assert signflip.flips_for(24, 0.05) == 24_000  # ~50 flips expected beyond at p = 0.05/24
    assert signflip.flips_for(100, 0.05) * 0.05 / 100 >= signflip.EXPECTED_AT_LEVEL
    assert signflip.flips_for(1, 0.05) == signflip.MIN_FLIPS


# ------------------------------------------------------------------------------------------ the board
def board_rows(pairs: int, seeds: int, worse: float, *, metrics: int = 6) -> list[ResultRow]:
    """base and cand on `pairs` test pairs; cand is `worse` (relative) on every video; `metrics` metrics."""
    rng = np.random.default_rng(pairs)
    rows = []
    for m in range(metrics):
        for p in range(pairs):
            effect = rng.normal(0, 0.3)
            for s in range(seeds):
                value = 1.0 + effect + rng.normal(0, 0.05)
                for model, factor in (("base", 1.0), ("cand", 1.0 + worse)):
                    rows.append(ResultRow("sim", model, f"g-{model}", f"p{p:02d}", s, f"m{m}", "v1", "lower",
                                          value * factor + rng.normal(0, 0.01), "ok", created_at=1.0))
    return rows


def paired_table(markdown: str) -> str:
    return markdown[markdown.index("## Paired comparison"):markdown.index("## Metric versions")]


def test_board_of_five_pairs_marks_nothing_and_says_why() -> None:
    """5 test pairs: a candidate 50% worse on every video of 6 metrics is still not bold, because no
    sign-flip p can be below 2/2^5 = 1/16; the board says so instead of printing 'no sig. difference'."""
    board = build_leaderboard(board_rows(5, 2, 0.5), "sim")
    comps = list(board.comparisons.values())
    assert len(comps) == 6 and all(c.p_value == pytest.approx(1 / 16) for c in comps)
    assert not any(c.significant for c in comps)
    assert {c.verdict for c in comps} == {"n too small to test"}
    table = paired_table(board.to_markdown())
    assert "**No cell of this table can be bold, whatever the data**" in table
    assert "2/2^5 = 0.0625" in table and "0.05/6 = 0.00833" in table and "at least 8 test pairs" in table
    assert table.count("n too small to test") == 6 and "worse**" not in table


def test_board_with_enough_pairs_marks_the_same_difference() -> None:
    board = build_leaderboard(board_rows(12, 2, 0.5), "sim")
    comps = list(board.comparisons.values())
    assert all(c.testable and c.significant and c.verdict == "worse" for c in comps)
    assert all(c.p_value == pytest.approx(2 / 4096) for c in comps)  # every pair worse: the extreme pattern
    table = paired_table(board.to_markdown())
    assert "can be bold" not in table and table.count("worse**") == 6
    assert "paired sign-flip test" in table and "Holm's correction over the 6 comparisons" in table


def test_board_with_a_few_untestable_cells_names_them() -> None:
    """One metric scored on 5 pairs, the others on 12: only the 5-pair cell is 'n too small to test'."""
    rows = [r for r in board_rows(12, 2, 0.5, metrics=3) if r.metric != "m0" or r.sample < "p05"]
    board = build_leaderboard(rows, "sim")
    assert board.comparisons[("cand", "m0")].verdict == "n too small to test"
    assert board.comparisons[("cand", "m1")].verdict == "worse"
    table = paired_table(board.to_markdown())
    assert "\"n too small to test\": fewer than 6 test pairs" in table and table.count("n too small to test |") == 1
    assert "No cell of this table" not in table


def test_csv_has_raw_and_adjusted_p_and_names_the_test() -> None:
    rows = board_rows(12, 2, 0.02, metrics=2) + [
        ResultRow(**{**r.to_dict(), "metric": "m9", "sample": f"q{i:02d}-{r.sample}"})
        for i in range(2) for r in board_rows(12, 2, 0.02, metrics=1)]  # m9: 24 test pairs, random flips
    board = build_leaderboard(rows, "sim")
    records = {r["metric"]: r for r in csv.DictReader(io.StringIO(board.to_csv())) if r["model"] == "cand"}
    raw = [float(records[m]["diff_p_value"]) for m in ("m0", "m1", "m9")]
    assert [float(records[m]["diff_p_holm"]) for m in ("m0", "m1", "m9")] == pytest.approx(stats.holm(raw), rel=1e-5)
    for metric in ("m0", "m1"):
        cand = sorted((r.sample, r.seed, r.value) for r in rows if r.model == "cand" and r.metric == metric)
        base = sorted((r.sample, r.seed, r.value) for r in rows if r.model == "base" and r.metric == metric)
        x = stats.pair_means([c[2] - b[2] for c, b in zip(cand, base)], [c[0] for c in cand])
        assert float(records[metric]["diff_p_value"]) == pytest.approx(signflip.sign_flip_p(x), rel=1e-5)
        assert records[metric]["diff_p_test"] == "sign-flip exact (4096 patterns)"
    assert records["m9"]["diff_p_test"] == f"sign-flip ({signflip.MIN_FLIPS} random flips, seed 0)"
    assert records["m0"]["diff_ci_method"] == "t"
