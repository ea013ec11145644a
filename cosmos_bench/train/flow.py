"""Rectified flow for Cosmos Predict 2.5, fed to the DiT exactly as the inference pipeline feeds it.

Conventions (diffusers' ``Cosmos2_5_PredictBasePipeline`` and Cosmos Predict 2.5's own trainer):

- ``x0``: clean latents ``(B, 16, T, H, W)``, the VAE mean normalised with the VAE's
  ``latents_mean``/``latents_std``; ``noise`` a standard normal of the same shape.
- ``x_t = sigma * noise + (1 - sigma) * x0`` with ``sigma`` in [0, 1] (1 = pure noise), one sigma per
  sample; the DiT predicts the velocity ``noise - x0`` (``prediction_type="flow_prediction"``: the
  scheduler recovers ``x0 = x_t - sigma * v``).
- The first ``k`` latent frames of a sample are the condition (``k = 1`` for image-to-world, what the
  benchmark evaluates; ``k = 2`` for the 5-frame video-to-world the seed trained on). They enter
  clean (``condition_mask * x0 + (1 - condition_mask) * x_t``), their timestep is
  ``conditional_frame_timestep`` (1e-4) while the other frames get ``sigma``, and they are excluded
  from the loss (the pipeline overwrites the DiT's velocity on them).
- ``padding_mask``: zeros of the pixel size ``(1, 1, 8H, 8W)`` in the DiT's dtype, as the pipeline passes it.

:func:`transformer_inputs` builds these keyword arguments; ``tests/train/test_flow.py`` compares them
with the ones the pipeline's own ``__call__`` passes to the DiT, captured by a forward hook.

**Sigma distribution** (``sigma.distribution`` in the recipe; :func:`sample_sigma`):

- ``logit_normal`` (default): ``u = sigmoid(N(mean, std))``, then the flow shift
  ``sigma = shift * u / (1 + (shift - 1) * u)`` with ``shift = 5``: Cosmos Predict 2.5's own training
  distribution (``RectifiedFlow(train_time_distribution="logitnormal", shift=5)``). It puts most
  samples at high noise (median sigma ~0.83), where the 36-step inference schedule spends most of its
  steps (half of them at sigma > 0.9).
- ``uniform``: ``u ~ U(0, 1)``, same shift.
- ``inference``: uniform over the sigmas of the ``inference_steps``-step UniPC schedule the
  generator samples with (Karras sigmas 0.01..200 mapped to flow sigmas): trains exactly the noise
  levels evaluation visits.

Randomness is drawn per *sample* (epoch, position in the epoch), never per process, so any split of
a global batch over processes and micro-steps sees the same conditioning, sigma and noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

CONDITIONAL_FRAME_TIMESTEP = 0.0001  # Cosmos2_5_PredictBasePipeline.__call__'s default
SPATIAL_FACTOR = 8
_RNG_TAG = 0x5A4D504C  # separates the trainer's per-sample streams from any other use of the seed


def sample_rng(seed: int, epoch: int, position: int, stream: int = 0) -> np.random.Generator:
    """The random stream of one training sample: a function of (seed, epoch, position) only."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), _RNG_TAG, int(stream), int(epoch), int(position)])))


@lru_cache(maxsize=8)
def inference_sigmas(steps: int) -> tuple[float, ...]:
    """The flow sigmas (> 0) the generator's UniPC schedule visits in ``steps`` steps."""
    from diffusers import UniPCMultistepScheduler

    from ..models.cosmos_facts import SCHEDULER_CONFIG

    scheduler = UniPCMultistepScheduler(**SCHEDULER_CONFIG)
    scheduler.set_timesteps(steps)
    return tuple(float(s) for s in scheduler.sigmas[:-1].tolist())


def shift_sigma(u: float | np.ndarray, shift: float):
    """The flow-matching time shift ``shift * u / (1 + (shift - 1) * u)`` (SD3 eq. 23; identity at 1)."""
    return shift * u / (1.0 + (shift - 1.0) * u)


def sample_sigma(rng: np.random.Generator, distribution: str = "logit_normal", *, mean: float = 0.0, std: float = 1.0,
                 shift: float = 5.0, inference_steps: int = 36) -> float:
    """One sigma in (0, 1) from ``rng`` (see the module docstring for the distributions)."""
    if distribution == "logit_normal":
        u = 1.0 / (1.0 + np.exp(-rng.normal(mean, std)))
        return float(shift_sigma(u, shift))
    if distribution == "uniform":
        return float(shift_sigma(rng.uniform(), shift))
    if distribution == "inference":
        sigmas = inference_sigmas(inference_steps)
        return sigmas[int(rng.integers(len(sigmas)))]
    raise ValueError(f"sigma distribution must be logit_normal, uniform or inference, got {distribution!r}")


@dataclass(frozen=True)
class SampleDraw:
    """What one training sample draws: conditioning length, sigma, noise."""

    num_conditional: int
    sigma: float
    noise: np.ndarray  # float32 (C, T, H, W)


