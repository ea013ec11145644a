from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.data.layout import (
    check_layout,
    detect_layout,
    list_test_pairs,
    list_train_clips,
    read_image,
    write_image,
)
from cosmos_bench.data.video import write_video
from tests.conftest import textured_clip


def make_train(root: Path, stems=("a", "b")) -> Path:
    (root / "videos").mkdir(parents=True)
    (root / "metas").mkdir()
    for s in stems:
        write_video(root / "videos" / f"{s}.mp4", textured_clip(frames=5), fps=8)
        (root / "metas" / f"{s}.txt").write_text(f"The robot picks up object {s}.\n")
    (root / "metadata.csv").write_text("path,caption\n" + "".join(f"videos/{s}.mp4,cap {s}\n" for s in stems))
    return root


def make_test(root: Path, names=("p0", "p1")) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for n in names:
        (root / f"{n}.txt").write_text(f"Put the {n} box on the plate.")
        write_image(root / f"{n}.png", textured_clip(frames=1)[0])
    return root


def kinds(problems) -> list[tuple[str, str]]:
    return sorted((Path(p.path.split(":")[0]).name, p.kind) for p in problems if p.severity == "error")


def test_clean_folders_have_no_problems(tmp_path: Path) -> None:
    train = make_train(tmp_path / "train")
    test = make_test(tmp_path / "test")
    assert detect_layout(train) == "train"
    assert detect_layout(test) == "test"
    assert detect_layout(tmp_path) == "root"
    assert check_layout(tmp_path) == []
    assert [c.stem for c in list_train_clips(train)] == ["a", "b"]
    pairs = list_test_pairs(test)
    assert [p.name for p in pairs] == ["p0", "p1"]
    assert pairs[0].prompt() == "Put the p0 box on the plate."
    assert pairs[0].image().shape == (64, 96, 3)


def test_train_planted_problems_are_all_found(tmp_path: Path) -> None:
    root = make_train(tmp_path / "train", stems=("a", "b", "c", "d"))
    (root / "metas" / "a.txt").unlink()                       # video without caption
    (root / "metas" / "orphan.txt").write_text("lonely")        # caption without video
    (root / "metas" / "b.txt").write_text("   \n")              # empty caption
    (root / "videos" / "c.mp4").write_bytes(b"garbage bytes")  # unreadable video
    with (root / "metadata.csv").open("a") as fh:
        fh.write("videos/ghost.mp4,does not exist\n")           # csv row pointing nowhere
    found = kinds(check_layout(root))
    assert found == sorted([
        ("a.mp4", "video without caption"),
        ("orphan.txt", "caption without video"),
        ("b.txt", "empty caption"),
        ("c.mp4", "unreadable video"),
        ("metadata.csv", "csv row points nowhere"),
    ])


def test_truncated_training_video_needs_full_decode(tmp_path: Path) -> None:
    root = make_train(tmp_path / "train", stems=("a",))
    rng = np.random.default_rng(0)
    full = write_video(tmp_path / "full.mp4", rng.integers(0, 255, (20, 64, 96, 3), dtype=np.uint8), fps=8)
    (root / "videos" / "a.mp4").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert ("a.mp4", "unreadable video") in kinds(check_layout(root))


def test_test_planted_problems_are_all_found(tmp_path: Path) -> None:
    root = make_test(tmp_path / "test", names=("p0", "p1", "p2", "p3"))
    (root / "p0.png").unlink()                         # prompt without image
    (root / "p1.txt").unlink()                         # image without prompt
    (root / "p2.txt").write_text("")                   # empty prompt
    (root / "p3.png").write_bytes(b"not a png")        # unreadable image
    found = kinds(check_layout(root))
    assert found == sorted([
        ("p0.txt", "prompt without image"),
        ("p1.png", "image without prompt"),
        ("p2.txt", "empty prompt"),
        ("p3.png", "unreadable image"),
    ])


def test_bad_suite_yaml_is_reported(tmp_path: Path) -> None:
    root = make_test(tmp_path / "test")
    (root / "suite.yaml").write_text("name: x\nviewz: [a, b]\n")
    found = kinds(check_layout(root))
    assert found == [("suite.yaml", "bad suite.yaml")]


def test_reference_video_problems_in_a_suite(tmp_path: Path) -> None:
    root = make_test(tmp_path / "test")
    (root / "suite.yaml").write_text("views: [left, right]\nstorage: {kind: grid, grid: 1x2}\nvideos: videos\n")
    (root / "videos").mkdir()
    write_video(root / "videos" / "p0.mp4", textured_clip(frames=5, width=96), fps=8)
    write_video(root / "videos" / "p1.mp4", textured_clip(frames=5, width=90), fps=8)  # 45-px tiles: still a valid 1x2 grid
    problems = check_layout(root)
    assert problems == []
    (root / "videos" / "p1.mp4").write_bytes(b"junk")
    assert kinds(check_layout(root)) == [("p1.mp4", "unreadable video")]


def test_cli_data_check_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    good = make_test(tmp_path / "good")
    result = runner.invoke(app, ["data", "check", str(good)])
    assert result.exit_code == 0, result.output
    assert "no problems" in result.output
    bad = make_test(tmp_path / "bad")
    (bad / "p0.txt").write_text("")
    result = runner.invoke(app, ["data", "check", str(bad)])
    assert result.exit_code == 1
    assert "empty prompt" in result.output
    result = runner.invoke(app, ["data", "check", str(tmp_path / "missing")])
    assert result.exit_code == 2


def test_read_image_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nothing.png: file not found"):
        read_image(tmp_path / "nothing.png")
