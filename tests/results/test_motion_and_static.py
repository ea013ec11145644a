"""A frozen candidate is never ranked best on geometry, and a much less dynamic one is named (issue 27)."""

from __future__ import annotations

from cosmos_bench.results.gate import check_regression
from cosmos_bench.results.leaderboard import build_leaderboard
from cosmos_bench.results.store import ResultRow


def _row(model: str, sample: str, metric: str, value: float | None, status: str = "ok") -> ResultRow:
    return ResultRow(suite="s", model=model, generation_key=model, sample=sample, seed=0, metric=metric,
                     metric_version="v3", direction="higher" if metric == "motion" else "lower",
                     value=value if status == "ok" else None, status=status,
                     reason=None if status == "ok" else "static: nothing moves")


def _board_rows() -> list[ResultRow]:
    rows = []
    for i in range(6):
        s = f"p{i}"
        rows += [_row("base", s, "tse", 0.20 + 0.01 * i), _row("base", s, "motion", 1.0 + 0.1 * i)]
        rows += [_row("frozen", s, "tse", None, "static"), _row("frozen", s, "motion", 0.0)]
        rows += [_row("slow", s, "tse", 0.05 + 0.01 * i), _row("slow", s, "motion", 0.2 + 0.01 * i)]
    return rows


def test_static_videos_are_counted_never_averaged_and_slow_candidates_are_named():
    board = build_leaderboard(_board_rows(), "s", baseline="base", n_boot=200)
    frozen = board.summaries[("frozen", "tse")]
    assert frozen.n == 0 and frozen.n_static == 6 and frozen.n_total == 6
    assert "static 6" in board.to_markdown()
    assert board.rank("tse")[0] != "frozen"
    text = board.to_markdown()
    assert "## Less dynamic than the baseline" in text and "`slow` moves" in text and "`frozen` moves" in text
    assert ("slow", "motion") not in board.comparisons and ("slow", "tse") in board.comparisons


def test_the_gate_does_not_judge_motion():
    rows = _board_rows()
    report = check_regression([r for r in rows if r.model == "base"], [r for r in rows if r.model == "slow"],
                              candidate="slow", baseline="base", n_boot=200)
    assert [v.metric for v in report.verdicts] == ["tse"]
