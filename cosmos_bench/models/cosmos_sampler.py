"""The ``fast`` sampler: Cosmos Predict 2.5's denoising loop without the work that cannot change the video.

``Cosmos2_5_PredictBasePipeline.__call__`` is the reference (``sampler: pipeline``). Timed piece by piece
on one H100 at 432x768x93 (``benchmarks/generation_parts.py``, figures in ``benchmarks/RESULTS.md``), a
plain call spends time this loop leaves out:

- it VAE-encodes a whole 93-frame conditioning video (the image, then 92 black frames) to keep only its
  first latent frame (1.22 s). The Wan VAE is causal, so encoding the conditioning frames alone gives the
  same latents bit for bit (0.017 s);
- it encodes the prompt and the default negative prompt with the 7B text encoder for every video; the
  same strings recur over seeds and candidates, so their embeddings are cached (:class:`PromptCache`);
- it runs the two classifier-free-guidance branches as two batch-1 transformer calls; ``batch_cfg``
  runs them as one batch-2 call (1% faster; the results differ by bf16 rounding only, which is why
  ``batch_cfg`` is part of a model's generation key);
- it hands frames back as float32 numpy arrays, converted to 8 bits afterwards on the CPU; here the
  8-bit conversion happens on the GPU, with the same float32 arithmetic.

Everything else -- scheduler, conditioning mask, velocity replacement on the conditioning frames, the
guidance formula, decoding -- is the pipeline's own code or the same arithmetic. Without ``batch_cfg``
the videos are identical to the pipeline's; ``tests/models/test_cosmos_sampler.py`` checks that on a
tiny real pipeline, so a diffusers release that changes the pipeline's maths fails the test.
"""

from __future__ import annotations

import contextlib
import inspect
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .dit_rewrites import installed
from ..errors import CosmosBenchError
from .noise import TEMPORAL_FACTOR
from .safety import NoSafetyChecker


class UnsafePromptError(CosmosBenchError, ValueError):
    """NVIDIA's guardrail refused a prompt (the pipeline raises the same ValueError)."""


class PromptCache:
    """Text-encoder outputs of recent strings, kept on the device.

    One embedding is 512 tokens x 100,352 channels (28 layers x 3,584 of the 7B encoder): about 100 MB
    in bf16, so only a few are kept. Generation runs model by model, sample by sample, seed by seed,
    so a test pair's prompt is reused for its seeds and the negative prompt for everything.
    """

    def __init__(self, max_items: int = 4):
        self.max_items = max(int(max_items), 1)
        self._items: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, pipe, text: str, max_sequence_length: int, device) -> Any:
        key = (text, int(max_sequence_length))
        if key in self._items:
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key]
        self.misses += 1
        embeds, _ = pipe.encode_prompt(
            prompt=text,
            do_classifier_free_guidance=False,
            max_sequence_length=max_sequence_length,
            device=device,
        )
        self.put(text, max_sequence_length, embeds)
        return embeds

    def put(self, text: str, max_sequence_length: int, embeds: Any) -> None:
        """Store ``embeds`` as the encoding of ``text`` (benchmarks without a text encoder use this)."""
        self._items[(text, int(max_sequence_length))] = embeds
        self._items.move_to_end((text, int(max_sequence_length)))
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)


def default_negative_prompt(pipe) -> str:
    """The negative prompt the pipeline uses when none is given."""
    return inspect.getmodule(type(pipe)).DEFAULT_NEGATIVE_PROMPT


def pipeline_default(pipe, name: str) -> Any:
    """A default argument of the pipeline's ``__call__`` (e.g. ``conditional_frame_timestep``), read from
    its signature so the two samplers cannot drift apart."""
    return inspect.signature(type(pipe).__call__).parameters[name].default


