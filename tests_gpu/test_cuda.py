"""Checks that need a CUDA GPU: run on the device machine with `python -m pytest tests_gpu`.

They live outside `tests/` (which CI runs on CPU-only machines) so that no test there skips itself
into green. Last run: see benchmarks/RESULTS.md.
"""

from __future__ import annotations

import pytest
import torch

from tests.metrics.conftest import ORBIT, agree, metrics

if not torch.cuda.is_available():  # collected by hand only; fail loudly instead of passing vacuously
    raise RuntimeError("tests_gpu needs a CUDA device")


@pytest.mark.parametrize("degradation", [(), ("elastic:2",)])
def test_kornia_on_cuda_agrees_with_opencv(degradation):
    a = metrics(ORBIT, degradation, backend="opencv")
    b = metrics(ORBIT, degradation, backend="kornia", device="cuda")
    assert b["tse"].details["device"].startswith("cuda")
    for name in ("tse", "cse"):
        assert agree(a[name].value, b[name].value), (name, a[name].value, b[name].value)


def test_noise_moved_to_the_gpu_keeps_every_bit():
    from cosmos_bench.models import noise

    shape = (16, 3, 4, 6)
    for dtype in (torch.float32, torch.bfloat16):
        cpu = noise.initial_latents(1, shape, dtype=dtype)
        assert torch.equal(cpu, noise.initial_latents(1, shape, device="cuda", dtype=dtype).cpu())


def test_fast_kernels_on_cuda_stay_within_rounding_of_the_batched_sampler():
    """On the GPU the GELU epilogue is cuBLASLt's tanh form (exact GELU on the CPU); the video must
    still match the batched fast sampler up to bf16 rounding (tiny real pipeline, bf16, guidance 7,
    which amplifies rounding). First run (H100, 2026-11-25): max 3 of 255 levels, against a first
    guess of 2; compile alone moves full-size frames by up to 15 levels (RESULTS.md). A wrong GELU
    or a lost bias moves frames by tens of levels on average, which the mean bound catches."""
    import numpy as np
    from PIL import Image

    from cosmos_bench.models import noise
    from cosmos_bench.models.cosmos_sampler import PromptCache, sample_video
    from cosmos_bench.models.tiny import build_tiny_cosmos_pipeline

    pipe = build_tiny_cosmos_pipeline(0)
    pipe.to("cuda", torch.bfloat16)
    pipe.set_progress_bar_config(disable=True)
    image = Image.fromarray(np.full((32, 48, 3), 90, np.uint8))

    def video(fast_kernels: bool) -> np.ndarray:
        latents = noise.initial_latents(0, noise.latent_shape(9, 32, 48), device="cuda")
        return sample_video(pipe, prompt="A robot arm.", negative_prompt=None, height=32, width=48, num_frames=9, steps=3,
                            guidance=7.0, latents=latents, max_sequence_length=16, image=image, cache=PromptCache(),
                            fast_kernels=fast_kernels).astype(int)

    diff = np.abs(video(True) - video(False))
    assert diff.max() <= 6 and diff.mean() <= 1.0, (diff.max(), diff.mean())
