"""docs/world-models.md's plugin example works: its files are installed as a package and run through a suite.

The test reads the three code blocks the page marks (``<!-- plugin: FILE -->``), so editing the page
edits what is tested; it checks what the page promises: the entry point is listed, a grid suite gets one
stream of the whole grid, and the seed fixes the video.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from cosmos_bench.data.suite import load_suite
from cosmos_bench.data.synthetic import SceneConfig
from cosmos_bench.data.synthetic_suite import write_synthetic_suite
from cosmos_bench.models.base import available_kinds, load_models
from cosmos_bench.models.generate import GenerationSettings, generate

DOC = Path(__file__).resolve().parents[1] / "docs" / "world-models.md"


def plugin_files() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    return {m.group(1): m.group(2) for m in re.finditer(r"<!-- plugin: (\S+) -->\n```\w*\n(.*?)```", text, re.S)}


def test_the_documented_plugin_installs_and_generates(tmp_path: Path, monkeypatch) -> None:
    files = plugin_files()
    assert set(files) == {"pyproject.toml", "still_camera/__init__.py", "models.yaml"}
    src = tmp_path / "src"
    for name in ("pyproject.toml", "still_camera/__init__.py"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(files[name])
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "--target", str(site), str(src)], check=True, capture_output=True)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    assert available_kinds()["still-camera"].source == "entry point (still-camera-world-model)"

    (tmp_path / "models.yaml").write_text(files["models.yaml"])
    [model] = load_models("still", tmp_path / "models.yaml")
    suite = load_suite(write_synthetic_suite(tmp_path / "suite", SceneConfig(frames=5, height=32, width=48), samples=1).root)
    assert suite.storage.kind == "grid"
    settings = GenerationSettings(num_frames=5, height=32, width=96, steps=1, fps=8.0)  # the whole 1x2 grid
    report = generate([model], suite, tmp_path / "out", seeds=2, settings=settings)
    assert report.count("generated") == 2, [r.error for r in report.results]
    views = {}
    for r in report.results:
        frames, _ = suite.read_views(r.sidecar.parent, r.item.sample)
        assert set(frames) == set(suite.views) and frames[suite.views[0]].shape == (5, 32, 48, 3)
        views[r.item.seed] = frames
    assert not np.array_equal(views[0][suite.views[0]], views[1][suite.views[0]])  # another seed, other noise
    again = generate([model], suite, tmp_path / "again", seeds=1, settings=settings)
    same, _ = suite.read_views(again.results[0].sidecar.parent, "scene_000")
    assert np.array_equal(same[suite.views[0]], views[0][suite.views[0]])  # the seed fixes the video
