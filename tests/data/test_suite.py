from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cosmos_bench.data.suite import Storage, Suite, SuiteError, load_suite, suite_from_dict
from cosmos_bench.data.video import tile_grid, write_video
from tests.conftest import textured_clip


def test_defaults_without_manifest(tmp_path: Path) -> None:
    suite = load_suite(tmp_path)
    assert suite.name == tmp_path.name
    assert suite.views == ["view0"]
    assert suite.storage.kind == "single"


def test_round_trip_through_yaml(tmp_path: Path) -> None:
    suite = Suite(
        name="demo", root=tmp_path, views=["left", "right"], storage=Storage("grid", 1, 2),
        fps=16.0, frames=33, size=(256, 448), videos="videos", cameras="cameras",
    )
    suite.save()
    back = load_suite(tmp_path)
    assert back.to_dict() == suite.to_dict()
    assert back.size == (256, 448) and back.storage.cols == 2


@pytest.mark.parametrize(
    "data, message",
    [
        ({"viewz": ["a"]}, "unknown key"),
        ({"views": ["a", "b"], "storage": {"kind": "grid", "grid": "2x2"}}, "4 tiles but 2 views"),
        ({"views": ["a", "a"]}, "unique"),
        ({"views": ["a", "b"], "storage": "single"}, "holds one view"),
        ({"storage": {"kind": "tiles"}}, "single, grid or files"),
        ({"views": ["a", "b"], "storage": {"kind": "files", "pattern": "{sample}.mp4"}}, "{view}"),
        ({"size": "big"}, "HEIGHTxWIDTH"),
        ({"fps": -1}, "fps must be"),
    ],
)
def test_invalid_manifests_are_rejected(tmp_path: Path, data: dict, message: str) -> None:
    with pytest.raises(SuiteError, match=message.replace("{", r"\{").replace("}", r"\}")):
        suite_from_dict(data, tmp_path)


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "suite.yaml").write_text("views: [a, b\n")
    with pytest.raises(SuiteError, match="suite.yaml: not valid YAML"):
        load_suite(tmp_path)


def test_read_views_grid_and_files(tmp_path: Path) -> None:
    left, right = textured_clip(seed=3), textured_clip(seed=4)
    grid = suite_from_dict({"views": ["left", "right"], "storage": "1x2"}, tmp_path)
    write_video(tmp_path / "s0.mp4", tile_grid({"l": left, "r": right}, 1, 2), fps=8)
    views, fps = grid.read_views(tmp_path, "s0")
    assert list(views) == ["left", "right"] and fps == pytest.approx(8)
    assert np.abs(views["right"].astype(int) - right.astype(int)).mean() < 3

    files = suite_from_dict({"views": ["left", "right"], "storage": {"kind": "files"}}, tmp_path)
    write_video(tmp_path / "s1_left.mp4", left, fps=8)
    write_video(tmp_path / "s1_right.mp4", right, fps=8)
    views, _ = files.read_views(tmp_path, "s1")
    assert np.abs(views["left"].astype(int) - left.astype(int)).mean() < 3
    assert files.sample_files(tmp_path, "s1")["right"].name == "s1_right.mp4"


def test_iter_views_gives_the_views_of_read_views_window_by_window(tmp_path: Path, monkeypatch) -> None:
    """Every storage kind: the windows, joined, are read_views' views; a window holds ``window`` frames
    (default: WINDOW_PIXELS worth, here forced to 3 frames of the stored file)."""
    from cosmos_bench.data import video

    left, right = textured_clip(frames=8, seed=3), textured_clip(frames=8, seed=4)
    write_video(tmp_path / "g.mp4", tile_grid({"l": left, "r": right}, 1, 2), fps=8)
    write_video(tmp_path / "f_left.mp4", left, fps=8)
    write_video(tmp_path / "f_right.mp4", right, fps=8)
    write_video(tmp_path / "one.mp4", left, fps=8)
    suites = {
        "g": suite_from_dict({"views": ["left", "right"], "storage": "1x2"}, tmp_path),
        "f": suite_from_dict({"views": ["left", "right"], "storage": {"kind": "files"}}, tmp_path),
        "one": suite_from_dict({"views": ["front"]}, tmp_path),
    }
    for sample, suite in suites.items():
        whole, _ = suite.read_views(tmp_path, sample)
        for window in (3, None):
            if window is None:  # the pixel budget: 3 frames of the stored file (a grid: both views)
                h, w = (64, 192) if sample == "g" else (64, 96)
                monkeypatch.setattr(video, "WINDOW_PIXELS", 3 * h * w * (2 if sample == "f" else 1))
            parts = list(suite.iter_views(tmp_path, sample, window=window))
            assert [len(next(iter(p.values()))) for p in parts] == [3, 3, 2], (sample, window)
            assert [list(p) for p in parts] == [list(whole)] * 3
            for name in whole:
                np.testing.assert_array_equal(np.concatenate([p[name] for p in parts]), whole[name])


# ------------------------------------------------------------------ names and patterns stay inside (issue 15, 3)
@pytest.mark.parametrize("name", ["../../../X", "/tmp/elsewhere", "a/b", "a\\b", "..", ".", ".hidden", "with space"])
def test_suite_names_follow_the_model_name_rule(tmp_path: Path, name: str) -> None:
    (tmp_path / "suite.yaml").write_text(f"name: {name!r}\n")
    with pytest.raises(SuiteError, match=r"suite\.yaml: suite name .* must be letters, digits"):
        load_suite(tmp_path)


@pytest.mark.parametrize(
    "pattern, problem",
    [
        ("{sample.__class__}_{view}.mp4", "only {sample} and {view}"),
        ("{sample}_{view!r}.mp4", "only {sample} and {view}"),
        ("{sample:>40}_{view}.mp4", "only {sample} and {view}"),
        ("{sample}_{view}_{0}.mp4", "only {sample} and {view}"),
        ("{sample}_{view}_{}.mp4", "only {sample} and {view}"),
        ("{sample}_{view.mp4", "not a valid pattern"),
        ("../../PATTERN_{sample}_{view}.mp4", "inside the folder"),
        ("/tmp/{sample}_{view}.mp4", "inside the folder"),
        ("{view}/../../{sample}.mp4", "inside the folder"),
        ("{sample}\\..\\{view}.mp4", "inside the folder"),
    ],
)
def test_file_patterns_accept_only_sample_and_view_inside_the_folder(tmp_path: Path, pattern: str, problem: str) -> None:
    (tmp_path / "suite.yaml").write_text(f"views: [a, b]\nstorage: {{kind: files, pattern: {pattern!r}}}\n")
    with pytest.raises(SuiteError) as info:
        load_suite(tmp_path)
    assert str(info.value).startswith(str(tmp_path / "suite.yaml")) and problem in str(info.value), info.value


def test_view_names_and_samples_cannot_lead_a_pattern_outside(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="view '..'.*inside the folder"):
        suite_from_dict({"views": ["..", "b"], "storage": {"kind": "files", "pattern": "{view}/{sample}.mp4"}}, tmp_path)
    nested = suite_from_dict({"views": ["a", "b"], "storage": {"kind": "files", "pattern": "{view}/{sample}.mp4"}}, tmp_path)
    assert nested.sample_files(tmp_path / "d", "s0")["b"] == tmp_path / "d" / "b" / "s0.mp4"
    with pytest.raises(SuiteError, match="inside the folder"):
        nested.sample_files(tmp_path / "d", "../../s0")
