"""`cosmos-bench judge` end to end against the scripted local server."""

from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.judge.fake_server import Reply
from tests.judge.conftest import API_KEY

runner = CliRunner()


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.setenv("COSMOS_BENCH_JUDGE_API_KEY", API_KEY)
    monkeypatch.setenv("COSMOS_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def make_videos(tmp_path):
    """Real, distinct tiny mp4s: the command probes every file and sends none that is not a video."""
    import numpy as np

    from cosmos_bench.data.video import write_video

    def make(*names: str):
        return [write_video(tmp_path / f"{n}.mp4", np.full((4, 16, 16, 3), 40 * i, np.uint8), fps=8)
                for i, n in enumerate(names, 1)]

    return make


def _judge(*args: str):
    return runner.invoke(app, ["judge", *args])


def test_judge_prints_scores_writes_json_and_reruns_from_cache(server, make_videos, tmp_path):
    a, b = make_videos("a", "b")
    out = tmp_path / "judge.json"
    res = _judge(str(a), str(b), "--base-url", server.base_url, "--samples", "2", "--json", str(out))
    assert res.exit_code == 0, res.output
    assert "4.00" in res.output and "video_physics-v1-" in res.output
    rows = json.loads(out.read_text())
    assert [(r["status"], r["score"], r["n_samples"]) for r in rows] == [("ok", 4.0, 2), ("ok", 4.0, 2)]
    assert API_KEY not in out.read_text()
    assert server.calls == 4

    res = _judge(str(a), str(b), "--base-url", server.base_url, "--samples", "2", "--json", str(out))
    assert res.exit_code == 0 and server.calls == 4  # all cached
    assert all(s["cached"] for r in json.loads(out.read_text()) for s in r["samples"])


def test_instruction_rubric_sends_the_instruction(server, make_videos):
    [a] = make_videos("a")
    res = _judge(str(a), "--rubric", "video_IF", "--instruction", "open the drawer with the right hand",
                 "--base-url", server.base_url, "--no-cache")
    assert res.exit_code == 0, res.output
    assert "open the drawer with the right hand" in server.requests[0].text


def test_failed_videos_exit_1_and_show_the_reason(server, script, make_videos):
    [a] = make_videos("a")
    script.default = Reply("I cannot tell.")
    res = _judge(str(a), "--base-url", server.base_url, "--no-cache")
    assert res.exit_code == 1
    assert "error" in res.output and "no score found" in res.output
    assert "have no score" in res.output


def test_endpoint_down_is_a_clear_error(make_videos):
    [a] = make_videos("a")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = _judge(str(a), "--base-url", f"http://127.0.0.1:{port}/v1")
    assert res.exit_code == 1
    assert "cannot reach the judge" in res.output and "vllm serve" in res.output


def test_argument_errors_exit_2(server, make_videos, tmp_path):
    [a] = make_videos("a")
    assert _judge(str(a), "--rubric", "video_IF", "--base-url", server.base_url).exit_code == 2
    assert _judge(str(tmp_path / "nope.mp4"), "--base-url", server.base_url).exit_code == 2
    res = _judge(str(a), "--rubric", "no_such_rubric", "--base-url", server.base_url)
    assert res.exit_code == 2 and "unknown rubric" in res.output
    assert server.calls == 0


def test_broken_files_are_never_uploaded(server, tmp_path):
    """A PNG renamed .mp4, a 0-byte file, a text file and cut mp4s get error rows, not scores, and no request (issue 15, 6)."""
    import numpy as np

    from cosmos_bench.data.video import write_video
    from tests.broken_videos import broken_videos

    frames = np.random.default_rng(0).integers(0, 255, (6, 32, 64, 3), dtype=np.uint8)
    good = write_video(tmp_path / "good.mp4", frames, fps=8)
    bad = broken_videos(tmp_path / "bad", frames, good)
    out = tmp_path / "judge.json"
    res = _judge(*map(str, bad.values()), str(good), "--base-url", server.base_url, "--no-cache", "--json", str(out))
    assert res.exit_code == 1, res.output
    rows = {r["video"]: r for r in json.loads(out.read_text())}
    assert all(rows[str(p)]["status"] == "error" and rows[str(p)]["score"] is None for p in bad.values()), rows
    assert "still image" in rows[str(bad["png"])]["reason"] and "empty file" in rows[str(bad["empty"])]["reason"]
    assert rows[str(good)]["status"] == "ok" and server.calls == 1  # only the real video was sent


def test_server_option_and_environment_pick_the_request_form(server, make_videos, monkeypatch):
    [a] = make_videos("a")
    res = _judge(str(a), "--base-url", server.base_url, "--no-cache", "--server", "vllm")
    assert res.exit_code == 0, res.output
    assert "top_k" in server.requests[-1].body and "judge server: vllm" in res.output
    monkeypatch.setenv("COSMOS_BENCH_JUDGE_SERVER", "generic")
    res = _judge(str(a), "--base-url", server.base_url, "--no-cache")
    assert res.exit_code == 0 and "top_k" not in server.requests[-1].body
    res = _judge(str(a), "--base-url", server.base_url, "--no-cache", "--server", "sglang")
    assert res.exit_code == 2 and "server must be auto or vllm or openai or generic" in res.output
    res = _judge(str(a), "--base-url", server.base_url, "--server", "openai", "--video-mode")
    assert res.exit_code == 2 and "--frames-mode" in res.output
    # left to auto, OpenAI's API (and any generic server) is sent JPEG frames as image_url parts
    res = _judge(str(a), "--base-url", server.base_url, "--no-cache", "--server", "openai")
    assert res.exit_code == 0, res.output
    assert {p["type"] for p in server.requests[-1].user_parts} == {"text", "image_url"}


def test_samples_show_the_judges_agreement_and_flag_disagreeing_videos(server, script, make_videos):
    a, b = make_videos("a", "b")
    script.by_seed[(a.read_bytes(), 0)] = Reply("Score: 1")
    script.by_seed[(a.read_bytes(), 1)] = Reply("Score: 5")
    res = _judge(str(a), str(b), "--base-url", server.base_url, "--no-cache", "--samples", "2", "--video-mode")
    assert res.exit_code == 0, res.output
    assert "test-retest agreement" in res.output and "α " in res.output
    assert "disagree by 2+ points" in res.output and str(a) in res.output.split("disagree by 2+ points")[1]


def test_run_and_rescore_pass_the_judge_server_on(monkeypatch):
    import typer

    from cosmos_bench.cli.options import judge_config as _judge_config

    assert _judge_config("http://judge/v1", None, 1, "vllm").server == "vllm"
    monkeypatch.setenv("COSMOS_BENCH_JUDGE_SERVER", "generic")
    assert _judge_config("http://judge/v1", None, 1).resolved().server == "generic"
    with pytest.raises(typer.Exit):
        _judge_config("http://judge/v1", None, 1, "sglang")
    for command in ("run", "rescore"):
        assert "--judge-server" in runner.invoke(app, [command, "--help"]).output
