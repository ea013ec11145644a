from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cosmos_bench.data.video import (
    VideoError,
    check_views,
    parse_grid,
    read_grid_views,
    read_video,
    read_view_files,
    split_grid,
    subsample,
    tile_grid,
    write_video,
)
from tests.conftest import textured_clip


def test_round_trip_keeps_shape_fps_and_pixels(tmp_path: Path, clip: np.ndarray) -> None:
    path = write_video(tmp_path / "a.mp4", clip, fps=16)
    video = read_video(path)
    assert video.frames.shape == clip.shape
    assert video.frames.dtype == np.uint8
    assert video.fps == pytest.approx(16.0)
    # H.264 at crf 18 on a smooth pattern: mean error of a few grey levels at most
    err = np.abs(video.frames.astype(np.int16) - clip.astype(np.int16))
    assert err.mean() < 3.0
    assert np.percentile(err, 99) < 20


def test_non_integer_fps_survives(tmp_path: Path, clip: np.ndarray) -> None:
    video = read_video(write_video(tmp_path / "ntsc.mp4", clip, fps=30000 / 1001))
    assert video.fps == pytest.approx(29.97, abs=1e-2)


def test_odd_size_is_padded_not_resized(tmp_path: Path) -> None:
    clip = textured_clip(frames=5, height=63, width=95)
    video = read_video(write_video(tmp_path / "odd.mp4", clip, fps=8))
    assert video.frames.shape == (5, 64, 96, 3)
    # the original pixels stay where they were: padding only adds the last row/column
    err = np.abs(video.frames[:, :63, :95].astype(np.int16) - clip.astype(np.int16))
    assert err.mean() < 3.0


def test_stride_and_max_frames(tmp_path: Path) -> None:
    clip = textured_clip(frames=12)
    path = write_video(tmp_path / "s.mp4", clip, fps=12)
    video = read_video(path, stride=3)
    assert video.num_frames == 4
    assert video.fps == pytest.approx(4.0)
    assert np.abs(video.frames.astype(int) - clip[::3].astype(int)).mean() < 3.0
    assert read_video(path, max_frames=5).num_frames == 5
    assert read_video(path, start=10).num_frames == 2
    assert subsample(clip, 5).shape[0] == 3


def test_grid_split_and_tile_are_inverse() -> None:
    rng = np.random.default_rng(1)
    views = {n: rng.integers(0, 255, (3, 8, 10, 3), dtype=np.uint8) for n in "abcdef"}
    grid = tile_grid(views, 2, 3)
    assert grid.shape == (3, 16, 30, 3)
    back = split_grid(grid, 2, 3, list("abcdef"))
    assert list(back) == list("abcdef")
    for n in views:
        np.testing.assert_array_equal(back[n], views[n])
    # row-major: the second tile of the first row is 'b'
    np.testing.assert_array_equal(grid[:, 0:8, 10:20], views["b"])


def test_grid_errors() -> None:
    frames = np.zeros((2, 9, 10, 3), np.uint8)
    with pytest.raises(VideoError, match="does not divide"):
        split_grid(frames, 2, 1)
    with pytest.raises(VideoError, match="3 view names"):
        split_grid(frames[:, :8], 1, 2, ["a", "b", "c"])
    assert parse_grid("2x3") == (2, 3)
    with pytest.raises(ValueError, match="RxC"):
        parse_grid("2by3")


def test_grid_video_from_disk(tmp_path: Path) -> None:
    left, right = textured_clip(seed=1), textured_clip(seed=2)
    path = write_video(tmp_path / "g.mp4", tile_grid({"l": left, "r": right}, 1, 2), fps=10)
    views, fps = read_grid_views(path, 1, 2, ["left", "right"])
    assert set(views) == {"left", "right"} and fps == pytest.approx(10)
    assert views["left"].shape == left.shape
    assert np.abs(views["right"].astype(int) - right.astype(int)).mean() < 3.0


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="file not found") as info:
        read_video(tmp_path / "nope.mp4")
    assert "nope.mp4" in str(info.value)


def test_not_a_video(tmp_path: Path) -> None:
    bad = tmp_path / "text.mp4"
    bad.write_text("this is not a video at all")
    with pytest.raises(VideoError, match="not a readable video") as info:
        read_video(bad)
    assert str(bad) in str(info.value)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(VideoError, match="empty file"):
        read_video(empty)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_file(tmp_path: Path, keep: float) -> None:
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 255, (20, 64, 96, 3), dtype=np.uint8)  # incompressible: bytes spread over all frames
    full = write_video(tmp_path / "full.mp4", noisy, fps=10)
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(VideoError) as info:
        read_video(cut)
    assert "cut.mp4" in str(info.value)


