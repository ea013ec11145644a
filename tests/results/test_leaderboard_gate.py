from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from cosmos_bench.results.gate import check_regression
from cosmos_bench.results.leaderboard import (
    build_leaderboard,
    cluster_bootstrap_ci,
    leaderboard_from_store,
    read_samples_csv,
    write_leaderboard,
)
from cosmos_bench.results.store import ResultRow, ResultStore


def make_rows(model: str, offset: float, *, n_samples=8, seeds=3, metric="tse", direction="lower",
              noise=0.05, seed=0, errors=0) -> list[ResultRow]:
    prompt_rng = np.random.default_rng(100)  # prompt difficulty: the same for every model and run
    rng = np.random.default_rng(seed)  # per-video noise
    rows = []
    for i in range(n_samples):
        sample_effect = prompt_rng.normal(0, 0.5)
        for s in range(seeds):
            status = "error" if len(rows) < errors else "ok"
            value = 1.0 + sample_effect + offset + rng.normal(0, noise)
            rows.append(ResultRow("demo", model, f"g-{model}", f"s{i}", s, metric, "v1", direction,
                                  value if status == "ok" else None, status,
                                  reason="judge down" if status == "error" else None, created_at=1.0))
    return rows


def test_bootstrap_is_seeded_and_covers_the_mean() -> None:
    vals = np.arange(20, dtype=float)
    clusters = [f"c{i // 2}" for i in range(20)]
    a = cluster_bootstrap_ci(vals, clusters, seed=1)
    assert a == cluster_bootstrap_ci(vals, clusters, seed=1)
    mean, low, high = a
    assert mean == pytest.approx(9.5) and low < mean < high


def test_leaderboard_means_counts_and_paired_verdicts() -> None:
    rows = make_rows("base", 0.0, seed=0) + make_rows("better", -0.3, seed=1) + make_rows("worse", 0.4, seed=2, errors=2)
    board = build_leaderboard(rows, "demo")
    assert board.models[0] == "base"
    assert board.rank("tse") == ["better", "base", "worse"]
    worse = board.summaries[("worse", "tse")]
    assert (worse.n, worse.n_error) == (22, 2)
    # the sample effect (±0.5) dwarfs the 0.3 offset, but pairing removes it
    assert board.comparisons[("better", "tse")].verdict == "better"
    assert board.comparisons[("worse", "tse")].verdict == "worse"
    md = board.to_markdown()
    assert "err 2" in md and "**" in md
    # the judge was not run: its columns say so, with how to enable it, instead of vanishing
    assert board.metrics[:4] == ["tse", "cse", "physics", "if"]
    assert "| worse | " in md and "not run (judge not run: serve Cosmos Reason2" in md


def test_missing_metric_shows_not_run() -> None:
    rows = make_rows("base", 0.0) + make_rows("base", 0.0, metric="physics", direction="higher") + make_rows("lora", 0.1)
    board = build_leaderboard(rows, "demo")
    cells = table_row(board.to_markdown(), "lora")
    assert cells[board.metrics.index("physics") + 1] == "not run"
    assert cells[board.metrics.index("tse") + 1].startswith("1.")  # the run metric is a number, not "not run"


def table_row(markdown: str, first_cell: str) -> list[str]:
    """The cells of the first markdown table row whose first cell is ``first_cell``."""
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row for {first_cell!r}")


