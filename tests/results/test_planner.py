"""The planner recovers known variance components and says when more prompts beat more seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.results.leaderboard import samples_csv
from cosmos_bench.results.planner import pilot_variance, plan
from cosmos_bench.results.sequential import metric_rules
from cosmos_bench.results.simulation import Components, sampson_values
from cosmos_bench.results.store import ResultRow

RULE = metric_rules("tse=5%")["tse"]


def _pilot_rows(components: Components, pairs: int, seeds: int, seed: int) -> list[ResultRow]:
    base, cand = sampson_values(np.random.default_rng(seed), runs=1, pairs=pairs, seeds=seeds, components=components)
    rows = []
    for model, values in (("base", base[0]), ("lora8", cand[0])):
        for i in range(pairs):
            for s in range(seeds):
                rows.append(ResultRow(suite="pilot", model=model, generation_key=f"k{model}", sample=f"p{i:03d}",
                                      seed=s, metric="tse", metric_version="v1", direction="lower",
                                      value=float(values[i, s]), status="ok"))
    return rows


def test_pilot_variance_recovers_the_simulated_components():
    truth = Components(between=0.5, interaction=0.1, seed_shared=0.1, seed_own=0.2)
    # 400 pairs x 3 seeds, seed 0: the estimates' sampling error is a few percent
    pilot = pilot_variance(_pilot_rows(truth, 400, 3, 0), candidate="lora8", baseline="base", rule=RULE)
    assert pilot.within == pytest.approx(2 * 0.2**2, rel=0.1)
    assert pilot.interaction == pytest.approx(2 * 0.1**2, rel=0.35)
    assert pilot.correlation > 0.9  # the shared prompt effect makes pairing pay
    back = pilot.components()
    assert back.seed_own == pytest.approx(0.2, rel=0.1) and back.between == pytest.approx(0.5, rel=0.1)


def test_with_a_prompt_model_effect_more_prompts_beat_more_seeds():
    pilot = pilot_variance(_pilot_rows(Components(0.5, 0.15, 0.1, 0.1), 200, 3, 1), candidate="lora8",
                           baseline="base", rule=RULE)
    plans = {p.seeds: p for p in plan(pilot, RULE, effect=math.log(1 / 0.9), seed_options=(1, 5), runs=200, pool=100)}
    assert plans[1].fixed_videos < plans[5].fixed_videos
    assert plans[1].sequential_median_videos < plans[5].sequential_median_videos


def test_plan_command_prints_both_designs_and_rejects_a_bad_effect(tmp_path):
    pilot = tmp_path / "pilot.samples.csv"
    pilot.write_text(samples_csv(_pilot_rows(Components(0.5, 0.1, 0.1, 0.1), 12, 2, 2)))
    runner = CliRunner(env={"COLUMNS": "200"})
    res = runner.invoke(app, ["plan", "--pilot", str(pilot), "--effect", "10%", "--margin", "tse=5%", "--seeds", "1,5"])
    assert res.exit_code == 0, res.output
    assert "lora8 vs base, tse" in res.output and "fixed pairs" in res.output and "seq. median videos" in res.output
    assert "split over 1 candidate(s) x 1 gated metric(s) = 0.05 per comparison" in " ".join(res.output.split())
    # the run's split: 3 candidates x 1 metric, as SequentialMonitor gives each comparison alpha / (K M)
    three = runner.invoke(app, ["plan", "--pilot", str(pilot), "--effect", "10%", "--margin", "tse=5%", "--seeds", "5",
                                "--run-candidates", "3"])
    assert three.exit_code == 0 and "= 0.01667 per comparison" in " ".join(three.output.split()), three.output
    bad = runner.invoke(app, ["plan", "--pilot", str(pilot), "--effect", "ten", "--margin", "tse=5%"])
    assert bad.exit_code == 2 and "--effect: 'ten'" in bad.output


def test_the_split_alpha_is_what_the_plan_simulates():
    """plan_from_rows gives each comparison alpha / (K M): the same plan as plan() at that alpha (2 metrics, 1 candidate)."""
    from cosmos_bench.results.planner import plan_from_rows

    rows = _pilot_rows(Components(0.5, 0.1, 0.1, 0.1), 30, 2, 3)
    rules = metric_rules("tse=5%,cse=5%")
    rows += [ResultRow(**{**r.to_dict(), "metric": "cse"}) for r in rows]
    ((pilot, size, plans), _) = plan_from_rows(rows, rules, effect="10%", seed_options=(2,), runs=100)
    (direct,) = plan(pilot, rules["tse"], effect=size, alpha=0.025, seed_options=(2,), runs=100)
    assert plans[0] == direct
    (looser,) = plan(pilot, rules["tse"], effect=size, alpha=0.05, seed_options=(2,), runs=100)
    assert looser.sequential_power >= direct.sequential_power and looser != direct
