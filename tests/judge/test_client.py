"""The judge client against a real HTTP server (the openai client over 127.0.0.1), scripted replies."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import cv2
import numpy as np
import pytest

from cosmos_bench.judge import (
    DEFAULT_MODEL,
    JudgeConfig,
    JudgeEndpointError,
    JudgeRequest,
    check_endpoint,
    judge_videos,
    judge_videos_sync,
    load_rubric,
    resolve_endpoint,
)
from cosmos_bench.judge.fake_server import Drop, Raw, Reply, Status
from tests.judge.conftest import API_KEY, fast_config


def _one(server, video, rubric="video_physics", **kw):
    [res] = judge_videos_sync([video], rubric, fast_config(server, **kw))
    return res


# ------------------------------------------------------------------ reply shapes
@pytest.mark.parametrize(
    "reply, score",
    [
        (Reply("Score: 5"), 5),
        (Reply("<think>The cup stays rigid; score 2 would be too harsh.</think>\nScore: 3"), 3),
        (Reply("Score: 4", reasoning="The gripper holds the cup. Maybe a 2?"), 4),  # vLLM reasoning parser
        (Reply(None, reasoning="Nothing odd happens.\nScore: 2"), 2),  # content null, answer in `reasoning`
        (Reply(None, reasoning="All plausible.\nScore: 5", reasoning_field="reasoning_content"), 5),
    ],
    ids=["valid", "think+answer", "parser-split", "content-null-reasoning", "content-null-reasoning_content"],
)
def test_reply_shapes_give_the_final_score(server, script, make_videos, reply, score):
    [v] = make_videos("a")
    script.default = reply
    res = _one(server, v)
    assert (res.status, res.score, res.samples[0].attempts) == ("ok", score, 1)
    assert res.samples[0].raw_reply == reply.content
    assert res.samples[0].reasoning == reply.reasoning


def test_garbage_is_reasked_with_new_seeds_then_an_error_with_the_raw_reply(server, script, make_videos):
    [v] = make_videos("a")
    script.default = Reply("The video shows a robot arm.")
    res = _one(server, v, reasks=2)
    s = res.samples[0]
    assert res.status == "error" and res.score is None and s.score is None
    assert s.attempts == 3 and server.calls == 3
    assert s.raw_reply == "The video shows a robot arm."
    assert "invalid reply" in s.reason and "no score found" in s.reason
    assert [r.seed for r in server.requests] == [0, 100_000, 200_000]


def test_truncated_reasoning_is_not_read_as_a_score(server, script, make_videos):
    [v] = make_videos("a")
    script.default = Reply(None, reasoning="Looks like a 4, but the cup bends, so maybe score 2 or", finish_reason="length")
    res = _one(server, v, reasks=0)
    assert res.status == "error" and res.score is None
    assert "cut at max_tokens" in res.samples[0].reason


def test_garbage_then_valid_is_ok_after_two_attempts(server, script, make_videos):
    [v] = make_videos("a")
    script.plan[b"video-a"] = [Reply("banana"), Reply("Score: 2")]
    res = _one(server, v)
    assert (res.status, res.score, res.samples[0].attempts) == ("ok", 2, 2)


@pytest.mark.parametrize(
    "failures, marker",
    [
        ([Status(500), Status(503)], "HTTP 50"),
        ([Status(429, retry_after=0.05)], "HTTP 429"),
        ([Reply("Score: 1", delay_s=1.0)], "timeout"),
        ([Drop()], "connection error"),
        ([Raw(b"<html>502 Bad Gateway</html>")], "not a chat completion"),
        ([Raw(b'{"choices": [{"message": {"content": "Sco', content_type="application/json")], "not a chat completion"),
    ],
    ids=["5xx", "429", "slower-than-timeout", "dropped-connection", "html-body", "cut-json-body"],
)
def test_transient_failures_are_retried(server, script, make_videos, failures, marker):
    [v] = make_videos("a")
    script.plan[b"video-a"] = [*failures, Reply("Score: 4")]
    t0 = time.perf_counter()
    res = _one(server, v, timeout_s=0.3)
    s = res.samples[0]
    assert (res.status, res.score) == ("ok", 4.0)
    assert s.attempts == len(failures) + 1 == server.calls
    assert len(s.errors) == len(failures) and all(marker in e for e in s.errors)
    if isinstance(failures[0], Status) and failures[0].retry_after:
        assert time.perf_counter() - t0 >= 0.05  # Retry-After honoured (capped by backoff_max_s)


def test_persistent_5xx_becomes_an_error_row_after_bounded_retries(server, script, make_videos):
    [v] = make_videos("a")
    script.default = Status(500, "engine crashed")
    res = _one(server, v, retries=2)
    s = res.samples[0]
    assert res.status == "error" and res.score is None and res.spread is None
    assert s.attempts == 3 == server.calls
    assert "HTTP 500" in s.reason and "after 3 attempt(s)" in s.reason
    assert "engine crashed" in res.reason


def test_persistent_timeout_is_an_error_not_a_hang(server, script, make_videos):
    [v] = make_videos("a")
    script.default = Reply("Score: 3", delay_s=1.0)
    t0 = time.perf_counter()
    res = _one(server, v, timeout_s=0.2, retries=1)
    assert time.perf_counter() - t0 < 1.5
    assert res.status == "error" and "timeout" in res.samples[0].reason and res.samples[0].attempts == 2


def test_client_errors_are_not_retried(server, script, make_videos):
    [v] = make_videos("a")
    script.default = Status(400, "video too long for max-model-len")
    res = _one(server, v)
    assert res.status == "error" and res.samples[0].attempts == 1 == server.calls
    assert "HTTP 400" in res.samples[0].reason


# ------------------------------------------------------------------ samples, concurrency, progress
def test_n_samples_give_mean_and_spread_with_distinct_seeds(server, script, make_videos):
    [v] = make_videos("a")
    for seed, score in [(7, 2), (8, 4), (9, 3)]:
        script.by_seed[(b"video-a", seed)] = Reply(f"Score: {score}")
    res = _one(server, v, samples=3, seed=7, temperature=0.9)
    assert res.status == "ok"
    assert sorted(res.scores) == [2, 3, 4]
    assert res.score == pytest.approx(3.0) and res.spread == pytest.approx(1.0)  # sample std (ddof=1)
    assert sorted(r.seed for r in server.requests) == [7, 8, 9]
    assert {r.body["temperature"] for r in server.requests} == {0.9}


def test_one_failed_sample_makes_the_video_an_error_not_a_smaller_mean(server, script, make_videos):
    [v] = make_videos("a")
    script.by_seed[(b"video-a", 1)] = Status(500)
    res = _one(server, v, samples=3, retries=0)
    assert res.status == "error" and res.score is None and res.spread is None
    assert [s.status for s in res.samples] == ["ok", "error", "ok"]
    assert res.scores == [4, 4]  # kept, for the rerun and for inspection
    assert res.reason.startswith("1/3 sample(s) failed")


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_is_bounded_and_reached(server, script, make_videos, concurrency):
    videos = make_videos(*"abcdefghij")
    script.default = Reply("Score: 4", delay_s=0.1)
    events = []
    res = judge_videos_sync(videos, "video_physics", fast_config(server, concurrency=concurrency), progress=events.append)
    assert all(r.status == "ok" for r in res)
    assert server.max_in_flight == concurrency
    assert [e.done for e in events] == list(range(1, 11)) and {e.total for e in events} == {10}
    assert [r.id for r in res] == [str(v) for v in videos]  # input order kept


def test_retry_backoff_does_not_hold_a_concurrency_slot(server, script, make_videos):
    a, b = make_videos("a", "b")
    script.plan[b"video-a"] = [Status(503), Reply("Score: 4")]
    res = judge_videos_sync([a, b], "video_physics", fast_config(server, concurrency=1, backoff_s=0.3, backoff_max_s=0.3))
    assert [r.status for r in res] == ["ok", "ok"]
    # b is served while a waits out its backoff (order of calls, not wall time: the machine may be loaded)
    order = [req.video_bytes for req in server.requests]
    assert order.count(b"video-a") == 2 and order.index(b"video-b") < len(order) - 1 - order[::-1].index(b"video-a")


# ------------------------------------------------------------------ request shape
def test_video_part_first_then_text_with_fps_in_media_io_kwargs(server, script, make_videos):
    [v] = make_videos("a")
    instruction = "Use the left hand to put the red cup on the blue plate."
    [res] = judge_videos_sync([JudgeRequest(v, instruction)], "video_IF", fast_config(server, fps=16, server="vllm"))
    assert res.status == "ok"
    [req] = server.requests
    body = req.body
    rubric = load_rubric("video_IF")
    assert body["model"] == DEFAULT_MODEL
    # a Cosmos Reason2 model: its documented system prompt; the whole rubric is the user turn, ending in
    # the documented reasoning format
    assert body["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
    parts = body["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["video_url", "text"]
    assert parts[0]["video_url"]["url"].startswith("data:video/mp4;base64,")
    assert req.video_bytes == b"video-a"
    text = parts[1]["text"]
    assert text.startswith(rubric.system_prompt) and instruction in text and rubric.question(instruction) in text
    assert text.endswith("<think>\nYour reasoning.\n</think>\n\nWrite your final answer immediately after the </think> tag.")
    assert res.judge["prompt"]["style"] == "cosmos-reason2"
    # vLLM 0.32 applies a per-request frame rate only through its video loader's media_io_kwargs;
    # mm_processor_kwargs is refused unless the server trusts them (and its fps has no effect there)
    assert body["media_io_kwargs"] == {"video": {"fps": 16.0, "num_frames": -1}}
    assert "mm_processor_kwargs" not in body
    assert res.judge["encoding"]["fps"] == 16.0 and res.judge["request"]["fields"]["media_io_kwargs"]["video"]["fps"] == 16.0
    assert "fps" not in body  # a top-level fps is silently ignored by vLLM
    assert (body["top_p"], body["top_k"], body["max_completion_tokens"]) == (0.95, 20, 4096)
    assert (body["repetition_penalty"], body["presence_penalty"]) == (1.0, 0.0)
    assert "max_tokens" not in body
    assert req.headers["authorization"] == f"Bearer {API_KEY}"


def test_physics_is_judged_without_the_prompt(server, make_videos):
    [v] = make_videos("a")
    [res] = judge_videos_sync([JudgeRequest(v, "put the SECRET-PROMPT cup away")], "video_physics", fast_config(server))
    assert "SECRET-PROMPT" not in json.dumps(server.requests[0].body)
    assert res.instruction is None  # the result records what was asked


def test_fps_none_sends_no_vllm_extension(server, make_videos):
    [v] = make_videos("a")
    [res] = judge_videos_sync([v], "video_physics", fast_config(server, fps=None, top_k=None))
    assert res.status == "ok"
    assert "mm_processor_kwargs" not in server.requests[0].body and "top_k" not in server.requests[0].body


def test_a_failing_progress_callback_does_not_lose_scores(server, make_videos):
    videos = make_videos("a", "b")

    def boom(event):
        raise RuntimeError("display crashed")

    res = judge_videos_sync(videos, "video_physics", fast_config(server), progress=boom)
    assert [r.score for r in res] == [4.0, 4.0]


def test_instruction_rubric_without_instruction_is_an_error_with_no_call(server, make_videos):
    [v] = make_videos("a")
    [res] = judge_videos_sync([v], "video_IF", fast_config(server))
    assert res.status == "error" and "needs an instruction" in res.reason and server.calls == 0


def test_frames_mode_sends_n_jpeg_frames_in_time_order(server, real_mp4):
    [res] = judge_videos_sync([real_mp4], "video_physics", fast_config(server, video_mode="frames", num_frames=4))
    assert res.status == "ok"
    [req] = server.requests
    parts = req.user_parts
    assert [p["type"] for p in parts] == ["text", "image_url"] * 4 + ["text"]
    # each frame comes after its time (16 frames at 8 fps: frames 0, 5, 10, 15)
    assert [p["text"] for p in parts[:-1:2]] == ["<0.0 seconds>", "<0.6 seconds>", "<1.2 seconds>", "<1.9 seconds>"]
    assert "mm_processor_kwargs" not in req.body
    # the preamble's span is the labels' span (0.0 to 1.9 s), not the clip's length (2.0 s)
    assert "4 frames in time order, evenly spaced from 0.0 to 1.9 seconds" in parts[-1]["text"]
    levels = []
    for jpg in req.image_bytes:
        img = cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (48, 64, 3)
        levels.append(float(img.mean()))
    assert levels == sorted(levels) and levels[-1] - levels[0] > 150  # first … last frame


def test_undecodable_video_in_frames_mode_is_an_error_row(server, make_videos):
    [v] = make_videos("a")  # not an mp4
    [res] = judge_videos_sync([v], "video_physics", fast_config(server, video_mode="frames"))
    assert res.status == "error" and "cannot encode video" in res.reason and server.calls == 0


def test_missing_file_is_an_error_row(server, tmp_path):
    [res] = judge_videos_sync([tmp_path / "nope.mp4"], "video_physics", fast_config(server))
    assert res.status == "error" and "cannot use video" in res.reason and res.score is None


# ------------------------------------------------------------------ endpoint, config, API key
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_endpoint_down_gives_error_rows_and_check_endpoint_raises(make_videos):
    [v] = make_videos("a")
    cfg = fast_config(None, base_url=f"http://127.0.0.1:{_free_port()}/v1", retries=1)
    [res] = judge_videos_sync([v], "video_physics", cfg)
    assert res.status == "error" and "connection error" in res.reason and res.samples[0].attempts == 2
    with pytest.raises(JudgeEndpointError, match="cannot reach"):
        asyncio.run(check_endpoint(cfg, timeout_s=2))


def test_check_endpoint_lists_models_and_warns_about_an_unlisted_model(server, caplog, make_videos):
    assert asyncio.run(check_endpoint(fast_config(server))) == [DEFAULT_MODEL]
    assert "does not list" not in caplog.text
    # servers that load models on demand list only loaded ones: a warning, and the judge still asks
    cfg, found = asyncio.run(resolve_endpoint(fast_config(server, model="nvidia/Cosmos-Reason2-2B")))
    assert found.models == [DEFAULT_MODEL] and "does not list 'nvidia/Cosmos-Reason2-2B'" in found.notes[0]
    assert "does not list" not in caplog.text  # the caller shows the notes (the CLI prints them): said once
    [v] = make_videos("a")
    judge_videos_sync([v], "video_physics", fast_config(server, model="nvidia/Cosmos-Reason2-2B", server="auto"))
    assert caplog.text.count("does not list") == 1  # the library call that resolved it says it, once


def test_config_from_environment(monkeypatch):
    for k in ("COSMOS_BENCH_JUDGE_URL", "COSMOS_BENCH_JUDGE_API_KEY", "COSMOS_BENCH_JUDGE_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(k, raising=False)
    cfg = JudgeConfig().resolved()
    assert (cfg.base_url, cfg.api_key, cfg.model) == ("http://localhost:8000/v1", "EMPTY", DEFAULT_MODEL)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai-style/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "k-openai")
    cfg = JudgeConfig().resolved()  # generic variables are not cosmos-bench's: ignored unless asked for
    assert (cfg.base_url, cfg.api_key) == ("http://localhost:8000/v1", "EMPTY")
    cfg = JudgeConfig().resolved(generic=True)
    assert (cfg.base_url, cfg.api_key) == ("http://openai-style/v1", "k-openai")
    monkeypatch.setenv("COSMOS_BENCH_JUDGE_URL", "http://judge:9000/v1")
    monkeypatch.setenv("COSMOS_BENCH_JUDGE_API_KEY", "k-judge")
    monkeypatch.setenv("COSMOS_BENCH_JUDGE_MODEL", "nvidia/Cosmos-Reason2-2B")
    cfg = JudgeConfig.from_env(model=None, samples=3)
    assert (cfg.base_url, cfg.api_key, cfg.model, cfg.samples) == ("http://judge:9000/v1", "k-judge", "nvidia/Cosmos-Reason2-2B", 3)
    assert JudgeConfig.from_env(base_url="http://arg/v1").base_url == "http://arg/v1"  # arguments win


def test_a_url_from_openai_base_url_gets_the_openai_key_never_cosmos_benchs_own(monkeypatch):
    from cosmos_bench.judge.client import generic_env_used

    for k in ("COSMOS_BENCH_JUDGE_URL", "COSMOS_BENCH_JUDGE_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai-style/v1")
    monkeypatch.setenv("COSMOS_BENCH_JUDGE_API_KEY", "k-judge")
    cfg = JudgeConfig().resolved(generic=True)
    assert (cfg.base_url, cfg.api_key) == ("http://openai-style/v1", "EMPTY")  # not k-judge
    monkeypatch.setenv("OPENAI_API_KEY", "k-openai")
    cfg = JudgeConfig().resolved(generic=True)
    assert (cfg.base_url, cfg.api_key) == ("http://openai-style/v1", "k-openai")
    assert generic_env_used(None) == ["OPENAI_BASE_URL", "OPENAI_API_KEY"]  # the note names both
    # an explicit URL keeps cosmos-bench's own key
    cfg = JudgeConfig(base_url="http://mine/v1").resolved(generic=True)
    assert cfg.api_key == "k-judge" and generic_env_used("http://mine/v1") == []


def test_bad_config_values_are_rejected_with_the_value():
    with pytest.raises(ValueError, match="concurrency must be >= 1, got 0"):
        JudgeConfig(concurrency=0)
    with pytest.raises(ValueError, match="video_mode"):
        JudgeConfig(video_mode="gif")


def test_api_key_never_in_results_logs_or_repr(server, script, make_videos, caplog, tmp_path):
    from cosmos_bench.judge import ScoreCache

    a, b, c = make_videos("a", "b", "c")
    script.plan[b"video-b"] = [Status(500, f"upstream said: bad key {API_KEY}")]  # a server echoing the key
    script.plan[b"video-c"] = [Reply(f"I was called with {API_KEY}")]
    cache = ScoreCache(tmp_path / "cache.jsonl")
    caplog.set_level("DEBUG")
    res = judge_videos_sync([a, b, c], "video_physics", fast_config(server, retries=1, reasks=0), cache)
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in server.requests)  # it was sent …
    dumped = json.dumps([r.to_dict() for r in res])
    assert API_KEY not in dumped  # … but is nowhere we keep things
    assert API_KEY not in (tmp_path / "cache.jsonl").read_text()
    assert API_KEY not in caplog.text
    assert API_KEY not in repr(fast_config(server)) and API_KEY not in repr(res)
    assert "***" in res[1].reason and "***" in res[2].samples[0].raw_reply


def test_sync_wrapper_refuses_a_running_loop(make_videos):
    [v] = make_videos("a")

    async def inner():
        with pytest.raises(RuntimeError, match="await judge_videos"):
            judge_videos_sync([v], "video_physics", fast_config(None))

    asyncio.run(inner())


def test_async_entry_point(server, make_videos):
    videos = make_videos("a", "b")
    res = asyncio.run(judge_videos([JudgeRequest(p, id=f"s{i}") for i, p in enumerate(videos)], "video_physics",
                                   fast_config(server)))
    assert [(r.id, r.status, r.score) for r in res] == [("s0", "ok", 4.0), ("s1", "ok", 4.0)]
