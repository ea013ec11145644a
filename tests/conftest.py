"""Shared fixtures: small clips the project makes itself (no downloads)."""

from __future__ import annotations

import os

import numpy as np
import pytest

# Ray in tests: loopback only. On Linux Ray binds its services to the machine's outward address;
# this switch (read when ray is imported) makes it use 127.0.0.1, and child processes inherit it.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def textured_clip(frames: int = 9, height: int = 64, width: int = 96, seed: int = 0) -> np.ndarray:
    """A smooth moving pattern with a gentle colour tint.

    yuv420p stores colour at half resolution, so fine *colour* detail cannot survive any H.264
    round trip; luminance detail plus low-frequency tint is what real footage looks like and keeps
    the codec error small and measurable.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        luma = 127.5 + 90 * np.sin(xx / 9.0 + phase[0] + 0.3 * t) * np.cos(yy / 7.0 + phase[1])
        for c in range(3):
            tint = 25 * np.sin(xx / width * np.pi + phase[2] + c)
            out[t, :, :, c] = np.clip(luma + tint, 0, 255).astype(np.uint8)
    return out


@pytest.fixture
def clip() -> np.ndarray:
    return textured_clip()


@pytest.fixture
def one_torch_thread():
    """One intra-op torch thread: the machine is shared, and results must not depend on the thread count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