def test_truncated_faststart_file_reports_missing_frames(tmp_path: Path) -> None:
    """With the index at the front, a cut file still opens: the frame count must catch it."""
    import av

    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 255, (20, 64, 96, 3), dtype=np.uint8)
    path = tmp_path / "fs.mp4"
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        for img in noisy:
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    data = path.read_bytes()
    cut = tmp_path / "fs_cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.5)])
    with pytest.raises(VideoError, match="truncated") as info:
        read_video(cut)
    assert "fs_cut.mp4" in str(info.value)


def test_zero_frames_rejected_on_write(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="zero frames"):
        write_video(tmp_path / "z.mp4", np.zeros((0, 8, 8, 3), np.uint8), fps=5)


def test_views_of_different_length_or_size(tmp_path: Path) -> None:
    a = write_video(tmp_path / "a.mp4", textured_clip(frames=9), fps=8)
    b = write_video(tmp_path / "b.mp4", textured_clip(frames=7), fps=8)
    c = write_video(tmp_path / "c.mp4", textured_clip(frames=9, width=64), fps=8)
    with pytest.raises(VideoError, match="7 frames") as info:
        read_view_files({"a": a, "b": b})
    assert "b.mp4" in str(info.value)
    with pytest.raises(VideoError, match="64x64 but view 'a' is 64x96"):
        read_view_files({"a": a, "c": c})
    views, fps = read_view_files({"a": a, "a2": a})
    assert fps == pytest.approx(8) and views["a"].shape == (9, 64, 96, 3)
    with pytest.raises(VideoError, match="no views"):
        check_views({})


def test_encoding_is_deterministic(tmp_path: Path) -> None:
    """Same frames → same bytes, run after run (multi-threaded x264 is not, on a busy machine)."""
    from cosmos_bench.data.synthetic import SceneConfig, render_clip

    frames = render_clip(SceneConfig(frames=9, height=96, width=160, seed=4)).views["left"]
    # fresh copies each time: the non-determinism seen before the fix depended on memory contents
    digests = {write_video(tmp_path / f"d{i}.mp4", frames.copy(), fps=16).read_bytes() for i in range(12)}
    assert len(digests) == 1


# ------------------------------------------------------------------ probing before scoring (issue 15, 6)
def _noisy(frames: int = 12, height: int = 64, width: int = 96) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (frames, height, width, 3), dtype=np.uint8)  # bytes in every frame


def test_probe_reports_container_codec_frames_and_size(tmp_path: Path) -> None:
    from cosmos_bench.data.video import probe_video

    info = probe_video(write_video(tmp_path / "ok.mp4", _noisy(), fps=8))
    assert (info.codec, info.frames, info.height, info.width) == ("h264", 12, 64, 96)
    assert "mp4" in info.container and info.fps == pytest.approx(8)


@pytest.mark.parametrize(
    "kind, problem",
    [
        ("png", "a still image (png_pipe), not a video"),
        ("jpeg", "a still image (jpeg_pipe), not a video"),
        ("empty", "empty file (0 bytes)"),
        ("text", "not a readable video"),
        ("cut", "not a readable video"),
        ("cut_tail", "truncated: frame 12 of 12 is incomplete"),
    ],
)
def test_probe_rejects_files_that_are_not_whole_videos(tmp_path: Path, kind: str, problem: str) -> None:
    from cosmos_bench.data.video import probe_video
    from tests.broken_videos import broken_videos

    frames = _noisy()
    bad = broken_videos(tmp_path / "bad", frames, write_video(tmp_path / "ok.mp4", frames, fps=8))[kind]
    with pytest.raises(VideoError) as info:
        probe_video(bad)
    assert str(info.value).startswith(f"{bad}: ") and problem in str(info.value), info.value


def test_expectation_mismatch_names_what_was_declared(tmp_path: Path) -> None:
    from cosmos_bench.data.video import check_video_shape, probe_video

    info = probe_video(write_video(tmp_path / "ok.mp4", _noisy(), fps=8))
    check_video_shape(info, frames=12, size=(64, 96), source="suite.yaml says")
    check_video_shape(info, frames=12, size=(63, 95), source="suite.yaml says")  # odd sizes are padded to even on write
    with pytest.raises(VideoError, match=r"ok\.mp4: has 12 frames but suite\.yaml says 17"):
        check_video_shape(info, frames=17, size=(64, 96), source="suite.yaml says")
    with pytest.raises(VideoError, match=r"ok\.mp4: is 64x96 but the run asked for 128x96"):
        check_video_shape(info, frames=12, size=(128, 96), source="the run asked for")


