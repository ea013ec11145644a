"""The score cache: valid scores only, zero calls on a cached rerun, reruns ask exactly the failed ones."""

from __future__ import annotations

import json
import threading

import pytest

from cosmos_bench.judge import JudgeRequest, ScoreCache, judge_version, judge_videos_sync, load_rubric
from cosmos_bench.judge.fake_server import Reply, Status
from tests.judge.conftest import fast_config


def test_rerun_makes_zero_calls_and_reasks_exactly_the_failed_ones(server, script, make_videos, tmp_path):
    a, b, c = make_videos("a", "b", "c")
    script.plan[b"video-b"] = [Reply("no idea")]  # garbage every time
    script.plan[b"video-c"] = [Status(500)]  # server error every time
    cache = ScoreCache(tmp_path / "scores.jsonl")
    cfg = fast_config(server, retries=1, reasks=1)

    first = judge_videos_sync([a, b, c], "video_physics", cfg, cache)
    assert [r.status for r in first] == ["ok", "error", "error"]
    assert server.calls == 1 + 2 + 2
    assert len(cache) == 1  # only the valid score is stored

    script.plan.clear()  # the server recovers
    server.reset()
    events = []
    second = judge_videos_sync([a, b, c], "video_physics", cfg, ScoreCache(tmp_path / "scores.jsonl"), progress=events.append)
    assert [r.status for r in second] == ["ok", "ok", "ok"]
    assert sorted(r.video_bytes for r in server.requests) == [b"video-b", b"video-c"]  # exactly the failed ones
    assert [(s.cached, s.attempts) for s in second[0].samples] == [(True, 1)]
    assert [e.cached for e in events].count(True) == 1

    server.reset()
    third = judge_videos_sync([a, b, c], "video_physics", cfg, ScoreCache(tmp_path / "scores.jsonl"))
    assert server.calls == 0
    assert [r.score for r in third] == [4.0, 4.0, 4.0] and all(r.samples[0].cached for r in third)
    assert sum(r.calls for r in third) == 0


def test_rerun_reasks_only_the_failed_sample_index(server, script, make_videos, tmp_path):
    [v] = make_videos("a")
    script.by_seed[(b"video-a", 1)] = Status(503)
    cfg = fast_config(server, samples=3, retries=0)
    cache = ScoreCache(tmp_path / "scores.jsonl")
    assert judge_videos_sync([v], "video_physics", cfg, cache)[0].status == "error"
    script.by_seed.clear()
    server.reset()
    [res] = judge_videos_sync([v], "video_physics", cfg, cache)
    assert res.status == "ok" and res.score == 4.0
    assert [r.seed for r in server.requests] == [1]
    assert [s.cached for s in res.samples] == [True, False, True]


def test_new_judge_version_or_instruction_never_reuses_scores(server, script, make_videos, tmp_path):
    [v] = make_videos("a")
    cache = ScoreCache(tmp_path / "scores.jsonl")
    cfg = fast_config(server)
    judge_videos_sync([v], "video_physics", cfg, cache)
    assert server.calls == 1

    script.default = Reply("Score: 2")
    [hot] = judge_videos_sync([v], "video_physics", fast_config(server, temperature=1.0), cache)
    assert server.calls == 2 and hot.score == 2.0  # new sampling → new version → asked again
    [old] = judge_videos_sync([v], "video_physics", cfg, cache)
    assert server.calls == 2 and old.score == 4.0  # the old version's score, not mixed with the new
    assert hot.judge_version != old.judge_version

    for instruction in ("pick up the cup", "push the box", "pick up the cup"):
        judge_videos_sync([JudgeRequest(v, instruction)], "video_IF", cfg, cache)
    assert server.calls == 4  # two distinct instructions, the repeat is cached


def test_cache_file_holds_only_valid_scores_and_survives_a_torn_line(tmp_path):
    path = tmp_path / "scores.jsonl"
    cache = ScoreCache(path)
    with pytest.raises(ValueError, match="only valid integer scores"):
        cache.put(("v", "j", "", 0), {"score": None, "raw_reply": "garbage"})
    with pytest.raises(ValueError):
        cache.put(("v", "j", "", 0), {"score": 3.5})
    cache.put(("v", "j", "", 0), {"score": 3, "raw_reply": "Score: 3"})
    with open(path, "a") as fh:
        fh.write('{"video_sha256": "v", "judge_version": "j", "sample_in')  # crash mid-write
    again = ScoreCache(path)
    assert len(again) == 1 and again.get(("v", "j", "", 0))["score"] == 3 and again.skipped_lines == 1


def test_concurrent_appends_never_interleave(tmp_path):
    path = tmp_path / "scores.jsonl"
    caches = [ScoreCache(path) for _ in range(4)]  # four writers on one file
    big = "x" * 20_000  # far above PIPE_BUF: atomicity must come from the lock, not luck

    def write(w: int) -> None:
        for i in range(25):
            caches[w].put((f"v{w}", "j", "", i), {"score": 1 + i % 5, "raw_reply": big})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    lines = path.read_text().splitlines()
    assert len(lines) == 100 and all(json.loads(ln)["raw_reply"] == big for ln in lines)
    assert len(ScoreCache(path)) == 100


def test_judge_version_covers_what_changes_scores_and_nothing_else():
    r = load_rubric("video_physics")

    def vllm(**kw):  # the vLLM form sends every setting, so each one must show in the version
        return fast_config(None, server="vllm", **kw)

    base = judge_version(r, vllm())
    changed = [
        vllm(model="nvidia/Cosmos-Reason2-2B"),
        vllm(temperature=0.0),
        vllm(top_p=0.9),
        vllm(top_k=None),
        vllm(max_tokens=1024),
        vllm(seed=1),
        vllm(fps=16),
        vllm(video_mode="frames"),
        vllm(extra_body={"repetition_penalty": 1.05}),
        vllm(repetition_penalty=1.05),
        vllm(presence_penalty=0.5),
        vllm(request_mm_kwargs=True),  # the pixel budget the server is asked for
        vllm(request_mm_kwargs=True, context_length=32768),  # ... and its size
        vllm(prompt_style="rubric"),  # the prompt layout
        fast_config(None, server="generic"),  # the request form
    ]
    versions = {judge_version(r, c) for c in changed}
    assert base not in versions and len(versions) == len(changed)
    assert judge_version(r, fast_config(None, video_mode="frames", num_frames=8)) != judge_version(
        r, fast_config(None, video_mode="frames", num_frames=16)
    )
    same = [
        vllm(base_url="http://elsewhere:8000/v1", api_key="other"),
        vllm(concurrency=32, timeout_s=9, retries=0, reasks=0, samples=5),
        vllm(num_frames=32),  # frame count only matters in frames mode
        vllm(context_length=32768),  # sizes only a pixel budget, which is not sent by default
    ]
    assert {judge_version(r, c) for c in same} == {base}
    assert base.startswith("video_physics-v1-")
    assert judge_version(load_rubric("video_IF"), vllm()) != base
    # the generic form sends neither fps nor a pixel budget: they cannot change what the judge sees
    assert judge_version(r, fast_config(None, server="generic", fps=16)) == judge_version(r, fast_config(None, server="generic"))
