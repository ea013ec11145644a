"""The judge sees every view of a sample: a grid suite's stored grid, a files suite's views tiled the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cosmos_bench.data.judge_view import JUDGE_VIEWS_DIR, grid_shape
from cosmos_bench.data.suite import Storage, Suite
from cosmos_bench.data.video import read_video, tile_grid, write_video
from cosmos_bench.models.outputs import Output, Sidecar
from cosmos_bench.stages import JudgeStage

FRAMES, H, W = 4, 32, 48
COLOURS = {"left": (220, 30, 30), "right": (30, 30, 220), "top": (30, 220, 30)}


def clip(colour) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.uint8), (FRAMES, H, W, 3)).copy()


def files_suite(tmp_path: Path, views: list[str]) -> tuple[Suite, Path]:
    directory = tmp_path / "out"
    directory.mkdir()
    for v in views:
        write_video(directory / f"s0_{v}.mp4", clip(COLOURS[v]), 8)
    return Suite("multi", tmp_path, views=views, storage=Storage("files")), directory


def mean_colour(frames: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    return frames[:, rows, cols].reshape(-1, 3).mean(axis=0)


def test_files_suite_views_are_tiled_left_to_right_and_cached_by_content(tmp_path: Path):
    suite, directory = files_suite(tmp_path, ["left", "right"])
    video = suite.judge_video(directory, "s0")
    assert video.parent == directory / JUDGE_VIEWS_DIR
    frames = read_video(video).frames
    assert frames.shape == (FRAMES, H, 2 * W, 3)
    assert np.allclose(mean_colour(frames, slice(None), slice(0, W)), COLOURS["left"], atol=12)
    assert np.allclose(mean_colour(frames, slice(None), slice(W, None)), COLOURS["right"], atol=12)

    stamp = video.stat().st_mtime_ns
    assert suite.judge_video(directory, "s0") == video and video.stat().st_mtime_ns == stamp  # reused, not rewritten
    write_video(directory / "s0_right.mp4", clip(COLOURS["top"]), 8)  # a regenerated view gets a new tile
    assert suite.judge_video(directory, "s0") != video


def test_three_views_fill_a_two_by_two_grid_with_a_black_tile(tmp_path: Path):
    assert [grid_shape(n) for n in (1, 2, 3, 4, 5)] == [(1, 1), (1, 2), (2, 2), (2, 2), (2, 3)]
    suite, directory = files_suite(tmp_path, ["left", "right", "top"])
    frames = read_video(suite.judge_video(directory, "s0")).frames
    assert frames.shape == (FRAMES, 2 * H, 2 * W, 3)
    assert np.allclose(mean_colour(frames, slice(H, None), slice(0, W)), COLOURS["top"], atol=12)
    assert mean_colour(frames, slice(H, None), slice(W, None)).max() < 12


def test_grid_suite_shows_its_stored_grid(tmp_path: Path):
    directory = tmp_path / "out"
    directory.mkdir()
    grid = write_video(directory / "s0.mp4", tile_grid({v: clip(COLOURS[v]) for v in ("left", "right")}, 1, 2), 8)
    suite = Suite("grid", tmp_path, views=["left", "right"], storage=Storage("grid", rows=1, cols=2))
    assert suite.judge_video(directory, "s0") == grid
    assert not (directory / JUDGE_VIEWS_DIR).exists()


class _Sent(Exception):
    pass


@pytest.mark.parametrize("kind", ["files", "grid"])
def test_judge_stage_sends_one_video_with_every_view(tmp_path: Path, monkeypatch, kind: str):
    if kind == "files":
        suite, directory = files_suite(tmp_path, ["left", "right"])
    else:
        directory = tmp_path / "out"
        directory.mkdir()
        write_video(directory / "s0.mp4", tile_grid({v: clip(COLOURS[v]) for v in ("left", "right")}, 1, 2), 8)
        suite = Suite("grid", tmp_path, views=["left", "right"], storage=Storage("grid", rows=1, cols=2))
    sent = []

    def fake_judge(requests, **kwargs):
        sent.extend(requests)
        raise _Sent

    import cosmos_bench.judge as judge

    monkeypatch.setattr(judge, "judge_videos_sync", fake_judge)
    rubric = judge.load_rubric("video_physics")
    stage = JudgeStage(suite, "physics", rubric, judge.JudgeConfig(base_url="http://127.0.0.1:9/v1"), cache=None)
    output = Output("m", "k", "s0", 0, directory, Sidecar("m", "s0", 0, prompt="p"))
    tiled = stage.versions()["physics"].endswith(";views=tiled")
    assert tiled == (kind == "files")  # never mixes with rows of versions that sent only the first view
    with pytest.raises(_Sent):
        list(stage.score([output]))
    assert len(sent) == 1
    frames = read_video(sent[0].video).frames
    assert frames.shape == (FRAMES, H, 2 * W, 3)  # both views, side by side
    assert np.allclose(mean_colour(frames, slice(None), slice(W, None)), COLOURS["right"], atol=12)
