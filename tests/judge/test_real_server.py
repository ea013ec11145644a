"""The judge against a real third-party server: Hugging Face ``transformers serve`` (5.x) with tiny
Qwen3-VL checkpoints built locally, behind a recording proxy that keeps every request and reply.

What this server does (and so what the judge must cope with): it refuses unknown fields with
HTTP 422 ``{"detail": "Unexpected fields in the request: {...}"}``, lists only loaded models,
parses ``<think>…</think>`` into ``reasoning_content``, and cannot read the judge's base64
``data:video/mp4`` URL for Qwen3-VL (HTTP 500: 5.24 treats Qwen3-VL as audio+video, decodes an audio
track first, and takes video only as a path or URL), so video mode through it fails with the
server's reason and frames mode works.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from cosmos_bench.judge import JudgeConfig, judge_version, judge_videos_sync, load_rubric, resolve_endpoint
from tests.judge.recording_proxy import RecordingProxy

RUBRIC = "video_physics"


@pytest.fixture
def proxy(hf_serve):
    with RecordingProxy(hf_serve.port) as p:
        yield p


def _config(base_url: str, model: str, **kw) -> JudgeConfig:
    base = dict(base_url=base_url, model=model, api_key="EMPTY", video_mode="frames", num_frames=3, max_tokens=64,
                timeout_s=120.0, retries=1, reasks=0, backoff_s=0.01, backoff_max_s=0.05, concurrency=2)
    base.update(kw)
    return JudgeConfig(**base)


def _judge(config: JudgeConfig, *videos):
    return judge_videos_sync(list(videos), RUBRIC, config)


def test_frames_mode_scores_through_the_real_server_in_the_generic_form(hf_serve, proxy, real_mp4):
    [res] = _judge(_config(proxy.base_url, hf_serve.fixed_model, samples=2), real_mp4)
    assert res.status == "ok", (res.reason, hf_serve.log_tail())
    assert res.score == 4.0 and res.scores == [4, 4]
    assert "The motion is smooth" in res.samples[0].reasoning  # the server split off the <think> part
    # auto asked once (models, then vLLM's /version, which this server does not have) and chose generic
    gets = [(e.method, e.path, e.status) for e in proxy.exchanges if e.method == "GET"]
    assert gets == [("GET", "/v1/models", 200), ("GET", "/version", 404)]
    assert res.judge["request"]["server"] == "generic"
    chats = proxy.chats()
    assert [e.status for e in chats] == [200, 200]
    assert chats[0].fields == {"model", "temperature", "top_p", "seed", "max_tokens"}
    parts = chats[0].body["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"] * 3 + ["text"]
    assert [p["text"] for p in parts[:-1:2]] == ["<0.0 seconds>", "<1.0 seconds>", "<1.9 seconds>"]  # frames 0, 8, 15 at 8 fps
    assert {e.body["seed"] for e in chats} == {0, 1}


def test_vllm_form_is_refused_with_422_then_asked_again_without_those_fields(hf_serve, proxy, real_mp4):
    cfg = _config(proxy.base_url, hf_serve.fixed_model, server="vllm", concurrency=1)
    [res] = _judge(cfg, real_mp4)
    assert res.status == "ok" and res.score == 4.0, (res.reason, hf_serve.log_tail())
    first, second = proxy.chats()
    assert first.status == 422 and {"top_k", "repetition_penalty", "max_completion_tokens"} <= first.fields
    detail = json.loads(first.reply)["detail"]
    assert detail.startswith("Unexpected fields in the request") and "top_k" in detail
    assert second.status == 200 and not ({"top_k", "repetition_penalty"} & second.fields)
    assert second.body["max_completion_tokens"] == 64  # the server knows this one: kept
    # the server's reason is in the sample's record, and the form used is in the judge version
    assert "HTTP 422: Unexpected fields in the request" in res.samples[0].errors[0]
    assert res.judge["request"]["dropped"] == ["repetition_penalty", "top_k"]
    assert res.judge_version != judge_version(load_rubric(RUBRIC), cfg)
    assert res.samples[0].attempts == 2


def test_video_mode_fails_with_the_servers_reason_never_a_number(hf_serve, proxy, real_mp4):
    # vLLM form in video mode: 422 for the vLLM fields, dropped; then the server cannot read a
    # data: video URL and answers 500 (its own words: "Internal Server Error"), retried once
    cfg = _config(proxy.base_url, hf_serve.fixed_model, server="vllm", video_mode="video", concurrency=1)
    [res] = _judge(cfg, real_mp4)
    assert res.status == "error" and res.score is None and res.scores == []
    assert [e.status for e in proxy.chats()] == [422, 500, 500]
    assert "media_io_kwargs" in json.loads(proxy.chats()[0].reply)["detail"]
    assert res.samples[0].reason.startswith("HTTP 500: Internal Server Error")
    assert "pass --frames-mode" in res.samples[0].reason  # the one-line hint naming the option
    assert "Traceback" in hf_serve.log_tail(200_000)  # the server's own log has the details


def test_a_random_model_is_never_read_as_a_score(hf_serve, proxy, real_mp4):
    [res] = _judge(_config(proxy.base_url, hf_serve.random_model, reasks=1, max_tokens=16), real_mp4)
    assert res.status == "error" and res.score is None
    assert res.samples[0].attempts == 2 and len(proxy.chats()) == 2  # asked once more, with a new seed
    assert "invalid reply" in res.samples[0].reason and res.samples[0].raw_reply


def test_an_unlisted_model_is_a_warning_and_the_server_loads_it(hf_serve, proxy, real_mp4):
    cfg, found = asyncio.run(resolve_endpoint(_config(proxy.base_url, hf_serve.unlisted_model)))
    assert hf_serve.unlisted_model not in (found.models or [])
    assert any("does not list" in n for n in found.notes) and cfg.server == "generic"
    [res] = _judge(cfg, real_mp4)
    assert res.status == "ok" and res.score == 4.0
    assert asyncio.run(resolve_endpoint(cfg))[1].notes == []  # listed once loaded


def test_the_cli_scores_through_the_real_server(hf_serve, real_mp4, monkeypatch, tmp_path):
    from cosmos_bench.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("COSMOS_BENCH_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(real_mp4.read_bytes())
    res = CliRunner().invoke(app, ["judge", str(real_mp4), str(copy), "--frames-mode", "--num-frames", "2", "--samples", "2",
                                   "--base-url", hf_serve.base_url, "--model", hf_serve.fixed_model, "--no-cache"])
    assert res.exit_code == 0, res.output + hf_serve.log_tail()
    assert "4.00" in res.output and "judge server: generic" in res.output
    assert "test-retest agreement" in res.output and "every score is the same" in res.output


def test_run_scores_through_the_real_server_in_frames_mode_by_default(hf_serve, tmp_path, monkeypatch):
    """`run --judge-url <transformers serve>`: auto finds a generic server and sends frames, so rows get scores."""
    from cosmos_bench.cli import app
    from cosmos_bench.data.synthetic import SceneConfig
    from cosmos_bench.data.synthetic_suite import write_synthetic_suite
    from cosmos_bench.results.store import ResultStore

    for name in ("COSMOS_BENCH_JUDGE_URL", "COSMOS_BENCH_JUDGE_SERVER", "COSMOS_BENCH_JUDGE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    write_synthetic_suite(tmp_path / "suite", SceneConfig(frames=5, height=48, width=80, seed=1), samples=1, name="hf")
    (tmp_path / "models.yaml").write_text("models:\n  base: {kind: synthetic}\n")
    res = CliRunner().invoke(app, ["run", "--models", "base", "--suite", str(tmp_path / "suite"), "--models-file",
                                   str(tmp_path / "models.yaml"), "--seeds", "1", "--out", str(tmp_path / "videos"),
                                   "--store", str(tmp_path / "s.sqlite"), "--leaderboards", str(tmp_path / "boards"),
                                   "--metrics", "physics", "--judge-url", hf_serve.base_url, "--judge-model",
                                   hf_serve.fixed_model, "--num-frames", "2"])
    assert res.exit_code == 0, res.output + hf_serve.log_tail()
    rows = ResultStore(tmp_path / "s.sqlite").rows(metric="physics")
    assert [(r.status, r.value) for r in rows] == [("ok", 4.0)]
    assert rows[0].details["judge"]["encoding"]["mode"] == "frames"
    assert rows[0].details["samples"][0]["endpoint"] == hf_serve.base_url  # which server answered, per row
