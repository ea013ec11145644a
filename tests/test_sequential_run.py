"""`run --sequential` end to end on the demo's synthetic candidates (known truth), its resume after
kill -9, the leaderboard's "Sequential decisions" section and `check --sequential`.

Sizes: 14 tiny one-view test pairs (5 frames, 64x96), 1 seed, TSE gated at 5% (alpha 0.05 over
2 candidates). The rule decides nothing before 10 pairs; ``warp3`` is far worse and is called worse
there; ``base2`` renders exactly what ``base`` renders, so its differences are all 0 and it ends
``equivalent`` at 10 pairs.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.data.synthetic import SceneConfig
from cosmos_bench.data.synthetic_suite import write_synthetic_suite
from cosmos_bench.results.sequential import Budget
from cosmos_bench.results.store import ResultStore
from cosmos_bench.runner import RunConfig
from cosmos_bench.sequential_run import SequentialOptions, provenance_path, run_sequential

MODELS_YAML = """models:
  base: {kind: synthetic}
  base2: {kind: synthetic}
  warp3: {kind: synthetic, degrade: [elastic:3]}
"""
N_PAIRS = 14
OPTIONS = SequentialOptions(margin="tse=5%", alpha=0.05, order_seed=7)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("seqbench")
    write_synthetic_suite(root / "suite", SceneConfig(views=1, frames=5, height=64, width=96, seed=3), samples=N_PAIRS,
                          name="seqtiny")
    (root / "models.yaml").write_text(MODELS_YAML)
    return root


def config(root: Path, tag: str, models: list[str]) -> RunConfig:
    return RunConfig(models=models, suite=root / "suite", models_file=root / "models.yaml", metrics=["tse"], seeds=1,
                     out=root / f"videos_{tag}", store=root / f"{tag}.sqlite", leaderboards=root / f"boards_{tag}", plots=False)


@pytest.fixture(scope="module")
def both(bench: Path):
    return run_sequential(config(bench, "both", ["base", "warp3", "base2"]), OPTIONS)


def keys_and_values(store: Path) -> dict[tuple, float | None]:
    with ResultStore(store) as db:
        return {r.key: r.value for r in db.rows()}


def test_degraded_candidate_is_worse_before_the_suite_runs_out_and_a_copy_of_base_is_never_better_or_worse(both) -> None:
    by = {d.candidate: d for d in both.decisions}
    assert by["warp3"].verdict == "worse" and by["warp3"].n_pairs < N_PAIRS
    assert by["warp3"].low > 0.0488  # the whole interval beyond log(1.05)
    # identical renderer, identical noise: paired differences are exactly 0, so the interval is {0} once
    # the rule may decide (10 pairs)
    assert by["base2"].verdict == "equivalent" and by["base2"].estimate == 0.0 and by["base2"].n_pairs == 10
    # each candidate stopped being generated once decided, and base with the last of them
    assert both.cost.pairs_done == max(by["warp3"].n_pairs, by["base2"].n_pairs)
    assert both.cost.videos == both.cost.pairs_done + by["warp3"].n_pairs + by["base2"].n_pairs
    assert both.run.generation == {"generated": both.cost.videos, "skipped": 0, "failed": 0}
    assert both.cost.fixed_videos == N_PAIRS * 3


def test_leaderboard_has_the_section_and_the_cost(bench: Path, both) -> None:
    md = (bench / "boards_both" / "seqtiny.md").read_text()
    section = md[md.index("## Sequential decisions"):]
    assert "| warp3 | tse | **worse** | " in section
    assert f"{both.cost.videos} videos over {both.cost.pairs_done} of {N_PAIRS} test pairs" in section
    assert "GPU-hours" in section and "reuse them" in section
    csv_lines = (bench / "boards_both" / "seqtiny.sequential.csv").read_text().splitlines()
    assert csv_lines[0].startswith("candidate,metric,verdict,n_pairs,videos")
    assert any(line.startswith("warp3,tse,worse,") for line in csv_lines)
    # the HTML report shows the same verdicts (issue 22)
    html = (bench / "boards_both" / "seqtiny.report" / "index.html").read_text()
    assert 'id="sequential"' in html and '<td>warp3</td><td>tse</td><td class="verdict">worse</td>' in html
    # regenerating the leaderboard from the store keeps the section
    result = CliRunner().invoke(app, ["leaderboard", "--store", str(bench / "both.sqlite"),
                                      "--out", str(bench / "boards_both"), "--no-plots"])
    assert result.exit_code == 0, result.output
    regenerated = (bench / "boards_both" / "seqtiny.md").read_text()
    assert regenerated[regenerated.index("## Sequential decisions"):] == section


def test_rerun_of_a_finished_run_does_nothing_and_a_changed_design_is_refused(bench: Path, both) -> None:
    again = run_sequential(config(bench, "both", ["base", "warp3", "base2"]), OPTIONS)
    assert again.run.generation == {"generated": 0, "skipped": 0, "failed": 0} and again.run.rows_written == 0
    assert [(d.candidate, d.verdict, d.n_pairs, d.low, d.high) for d in again.decisions] == \
           [(d.candidate, d.verdict, d.n_pairs, d.low, d.high) for d in both.decisions]
    with pytest.raises(ValueError, match="another design .*order"):
        run_sequential(config(bench, "both", ["base", "warp3", "base2"]), SequentialOptions(margin="tse=5%", order_seed=8))


def test_check_sequential_gates_on_the_runs_own_rule(bench: Path, both) -> None:
    runner = CliRunner()
    common = ["check", "--sequential", "--store", str(bench / "both.sqlite"), "--baseline-model", "base"]
    worse = runner.invoke(app, common + ["--candidate", "warp3"])
    assert worse.exit_code == 1, worse.output
    assert "design recorded by the sequential run" in worse.output and "regression" in worse.output
    same = runner.invoke(app, common + ["--candidate", "base2"])
    decided = next(d for d in both.decisions if d.candidate == "base2").verdict == "equivalent"
    assert same.exit_code == (0 if decided else 3), same.output  # no verdict is never a pass
    if not decided:
        assert "cannot decide" in same.output
    # from an export, with no recorded design: the flags' rule (one candidate, so alpha is not split)
    export = bench / "boards_both" / "seqtiny.samples.csv"
    worse_csv = runner.invoke(app, ["check", "--sequential", "--current", str(export), "--candidate", "warp3",
                                    "--margin", "tse=5%", "--order-seed", "7"])
    assert worse_csv.exit_code == 1, worse_csv.output
    bad = runner.invoke(app, ["check", "--sequential", "--current", str(export), "--candidate", "warp3", "--margin", "tse=-5%"])
    assert bad.exit_code == 2 and "--margin" in bad.output


def test_cli_run_sequential_resumes_the_recorded_run_and_refuses_bad_input(bench: Path, both) -> None:
    base = ["run", "--sequential", "--models", "base,warp3,base2", "--suite", str(bench / "suite"), "--models-file",
            str(bench / "models.yaml"), "--metrics", "tse", "--seeds", "1", "--out", str(bench / "videos_both"),
            "--store", str(bench / "both.sqlite"), "--leaderboards", str(bench / "boards_cli"), "--order-seed", "7"]
    runner = CliRunner()
    done = runner.invoke(app, base + ["--margin", "tse=5%"])
    assert done.exit_code == 0, done.output
    assert "0 generated" in done.output and "worse" in done.output and "cost:" in done.output
    assert "## Sequential decisions" in (bench / "boards_cli" / "seqtiny.md").read_text()
    rows_before = len(keys_and_values(bench / "both.sqlite"))
    for extra, why in ((["--margin", "tse=five"], "--margin: 'tse=five'"),
                       (["--margin", "if=0.25"], "--margin: gates if, which the run's metrics do not include"),
                       (["--margin", "if=0.25", "--metrics", "tse,if"], "no judge endpoint"),
                       (["--margin", "cse=5%", "--metrics", "tse,cse"], "has one view"),
                       (["--population", "all"], "--population")):
        bad = runner.invoke(app, base + extra)
        assert bad.exit_code == 2 and why in bad.output, bad.output
    assert len(keys_and_values(bench / "both.sqlite")) == rows_before


def test_budget_stops_undecided_candidates_as_inconclusive(bench: Path, both) -> None:
    # reuses the finished run's videos and rows (same generation keys): no new work, a smaller budget
    cfg = config(bench, "both", ["base", "warp3", "base2"])
    capped = run_sequential(dataclasses.replace(cfg, store=bench / "capped.sqlite", leaderboards=None),
                            SequentialOptions(margin="tse=5%", order_seed=7, budget=Budget(max_pairs=4)))
    assert {d.verdict for d in capped.decisions} == {"inconclusive at budget"}
    assert capped.cost.pairs_done == 4 and capped.run.generation["generated"] == 0


def test_judge_outage_stops_the_run_instead_of_counting_as_a_tie(bench: Path) -> None:
    """A judge that is down says nothing about the videos: the pair waits, the rerun scores it and goes on."""
    from cosmos_bench.judge import JudgeConfig
    from cosmos_bench.judge.fake_server import FakeJudgeServer, Reply

    def cfg(url: str) -> RunConfig:  # judge scoring only
        judge = JudgeConfig(base_url=url, api_key="k", timeout_s=5, retries=0, backoff_s=0.001, backoff_max_s=0.01)
        return dataclasses.replace(config(bench, "judged", ["base", "warp3"]), metrics=["physics"], judge=judge,
                                   judge_cache=bench / "judged.jsonl", leaderboards=None)

    options = SequentialOptions(margin="physics=0.25", order_seed=7)
    down = run_sequential(cfg("http://127.0.0.1:9/v1"), options)  # port 9: nothing listens
    assert down.cost.pairs_done == 0 and not any(d.decided for d in down.decisions)
    assert any("stopped at pair" in e for e in down.run.errors)
    assert down.run.generation["generated"] == 2  # the first pair's base and warp3, kept for the rerun
    with FakeJudgeServer(lambda req: Reply("<think>plausible</think>\nScore: 4"), lifetime_s=120) as server:
        up = run_sequential(cfg(server.base_url), options)
        calls = server.calls
    assert up.cost.resumed_pairs == 0 and up.cost.pairs_done > 0 and calls == up.cost.videos
    assert up.run.generation["generated"] == up.cost.videos - 2 and up.run.generation["skipped"] == 2
    with ResultStore(bench / "judged.sqlite") as db:
        rows = db.rows(metric="physics")
    assert len(rows) == up.cost.videos and all(r.status == "ok" and r.value == 4.0 for r in rows)
    assert all(d.verdict in ("equivalent", "inconclusive at budget") for d in up.decisions)


KILLER = """
import os, signal, sys
from pathlib import Path
from cosmos_bench.runner import RunConfig
from cosmos_bench.sequential_run import SequentialOptions, run_sequential
root, after = Path(sys.argv[1]), int(sys.argv[2])
seen = []
def reporter(event):
    if event.stage == "generate" and event.kind == "advance":
        seen.append(event)
        if len(seen) == after:
            os.kill(os.getpid(), signal.SIGKILL)
