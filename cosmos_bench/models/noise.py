"""Arch-invariant initial noise: the same seed and shape give the same latents on any machine.

``torch.randn`` with a CUDA generator draws different numbers than with a CPU generator, and
even CPU draws depend on the vectorised code path taken. A benchmark that compares candidates
(and reruns on other GPUs, or on several GPUs at once) needs every candidate to start from the
*same* noise for a given (seed, shape), so that the only difference between ``base`` and ``lora8``
for seed 3 is the model.

So the noise never comes from torch: it is drawn by NumPy's PCG64 bit generator with the
ziggurat ``standard_normal`` in float64 (table look-ups and integer arithmetic, no libm
transcendental in the common path), cast to the requested dtype on the CPU, and only then moved
to the device. Moving a tensor never changes its values, so the float32 latents are
bit-identical on every device; lower precisions are the float32 values rounded once, the same
everywhere.

``NOISE_VERSION`` is part of every generation key: changing the algorithm here must bump it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

NOISE_VERSION = 1
NOISE_ALGORITHM = "numpy.PCG64(seed).standard_normal(float64) -> cast on CPU -> device"

# Wan 2.1 VAE (Cosmos Predict 2.5's tokenizer): 16 latent channels, 4x in time, 8x in space.
LATENT_CHANNELS = 16
TEMPORAL_FACTOR = 4
SPATIAL_FACTOR = 8


def latent_shape(
    num_frames: int,
    height: int,
    width: int,
    *,
    channels: int = LATENT_CHANNELS,
    temporal_factor: int = TEMPORAL_FACTOR,
    spatial_factor: int = SPATIAL_FACTOR,
) -> tuple[int, int, int, int]:
    """Latent ``(C, T, H, W)`` of a video of ``num_frames`` frames at ``height x width`` pixels.

    The causal Wan VAE keeps the first frame and packs every following ``temporal_factor`` frames
    into one latent frame: ``T = (F - 1) // 4 + 1`` (93 frames -> 24). ``H, W`` are the pixel sizes
    divided by 8 (432x768 -> 54x96).
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if (num_frames - 1) % temporal_factor:
        raise ValueError(
            f"num_frames must be 1 + a multiple of {temporal_factor} (e.g. 93, 33, 9); got {num_frames}"
        )
    if height % spatial_factor or width % spatial_factor or height <= 0 or width <= 0:
        raise ValueError(f"height and width must be positive multiples of {spatial_factor}; got {height}x{width}")
    return (channels, (num_frames - 1) // temporal_factor + 1, height // spatial_factor, width // spatial_factor)


def noise_array(seed: int, shape: Sequence[int]) -> np.ndarray:
    """Standard normal float64 array of ``shape`` for ``seed`` (a non-negative integer)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    shape = tuple(int(s) for s in shape)
    if any(s <= 0 for s in shape):
        raise ValueError(f"shape must be positive, got {shape}")
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    return rng.standard_normal(shape, dtype=np.float64)


def initial_latents(
    seed: int,
    shape: Sequence[int],
    *,
    batch: int = 1,
    device=None,
    dtype=None,
):
    """Initial latents ``(batch, *shape)`` as a torch tensor on ``device`` in ``dtype``.

    Batch element ``b`` is the noise of ``seed + b``, so a batch of seeds equals the seeds drawn
    one at a time. The cast to ``dtype`` (default float32) happens on the CPU before the move.
    """
    import torch

    dtype = torch.float32 if dtype is None else dtype
    arrays = [noise_array(seed + b, shape) for b in range(batch)]
    cpu = torch.from_numpy(np.stack(arrays)).to(dtype)
    return cpu if device is None else cpu.to(device)


def describe(seed: int, shape: Sequence[int]) -> dict:
    """What the sidecar records about the noise of one output."""
    return {"version": NOISE_VERSION, "algorithm": NOISE_ALGORITHM, "seed": int(seed), "shape": [int(s) for s in shape]}


__all__ = [
    "LATENT_CHANNELS",
    "NOISE_ALGORITHM",
    "NOISE_VERSION",
    "SPATIAL_FACTOR",
    "TEMPORAL_FACTOR",
    "describe",
    "initial_latents",
    "latent_shape",
    "noise_array",
]
