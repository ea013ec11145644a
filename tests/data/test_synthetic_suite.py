from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.data.layout import check_layout, list_test_pairs
from cosmos_bench.data.suite import load_suite
from cosmos_bench.data.synthetic import SceneConfig, render_clip, sampson_distance
from cosmos_bench.data.synthetic_suite import load_ground_truth, scene_config_of, write_synthetic_suite


def test_written_suite_is_a_valid_gr1_test_folder_with_ground_truth(tmp_path: Path) -> None:
    config = SceneConfig(frames=5, height=96, width=160, seed=7)
    suite = write_synthetic_suite(tmp_path / "s", config, samples=2)
    assert check_layout(tmp_path / "s") == []
    loaded = load_suite(tmp_path / "s")
    assert loaded.to_dict() == suite.to_dict()
    assert [p.name for p in list_test_pairs(loaded.root)] == ["scene_000", "scene_001"]
    views, fps = loaded.read_views(loaded.videos_dir, "scene_001")
    assert list(views) == ["left", "right"] and views["left"].shape == (5, 96, 160, 3) and fps == 16
    # the stored scene config re-renders the stored video (up to H.264 error)
    cfg = scene_config_of(loaded, "scene_001")
    assert cfg.seed == 8
    clip = render_clip(cfg)
    err = np.abs(clip.views["right"].astype(int) - views["right"].astype(int)).mean()
    assert err < 6.0
    # and the stored fundamental matrices hold for the re-rendered exact correspondences
    gt = load_ground_truth(loaded, "scene_001")
    F = np.asarray(gt["cross_view_fundamentals"]["left|right"][2])
    corr = clip.correspondences("left", 2, "right", 2, n=200)
    assert np.median(sampson_distance(corr.x1, corr.x2, F)) < 1e-6
    # the conditioning image is the first frame of the stored (grid) video
    png = list_test_pairs(loaded.root)[1].image()
    assert png.shape == (96, 320, 3)
    assert np.abs(png[:, 160:].astype(int) - views["right"][0].astype(int)).mean() < 6.0


def test_cli_synth_with_degradation_and_files_storage(tmp_path: Path) -> None:
    out = tmp_path / "deg"
    result = CliRunner().invoke(app, [
        "data", "synth", "--out", str(out), "--samples", "1", "--frames", "4", "--size", "64x112",
        "--degrade", "elastic:2", "--storage", "files", "--views", "2",
    ])
    assert result.exit_code == 0, result.output
    suite = load_suite(out)
    assert suite.storage.kind == "files"
    assert (out / "videos" / "scene_000_left.mp4").exists() and (out / "videos" / "scene_000_right.mp4").exists()
    assert load_ground_truth(suite, "scene_000")["degradations"] == [{"kind": "elastic", "amplitude": 2.0}]
    bad = CliRunner().invoke(app, ["data", "synth", "--out", str(tmp_path / "x"), "--degrade", "melt:3"])
    assert bad.exit_code == 2 and "melt" in bad.output