def draw_sample(rng: np.random.Generator, latent_shape: Sequence[int], *, conditional_choices: Sequence[int] = (1,),
                conditional_weights: Sequence[float] = (0.5, 0.5), sigma_config=None) -> SampleDraw:
    """Draw, in a fixed order, the number of conditional latent frames, sigma and the noise of one sample."""
    if len(conditional_choices) == 1:
        k = int(conditional_choices[0])
    else:
        w = np.asarray(conditional_weights, dtype=np.float64)
        k = int(conditional_choices[int(rng.choice(len(conditional_choices), p=w / w.sum()))])
    kwargs = {} if sigma_config is None else {
        "distribution": sigma_config.distribution, "mean": sigma_config.mean, "std": sigma_config.std,
        "shift": sigma_config.shift, "inference_steps": sigma_config.inference_steps,
    }
    sigma = sample_sigma(rng, **kwargs)
    noise = rng.standard_normal(tuple(int(s) for s in latent_shape), dtype=np.float32)
    return SampleDraw(k, sigma, noise)


def condition_masks(shape: Sequence[int], num_conditional: Sequence[int] | int, *, dtype=None, device=None):
    """``(cond_indicator (B, 1, T, 1, 1), cond_mask (B, 1, T, H, W))``: 1 on each sample's first k latent frames.

    Same values as ``Cosmos2_5_PredictBasePipeline.create_condition_mask``.
    """
    import torch

    b, _, t, h, w = (int(s) for s in shape)
    ks = [int(num_conditional)] * b if isinstance(num_conditional, (int, np.integer)) else [int(k) for k in num_conditional]
    if len(ks) != b:
        raise ValueError(f"num_conditional has {len(ks)} entries for a batch of {b}")
    if any(k < 0 or k > t for k in ks):
        raise ValueError(f"num_conditional must be in [0, {t}], got {ks}")
    indicator = torch.zeros(b, 1, t, 1, 1, dtype=dtype or torch.float32, device=device)
    for i, k in enumerate(ks):
        indicator[i, :, :k] = 1.0
    return indicator, indicator.expand(-1, -1, -1, h, w)


@dataclass
class FlowBatch:
    """DiT keyword arguments for one batch plus what the loss needs."""

    kwargs: dict
    target: "object"  # torch.Tensor (B, C, T, H, W) float32: noise - x0
    loss_mask: "object"  # torch.Tensor (B, 1, T, 1, 1) float32: 1 on the frames the loss covers


def transformer_inputs(
    x0,
    noise,
    sigma,
    num_conditional: Sequence[int] | int,
    encoder_hidden_states,
    *,
    transformer_dtype,
    conditional_frame_timestep: float = CONDITIONAL_FRAME_TIMESTEP,
    pixel_size: tuple[int, int] | None = None,
) -> FlowBatch:
    """Noise ``x0`` to ``sigma`` and build the DiT's inputs as ``Cosmos2_5_PredictBasePipeline`` does.

    ``x0``, ``noise``: float32 ``(B, C, T, H, W)``; ``sigma``: float32 ``(B,)``;
    ``encoder_hidden_states``: ``(B, L, D)`` prompt embeddings as the pipeline's ``encode_prompt``
    returns them. ``pixel_size`` defaults to 8x the latent size (the padding mask's size).
    """
    import torch

    if x0.shape != noise.shape or x0.ndim != 5:
        raise ValueError(f"x0 and noise must both be (B, C, T, H, W); got {tuple(x0.shape)} and {tuple(noise.shape)}")
    b, _, t, h, w = x0.shape
    sigma = sigma.to(device=x0.device, dtype=torch.float32).reshape(b)
    s = sigma.view(b, 1, 1, 1, 1)
    x_t = s * noise + (1.0 - s) * x0
    indicator, mask = condition_masks(x0.shape, num_conditional, dtype=torch.float32, device=x0.device)
    # pipeline: cond_mask.to(transformer_dtype); in_latents = cond_mask * cond_latent + (1 - cond_mask) * latents
    cond_mask = mask.to(transformer_dtype)
    hidden = (cond_mask * x0 + (1 - cond_mask) * x_t).to(transformer_dtype)
    # pipeline: in_timestep = cond_indicator * conditional_frame_timestep + (1 - cond_indicator) * sigma_t
    timestep = indicator * conditional_frame_timestep + (1 - indicator) * s
    ph, pw = pixel_size if pixel_size is not None else (h * SPATIAL_FACTOR, w * SPATIAL_FACTOR)
    padding_mask = x0.new_zeros(1, 1, ph, pw, dtype=transformer_dtype)
    kwargs = {
        "hidden_states": hidden,
        "condition_mask": cond_mask,
        "timestep": timestep,
        "encoder_hidden_states": encoder_hidden_states,
        "padding_mask": padding_mask,
        "return_dict": False,
    }
    return FlowBatch(kwargs=kwargs, target=noise - x0, loss_mask=1.0 - indicator)


def per_sample_loss(pred, target, loss_mask):
    """Mean squared velocity error of each sample over its non-conditional frames: ``(B,)`` float32."""
    err = (pred.float() - target) ** 2 * loss_mask
    per_frame_elems = target[:, :, :1].numel() // target.shape[0]  # C * H * W
    count = loss_mask.flatten(1).sum(1) * per_frame_elems
    return err.flatten(1).sum(1) / count.clamp_min(1)


__all__ = [
    "CONDITIONAL_FRAME_TIMESTEP",
    "FlowBatch",
    "SampleDraw",
    "condition_masks",
    "draw_sample",
    "inference_sigmas",
    "per_sample_loss",
    "sample_rng",
    "sample_sigma",
    "shift_sigma",
    "transformer_inputs",
]