def test_three_views_of_odd_width_split_again_after_write_video_pads_the_frame(tmp_path: Path) -> None:
    """1x3 tiles 33 px wide make a 99 px frame; write_video pads it to 100 (yuv420p); the split drops
    that column instead of refusing the grid (issue 18)."""
    rng = np.random.default_rng(0)
    views = {n: rng.integers(0, 255, (2, 32, 33, 3), dtype=np.uint8) for n in ("a", "b", "c")}
    path = write_video(tmp_path / "odd.mp4", tile_grid(views, 1, 3), fps=10)
    back, _ = read_grid_views(path, 1, 3, ["a", "b", "c"])
    assert all(v.shape == (2, 32, 33, 3) for v in back.values())
    with pytest.raises(VideoError, match="does not divide"):  # a real mismatch still fails
        split_grid(np.zeros((1, 32, 98, 3), np.uint8), 1, 3)


# ------------------------------------------------------------------------------------ windows
def test_windows_hold_the_same_frames_and_never_more_than_one_window(tmp_path: Path, monkeypatch) -> None:
    """A 23-frame video read 5 frames at a time gives the frames of read_video, in windows of 5
    (the last of 3), and when each window is handed out no more than 5 decoded frames are alive:
    the reader keeps no earlier window and no frame beyond the current one."""
    import gc
    import weakref

    from cosmos_bench.data import video as video_mod
    from cosmos_bench.data.video import read_video_windows

    frames = textured_clip(frames=23, seed=3)
    path = write_video(tmp_path / "long.mp4", frames, fps=8)
    whole = read_video(path).frames
    refs: list = []
    decode = video_mod._decode

    def tracked(*args, **kwargs):
        for frame in decode(*args, **kwargs):
            refs.append(weakref.ref(frame))
            yield frame

    monkeypatch.setattr(video_mod, "_decode", tracked)
    sizes, alive, given = [], [], []
    for window in read_video_windows(path, 5):
        gc.collect()
        assert all(g() is None for g in given)  # the reader let go of the last window before decoding this one
        alive.append(sum(r() is not None for r in refs))
        sizes.append(len(window))
        given.append(weakref.ref(window))
        np.testing.assert_array_equal(window, whole[sum(sizes) - len(window) : sum(sizes)])
        del window
    gc.collect()
    assert sizes == [5, 5, 5, 5, 3] and len(refs) == 23
    assert max(alive) <= 5
    with pytest.raises(ValueError, match="window"):
        next(read_video_windows(path, 0))


def test_view_files_in_windows_match_whole_views_and_name_the_short_file(tmp_path: Path) -> None:
    from cosmos_bench.data.video import iter_grid_windows, iter_view_file_windows

    a = write_video(tmp_path / "a.mp4", textured_clip(frames=9, seed=1), fps=8)
    b = write_video(tmp_path / "b.mp4", textured_clip(frames=9, seed=2), fps=8)
    whole, _ = read_view_files({"a": a, "b": b})
    parts = list(iter_view_file_windows({"a": a, "b": b}, window=4))
    assert [len(p["a"]) for p in parts] == [4, 4, 1]
    for name in ("a", "b"):
        np.testing.assert_array_equal(np.concatenate([p[name] for p in parts]), whole[name])
    short = write_video(tmp_path / "short.mp4", textured_clip(frames=7), fps=8)
    with pytest.raises(VideoError, match="view 'b' has 7 frames but view 'a' has more") as info:
        list(iter_view_file_windows({"a": a, "b": short}, window=4))
    assert "short.mp4" in str(info.value)
    slow = write_video(tmp_path / "slow.mp4", textured_clip(frames=9), fps=5)
    with pytest.raises(VideoError, match="plays at 5 fps"):
        list(iter_view_file_windows({"a": a, "b": slow}))
    grid = write_video(tmp_path / "g.mp4", tile_grid(whole, 1, 2), fps=8)
    views, _ = read_grid_views(grid, 1, 2, ["l", "r"])
    gparts = list(iter_grid_windows(grid, 1, 2, ["l", "r"], window=2))
    assert len(gparts) == 5
    np.testing.assert_array_equal(np.concatenate([p["r"] for p in gparts]), views["r"])
