"""Help texts render what they say: extras in brackets survive rich markup, flags show no value type."""

from __future__ import annotations

from typer.testing import CliRunner

from cosmos_bench.cli import app

runner = CliRunner(env={"COLUMNS": "250", "TERM": "dumb"})


def test_run_help_shows_the_ray_extra_and_no_bool_placeholder() -> None:
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "pip install 'cosmos-bench[ray]'" in text
    assert "<bool>" not in text
    assert "<int>" in text and "--sequential" in text and "--output-dir" in text  # value types stay; flags listed


def test_leaderboard_help_flags() -> None:
    result = runner.invoke(app, ["leaderboard", "--help"])
    assert result.exit_code == 0 and "<bool>" not in result.output and "--no-report" in result.output
