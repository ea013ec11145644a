"""Judge controls against scripted servers that do and do not discriminate: shuffled frames for
`video_physics`, another video's instruction for `video_IF`; the drop, its interval, the share of controls
scoring at least as high, the flag, the version, and controls kept out of the videos' scores."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from typer.testing import CliRunner

from cosmos_bench.data.video import read_video, write_video
from cosmos_bench.judge import JudgeRequest, judge_version, load_rubric
from cosmos_bench.judge.controls import (
    control_report,
    judge_with_controls,
    pick_controls,
    shuffled_copy,
)
from cosmos_bench.judge.fake_server import FakeJudgeServer, FakeRequest, Reply

from .conftest import fast_config

INSTRUCTIONS = ["Pick up the red cup with the left hand.", "Push the box to the right.", "Open the drawer.",
                "Wave with the right hand.", "Put the apple on the plate.", "Close the laptop.", "Stack the blocks.",
                "Pour water into the glass."]


@pytest.fixture
def clips(tmp_path):
    """8 distinct 6-frame clips whose gray level rises with time (so a shuffle is visible)."""
    return [write_video(tmp_path / f"clip{i}.mp4", np.stack([np.full((32, 32, 3), 5 * i + 40 * t, np.uint8)
                                                             for t in range(6)]), fps=6)
            for i in range(8)]


def _levels(path) -> list[float]:
    return [float(f.mean()) for f in read_video(path).frames]


def test_the_pick_is_deterministic_order_free_and_sized_by_the_share():
    keys = [f"v{i}" for i in range(20)]
    picked = pick_controls(keys, 0.1, seed=0)
    assert len(picked) == 2 and picked == pick_controls(list(reversed(keys)), 0.1, seed=0)
    assert pick_controls(keys, 0.1, seed=1) != picked  # the seed chooses another set
    assert len(pick_controls(keys[:3], 0.1)) == 1 and pick_controls(keys, 0.0) == []
    assert len(pick_controls(keys, 1.0)) == 20


def test_a_shuffled_copy_has_the_same_frames_in_another_order(clips, tmp_path):
    original = _levels(clips[0])
    copy = shuffled_copy(clips[0], tmp_path / "controls", seed=0)
    shuffled = _levels(copy)
    assert sorted(shuffled) == pytest.approx(sorted(original), abs=3)  # the same frames (H.264 rounding)
    assert shuffled != pytest.approx(original, abs=3)  # in another order
    assert shuffled_copy(clips[0], tmp_path / "controls", seed=0) == copy  # made once


def _physics_script(originals: set[bytes], discriminates: bool):
    def script(req: FakeRequest):
        if discriminates and req.video_bytes not in originals:
            return Reply("<think>objects jump back and forth</think>\nScore: 1")
        return Reply("<think>fine</think>\nScore: 4")

    return script


@pytest.mark.parametrize("discriminates", [True, False])
def test_shuffled_frames_controls_tell_a_discriminating_judge_from_one_that_is_not(clips, tmp_path, discriminates):
    originals = {p.read_bytes() for p in clips}
    with FakeJudgeServer(_physics_script(originals, discriminates), lifetime_s=60) as srv:
        cfg = fast_config(srv, control_share=0.5)
        results, controls, report, notes = judge_with_controls([JudgeRequest(p) for p in clips], "video_physics", cfg,
                                                               workdir=tmp_path / "controls")
        sent = [r.video_bytes in originals for r in srv.requests]
    assert notes == [] and len(controls) == 4 and sent.count(False) == 4  # half the videos, shuffled copies sent
    assert [r.score for r in results] == [4.0] * 8  # the videos' own scores: controls never enter them
    assert all(c.id.endswith("#control") for c in controls)
    if discriminates:
        assert (report.mean_drop, report.low, report.high, report.share_not_lower) == (3.0, 3.0, 3.0, 0.0)
        assert report.discriminates is True and "the judge discriminates" in report.summary()
    else:
        assert (report.mean_drop, report.share_not_lower) == (0.0, 1.0)
        assert report.discriminates is False and "NOT shown to discriminate" in report.summary()


def test_other_instruction_controls_for_instruction_following(clips, tmp_path):
    own = {p.read_bytes(): text for p, text in zip(clips, INSTRUCTIONS)}

    def script(req: FakeRequest):  # scores 5 only when the text holds the video's own instruction
        text = req.user_parts[-1]["text"]
        return Reply("Score: 5" if own[req.video_bytes] in text else "Score: 2")

    requests = [JudgeRequest(p, text) for p, text in zip(clips, INSTRUCTIONS)]
    with FakeJudgeServer(script, lifetime_s=60) as srv:
        results, controls, report, _ = judge_with_controls(requests, "video_IF", fast_config(srv, control_share=0.25),
                                                           workdir=tmp_path / "controls")
    assert [r.score for r in results] == [5.0] * 8 and len(controls) == 2
    for c in controls:  # the same video, someone else's instruction
        original = next(r for r in requests if r.key == c.id.removesuffix("#control"))
        assert c.instruction != original.instruction and c.instruction in INSTRUCTIONS and c.score == 2.0
    assert report.mean_drop == 3.0 and report.discriminates is True


def test_too_few_controls_to_tell_and_the_share_is_part_of_the_judge_version(clips, tmp_path):
    from cosmos_bench.judge import JudgeResult

    def result(id_, score):
        return JudgeResult(id_, id_, None, None, "video_physics", "v", {}, [], "ok", score, None)

    report = control_report("video_physics", [result("a", 4.0)], [result("a#control", 2.0)])
    assert report.pairs == 1 and report.low is None and report.discriminates is None and "too few" in report.summary()
    r = load_rubric("video_physics")
    versions = {judge_version(r, fast_config(None, control_share=s)) for s in (0.0, 0.1, 0.2)}
    assert len(versions) == 3
    # a rubric without controls is unaffected by the share
    custom = dataclasses.replace(r, name="mine")
    assert judge_version(custom, fast_config(None, control_share=0.1)) == judge_version(custom, fast_config(None))


def test_the_judge_command_prints_the_controls_and_flags_a_judge_that_does_not_discriminate(clips, monkeypatch, tmp_path):
    from cosmos_bench.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("COSMOS_BENCH_CACHE", str(tmp_path / "cache"))
    with FakeJudgeServer(_physics_script({p.read_bytes() for p in clips}, False), lifetime_s=60) as srv:
        res = CliRunner().invoke(app, ["judge", *map(str, clips), "--base-url", srv.base_url, "--no-cache",
                                       "--video-mode", "--controls", "0.25"])
    assert res.exit_code == 0, res.output
    assert "video_physics controls (frames shuffled in time, 2 video(s)): mean drop 0.00" in res.output
    assert "NOT shown to discriminate" in res.output


def test_the_leaderboard_and_the_html_report_show_the_controls_and_flag_the_judge(tmp_path):
    from cosmos_bench.report import report_model
    from cosmos_bench.report.write import write_report
    from cosmos_bench.results.leaderboard import build_leaderboard
    from cosmos_bench.results.store import ResultRow

    def row(model, sample, value, control_score):
        control = {"kind": "shuffled_frames", "status": "ok", "score": control_score, "reason": None,
                   "judge_version": "v", "instruction": None}
        return ResultRow("s", model, "g", sample, 0, "physics", "v", "higher", value, "ok", None, {"control": control}, {}, 1.0)

    rows = [row("good", s, 4.0, 1.0 + i % 2) for i, s in enumerate("abcd")]
    rows += [row("flat", s, 4.0, 4.0) for s in "abcd"]
    board = build_leaderboard(rows, "s", n_boot=200)
    md = board.to_markdown()
    assert "## Judge controls" in md
    assert "| flat | physics | 4 | 0.00 [0.00, 0.00] | 100% | **not shown to discriminate** |" in md
    assert "| good | physics | 4 | 2.50 [1.58, 3.42] | 0% | discriminates |" in md
    assert board.summaries[("good", "physics")].mean == 4.0  # the scores are the videos' own
    html = write_report(report_model(board), tmp_path / "r", plots=False).read_text()
    assert 'id="controls-table"' in html and "NOT shown to discriminate" in html and "control-discriminates" in html
