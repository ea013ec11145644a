"""The package stands on its own: a wheel installed outside the checkout finds the shipped rubrics, lists
the default models in an empty folder and writes an editable project with ``init``.

The wheel is built from a copy of the sources (so nothing is written into the checkout), installed
with ``--no-deps`` into a fresh virtual environment in a temporary folder, and imported from there
with the current directory outside the checkout and no ``PYTHONPATH``. The dependencies (torch,
openai, ...) are not reinstalled: a ``.pth`` file appends the running interpreter's site-packages
*after* the fresh environment's own, so ``cosmos_bench`` itself can only come from the wheel (the
test checks where it was imported from) while its dependencies stay importable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from cosmos_bench.judge import load_rubric

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("video_physics", "video_IF")
DEFAULT_MODELS = ("base", "lora8", "lora32", "dora8", "dora32")

PROBE = """
import json, cosmos_bench
from cosmos_bench.judge import available_rubrics, load_rubric
found = available_rubrics()
print(json.dumps({
    "package": cosmos_bench.__file__,
    "rubrics": {name: str(path) for name, path in found.items()},
    "sha256": {name: load_rubric(name).sha256 for name in %r if name in found},
}))
""" % (SHIPPED,)


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
    assert proc.returncode == 0, f"{cmd[:4]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


def _build_and_install(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """Build the wheel from a copy of the sources, install it into a fresh venv: (python, site, env)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "setup.py", "MANIFEST.in", "models.yaml"):
        shutil.copy2(REPO / name, src / name)
    for name in ("cosmos_bench", "trainer", "rubrics"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(src)])
    (wheel,) = wheels.glob("cosmos_bench-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)])
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    # the running interpreter's site folders, including those a thin venv reaches through its own .pth files
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    deps |= {p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()}
    (site / "zz_test_dependencies.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))

    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "COSMOS_BENCH_RUBRICS", "COSMOS_BENCH_MODELS", "PYTHONHOME")}
    return python, site, env


def test_wheel_installed_outside_the_checkout_finds_both_rubrics(tmp_path: Path) -> None:
    python, site, env = _build_and_install(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    report = json.loads(_run([str(python), "-c", PROBE], cwd=outside, env=env).stdout.strip().splitlines()[-1])

    assert Path(report["package"]).resolve().is_relative_to(site.resolve()), report["package"]
    for name in SHIPPED:
        assert name in report["rubrics"], f"{name} not found by the installed wheel: {report['rubrics']}"
        assert Path(report["rubrics"][name]).resolve().is_relative_to(site.resolve())
        assert report["sha256"][name] == load_rubric(name).sha256  # the very text the checkout ships

    # the same bytes as the top-level rubrics/, the one copy in the tree
    for name in SHIPPED:
        assert Path(report["rubrics"][name]).read_bytes() == (REPO / "rubrics" / f"{name}.yaml").read_bytes()

    # from the wheel, in an empty folder: the packaged default models list, and init writes an editable copy
    empty = tmp_path / "empty"
    empty.mkdir()
    cli = [str(python), "-m", "cosmos_bench.cli"]
    listed = _run([*cli, "models"], cwd=empty, env={**env, "COLUMNS": "200"})
    out = listed.stdout + listed.stderr
    assert "default models the package carries" in out
    for name in DEFAULT_MODELS:
        assert f"│ {name} " in out, f"{name} not listed from the wheel:\n{out}"
    assert not (empty / "models.yaml").exists()  # listing writes nothing

    _run([*cli, "init", "project", "--no-suite"], cwd=empty, env=env)
    project = empty / "project"
    assert (project / "models.yaml").read_bytes() == (REPO / "models.yaml").read_bytes()
    recipes = sorted(p.name for p in (project / "trainer").glob("*.yaml"))
    assert recipes == sorted(p.name for p in (REPO / "trainer").glob("*.yaml"))
    assert {"lora8.yaml", "lora32.yaml", "dora8.yaml", "dora32.yaml"} <= set(recipes)
    listed = _run([*cli, "models"], cwd=project, env={**env, "COLUMNS": "200"})
    assert f"models in {project / 'models.yaml'}" in " ".join((listed.stdout + listed.stderr).split())


def test_the_tree_holds_one_copy_of_each_shipped_file() -> None:
    """rubrics/, trainer/ and models.yaml live at the top level only; the editable install reads them there."""
    from cosmos_bench.judge.rubric import PACKAGED_RUBRICS
    from cosmos_bench.shipped import SHIPPED, WHEEL_DIR, shipped_path

    assert not (REPO / "cosmos_bench" / WHEEL_DIR).exists()
    assert not (REPO / "cosmos_bench" / "judge" / "rubrics").exists()
    for name in SHIPPED:
        assert shipped_path(name) == REPO / name and shipped_path(name).exists()
    assert PACKAGED_RUBRICS == REPO / "rubrics"
