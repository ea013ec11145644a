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
