"""The package stands on its own: a wheel installed outside the checkout finds the shipped rubrics.

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


def test_wheel_installed_outside_the_checkout_finds_both_rubrics(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "cosmos_bench", src / "cosmos_bench", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(src)])
    (wheel,) = wheels.glob("cosmos_bench-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)])
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_test_dependencies.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COSMOS_BENCH_RUBRICS", "PYTHONHOME")}
    report = json.loads(_run([str(python), "-c", PROBE], cwd=outside, env=env).stdout.strip().splitlines()[-1])

    assert Path(report["package"]).resolve().is_relative_to(site.resolve()), report["package"]
    for name in SHIPPED:
        assert name in report["rubrics"], f"{name} not found by the installed wheel: {report['rubrics']}"
        assert Path(report["rubrics"][name]).resolve().is_relative_to(site.resolve())
        assert report["sha256"][name] == load_rubric(name).sha256  # the very text the checkout ships
