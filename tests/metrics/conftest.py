"""Small synthetic clips for the metric tests, rendered once per session.

Sizes are chosen for 2 shared CPU cores: 9 frames at 160x256 (orbit, rig), 4 frames at 256x448 for the
static-camera case (the moving box must carry ≥ 16 matches per pair to exercise that code path).
The kornia backend runs on the CPU here; the GPU path is exercised by benchmarks/metrics_bench.py.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import torch

from cosmos_bench.data.synthetic import SceneConfig, SyntheticClip, render_clip
from cosmos_bench.metrics import MetricResult, sampson_metrics

ORBIT = SceneConfig(frames=9, height=160, width=256)
# Boxes fill most of both views, so an inconsistent box shift moves the *median* match.
RIG_BOXES = SceneConfig(frames=9, height=160, width=256, camera_distance=0.6, num_boxes=8, hfov_deg=45)
STATIC = SceneConfig(frames=4, height=256, width=448, views=1, camera_motion="static", object_motion="translate")
FROZEN = SceneConfig(frames=4, height=160, width=256, views=1, camera_motion="static", object_motion="none")


@pytest.fixture(autouse=True, scope="session")
def _two_threads():
    n = torch.get_num_threads()
    torch.set_num_threads(min(n, 2))
    yield
    torch.set_num_threads(n)


@lru_cache(maxsize=None)
def clip(config: SceneConfig, *degradations: str) -> SyntheticClip:
    return render_clip(config, list(degradations))


@lru_cache(maxsize=None)
def metrics(config: SceneConfig, degradations: tuple[str, ...] = (), backend: str = "opencv",
            **kw) -> dict[str, MetricResult]:
    """TSE + CSE (pooled unless ``mode`` is given) of a cached clip; CPU for both backends."""
    kw.setdefault("device", "cpu" if backend == "kornia" else None)
    return sampson_metrics(clip(config, *degradations), backend=backend, **kw)


def agree(a: float, b: float) -> bool:
    """The backends' agreement rule: within 5 % or 0.05 px, whichever is larger."""
    return abs(a - b) <= max(0.05 * max(abs(a), abs(b)), 0.05)


def strictly_increasing(values: list[float]) -> bool:
    return all(np.isfinite(values)) and all(b > a for a, b in zip(values, values[1:]))