def test_files_are_identical_when_regenerated_from_the_store(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    store.put_many(make_rows("base", 0.0) + make_rows("lora8", -0.2))
    a = write_leaderboard(leaderboard_from_store(store, "demo"), tmp_path / "a")
    b = write_leaderboard(leaderboard_from_store(store, "demo"), tmp_path / "b")
    for key in ("markdown", "csv", "samples", "plot:tse"):
        assert a[key].read_bytes() == b[key].read_bytes(), key
    back = read_samples_csv(a["samples"])
    assert len(back) == 48 and {r.model for r in back} == {"base", "lora8"}


def test_old_metric_versions_are_not_mixed(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    old = make_rows("base", 100.0)
    for r in old:
        r.metric_version, r.created_at = "v0", 0.5
    store.put_many(old + make_rows("base", 0.0))
    board = leaderboard_from_store(store, "demo")
    assert board.versions == {"tse": "v1"}
    assert board.summaries[("base", "tse")].mean < 5


def test_gate_passes_equal_and_fails_degraded() -> None:
    base = make_rows("lora8", 0.0, seed=0)
    same = make_rows("lora8", 0.0, seed=1)  # an equally good retrain: only the per-video noise differs
    worse = make_rows("lora8", 0.3, seed=0)
    assert check_regression(base, same, candidate="lora8", baseline="lora8").passed
    report = check_regression(base, worse, candidate="lora8", baseline="lora8")
    assert not report.passed and "beyond the allowed margin" in report.verdicts[0].why
    w = check_regression(base, worse, candidate="lora8", baseline="lora8", method="wilcoxon")
    assert not w.passed and w.verdicts[0].p_value < 0.05
    # a small change inside the margin passes
    slight = make_rows("lora8", 0.01, seed=0)
    assert check_regression(base, slight, candidate="lora8", baseline="lora8", max_regression=0.05).passed


def test_gate_direction_and_failures() -> None:
    base = make_rows("m", 0.0, metric="physics", direction="higher")
    lower_score = make_rows("m", -0.5, metric="physics", direction="higher")
    assert not check_regression(base, lower_score, candidate="m", baseline="m").passed
    higher_score = make_rows("m", +0.5, metric="physics", direction="higher")
    assert check_regression(base, higher_score, candidate="m", baseline="m").passed
    # 3 failures in 24 videos (none for the baseline) is not evidence (McNemar p = 0.125); 10 is
    assert check_regression(base, make_rows("m", 0.0, metric="physics", direction="higher", errors=3),
                            candidate="m", baseline="m").passed
    broken = make_rows("m", 0.0, metric="physics", direction="higher", errors=10)
    report = check_regression(base, broken, candidate="m", baseline="m")
    assert not report.passed and "10 more failed" in report.verdicts[0].why and "McNemar" in report.verdicts[0].why


def test_a_suite_name_from_the_store_never_writes_outside_the_leaderboard_folder(tmp_path: Path) -> None:
    """A store filled before suite names were checked may hold ``../x``; the leaderboard refuses it."""
    rows = [dataclasses.replace(r, suite="../../escaped") for r in make_rows("base", 0.0, n_samples=2, seeds=1)]
    board = build_leaderboard(rows, "../../escaped")
    with pytest.raises(ValueError, match=r"suite name '../../escaped' .* must be letters, digits"):
        write_leaderboard(board, tmp_path / "boards" / "deep")
    assert not list(tmp_path.rglob("escaped*"))


def _judge_row(model: str, sample: str, seed: int, scores: list[int]) -> ResultRow:
    samples = [{"index": i, "status": "ok", "score": s} for i, s in enumerate(scores)]
    return ResultRow(suite="s", model=model, generation_key="g", sample=sample, seed=seed, metric="physics",
                     metric_version="physics-v1", direction="higher", value=sum(scores) / len(scores), status="ok",
                     details={"samples": samples})


def test_judge_agreement_is_shown_beside_the_judge_columns_when_videos_had_several_samples() -> None:
    """Issue 19: with --judge-samples N >= 2 the board states the judge's test-retest agreement (its
    numbers are judge.agreement's, which tests/judge/test_agreement.py checks against a published value)."""
    from cosmos_bench.judge.agreement import agreement_of_rows

    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        true = int(rng.integers(1, 6))
        rows.append(_judge_row("base", f"p{i}", 0, [true, min(5, true + int(rng.integers(0, 2)))]))
    rows.append(_judge_row("base", "p12", 0, [1, 5]))  # 4 points apart: flagged
    board = build_leaderboard(rows, "s")
    expected = agreement_of_rows(rows)[("base", "physics")]
    md = board.to_markdown()
    assert "## Judge agreement" in md and expected.alpha is not None
    assert f"| base | {expected.summary()}; 1 disagree by 2+ |" in md
    single = build_leaderboard([_judge_row("base", f"p{i}", 0, [4]) for i in range(3)], "s")
    assert "## Judge agreement" not in single.to_markdown()  # one sample per video: nothing to agree on


@pytest.mark.parametrize("metric, direction, values, least, most", [
    ("tse", "lower", [0.1, 0.12, 0.09, 0.11, 3.0], 0.0, None),  # one bad video of five: the bootstrap-t dips below 0
    ("physics", "higher", [1, 1, 1, 2, 5], 1.0, 5.0),  # the t interval crosses the 1-5 scale
])
def test_a_mean_interval_never_leaves_the_values_the_metric_can_take(metric, direction, values, least, most) -> None:
    """Cutting to the metric's range changes no coverage (the true mean lies in it) and keeps a
    5-pair board from printing a negative pixel error or a judge score below 1."""
    from cosmos_bench.results import stats
    from cosmos_bench.results.leaderboard import summarize

    rows = [ResultRow("demo", "base", "g", f"s{i}", 0, metric, "v1", direction, float(v), "ok", created_at=1.0)
            for i, v in enumerate(values)]
    raw = stats.mean_interval(values, [r.sample for r in rows], n_boot=2000, seed=0)
    assert raw.low < least or (most is not None and raw.high > most)  # the interval the rule gives does leave it
    cell = summarize(rows, "base", metric, n_boot=2000, confidence=0.95, seed=0)
    assert cell.ci_low >= least and cell.ci_low == max(raw.low, least)
    assert cell.ci_high == (raw.high if most is None else min(raw.high, most))