cfg = RunConfig(models=["base", "warp3"], suite=root / "suite", models_file=root / "models.yaml", metrics=["tse"],
                seeds=1, out=root / "videos_k", store=root / "k.sqlite", leaderboards=root / "boards_k", plots=False)
run_sequential(cfg, SequentialOptions(margin="tse=5%", alpha=0.05, order_seed=7), reporter=reporter)
"""


def test_killed_sequential_run_resumes_with_the_same_order_and_verdicts(bench: Path) -> None:
    reference = run_sequential(config(bench, "ref", ["base", "warp3"]), OPTIONS)
    after = 7  # the 4th pair's base video: pairs 1-3 are complete, the 4th is half generated and unscored
    proc = subprocess.run([sys.executable, "-c", KILLER, str(bench), str(after)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr
    made = sorted((bench / "videos_k").glob("*/*/seed*/*.json"))
    assert len(made) >= after
    resumed = run_sequential(config(bench, "k", ["base", "warp3"]), OPTIONS)
    assert resumed.cost.resumed_pairs == 3  # replayed from the store, not generated or scored again
    assert resumed.run.generation["generated"] == reference.cost.videos - len(made)
    assert json.loads(provenance_path(bench / "k.sqlite", "seqtiny").read_text())["order"] == reference.provenance["order"]
    assert [(d.candidate, d.verdict, d.n_pairs, d.low, d.high) for d in resumed.decisions] == \
           [(d.candidate, d.verdict, d.n_pairs, d.low, d.high) for d in reference.decisions]
    assert keys_and_values(bench / "k.sqlite") == keys_and_values(bench / "ref.sqlite")  # no duplicate, no loss
