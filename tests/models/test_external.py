"""Third-party world models: the ``folder`` kind and the ``diffusers-i2v`` kind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cosmos_bench.data.video import tile_grid, write_video
from cosmos_bench.models.base import GenerationRequest, ModelConfigError, build_model, file_sha256, parse_models
from cosmos_bench.models.generate import GenerationSettings, generate

from .conftest import make_suite

SMALL = GenerationSettings(num_frames=5, height=16, width=32, steps=1, fps=4.0)


def model_from(tmp_path: Path, entry: dict, name: str = "m"):
    return build_model(parse_models({"models": {name: entry}}, tmp_path / "models.yaml").spec(name))


def clip(seed: int, h: int = 16, w: int = 32, t: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)


def test_folder_copies_videos_byte_for_byte(tmp_path: Path, tiny_suite: Path) -> None:
    src = tmp_path / "theirs"
    for seed in (0, 1):
        for i, sample in enumerate(("pick_cup", "open_drawer")):
            write_video(src / f"seed{seed}" / f"{sample}.mp4", clip(10 * seed + i), fps=6)
    model = model_from(tmp_path, {"kind": "folder", "path": "theirs"})
    report = generate([model], tiny_suite, tmp_path / "out", seeds=2, settings=SMALL)
    assert report.count("generated") == 4
    for r in report.results:
        copy = r.sidecar.with_suffix(".mp4")
        source = src / f"seed{r.item.seed}" / f"{r.item.sample}.mp4"
        assert file_sha256(copy, use_cache=False) == file_sha256(source, use_cache=False), "never re-encoded"
        side = json.loads(r.sidecar.read_text())
        assert side["model_info"]["source_sha256"]["view0"] == file_sha256(source, use_cache=False)
        assert side["fps"] == pytest.approx(6.0)

    other_settings = GenerationSettings(num_frames=9, height=32, width=48, steps=7)
    again = generate([model], tiny_suite, tmp_path / "out", seeds=2, settings=other_settings)
    assert again.keys == report.keys and again.count("skipped") == 4, "a folder's videos do not depend on settings"

    write_video(src / "seed1" / "pick_cup.mp4", clip(99), fps=6)  # the other system re-ran one video
    rerun = model_from(tmp_path, {"kind": "folder", "path": "theirs"})  # the next run reads the folder anew
    third = generate([rerun], tiny_suite, tmp_path / "out", seeds=2, settings=SMALL)
    assert third.keys["m"] != report.keys["m"], "changed content is a new generation key: new rows, not the old score"
    assert third.count("generated") == 4 and (tmp_path / "out" / "m" / report.keys["m"]).is_dir()  # old outputs kept
    notes = src / "seed0" / "notes.txt"
    notes.write_text("not a video")
    assert model_from(tmp_path, {"kind": "folder", "path": "theirs"}).identity() == rerun.identity()


def test_folder_reports_missing_videos_and_bad_options(tmp_path: Path, tiny_suite: Path) -> None:
    src = tmp_path / "flat"
    write_video(src / "pick_cup.mp4", clip(0), fps=4)
    model = model_from(tmp_path, {"kind": "folder", "path": "flat", "layout": ""})
    report = generate([model], tiny_suite, tmp_path / "out", seeds=1, settings=SMALL)
    assert report.count("generated") == 1 and report.count("failed") == 1
    assert "no video for sample 'open_drawer' seed 0" in report.failed[0].error and "open_drawer.mp4" in report.failed[0].error
    with pytest.raises(ModelConfigError, match="folder .* not found"):
        model_from(tmp_path, {"kind": "folder", "path": "nowhere"})
    with pytest.raises(ModelConfigError, match="may only use \\{seed\\}"):
        model_from(tmp_path, {"kind": "folder", "path": "flat", "layout": "{sample}"})


def test_folder_in_a_grid_suite(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "grid", names=("a",), manifest="views: [left, right]\nstorage: {kind: grid, grid: 1x2}\n")
    grid = tile_grid({"left": clip(1, w=16), "right": clip(2, w=16)}, 1, 2)
    write_video(tmp_path / "theirs" / "seed0" / "a.mp4", grid, fps=4)
    report = generate([model_from(tmp_path, {"kind": "folder", "path": "theirs"})], suite, tmp_path / "out", seeds=1, settings=SMALL)
    side = json.loads(report.results[0].sidecar.read_text())
    assert report.count("generated") == 1 and side["files"] == {"left": "a.mp4", "right": "a.mp4"}


@pytest.fixture(scope="module")
def tiny_ltx(tmp_path_factory) -> Path:
    import torch

    from cosmos_bench.models.tiny import save_tiny_ltx_i2v_pipeline

    torch.set_num_threads(1)
    return save_tiny_ltx_i2v_pipeline(tmp_path_factory.mktemp("ltx") / "ltx")


def test_diffusers_i2v_runs_a_real_pipeline(tmp_path: Path, tiny_ltx: Path) -> None:
    suite = make_suite(tmp_path / "suite", names=("a",), size=(32, 32))
    settings = GenerationSettings(num_frames=9, height=32, width=32, steps=2, fps=8.0)
    model = model_from(tmp_path, {"kind": "diffusers-i2v", "model": str(tiny_ltx), "dtype": "float32", "device": "cpu"})
    report = generate([model], suite, tmp_path / "out", seeds=2, settings=settings)
    assert report.count("generated") == 2
    sides = [json.loads(r.sidecar.read_text()) for r in report.results]
    assert sides[0]["model_info"]["pipeline"] == "LTXImageToVideoPipeline"
    assert sides[0]["model_info"]["arguments"]["frame_rate"] == 8, "LTX preset maps fps to frame_rate"
    assert sides[0]["model_info"]["arguments"]["num_inference_steps"] == 2
    assert sides[0]["content_sha256"] != sides[1]["content_sha256"], "seeds differ"
    redo = generate([model], suite, tmp_path / "out", seeds=2, settings=settings, overwrite=True)
    assert [json.loads(r.sidecar.read_text())["content_sha256"] for r in redo.results] == [s["content_sha256"] for s in sides]

    no_fps = model_from(tmp_path, {"kind": "diffusers-i2v", "model": str(tiny_ltx), "dtype": "float32", "device": "cpu", "args": {"fps": None}, "call": {"decode_timestep": 0.0}}, name="n")
    video = no_fps.generate(GenerationRequest(prompt="robot", image=np.zeros((32, 32, 3), np.uint8), num_frames=9, height=32, width=32, steps=1))
    assert "frame_rate" not in video.info["arguments"] and video.info["arguments"]["decode_timestep"] == 0.0
    assert video.frames.shape == (9, 32, 32, 3) and video.frames.dtype == np.uint8


def test_diffusers_i2v_option_errors(tmp_path: Path, tiny_ltx: Path) -> None:
    with pytest.raises(ModelConfigError, match="'model' .* is required"):
        model_from(tmp_path, {"kind": "diffusers-i2v"})
    with pytest.raises(ModelConfigError, match="unknown request field"):
        model_from(tmp_path, {"kind": "diffusers-i2v", "model": str(tiny_ltx), "args": {"seconds": "duration"}})
    bad = model_from(tmp_path, {"kind": "diffusers-i2v", "model": str(tiny_ltx), "pipeline": "NoSuchPipeline"})
    with pytest.raises(ModelConfigError, match="no pipeline class 'NoSuchPipeline'"):
        bad.pipeline()
