"""Rectified-flow inputs: sigma distributions, masks, loss, and conformance with the pipeline's own DiT call."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cosmos_bench.train.flow import (
    condition_masks,
    draw_sample,
    inference_sigmas,
    per_sample_loss,
    sample_rng,
    sample_sigma,
    transformer_inputs,
)

from .conftest import HEIGHT, WIDTH, tiny_recipe


def test_logit_normal_sigma_is_shifted_toward_noise():
    rng = np.random.default_rng(0)
    sig = np.array([sample_sigma(rng, "logit_normal", shift=5.0) for _ in range(4000)])
    assert 0.0 < sig.min() and sig.max() < 1.0
    # median of sigmoid(N(0,1)) is 0.5; shift 5 maps it to 5*0.5/(1+4*0.5) = 5/6
    assert abs(np.median(sig) - 5 / 6) < 0.02
    plain = np.array([sample_sigma(rng, "logit_normal", shift=1.0) for _ in range(4000)])
    assert abs(np.median(plain) - 0.5) < 0.03


def test_inference_sigmas_are_the_generator_schedule():
    from cosmos_bench.models.tiny import build_scheduler

    sched = build_scheduler()
    sched.set_timesteps(36)
    expected = sched.sigmas[:-1].tolist()
    assert list(inference_sigmas(36)) == pytest.approx(expected)
    rng = np.random.default_rng(1)
    assert all(sample_sigma(rng, "inference", inference_steps=36) in set(inference_sigmas(36)) for _ in range(50))


def test_sample_draws_depend_only_on_seed_epoch_position():
    a = draw_sample(sample_rng(3, 1, 5), (16, 3, 4, 6), conditional_choices=(1, 2))
    b = draw_sample(sample_rng(3, 1, 5), (16, 3, 4, 6), conditional_choices=(1, 2))
    c = draw_sample(sample_rng(3, 1, 6), (16, 3, 4, 6), conditional_choices=(1, 2))
    assert (a.num_conditional, a.sigma) == (b.num_conditional, b.sigma) and np.array_equal(a.noise, b.noise)
    assert not np.array_equal(a.noise, c.noise)
    ks = {draw_sample(sample_rng(0, 0, p), (1, 2, 1, 1), conditional_choices=(1, 2)).num_conditional for p in range(40)}
    assert ks == {1, 2}


def test_condition_masks_match_the_pipeline():
    from cosmos_bench.models.tiny import build_tiny_cosmos_pipeline

    pipe = build_tiny_cosmos_pipeline()
    shape = (3, 16, 5, 4, 6)
    ind, mask = condition_masks(shape, [1, 2, 0])
    ref_ind, ref_mask = pipe.create_condition_mask(shape, "cpu", torch.float32, [1, 2, 0])
    assert torch.equal(ind, ref_ind) and torch.equal(mask, ref_mask)


def test_loss_ignores_conditional_frames():
    x0, noise = torch.randn(2, 16, 4, 2, 3), torch.randn(2, 16, 4, 2, 3)
    fb = transformer_inputs(x0, noise, torch.tensor([0.3, 0.9]), [1, 2], torch.zeros(2, 5, 8), transformer_dtype=torch.float32)
    pred = fb.target.clone()
    pred[0, :, 0] += 100.0  # conditional frame of sample 0
    pred[1, :, :2] -= 50.0  # conditional frames of sample 1
    assert torch.allclose(per_sample_loss(pred, fb.target, fb.loss_mask), torch.zeros(2))
    pred[1, :, 2] += 1.0  # one of sample 1's two learnt frames: mean over 2 frames -> 0.5
    assert per_sample_loss(pred, fb.target, fb.loss_mask).tolist() == pytest.approx([0.0, 0.5])
    # conditional frames enter clean, the others noised
    h = fb.kwargs["hidden_states"]
    assert torch.equal(h[1, :, :2], x0[1, :, :2])
    assert torch.allclose(h[1, :, 2:], 0.9 * noise[1, :, 2:] + 0.1 * x0[1, :, 2:])
    expected = torch.tensor([[1e-4, 0.3, 0.3, 0.3], [1e-4, 1e-4, 0.9, 0.9]])
    torch.testing.assert_close(fb.kwargs["timestep"][:, 0, :, 0, 0], expected)


@pytest.mark.parametrize("k", [1, 2])
def test_trainer_inputs_equal_the_pipeline_call(tiny_base, train_data, cache_dir, tmp_path, k):
    """The DiT kwargs the trainer builds from its caches equal those the pipeline's __call__ passes (hooked).

    k = 1: image-to-world (evaluation: the pipeline encodes the first frame followed by black frames);
    k = 2: video-to-world with 5 conditioning frames. The causal VAE makes the first k latent frames of
    the cached window equal to what the pipeline encodes from the conditioning frames alone.
    """
    from diffusers import Cosmos2_5_PredictBasePipeline
    from PIL import Image

    from cosmos_bench.models.cosmos import NoSafetyChecker
    from cosmos_bench.train.dataset import Window
    from cosmos_bench.train.trainer import Trainer

    recipe = tiny_recipe(tiny_base, cache_dir, conditioning={"latent_frames": k})
    trainer = Trainer(recipe, train_data, tmp_path / "out", device="cpu")
    trainer.prepare_cache()
    s = trainer.plan.step_samples(0)[0]
    x0 = trainer.cache.load_latents(trainer.latent_keys[Window(s.clip, s.start)])[None]
    embeds = trainer.cache.load_text(trainer.text_keys[s.clip])[None]
    frames = trainer.dataset.read_window(s.clip, s.start)

    pipe = Cosmos2_5_PredictBasePipeline.from_pretrained(tiny_base, safety_checker=NoSafetyChecker(), dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler.set_timesteps(2)
    sigma = pipe.scheduler.sigmas[:1].clone()
    noise = torch.from_numpy(np.random.default_rng(7).standard_normal(x0.shape, dtype=np.float32))
    x_t = sigma * noise + (1 - sigma) * x0  # the state the pipeline is handed at its first step

    captured: list[dict] = []
    hook = pipe.transformer.register_forward_pre_hook(lambda mod, args, kwargs: captured.append(dict(kwargs)), with_kwargs=True)
    common = dict(prompt=trainer.dataset.caption(s.clip), height=HEIGHT, width=WIDTH, num_frames=9, num_inference_steps=2,
                  guidance_scale=1.0, latents=x_t, output_type="latent")
    try:
        if k == 1:
            pipe(image=Image.fromarray(frames[0]), **common)
        else:
            pipe(video=[Image.fromarray(f) for f in frames[:5]], num_latent_conditional_frames=2, **common)
    finally:
        hook.remove()
    ref = captured[0]

    mine = transformer_inputs(x0, noise, sigma, [k], embeds, transformer_dtype=pipe.transformer.dtype).kwargs
    for name in ("hidden_states", "condition_mask", "timestep", "encoder_hidden_states", "padding_mask"):
        assert mine[name].shape == ref[name].shape, name
        assert mine[name].dtype == ref[name].dtype, name
        torch.testing.assert_close(mine[name], ref[name], rtol=0, atol=0, msg=name)
    # the conditional frames really are the clean clip, the rest the noised state
    assert torch.equal(ref["hidden_states"][:, :, :k], x0[:, :, :k])
    assert torch.equal(ref["hidden_states"][:, :, k:], x_t[:, :, k:])
