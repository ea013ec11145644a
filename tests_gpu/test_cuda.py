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
