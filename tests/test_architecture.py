"""The architecture is a contract: import-linter checks the layering and the absence of import cycles.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``; README "Architecture"). The first
test runs them on the package as it is. The second runs the same contracts on a copy of the package
with one upward import and one import cycle added, and expects both to be reported, so a contract
that silently checks nothing (a renamed layer, a wrong container) cannot pass for a kept one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "pyproject.toml"
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))"


def _lint(package_parent: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([sys.executable, "-c", LINT, str(CONFIG)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_import_contracts_are_kept(tmp_path: Path) -> None:
    result = _lint(REPO, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout and "BROKEN" not in result.stdout


def test_contracts_catch_an_upward_import_and_a_cycle(tmp_path: Path) -> None:
    copy = tmp_path / "pkg"
    shutil.copytree(REPO / "cosmos_bench", copy / "cosmos_bench", ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "cosmos_bench" / "data" / "video.py", "a") as fh:  # data must not know the runner
        fh.write("\n\ndef _upward():\n    from ..runner import run\n\n    return run\n")
    with open(copy / "cosmos_bench" / "models" / "noise.py", "a") as fh:  # cosmos imports noise: a cycle
        fh.write("\n\ndef _cycle():\n    from .cosmos import CosmosWorldModel\n\n    return CosmosWorldModel\n")
    result = _lint(copy, tmp_path)
    out = " ".join(result.stdout.split())
    assert result.returncode == 1, out[-3000:]
    assert "cosmos_bench.data.video -> cosmos_bench.runner" in out
    assert "no import cycles between sibling modules, at any depth BROKEN" in out
    assert "cycles are allowed in cosmos_bench.models" in out and "- .noise -> .cosmos (1 import)" in out


def test_every_top_level_module_has_a_layer() -> None:
    """A module the layers list does not name is checked by nothing: each new one must take its place."""
    import tomllib

    config = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in config if c["id"] == "layers")["layers"]
    named = {part.strip().strip("()") for layer in layers for part in layer.replace("|", ":").split(":")}
    modules = {p.stem for p in (REPO / "cosmos_bench").glob("*.py") if p.stem != "__init__"}
    modules |= {p.name for p in (REPO / "cosmos_bench").iterdir() if (p / "__init__.py").is_file()}
    assert not modules - named, f"modules with no layer in pyproject.toml: {sorted(modules - named)}"


def test_every_cli_module_has_a_layer() -> None:
    """The same for the CLI package: a new command module must join the command layer (no command imports another)."""
    import tomllib

    config = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in config if c["id"] == "cli")["layers"]
    named = {part.strip() for layer in layers for part in layer.replace("|", ":").split(":")}
    modules = {p.stem for p in (REPO / "cosmos_bench" / "cli").glob("*.py")} - {"__init__", "__main__"}
    assert modules and not modules - named, f"cli modules with no layer in pyproject.toml: {sorted(modules - named)}"
