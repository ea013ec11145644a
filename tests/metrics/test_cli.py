"""`cosmos-bench metrics`: grid split, table, JSON and plot, errors naming the file."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.data.video import tile_grid, write_video

from .conftest import ORBIT, clip

runner = CliRunner(env={"COLUMNS": "200"})


def test_metrics_command_on_a_grid_video(tmp_path):
    c = clip(ORBIT)
    grid = tile_grid({k: v[:5] for k, v in c.views.items()}, 1, 2)
    video = write_video(tmp_path / "rig.mp4", grid, fps=16)
    out_json, out_png = tmp_path / "m.json", tmp_path / "m.png"
    res = runner.invoke(app, ["metrics", str(video), str(tmp_path / "missing.mp4"), "--grid", "1x2",
                              "--views", "left,right", "--json", str(out_json), "--plot", str(out_png)])
    assert res.exit_code == 1, res.output  # the missing file fails, the good one is still scored
    assert "missing.mp4" in res.output and "TSE" in res.output and "CSE" in res.output
    data = json.loads(out_json.read_text())
    r = data[str(video)]
    assert r["tse"]["status"] == "ok" and r["tse"]["value"] < 0.5  # H.264 at crf 18 stays consistent
    assert set(r["tse"]["details"]["views"]) == {"left", "right"}
    assert r["cse"]["details"]["n_pairs"] == 5
    assert "error" in data[str(tmp_path / "missing.mp4")]
    assert out_png.stat().st_size > 5000


def test_metrics_command_rejects_bad_options(tmp_path):
    frames = (np.random.default_rng(0).random((3, 32, 64, 3)) * 255).astype(np.uint8)
    video = write_video(tmp_path / "v.mp4", frames, fps=8)
    res = runner.invoke(app, ["metrics", str(video), "--grid", "1x2", "--views", "a,b,c"])
    assert res.exit_code == 2 and "grid 1x2" in res.output
    res = runner.invoke(app, ["metrics", str(video), "--mode", "calibrated"])
    assert res.exit_code == 2 and "cameras" in res.output


def test_metrics_command_scores_no_broken_file(tmp_path):
    """A PNG renamed .mp4 decodes as a one-frame 'video'; it, and every other non-video, is an error (issue 15, 6)."""
    from tests.broken_videos import broken_videos

    frames = (np.random.default_rng(0).random((4, 32, 64, 3)) * 255).astype(np.uint8)
    good = write_video(tmp_path / "good.mp4", frames, fps=8)
    bad = broken_videos(tmp_path / "bad", frames, good)
    out_json = tmp_path / "m.json"
    res = runner.invoke(app, ["metrics", *map(str, bad.values()), "--json", str(out_json)])
    assert res.exit_code == 1, res.output
    data = json.loads(out_json.read_text())
    assert all(set(data[str(p)]) == {"error"} for p in bad.values()), data
    assert "still image" in data[str(bad["png"])]["error"] and "TSE" not in res.output
