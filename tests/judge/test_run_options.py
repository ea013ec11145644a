"""`run`, `rescore` and `demo` take the judge's options (frames mode, frame count, fps, timeout, concurrency,
server profile, samples) from the command line and from a `--judge-config` file, spelled as in `judge`.
Against the scripted server, on a tiny synthetic suite (5 frames, 48x80)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.data.synthetic import SceneConfig
from cosmos_bench.data.synthetic_suite import write_synthetic_suite
from cosmos_bench.judge.fake_server import FakeJudgeServer, Reply

JUDGE_ENV = ("COSMOS_BENCH_JUDGE_URL", "COSMOS_BENCH_JUDGE_API_KEY", "COSMOS_BENCH_JUDGE_SERVER", "OPENAI_BASE_URL",
             "OPENAI_API_KEY")


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("opts")
    write_synthetic_suite(root / "suite", SceneConfig(frames=5, height=48, width=80, seed=1), samples=1, name="opts")
    return root / "suite"


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in JUDGE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "models.yaml").write_text("models:\n  base: {kind: synthetic}\n")
    return tmp_path


@pytest.fixture
def server():
    with FakeJudgeServer(lambda req: Reply("<think>ok</think>\nScore: 4"), lifetime_s=120) as srv:
        yield srv


def _invoke(command: str, bench: Path, suite: Path, *args: str, store: str = "s.sqlite"):
    cmd = [command, "--models", "base", "--suite", str(suite), "--out", str(bench / "videos"), "--store",
           str(bench / store), "--leaderboards", str(bench / "boards"), *args]
    if command == "run":
        cmd += ["--models-file", str(bench / "models.yaml"), "--seeds", "1"]
    return CliRunner().invoke(app, cmd)


def _media(server) -> list[list[str]]:
    return [[p["type"] for p in r.user_parts if p["type"] != "text"] for r in server.requests]


def test_run_takes_frames_mode_samples_and_the_server_profile_from_the_command_line(bench, suite, server):
    res = _invoke("run", bench, suite, "--metrics", "physics", "--judge-url", server.base_url, "--frames-mode",
                  "--num-frames", "2", "--judge-samples", "2", "--judge-server", "vllm", "--timeout", "7",
                  "--concurrency", "1")
    assert res.exit_code == 0, res.output
    assert _media(server) == [["image_url", "image_url"]] * 2  # 2 samples of one video, 2 frames each
    assert {r.seed for r in server.requests} == {0, 1} and all("top_k" in r.body for r in server.requests)


def test_a_judge_config_file_sets_the_same_options_and_the_command_line_wins(bench, suite, server):
    config = bench / "judge.yaml"
    config.write_text(f"base_url: {server.base_url}\nvideo_mode: frames\nnum_frames: 3\nsamples: 2\nserver: generic\n")
    res = _invoke("run", bench, suite, "--metrics", "physics", "--judge-config", str(config))
    assert res.exit_code == 0, res.output
    assert _media(server) == [["image_url"] * 3] * 2 and all("top_k" not in r.body for r in server.requests)
    # rescore: the same file, with --judge-samples 3 given (one more sample per video) and the video itself
    server.reset()
    res = _invoke("rescore", bench, suite, "--metrics", "physics", "--judge-config", str(config), "--judge-samples",
                  "3", "--video-mode", store="s2.sqlite")
    assert res.exit_code == 0, res.output
    assert _media(server) == [["video_url"]] * 3


def test_a_bad_judge_config_file_is_one_line_naming_the_file_and_the_key(bench, suite, server):
    config = bench / "judge.yaml"
    config.write_text("base_url: http://x/v1\nframes: 8\n")
    res = _invoke("run", bench, suite, "--metrics", "physics", "--judge-config", str(config))
    assert res.exit_code == 2 and f"{config}: unknown key(s) frames" in res.output and "num_frames" in res.output
    config.write_text("api_key: secret\n")
    res = _invoke("run", bench, suite, "--metrics", "physics", "--judge-config", str(config))
    assert res.exit_code == 2 and "api_key is not read from files" in res.output
    config.write_text("timeout_s: -1\n")
    res = _invoke("run", bench, suite, "--metrics", "physics", "--judge-config", str(config))
    assert res.exit_code == 2 and "timeout_s must be > 0" in res.output
    assert server.calls == 0


def test_demo_hands_the_judge_options_to_the_run(bench, server, monkeypatch):
    from cosmos_bench import demo

    seen = {}

    def fake_run_demo(out, **kw):
        seen["judge"] = kw["judge"]
        raise SystemExit(0)

    monkeypatch.setattr(demo, "run_demo", fake_run_demo)
    CliRunner().invoke(app, ["demo", "--out", str(bench / "demo"), "--no-tiny-cosmos", "--judge-url", server.base_url,
                             "--frames-mode", "--num-frames", "4", "--timeout", "9", "--concurrency", "2",
                             "--judge-samples", "2", "--judge-server", "generic", "--judge-fps", "8"])
    judge = seen["judge"]
    assert (judge.video_mode, judge.num_frames, judge.timeout_s, judge.concurrency, judge.samples, judge.server,
            judge.fps) == ("frames", 4, 9.0, 2, 2, "generic", 8.0)


@pytest.mark.parametrize("discriminates", [True, False])
def test_run_asks_controls_keeps_them_out_of_the_scores_and_the_board_flags_a_judge_that_does_not_discriminate(
        bench, tmp_path_factory, discriminates):
    root = tmp_path_factory.mktemp("ctl")
    write_synthetic_suite(root / "suite", SceneConfig(frames=6, height=48, width=80, seed=2), samples=3, name="ctl")
    suite = root / "suite"
    seen: list[bytes] = []

    def script(req):  # the 3 videos are asked first, as one batch, then their controls
        seen.append(req.video_bytes)
        if discriminates and len(seen) > 3:
            assert req.video_bytes not in seen[:3]  # a control is another video: the shuffled copy
            return Reply("<think>jumps</think>\nScore: 1")
        return Reply("<think>ok</think>\nScore: 4")

    with FakeJudgeServer(script, lifetime_s=120) as srv:
        res = _invoke("run", bench, suite, "--metrics", "physics", "--judge-url", srv.base_url, "--video-mode",
                      "--controls", "1.0", "--concurrency", "1")
    assert res.exit_code == 0, res.output
    from cosmos_bench.results.store import ResultStore

    rows = ResultStore(bench / "s.sqlite").rows(metric="physics")
    assert [r.value for r in rows] == [4.0] * 3  # the controls never enter the scores
    assert all(r.details["control"]["kind"] == "shuffled_frames" for r in rows)
    assert {r.details["control"]["score"] for r in rows} == ({1.0} if discriminates else {4.0})
    board = (bench / "boards" / "ctl.md").read_text()
    assert "## Judge controls" in board
    line = next(x for x in board.splitlines() if x.startswith("| base | physics |"))
    if discriminates:
        assert "| 3 | 3.00 [3.00, 3.00] | 0% | discriminates |" in line
    else:
        assert "| 3 | 0.00 [0.00, 0.00] | 100% | **not shown to discriminate** |" in line
