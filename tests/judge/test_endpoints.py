"""Several judge endpoints (``--judge-url a,b``): requests are spread over them, an endpoint that refuses
connections is left out, and one that fails its requests mid-run hands its videos to the others."""

from __future__ import annotations

import asyncio
import socket

from cosmos_bench.judge import judge_videos_sync, load_rubric
from cosmos_bench.judge.client import endpoint_urls, judge_version, resolve_endpoint
from cosmos_bench.judge.fake_server import FakeJudgeServer, Reply, Status

from .conftest import Script, fast_config


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"  # nothing listens here once the socket closes


def test_urls_split_on_commas() -> None:
    assert endpoint_urls(" http://a/v1, http://b/v1 ,") == ["http://a/v1", "http://b/v1"]
    assert endpoint_urls("http://a/v1") == ["http://a/v1"]


def test_an_endpoint_refusing_connections_is_left_out_and_the_other_scores_everything(make_videos) -> None:
    videos = make_videos("a", "b", "c", "d")
    dead = _closed_port_url()
    with FakeJudgeServer(Script(), lifetime_s=60) as live:
        config, found = asyncio.run(resolve_endpoint(fast_config(base_url=f"{dead},{live.base_url}"), timeout_s=5))
        assert endpoint_urls(config.base_url) == [live.base_url]
        assert any(dead in note for note in found.notes)
        results = judge_videos_sync(videos, "video_physics", config)
    assert [r.status for r in results] == ["ok"] * 4 and [r.score for r in results] == [4.0] * 4


def test_videos_are_spread_over_endpoints_and_a_failing_one_hands_its_videos_over(make_videos) -> None:
    videos = make_videos("a", "b", "c", "d", "e", "f")
    with FakeJudgeServer(Script(), lifetime_s=60) as good, FakeJudgeServer(Script(Status(503)), lifetime_s=60) as bad:
        config = fast_config(base_url=f"{good.base_url},{bad.base_url}", retries=1)
        results = judge_videos_sync(videos, "video_physics", config)
        assert [r.status for r in results] == ["ok"] * 6  # every video scored despite the failing endpoint
        assert bad.calls > 0 and good.calls >= 6  # the bad one was tried with its own retries, then handed over
        rubric = load_rubric("video_physics")
        assert {r.judge_version for r in results} == {judge_version(rubric, config)}  # one version for both


def test_two_healthy_endpoints_share_the_work(make_videos) -> None:
    videos = make_videos(*"abcdefgh")
    with FakeJudgeServer(Script(Reply("Score: 3")), lifetime_s=60) as one, \
            FakeJudgeServer(Script(Reply("Score: 3")), lifetime_s=60) as two:
        results = judge_videos_sync(videos, "video_physics", fast_config(base_url=f"{one.base_url},{two.base_url}"))
        assert [r.score for r in results] == [3.0] * 8
        assert one.calls == 4 and two.calls == 4  # dealt round-robin


def test_each_result_says_which_endpoint_answered_and_stderr_says_a_failure_was_recovered(make_videos, caplog) -> None:
    videos = make_videos("a", "b")
    with FakeJudgeServer(Script(), lifetime_s=60) as good, FakeJudgeServer(Script(Status(503)), lifetime_s=60) as bad:
        config = fast_config(base_url=f"{good.base_url},{bad.base_url}", retries=0)
        with caplog.at_level("INFO", logger="cosmos_bench.judge"):
            results = judge_videos_sync(videos, "video_physics", config)
        good_url, bad_url = good.base_url, bad.base_url
    assert [r.status for r in results] == ["ok", "ok"]
    # a went to the good endpoint first, b to the bad one and then to the good one: both answered by the good one
    assert [r.endpoint for r in results] == [good_url] * 2
    assert [s.endpoint for r in results for s in r.samples] == [good_url] * 2
    assert results[1].to_dict()["samples"][0]["endpoint"] == good_url  # in the rows' details
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert not any("failed:" in w for w in warnings)  # no "sample failed" for a video that then succeeded
    assert any(f"scored at {good_url} after failing at {bad_url}" in w for w in warnings)
    assert any(f"failed at {bad_url}" in r.getMessage() and f"asking {good_url} next" in r.getMessage()
               for r in caplog.records if r.levelname == "INFO")
