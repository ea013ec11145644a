"""`check --sequential` never passes without a verdict (issue 29): exit 3 for a one-pair suite, a
candidate or baseline missing a pair of the order, a spent budget; missing pairs named for both sides.

Rows are written by hand (one seed, TSE gated at 5%), so every case is exact, not simulated.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.results.leaderboard import samples_csv
from cosmos_bench.results.sequential import Budget, gate_exit_code, pair_order
from cosmos_bench.results.store import ResultRow
from cosmos_bench.sequential_run import SequentialOptions, replay_check


def rows(model: str, pairs: list[str], value: float, seeds: tuple[int, ...] = (0,)) -> list[ResultRow]:
    return [ResultRow("s", model, f"g-{model}", p, seed, "tse", "v1", "lower", value * (1 + 0.01 * i), "ok",
                      created_at=1.0) for i, p in enumerate(pairs) for seed in seeds]


def check(tmp_path: Path, table: list[ResultRow], *extra: str):
    path = tmp_path / "rows.csv"
    path.write_text(samples_csv(table))
    return CliRunner().invoke(app, ["check", "--sequential", "--current", str(path), "--candidate", "lora",
                                    "--margin", "tse=5%", *extra])


PAIRS = [f"p{i:02d}" for i in range(40)]


def test_one_pair_suite_with_a_far_worse_candidate_cannot_decide(tmp_path: Path) -> None:
    result = check(tmp_path, rows("base", ["p00"], 1.0) + rows("lora", ["p00"], 2.0))
    assert result.exit_code == 3, result.output
    assert "cannot decide" in result.output and "not a pass" in result.output


def test_decided_verdicts_give_the_regression_and_pass_codes(tmp_path: Path) -> None:
    worse = check(tmp_path, rows("base", PAIRS, 1.0) + rows("lora", PAIRS, 2.0))
    assert worse.exit_code == 1, worse.output
    same = check(tmp_path, rows("base", PAIRS * 3, 1.0) + rows("lora", PAIRS * 3, 1.0))
    assert same.exit_code in (0, 3)
    equal = rows("base", PAIRS, 1.0)
    monitor = replay_check(equal + [ResultRow(**{**r.to_dict(), "model": "lora", "generation_key": "g-lora"}) for r in equal],
                           candidates=["lora"], baseline="base", options=SequentialOptions(margin="tse=5%"))
    decisions = monitor.decisions()
    assert gate_exit_code(decisions) == (0 if all(d.verdict == "equivalent" for d in decisions) else 3)


def test_a_candidate_missing_the_first_pair_of_the_order_cannot_decide_and_is_named(tmp_path: Path) -> None:
    first = pair_order(PAIRS, 0)[0]
    table = rows("base", PAIRS, 1.0) + rows("lora", [p for p in PAIRS if p != first], 2.0)
    result = check(tmp_path, table)
    assert result.exit_code == 3, result.output  # far worse on every other pair, but the replay cannot pass the gap
    assert f"lora has no result for 1 of the 40 test pairs ({first})" in " ".join(result.output.split())


def test_missing_baseline_pairs_are_reported_too(tmp_path: Path) -> None:
    order = pair_order(PAIRS, 0)
    table = rows("base", [p for p in PAIRS if p not in order[:2]], 1.0) + rows("lora", PAIRS, 1.0)
    result = check(tmp_path, table)
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "base has no result for 2 of the" in text and order[0] in text and order[1] in text


def test_a_spent_budget_is_not_a_pass() -> None:
    table = rows("base", PAIRS, 1.0) + rows("lora", PAIRS, 1.0)
    monitor = replay_check(table, candidates=["lora"], baseline="base",
                           options=SequentialOptions(margin="tse=5%", budget=Budget(max_pairs=3)))
    decisions = monitor.decisions()
    assert [d.verdict for d in decisions] == ["inconclusive at budget"]
    assert gate_exit_code(decisions) == 3
