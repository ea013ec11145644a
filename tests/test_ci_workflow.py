"""Issue 33: the example workflow in docs/ci.md runs: baseline -> candidate -> check in a fake GitHub
environment gives annotations, a step-summary table, a valid JSON file and a JUnit file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import yaml

from cosmos_bench.data.synthetic import SceneConfig
from cosmos_bench.data.synthetic_suite import write_synthetic_suite

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "ci.md").read_text()
SCHEMA = json.loads((ROOT / "docs" / "check.schema.json").read_text())


def block(language: str, after: str) -> str:
    """The first fenced ``language`` block after the heading ``after``."""
    found = re.search(rf"{re.escape(after)}.*?```{language}\n(.*?)```", DOC, re.DOTALL)
    assert found, f"docs/ci.md: no ```{language} block after {after!r}"
    return found.group(1)


def sh(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-eo", "pipefail", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def test_the_documented_workflow_gates_a_regressed_candidate(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_synthetic_suite(project / "suites" / "smoke", SceneConfig(frames=9, height=96, width=160, seed=5), samples=3, name="smoke")
    (project / "models.yaml").write_text("models:\n  lora: {kind: synthetic}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "COSMOS_BENCH_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update({"GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example", "GIT_COMMITTER_NAME": "ci",
                "GIT_COMMITTER_EMAIL": "ci@example"})

    # on main: the baseline, as docs/ci.md says, committed
    base = sh(block("bash", "## Making the baseline"), project, env)
    assert base.returncode == 0, base.stdout[-3000:] + base.stderr[-3000:]
    assert (project / "baselines" / "smoke.samples.csv").is_file()
    (project / ".gitignore").write_text("runs/\n")
    assert sh("git init -q && git add -A && git commit -qm baseline", project, env).returncode == 0

    # the pull request: the adapter got worse (the synthetic model now warps its videos by 3 px)
    (project / "models.yaml").write_text("models:\n  lora: {kind: synthetic, degrade: ['elastic:3']}\n")
    assert sh("git commit -qam 'worse adapter'", project, env).returncode == 0
    summary = tmp_path / "step_summary.md"
    summary.touch()
    github = env | {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_STEP_SUMMARY": str(summary),
                    "GITHUB_WORKSPACE": str(project), "GITHUB_EVENT_NAME": "pull_request", "RUNNER_TEMP": str(tmp_path)}
    workflow = yaml.safe_load(block("yaml", "## The workflow"))
    steps = workflow["jobs"]["gate"]["steps"]
    results: dict[str, subprocess.CompletedProcess] = {}
    failed = False
    for step in steps:
        if "run" not in step or step["name"].startswith("Install"):
            continue  # `uses:` actions, and the install (this test runs in the installed package)
        if failed and step.get("if") != "always()":
            continue  # GitHub skips later steps after a failure unless they run always()
        results[step["name"]] = done = sh(step["run"], project, github)
        failed = failed or done.returncode != 0
    gate = results["Gate against the committed baseline"]
    assert results["Candidate run"].returncode == 0, results["Candidate run"].stderr[-3000:]
    assert gate.returncode == 1, gate.stdout + gate.stderr  # a regression fails the job
    assert "Leaderboard in the summary" in results  # if: always() still ran

    errors = [line for line in gate.stdout.splitlines() if line.startswith("::error title=cosmos-bench lora ")]
    assert {e.split(" ")[3].split("%3A")[0] for e in errors} == {"tse", "cse"}, gate.stdout
    text = summary.read_text()
    assert "| lora | tse | ❌ **FAIL** |" in text and "| lora | cse | ❌ **FAIL** |" in text
    assert "# Leaderboard: smoke" in text  # the leaderboard step appended its table after the gate's

    doc = json.loads((project / "runs" / "check.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["outcome"] == "regression" and doc["exit_code"] == 1 and doc["suite"] == "smoke"
    assert doc["provenance"]["git"]["commit"] == sh("git rev-parse HEAD", project, env).stdout.strip()
    keys = doc["generation_keys"]
    assert keys["baseline lora"]["key"] != keys["candidate lora"]["key"]  # the retrained model, not the old videos
    cases = ET.parse(project / "runs" / "junit.xml").getroot().find("testsuite").findall("testcase")
    assert {c.get("name") for c in cases if c.find("failure") is not None} == {"tse", "cse"}
