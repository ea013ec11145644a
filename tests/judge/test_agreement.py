"""Test-retest agreement of the judge: Krippendorff's alpha against published values and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cosmos_bench.judge.agreement import agreement_of_results, judge_agreement
from cosmos_bench.judge.fake_server import Reply
from tests.judge.conftest import fast_config


def test_ordinal_alpha_matches_krippendorffs_published_example():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12
    # units with missing values; ordinal alpha = 0.815 (nominal 0.743, interval 0.849).
    nan = None
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
    units = {f"u{j}": [obs[j] for obs in observers] for j in range(12)}
    got = judge_agreement(units)
    assert got.alpha == pytest.approx(0.815, abs=5e-4)
    assert got.n_videos == 11  # unit 12 has one value: no test-retest information
    assert got.flagged == ["u5"]  # scores 1, 2, 3, 4: the only unit spanning 2+ points


def test_alpha_is_one_for_a_consistent_judge_and_near_zero_for_a_random_one():
    rng = np.random.default_rng(0)
    quality = rng.integers(1, 6, size=300)  # 300 videos, 3 samples each, seed 0
    consistent = {f"v{i}": [int(q)] * 3 for i, q in enumerate(quality)}
    assert judge_agreement(consistent).alpha == pytest.approx(1.0)
    assert judge_agreement(consistent).flagged == []
    noisy = {f"v{i}": [int(x) for x in rng.integers(1, 6, size=3)] for i in range(300)}
    assert abs(judge_agreement(noisy).alpha) < 0.08
    # a judge off by one point now and then: high but not perfect, nothing flagged
    near = {f"v{i}": [int(q), int(q), int(min(5, q + 1))] for i, q in enumerate(quality)}
    a = judge_agreement(near)
    assert 0.8 < a.alpha < 1.0 and a.flagged == []


def test_undefined_alpha_says_why():
    assert judge_agreement({"a": [3, 3]}).alpha is None
    assert "2+ videos" in judge_agreement({"a": [3, 3]}).note
    same = judge_agreement({"a": [4, 4], "b": [4, 4]})
    assert same.alpha is None and "same" in same.note


def test_agreement_of_results_from_the_judge(server, script, make_videos):
    """Through the client: failed samples are missing, never numbers; per rubric."""
    from cosmos_bench.judge import judge_videos_sync

    a, b, c = make_videos("a", "b", "c")
    script.by_seed[(b"video-a", 0)] = Reply("Score: 1")
    script.by_seed[(b"video-a", 1)] = Reply("Score: 4")
    script.by_seed[(b"video-c", 1)] = Reply("no idea")  # fails after re-asks: missing
    res = judge_videos_sync([a, b, c], "video_physics", fast_config(server, samples=2, reasks=0))
    [agreement] = agreement_of_results(res).values()
    assert agreement.flagged == [str(a)]
    assert agreement.n_videos == 2 and agreement.n_samples == 4  # c has one valid sample
    assert agreement.alpha is not None and not math.isnan(agreement.alpha)
    # the same from the stored form (JudgeResult.to_dict(), what the results store keeps)
    assert agreement_of_results([r.to_dict() for r in res]) == agreement_of_results(res)


def test_agreement_of_store_rows_per_model_and_metric(server, script, make_videos, tmp_path):
    """The rows the runner stores for judge metrics (details = JudgeResult.to_dict()) give the same
    agreement per (model, metric) as the results themselves."""
    from types import SimpleNamespace

    from cosmos_bench.judge import judge_videos_sync
    from cosmos_bench.judge.agreement import agreement_of_rows

    a, b, c = make_videos("a", "b", "c")
    script.by_seed[(b"video-b", 1)] = Reply("Score: 2")
    res = judge_videos_sync([a, b, c], "video_physics", fast_config(server, samples=2))
    rows = [SimpleNamespace(model="lora8", metric="physics", sample=f"s{i}", seed=0, details=r.to_dict())
            for i, r in enumerate(res)]
    rows.append(SimpleNamespace(model="lora8", metric="physics", sample="down", seed=0, details={}))
    got = agreement_of_rows(rows)
    assert list(got) == [("lora8", "physics")]
    assert got[("lora8", "physics")].flagged == ["s1/seed0"] and got[("lora8", "physics")].n_videos == 3
    assert got[("lora8", "physics")].alpha == judge_agreement({"x": [4, 4], "y": [4, 2], "z": [4, 4]}).alpha
