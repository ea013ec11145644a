"""Where a run writes and what it reports: --output-dir, --set, the run's own models, the report beside the tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.data.synthetic import SceneConfig
from cosmos_bench.data.synthetic_suite import write_synthetic_suite
from cosmos_bench.runner import RunConfig, run

runner = CliRunner(env={"COLUMNS": "220"})


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    write_synthetic_suite(tmp_path / "suite", SceneConfig(frames=9, height=96, width=160, seed=2), samples=1, name="tiny")
    (tmp_path / "models.yaml").write_text("models:\n  base: {kind: synthetic}\n  warp1: {kind: synthetic, degrade: [elastic:1]}\n"
                                          "  warp3: {kind: synthetic, degrade: [elastic:3]}\n")
    return tmp_path


def test_output_dir_holds_videos_store_and_leaderboards(bench: Path, monkeypatch) -> None:
    monkeypatch.chdir(bench)
    args = ["run", "--models", "base,warp3", "--suite", "suite", "--models-file", "models.yaml", "--metrics", "tse",
            "--seeds", "1", "--output-dir", "all"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (bench / "all" / "results.sqlite").is_file() and (bench / "all" / "leaderboards" / "tiny.md").is_file()
    assert list((bench / "all" / "runs" / "tiny" / "warp3").glob("*/seed0/scene_000.mp4"))
    assert not (bench / "runs").exists() and not (bench / "leaderboards").exists()
    # a separately named store still wins
    result = runner.invoke(app, [*args, "--store", "elsewhere.sqlite"])
    assert result.exit_code == 0 and (bench / "elsewhere.sqlite").is_file()
    # --set: one model's option for this run, under its own generation key
    result = runner.invoke(app, [*args, "--set", "warp3.degrade=[elastic:1]"])
    assert result.exit_code == 0, result.output
    assert len(list((bench / "all" / "runs" / "tiny" / "warp3").iterdir())) == 2
    result = runner.invoke(app, ["rescore", "--suite", "suite", "--metrics", "tse", "--output-dir", "all"])
    assert result.exit_code == 0, result.output
    assert "scores: 0 rows written, 6 already in the store" in " ".join(result.output.split())  # found all/'s videos and store


def test_run_reports_its_models_and_leaderboard_rewrites_the_report(bench: Path) -> None:
    cfg = RunConfig(models=["base", "warp3"], suite=bench / "suite", models_file=bench / "models.yaml", metrics=["tse"],
                    seeds=1, out=bench / "out", store=bench / "s.sqlite", leaderboards=bench / "boards")
    run(cfg)
    second = run(RunConfig(**{**cfg.__dict__, "models": ["base", "warp1"]}))
    assert second.leaderboard.models == ["base", "warp1"]  # what this run ran (and its baseline)
    assert "warp3" in (bench / "boards" / "tiny.md").read_text()  # the files still hold every model

    report = bench / "boards" / "tiny.report" / "index.html"
    report.unlink()
    result = runner.invoke(app, ["leaderboard", "--store", str(bench / "s.sqlite"), "--out", str(bench / "boards"), "--no-plots"])
    assert result.exit_code == 0, result.output
    assert report.is_file() and "warp3" in report.read_text()
    report.unlink()
    runner.invoke(app, ["leaderboard", "--store", str(bench / "s.sqlite"), "--out", str(bench / "boards"), "--no-report"])
    assert not report.exists()
