"""Fixtures for the models tests: a tiny offline model zoo and a tiny suite, built once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

TINY = {"num_frames": 9, "height": 32, "width": 48, "steps": 2, "fps": 8.0}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs with one torch thread (see tests/conftest.py)."""


@pytest.fixture(autouse=True)
def _release_pipelines():
    """Loaded pipelines are shared per process; tests that load them must not leak state to others."""
    yield
    from cosmos_bench.models.cosmos import release_pipelines

    release_pipelines()


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory) -> Path:
    """Tiny base pipeline (saved with save_pretrained), LoRA and DoRA adapters, models.yaml."""
    import torch

    from cosmos_bench.models.tiny import write_tiny_zoo

    torch.set_num_threads(1)
    return write_tiny_zoo(tmp_path_factory.mktemp("zoo"))


def make_suite(root: Path, names=("pick_cup", "open_drawer"), *, size=(32, 48), manifest: str | None = None, seed: int = 0) -> Path:
    """A GR1-layout test folder: <name>.txt prompts and <name>.png first frames."""
    from cosmos_bench.data.layout import write_image

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        (root / f"{name}.txt").write_text(f"The robot arm performs the task: {name.replace('_', ' ')}.\n")
        write_image(root / f"{name}.png", (rng.random((*size, 3)) * 255).astype(np.uint8))
    if manifest is not None:
        (root / "suite.yaml").write_text(manifest)
    return root


@pytest.fixture
def tiny_suite(tmp_path) -> Path:
    return make_suite(tmp_path / "suite")


class PatternModel:
    """A fast stand-in world model: frames are a deterministic pattern of (prompt, seed).

    ``views`` returns ``{view: frames}`` instead of one stream; ``calls`` counts generate() calls.
    """

    kind = "pattern"
    uses_settings = True

    def __init__(self, spec):
        spec.check_options(["level", "per_view", "fail_on"])
        self.name = spec.name
        self.level = int(spec.options.get("level", 0))
        self.per_view = bool(spec.options.get("per_view", False))
        self.fail_on = spec.options.get("fail_on")
        self.calls = 0

    def identity(self):
        return {"kind": self.kind, "level": self.level}

    def _frames(self, request, h, w):
        rng = np.random.default_rng([request.seed, len(request.prompt), self.level])
        base = rng.integers(0, 256, size=(1, h, w, 3), dtype=np.uint8)
        ramp = (np.arange(request.num_frames, dtype=np.uint8) * 8)[:, None, None, None]
        return (base + ramp).astype(np.uint8)

    def generate(self, request):
        from cosmos_bench.models.base import GeneratedVideo

        self.calls += 1
        if self.fail_on and request.sample == self.fail_on:
            raise RuntimeError(f"cannot generate {request.sample}")
        if self.per_view:
            n = len(request.views)
            w = request.width // n
            frames = {v: self._frames(request, request.height, w) for v in request.views}
        else:
            frames = self._frames(request, request.height, request.width)
        return GeneratedVideo(frames=frames, fps=request.fps, info={"level": self.level})


@pytest.fixture
def pattern_kind():
    """Register the ``pattern`` kind in-process for one test."""
    from cosmos_bench.models.base import register_kind, unregister_kind

    register_kind("pattern", PatternModel, overwrite=True)
    yield PatternModel
    unregister_kind("pattern")
