"""Issue 33: `check` output a CI can read: --json (against docs/check.schema.json), --junit, plain lines that
never wrap, markdown, and GitHub annotations with a step summary."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.results.gate import check_regression
from cosmos_bench.results.leaderboard import samples_csv
from cosmos_bench.results.store import ResultRow

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "check.schema.json").read_text())
N_PAIRS, N_SEEDS = 12, 2


def rows(model: str, *, tse_factor: float = 1.0, pairs: int = N_PAIRS, seed: int = 0, created_at: float = 1.0) -> list[ResultRow]:
    """tse (lower is better, ~1 px) and physics (1-5, higher is better) for ``pairs`` test pairs x 2 seeds;
    the same generator seed gives the same base values, so ``tse_factor`` is an exact relative change."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(pairs):
        for s in range(N_SEEDS):
            tse = float(rng.lognormal(0.0, 0.2)) * tse_factor
            physics = float(rng.integers(2, 6))
            for metric, direction, value in (("tse", "lower", tse), ("physics", "higher", physics)):
                out.append(ResultRow(suite="tiny", model=model, generation_key=f"{model}-key", sample=f"pair{i:02d}", seed=s,
                                     metric=metric, metric_version="v1", direction=direction, value=value, status="ok",
                                     created_at=created_at))
    return out


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A committed baseline export, a regressed candidate (tse 30% worse), an equal one, and one with 1 test pair."""
    paths = {}
    for name, data in (("base", rows("base")), ("worse", rows("lora", tse_factor=1.3, created_at=2.0)),
                       ("same", rows("lora", created_at=2.0)), ("short", rows("lora", pairs=1, created_at=2.0)),
                       ("both", rows("base") + rows("lora", tse_factor=1.3, created_at=2.0))):
        paths[name] = tmp_path / f"{name}.samples.csv"
        paths[name].write_text(samples_csv(data))
    return paths


def check(files: dict[str, Path], current: str, *extra: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, ["check", "--baseline", str(files["base"]), "--baseline-model", "base", "--current",
                                    str(files[current]), "--candidate", "lora", *extra], env=env or {})


def test_json_is_valid_against_the_schema_and_carries_the_gate_numbers(files, tmp_path: Path) -> None:
    out = tmp_path / "out" / "check.json"
    res = check(files, "worse", "--json", str(out))
    assert res.exit_code == 1, res.output
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["kind"] == "fixed" and doc["outcome"] == "regression" and doc["exit_code"] == 1
    items = {i["metric"]: i for i in doc["results"]}
    assert set(items) == {"tse", "physics"}
    assert items["tse"]["verdict"] == "fail" and items["tse"]["exit_code"] == 1
    assert items["physics"]["verdict"] == "pass" and items["physics"]["exit_code"] == 0
    # the same numbers as the library's gate, not a re-computation
    from cosmos_bench.results.leaderboard import read_samples_csv

    report = check_regression(read_samples_csv(files["base"]), read_samples_csv(files["worse"]), candidate="lora", baseline="base")
    v = next(v for v in report.verdicts if v.metric == "tse")
    tse = items["tse"]
    assert (tse["estimate"], tse["interval"]["low"], tse["interval"]["high"], tse["margin"], tse["mde"]) == \
           (v.worsening, v.ci_low, v.ci_high, v.margin, v.mde)
    assert tse["n_pairs"] == N_PAIRS * N_SEEDS and tse["n_test_pairs"] == N_PAIRS and tse["n_missing_pairs"] == 0
    assert tse["estimate"] > tse["margin"] > 0  # 30% worse against a 5% margin
    prov = doc["provenance"]
    assert prov["versions"]["cosmos-bench"] and prov["inputs"]["baseline_file"] == str(files["base"])
    assert doc["generation_keys"]["candidate lora"]["key"] == "lora-key"
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    if head.returncode == 0:  # the test runs in a checkout: the commit is recorded
        assert prov["git"]["commit"] == head.stdout.strip()


def test_json_names_missing_pairs_and_undecided_exit_code(files, tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    res = check(files, "short", "--json", str(out))
    assert res.exit_code == 3, res.output
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["outcome"] == "undecided" and {i["exit_code"] for i in doc["results"]} == {3}
    item = doc["results"][0]
    assert item["interval"]["low"] is None and item["n_test_pairs"] == 1
    assert item["n_missing_pairs"] == (N_PAIRS - 1) * N_SEEDS and "pair01/0" in item["missing_pairs"]


def test_schema_rejects_what_the_writer_must_never_produce(files, tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    check(files, "same", "--json", str(out))
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    for broken in ({**doc, "exit_code": 2}, {**doc, "results": [{**doc["results"][0], "estimate": "nan"}]},
                   {**doc, "results": [{k: v for k, v in doc["results"][0].items() if k != "mde"}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def test_sequential_json(files, tmp_path: Path) -> None:
    out = tmp_path / "seq.json"
    res = CliRunner().invoke(app, ["check", "--sequential", "--current", str(files["both"]), "--candidate", "lora",
                                   "--margin", "tse=5%", "--population", "suite", "--json", str(out)])
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["kind"] == "sequential" and [i["metric"] for i in doc["results"]] == ["tse"]
    item = doc["results"][0]
    assert res.exit_code == doc["exit_code"] == item["exit_code"], res.output
    assert item["estimate_of"] == "log ratio candidate/baseline"
    assert item["estimate"] == pytest.approx(np.log(1.3)) and item["n_test_pairs"] <= N_PAIRS
    assert (item["verdict"] == "worse") == (res.exit_code == 1) and item["mde"] is None


def test_plain_output_is_one_unwrapped_line_per_metric(files) -> None:
    res = check(files, "worse", "--format", "plain", env={"COLUMNS": "40"})
    assert res.exit_code == 1
    lines = res.output.splitlines()
    tse = [line for line in lines if line.startswith("tse ")]
    assert len(tse) == 1 and "FAIL" in tse[0] and "margin" in tse[0] and "MDE" in tse[0] and "12 test pairs" in tse[0]
    why = lines[lines.index(tse[0]) + 1]
    assert why.startswith("    why: worse by") and why.rstrip().endswith("< 0.025")  # the whole reason, on one line
    assert len(max(lines, key=len)) > 120  # no folding at 40 (or 80) columns
    assert lines[-1] == "regression: lora got worse than base on tse"


def test_auto_format_without_a_terminal_is_plain(files) -> None:
    res = check(files, "same")
    assert res.exit_code == 0, res.output
    assert "┃" not in res.output and "│" not in res.output  # no rich table in a log
    assert any(line.startswith("tse ") and " pass " in line for line in res.output.splitlines())
    assert res.output.splitlines()[-1] == "pass: lora shows no regression against base."


def test_markdown_format(files) -> None:
    res = check(files, "worse", "--format", "markdown")
    lines = res.output.splitlines()
    header = next(line for line in lines if line.startswith("| candidate |"))
    assert "margin" in header and "MDE" in header and "missing" in header
    row = next(line for line in lines if line.startswith("| lora | tse |"))
    assert "**FAIL**" in row and row.count("|") == header.count("|")


def test_github_annotations_and_step_summary(files, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    res = check(files, "worse", env=env)
    assert res.exit_code == 1
    errors = [line for line in res.output.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1 and errors[0].startswith("::error title=cosmos-bench lora tse%3A regression::tse: worse by")
    text = summary.read_text()
    assert text.startswith("earlier step\n")  # appended, never overwritten
    assert "| lora | tse | ❌ **FAIL** |" in text and "| lora | physics | ✅ pass |" in text
    short = check(files, "short", env=env)
    assert short.exit_code == 3
    warnings = [line for line in short.output.splitlines() if line.startswith("::warning ")]
    assert {w.split("::")[2].split(":")[0] for w in warnings} == {"tse", "physics"}
    assert "cannot decide" in summary.read_text()


def test_junit(files, tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    assert check(files, "worse", "--junit", str(out)).exit_code == 1
    suite = ET.parse(out).getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"tse", "physics"} and suite.get("failures") == "1"
    assert cases["tse"].find("failure") is not None and cases["physics"].find("failure") is None
    assert check(files, "short", "--junit", str(out)).exit_code == 3
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite.get("errors") == "2" and all(c.find("error") is not None for c in suite.findall("testcase"))


def test_json_to_a_folder_is_refused_before_any_work(files, tmp_path: Path) -> None:
    res = check(files, "worse", "--json", str(tmp_path))
    assert res.exit_code == 2 and "is a folder" in res.output
