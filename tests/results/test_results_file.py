"""Issue 33: leaderboards/<suite>.json holds every number the md, csv and report show, and they agree."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cosmos_bench.provenance import git_commit
from cosmos_bench.report import report_for_board
from cosmos_bench.results.leaderboard import build_leaderboard, write_leaderboard
from cosmos_bench.results.store import ResultRow


def board_rows(pairs: int = 10, seeds: int = 2) -> list[ResultRow]:
    """base, lora (tse 30% worse) and dora (equal, two degenerate tse videos) on tse and physics."""
    out = []
    for model, factor in (("base", 1.0), ("lora", 1.3), ("dora", 1.0)):
        rng = np.random.default_rng(7)  # the same draws for every model: exact paired changes
        for i in range(pairs):
            for s in range(seeds):
                tse, physics = float(rng.lognormal(0.0, 0.2)) * factor, float(rng.integers(2, 6))
                degenerate = model == "dora" and i == 0
                out.append(ResultRow("tiny", model, f"{model}-key", f"pair{i:02d}", s, "tse", "v1", "lower",
                                     None if degenerate else tse, "degenerate" if degenerate else "ok",
                                     reason="static" if degenerate else None,
                                     provenance={"steps": 4, "model": model, "video": f"{model}/{i}/{s}.mp4"}))
                out.append(ResultRow("tiny", model, f"{model}-key", f"pair{i:02d}", s, "physics", "j1", "higher", physics, "ok"))
    return out


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("boards")
    board = build_leaderboard(board_rows(), "tiny")
    paths = write_leaderboard(board, out, plots=False)
    return board, paths, json.loads(paths["results"].read_text())


def test_results_file_has_settings_versions_generations_and_every_cell(written) -> None:
    board, paths, doc = written
    assert paths["results"].name == "tiny.json" and doc["schema_version"] == 1
    assert doc["settings"]["confidence"] == 0.95 and doc["settings"]["n_boot"] == board.n_boot
    assert doc["versions"]["cosmos-bench"] and doc["versions"]["numpy"] == np.__version__
    assert doc["generation"]["lora"]["key"] == "lora-key"
    assert doc["generation"]["lora"]["provenance"] == {"steps": 4, "model": "lora"}  # what all its videos share
    metrics = {m["metric"]: m for m in doc["metrics"]}
    assert metrics["tse"]["version"] == "v1" and metrics["tse"]["run"] and not metrics["if"]["run"]
    assert len(doc["summaries"]) == 3 * 2 and len(doc["comparisons"]) == 2 * 2
    dora = next(s for s in doc["summaries"] if s["model"] == "dora" and s["metric"] == "tse")
    assert dora["n_degenerate"] == 2 and dora["method"] in ("t", "bootstrap") and dora["n_test_pairs"] == 9
    lora = next(c for c in doc["comparisons"] if c["model"] == "lora" and c["metric"] == "tse")
    assert lora["verdict"] == "worse" and lora["significant"] and lora["test"] and lora["p_adjusted"] < 0.05
    assert doc["sequential"] == [] and doc["judge_agreement"] == []


def test_csv_and_markdown_are_views_of_the_results_file(written) -> None:
    _, paths, doc = written
    summaries = {(s["model"], s["metric"]): s for s in doc["summaries"]}
    comparisons = {(c["model"], c["metric"]): c for c in doc["comparisons"]}

    def g6(x) -> str:
        return "" if x is None else f"{x:.6g}"

    with paths["csv"].open(newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert {(r["model"], r["metric"]) for r in lines} == set(summaries)
    for r in lines:
        s = summaries[(r["model"], r["metric"])]
        assert (r["mean"], r["ci_low"], r["ci_high"], r["ci_method"]) == (g6(s["mean"]), g6(s["ci_low"]), g6(s["ci_high"]), s["method"])
        assert (int(r["n"]), int(r["n_degenerate"]), int(r["n_test_pairs"])) == (s["n"], s["n_degenerate"], s["n_test_pairs"])
        c = comparisons.get((r["model"], r["metric"]))
        if c is not None:
            assert (r["diff_vs_baseline"], r["diff_p_holm"], r["verdict"]) == (g6(c["diff"]), g6(c["p_adjusted"]), c["verdict"])
    md = paths["markdown"].read_text()
    columns = [m["metric"] for m in doc["metrics"]]
    table = [line for line in md.splitlines() if line.startswith("| ")]
    for (model, metric), s in summaries.items():
        row = next(line for line in table if line.startswith(f"| {model} |"))  # the first table: summaries
        cell = row.split(" | ")[1 + columns.index(metric)]
        assert cell.startswith(f"{s['mean']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}] {s['method']}")
    for (model, metric), c in comparisons.items():
        row = [line for line in table if line.startswith(f"| {model} |")][1]  # the paired table
        cell = row.split(" | ")[1 + columns.index(metric)]
        assert cell.strip("* |").startswith(f"{c['diff']:+.3f}") and cell.startswith("**") == c["significant"]


def test_report_shows_the_results_file_numbers(written, tmp_path: Path) -> None:
    board, _, doc = written
    html = report_for_board(board, tmp_path / "tiny.report", plots=False).read_text()
    for s in doc["summaries"]:
        cell = re.search(rf'<td class="summary" data-model="{s["model"]}" data-metric="{s["metric"]}" data-mean="([^"]*)"', html)
        assert cell is not None and float(cell.group(1)) == s["mean"], (s["model"], s["metric"])
    for c in doc["comparisons"]:
        cell = re.search(rf'data-model="{c["model"]}" data-metric="{c["metric"]}"\s+data-diff="([^"]*)"', html)
        assert cell is not None and float(cell.group(1)) == c["diff"]


def test_git_commit_of_a_checkout_and_outside_one(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              capture_output=True, text=True, check=True).stdout.strip()

    git("init", "-q")
    (repo / "a.txt").write_text("1")
    git("add", "a.txt")
    git("commit", "-qm", "one")
    assert git_commit(repo) == {"commit": git("rev-parse", "HEAD"), "dirty": False}
    (repo / "a.txt").write_text("2")
    assert git_commit(repo)["dirty"] is True


def test_leaderboard_formats_plain_markdown_github(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cosmos_bench.cli import app
    from cosmos_bench.results.store import ResultStore

    with ResultStore(tmp_path / "r.sqlite") as db:
        db.put_many(board_rows())
    args = ["leaderboard", "--store", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "b"), "--no-plots"]
    plain = CliRunner().invoke(app, args, env={"COLUMNS": "40"})  # no terminal: plain lines, never folded
    assert plain.exit_code == 0, plain.output
    doc = json.loads((tmp_path / "b" / "tiny.json").read_text())
    lines = plain.output.splitlines()
    lora = next(c for c in doc["comparisons"] if c["model"] == "lora" and c["metric"] == "tse")
    assert [line for line in lines if line.startswith("lora - base tse: ")] == \
           [(f"lora - base tse: {lora['diff']:+.4g} [{lora['ci_low']:+.4g}, {lora['ci_high']:+.4g}] t, worse, "
            f"Holm p {lora['p_adjusted']:.3g} ({lora['n_pairs']} pairs)")]
    assert any(line.startswith("if: not requested (the judge scored physics") for line in lines) and not any("│" in line for line in lines)
    md = CliRunner().invoke(app, [*args, "--format", "markdown"])
    assert md.output == (tmp_path / "b" / "tiny.md").read_text()
    summary = tmp_path / "summary.md"
    gh = CliRunner().invoke(app, args, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    warnings = [line for line in gh.output.splitlines() if line.startswith("::warning ")]
    assert len(warnings) == 1 and "lora tse%3A worse than base" in warnings[0]
    assert summary.read_text() == (tmp_path / "b" / "tiny.md").read_text()


def test_a_judge_metric_left_out_of_metrics_is_not_requested_not_not_run(tmp_path: Path) -> None:
    judged = [r for r in board_rows(pairs=3) if r.metric == "tse"] + [
        ResultRow("tiny", r.model, r.generation_key, r.sample, r.seed, "physics", "j1", "higher", 4.0, "ok")
        for r in board_rows(pairs=3) if r.metric == "tse"]
    board = build_leaderboard(judged, "tiny")
    assert board.missing("if")[0] == "not requested" and board.missing("cse")[0] == "not run"
    md = board.to_markdown()
    assert "- `if`: not requested (the judge scored physics but if was not in --metrics)" in md
    assert "- `cse`: not run (needs a suite with two or more views)" in md
    base_row = next(line for line in md.splitlines() if line.startswith("| base |")).split(" | ")
    assert base_row[4].rstrip(" |") == "not requested" and base_row[2] == "not run"  # columns: tse, cse, physics, if
    html = report_for_board(board, tmp_path / "r", plots=False).read_text()
    assert ">not requested</td>" in html and "<code>if</code>: not requested: the judge scored physics" in html
    # without any judge rows both judge columns keep the usual reason
    geometry_only = build_leaderboard([r for r in judged if r.metric == "tse"], "tiny")
    assert geometry_only.missing("if") == geometry_only.missing("physics") and geometry_only.missing("if")[0] == "not run"
