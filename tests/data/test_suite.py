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
