"""Bounds before work (issue 30, 5): sizes that cannot fit in memory are refused up front, with the estimate."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_bench.bounds import check_video_size, human_bytes, video_bytes
from cosmos_bench.cli import app
from cosmos_bench.data.synthetic import SceneConfig
from cosmos_bench.data.synthetic_suite import write_synthetic_suite
from cosmos_bench.errors import InputError


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bounds")
    write_synthetic_suite(root / "suite", SceneConfig(frames=5, height=48, width=80, seed=1), samples=1, name="b")
    (root / "models.yaml").write_text("models:\n  base: {kind: synthetic}\n  wild: {kind: synthetic, degrade: [elastic:1e308]}\n")
    return root


def text(res) -> str:
    return " ".join(res.output.split())


def test_the_estimate_is_pixels_plus_a_float_copy_plus_per_frame_state() -> None:
    assert video_bytes(93, 432, 768, 2) == 93 * (432 * 768 * 2 * 15 + 4096)
    check_video_size(93, 432, 768, 2, available=10**10)  # 883 MiB fits in 10 GB
    with pytest.raises(InputError, match=r"about 883\.1 MiB in memory per video .* 512\.0 MiB available"):
        check_video_size(93, 432, 768, 2, available=512 * 2**20)


def run_args(root: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["run", "--models", "base", "--suite", str(root / "suite"), "--models-file", str(root / "models.yaml"),
            "--metrics", "tse", "--seeds", "1", "--out", str(tmp_path / "v"), "--store", str(tmp_path / "s.sqlite"),
            "--leaderboards", str(tmp_path / "b"), *extra]


def test_run_frames_beyond_memory_is_exit_2_before_any_work(suite: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, run_args(suite, tmp_path, "--frames", "99999999"))
    assert res.exit_code == 2, res.output
    assert "--frames: 99999999 frames of 48x160 x 1 view(s) would hold about" in text(res) and "available" in text(res)
    assert not (tmp_path / "v").exists()


def test_run_seeds_beyond_memory_is_exit_2(suite: Path, tmp_path: Path) -> None:
    args = run_args(suite, tmp_path)
    args[args.index("--seeds") + 1] = str(10**12)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "--seeds:" in text(res) and "work items" in text(res), res.output


def test_a_huge_degradation_amplitude_is_refused(suite: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["data", "synth", "--out", str(tmp_path / "s"), "--degrade", "elastic:1e308"])
    assert res.exit_code == 2 and "amplitude must be between 0 and 1000 pixels, got 1e+308" in text(res), res.output
    assert not (tmp_path / "s").exists()
    args = run_args(suite, tmp_path)
    args[args.index("--models") + 1] = "wild"
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "amplitude must be between" in text(res), res.output


def test_data_synth_of_an_impossible_size_leaves_no_folder(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["data", "synth", "--out", str(tmp_path / "s"), "--size", "99999999x99999999"])
    assert res.exit_code == 2, res.output
    assert "--size:" in text(res) and "would hold about" in text(res) and "PiB" in text(res)
    assert not (tmp_path / "s").exists()


def test_suite_frames_beyond_memory_and_an_empty_manifest_fail_data_check(tmp_path: Path) -> None:
    write_synthetic_suite(tmp_path / "s", SceneConfig(frames=5, height=48, width=80, seed=1), samples=1, name="s")
    manifest = tmp_path / "s" / "suite.yaml"
    manifest.write_text(manifest.read_text().replace("frames: 5", "frames: 100000000000000000000"))
    res = CliRunner().invoke(app, ["data", "check", str(tmp_path / "s")])
    assert res.exit_code != 0 and "frames 100000000000000000000:" in text(res) and "would hold about" in text(res), res.output
    manifest.write_text("# nothing here yet\n")
    res = CliRunner().invoke(app, ["data", "check", str(tmp_path / "s")])
    assert res.exit_code != 0 and "empty suite manifest" in text(res), res.output
    assert human_bytes(3 * 2**50) == "3.0 PiB"


def test_the_demo_refuses_sizes_too_small_for_its_known_order_check(tmp_path: Path) -> None:
    for args, message in ((["--samples", "1", "--frames", "3", "--size", "64x112"], "--frames: the known-order check needs at least 9 frames, got 3"),
                          (["--size", "64x112"], "--size: the known-order check needs views of at least 96x160, got 64x112"),
                          (["--samples", "1", "--seeds", "1"], "--samples: the known-order check needs at least 2 videos per candidate")):
        res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--no-tiny-cosmos", *args])
        assert res.exit_code == 2 and message in text(res), res.output
        assert not (tmp_path / "d").exists()
