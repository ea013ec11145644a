"""Arch-invariant initial noise: fixed numbers for a seed and shape, on every device and process."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from cosmos_bench.models import noise


def test_latent_shape_matches_the_wan_vae() -> None:
    # NOTES.md: 432x768x93 -> 16 x 24 x 54 x 96 latents (31,104 tokens after 2x2 patching).
    assert noise.latent_shape(93, 432, 768) == (16, 24, 54, 96)
    assert noise.latent_shape(9, 32, 48) == (16, 3, 4, 6)
    assert noise.latent_shape(1, 16, 16) == (16, 1, 2, 2)


@pytest.mark.parametrize("frames, h, w, message", [(92, 432, 768, r"1 \+ a multiple of 4"), (93, 430, 768, "multiples of 8"), (0, 8, 8, ">= 1")])
def test_latent_shape_rejects_impossible_sizes(frames, h, w, message) -> None:
    with pytest.raises(ValueError, match=message):
        noise.latent_shape(frames, h, w)


def test_noise_values_are_pinned() -> None:
    """The numbers themselves are the contract: a NumPy or algorithm change must show up here."""
    assert noise.noise_array(0, (4,)).tolist() == [0.1257302210933933, -0.1321048632913019, 0.6404226504432821, 0.10490011715303971]
    digest = hashlib.sha256(noise.noise_array(3, (16, 3, 4, 6)).tobytes()).hexdigest()
    assert digest == "23badeef50d484f9e1e6ee57aa929a3bef0722ab5854ebe41e0a159e31c5a04f"


def test_float32_latents_are_the_float64_draw_rounded_once() -> None:
    shape = (16, 3, 4, 6)
    lat = noise.initial_latents(7, shape)
    assert lat.dtype == torch.float32 and lat.shape == (1, *shape)
    assert np.array_equal(lat[0].numpy(), noise.noise_array(7, shape).astype(np.float32))
    bf16 = noise.initial_latents(7, shape, dtype=torch.bfloat16)
    assert torch.equal(bf16, lat.to(torch.bfloat16))


def test_batch_element_b_is_seed_plus_b() -> None:
    shape = (16, 2, 2, 2)
    batch = noise.initial_latents(5, shape, batch=3)
    for b in range(3):
        assert torch.equal(batch[b], noise.initial_latents(5 + b, shape)[0])


def test_same_numbers_in_another_process() -> None:
    code = (
        "import hashlib; from cosmos_bench.models.noise import initial_latents;"
        "print(hashlib.sha256(initial_latents(11, (16, 3, 4, 6)).numpy().tobytes()).hexdigest())"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    here = hashlib.sha256(noise.initial_latents(11, (16, 3, 4, 6)).numpy().tobytes()).hexdigest()
    assert other == here


def test_seeds_differ_and_bad_seeds_raise() -> None:
    assert not np.array_equal(noise.noise_array(0, (8,)), noise.noise_array(1, (8,)))
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="seed"):
            noise.noise_array(bad, (2,))
