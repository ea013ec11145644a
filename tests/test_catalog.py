"""The metric catalogue is the one place a metric is described: every consumer agrees with it."""

from __future__ import annotations

import pytest

from cosmos_bench import catalog
from cosmos_bench.judge import load_rubric
from cosmos_bench.results import leaderboard, sequential


def test_every_selectable_metric_has_a_stage_and_companions_follow_their_headline():
    from cosmos_bench import runner

    assert set(runner.ALL_METRICS) == {m.name for m in catalog.METRICS.values() if m.selectable}
    assert set(runner.GEOMETRIC_METRICS) | set(runner.JUDGE_METRICS) == set(runner.ALL_METRICS)
    for info in catalog.METRICS.values():
        if info.companion_of is not None:
            headline = catalog.metric(info.companion_of)
            assert headline.stage == info.stage and info.name in catalog.companions(headline.name)
            if info.name.endswith(catalog.SECONDARY_SUFFIX):  # another statistic of the same errors
                assert headline.direction == info.direction and catalog.companion(headline.name) == info.name
    assert catalog.metric("motion").direction == "higher"  # its own quantity: more motion, more dynamic
    assert catalog.companions("tse") == ("tse_mean", "motion")


def test_judge_metrics_name_rubrics_the_package_ships():
    for name in catalog.metrics_of_stage("judge"):
        assert load_rubric(catalog.metric(name).rubric).name == catalog.metric(name).rubric


def test_leaderboard_statistics_and_help_read_the_catalogue():
    assert leaderboard.STANDARD_METRICS == {"tse": "lower", "cse": "lower", "physics": "higher", "if": "higher"}
    assert leaderboard.METRIC_ORDER == ("tse", "cse", "physics", "if", "tse_mean", "cse_mean", "motion")
    assert leaderboard.NOT_RUN_HINT["cse"] == "needs a suite with two or more views"
    assert sequential.JUDGE_METRICS == {"if", "physics"}
    text = catalog.metrics_help()
    assert all(f"{name} (" in text for name in catalog.selectable_metrics())


def test_unknown_metric_is_one_clear_line():
    with pytest.raises(KeyError, match="unknown metric 'sharpness'"):
        catalog.metric("sharpness")