def conditioning_video(pipe, *, image=None, video: Sequence | None = None, conditional_latent_frames: int, height: int, width: int):
    """The frames the VAE must encode, preprocessed as the pipeline does, and how many there are.

    The pipeline pads the conditioning frames to the full length before encoding; only the
    ``(frames_in - 1) // 4 + 1`` leading latent frames are kept, and by causality they depend on
    the conditioning frames alone, so the padding is left out here.
    """
    import torchvision

    if image is not None:
        frames = torchvision.transforms.functional.to_tensor(image).unsqueeze(0).unsqueeze(0)  # (1, 1, C, H, W)
        return pipe.video_processor.preprocess_video(frames, height, width), 1
    if video is not None:
        if conditional_latent_frames not in (1, 2):
            raise ValueError(f"conditional_latent_frames must be 1 or 2, got {conditional_latent_frames}")
        frames_in = TEMPORAL_FACTOR * (conditional_latent_frames - 1) + 1
        if len(video) < frames_in:
            raise ValueError(
                f"the conditioning video has {len(video)} frames; {conditional_latent_frames} latent frames need {frames_in}"
            )
        processed = pipe.video_processor.preprocess_video(list(video), height, width)
        return processed[:, :, -frames_in:], frames_in
    return None, 0  # text only: the pipeline encodes nothing either


def check_prompt(pipe, prompt: str) -> None:
    checker = pipe.safety_checker
    if checker is None:
        raise ValueError("the pipeline has no safety checker (the pipeline itself refuses to run this way)")
    if not checker.check_text_safety(prompt):
        raise UnsafePromptError(f"Cosmos guardrail refused the prompt: {prompt!r}")


def sample_video(
    pipe,
    *,
    prompt: str,
    negative_prompt: str | None,
    height: int,
    width: int,
    num_frames: int,
    steps: int,
    guidance: float,
    latents,
    max_sequence_length: int,
    image=None,
    video: Sequence | None = None,
    conditional_latent_frames: int = 2,
    cache: PromptCache | None = None,
    batch_cfg: bool = True,
    fast_kernels: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> np.ndarray:
    """One video as uint8 frames ``(T, H, W, 3)``; ``latents`` are the initial noise ``(1, C, T', H', W')``.

    ``fast_kernels`` puts :mod:`.dit_rewrites` in place for the batched guidance calls.
    ``on_step(i)`` is called after each denoising step (benchmarks time steps with it).
    """
    import torch

    device = pipe._execution_device
    cache = cache if cache is not None else PromptCache()
    checker = pipe.safety_checker
    check_prompt(pipe, prompt)
    if hasattr(checker, "to"):
        checker.to(device)

    use_cfg = guidance > 1.0
    with torch.no_grad():
        prompt_embeds = cache.get(pipe, prompt, max_sequence_length, device)
        negative_embeds = None
        if use_cfg:
            negative = negative_prompt if negative_prompt is not None else default_negative_prompt(pipe)
            negative_embeds = cache.get(pipe, negative, max_sequence_length, device)

        cond_frames, frames_in = conditioning_video(
            pipe, image=image, video=video, conditional_latent_frames=conditional_latent_frames, height=height, width=width
        )
        transformer = pipe.transformer
        dtype = transformer.dtype
        latents, cond_latent, cond_mask, cond_indicator = pipe.prepare_latents(
            video=None if cond_frames is None else cond_frames.to(device=device, dtype=pipe.vae.dtype),
            batch_size=1,
            num_channels_latents=transformer.config.in_channels - 1,
            height=height,
            width=width,
            num_frames_in=frames_in,
            num_frames_out=num_frames,
            do_classifier_free_guidance=use_cfg,
            dtype=torch.float32,
            device=device,
            latents=latents,
        )
        if cond_latent.shape[2] < latents.shape[2]:  # only the conditioning frames were encoded
            pad = latents.shape[2] - cond_latent.shape[2]
            cond_latent = torch.cat([cond_latent, cond_latent.new_zeros((*cond_latent.shape[:2], pad, *cond_latent.shape[3:]))], dim=2)
        padding_mask = latents.new_zeros(1, 1, height, width, dtype=dtype)
        cond_mask = cond_mask.to(dtype)
        keep = 1 - cond_mask
        gt_velocity = (latents - cond_latent) * cond_mask
        frame_timestep = float(pipeline_default(pipe, "conditional_frame_timestep"))

        scheduler = pipe.scheduler
        scheduler.set_timesteps(steps, device=device)
        rewrites = installed(transformer) if (use_cfg and batch_cfg and fast_kernels) else contextlib.nullcontext()
        with rewrites:
            latents = _denoise(
                transformer, scheduler, latents, cond_latent=cond_latent, cond_mask=cond_mask, cond_indicator=cond_indicator,
                keep=keep, gt_velocity=gt_velocity, frame_timestep=frame_timestep, padding_mask=padding_mask, dtype=dtype,
                prompt_embeds=prompt_embeds, negative_embeds=negative_embeds, guidance=guidance, batch_cfg=batch_cfg, on_step=on_step,
            )

        mean = pipe.latents_mean.to(latents.device, latents.dtype)
        std = pipe.latents_std.to(latents.device, latents.dtype)
        decoded = pipe.vae.decode((latents / std + mean).to(pipe.vae.dtype), return_dict=False)[0]
        decoded = pipe._match_num_frames(decoded, num_frames)
        unit = pipe.video_processor.postprocess_video(decoded, output_type="pt")[0]  # (T, C, H, W) in [0, 1]
        frames = (unit.float() * 255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    if not isinstance(checker, NoSafetyChecker):
        frames = np.asarray(checker.check_video_safety(frames), dtype=np.uint8)
    return frames


def _denoise(transformer, scheduler, latents, *, cond_latent, cond_mask, cond_indicator, keep, gt_velocity, frame_timestep,
             padding_mask, dtype, prompt_embeds, negative_embeds, guidance: float, batch_cfg: bool, on_step):
    """The denoising loop: the pipeline's arithmetic, with both guidance branches in one call if ``batch_cfg``."""
    import torch

    device = latents.device
    use_cfg = negative_embeds is not None
    if use_cfg and batch_cfg:
        text = torch.cat([prompt_embeds, negative_embeds])
        mask_in = torch.cat([cond_mask, cond_mask])
    for i, t in enumerate(scheduler.timesteps):
        sigma = scheduler.sigmas[i].expand(1).to(device=device, dtype=torch.float32)
        if frame_timestep >= 0:
            timestep = cond_indicator * frame_timestep + (1 - cond_indicator) * sigma.view(1, 1, 1, 1, 1)
        else:
            timestep = sigma
        in_latents = (cond_mask * cond_latent + keep * latents).to(dtype)
        if use_cfg and batch_cfg:
            both = transformer(
                hidden_states=torch.cat([in_latents, in_latents]),
                condition_mask=mask_in,
                timestep=torch.cat([timestep, timestep]),
                encoder_hidden_states=text,
                padding_mask=padding_mask,
                return_dict=False,
            )[0]
            velocity, velocity_neg = both[:1], both[1:]
        else:
            call = dict(hidden_states=in_latents, condition_mask=cond_mask, timestep=timestep, padding_mask=padding_mask, return_dict=False)
            velocity = transformer(encoder_hidden_states=prompt_embeds, **call)[0]
            velocity_neg = transformer(encoder_hidden_states=negative_embeds, **call)[0] if use_cfg else None
        velocity = gt_velocity + velocity * keep
        if use_cfg:
            velocity_neg = gt_velocity + velocity_neg * keep
            velocity = velocity + guidance * (velocity - velocity_neg)
        latents = scheduler.step(velocity, t, latents, return_dict=False)[0]
        if on_step is not None:
            on_step(i)
    return latents


__all__ = ["PromptCache", "UnsafePromptError", "check_prompt", "conditioning_video", "default_negative_prompt", "sample_video"]
