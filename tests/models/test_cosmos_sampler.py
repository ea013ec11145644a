"""The fast sampler against the plain pipeline call, on the tiny real pipeline (float32, CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cosmos_bench.models import cosmos_sampler
from cosmos_bench.models.base import GenerationRequest, ModelConfigError, build_model, load_models, parse_models
from cosmos_bench.models.cosmos import get_loaded_base

from .conftest import TINY


def models(tiny_zoo: Path, tmp_path: Path, **fast_options):
    """``plain`` (the pipeline's __call__) and ``fast`` on the same tiny base."""
    base = {"kind": "cosmos", "model": str(tiny_zoo.parent / "base"), "safety_checker": "none", "dtype": "float32", "device": "cpu"}
    config = parse_models(
        {"models": {"plain": base, "fast": {"extends": "plain", "sampler": "fast", **fast_options}}},
        tmp_path / "models.yaml",
    )
    return build_model(config.spec("plain")), build_model(config.spec("fast"))


def make_request(mode: str, seed: int = 0, prompt: str = "The robot arm opens the drawer.") -> GenerationRequest:
    rng = np.random.default_rng(7)
    frames = (rng.random((TINY["num_frames"], TINY["height"], TINY["width"], 3)) * 255).astype(np.uint8)
    extra = {"image": frames[0]} if mode.startswith("image") else {"video": frames} if mode == "video" else {}
    if mode == "image-no-guidance":
        extra["guidance"] = 1.0  # one transformer call per step, no negative prompt
    return GenerationRequest(prompt=prompt, seed=seed, **TINY, **extra)


@pytest.mark.parametrize("mode", ["image", "video", "text", "image-no-guidance"])
def test_fast_sampler_without_batching_gives_the_pipelines_video_bit_for_bit(tiny_zoo: Path, tmp_path: Path, mode: str) -> None:
    plain, fast = models(tiny_zoo, tmp_path, batch_cfg=False)
    a = plain.generate(make_request(mode)).frames
    video = fast.generate(make_request(mode))
    b = video.frames
    assert video.info["sampler"] == "fast" and "sampler" not in plain.identity()
    assert a.shape == b.shape == (TINY["num_frames"], TINY["height"], TINY["width"], 3)
    assert np.array_equal(a, b)
    assert fast.pipeline() is plain.pipeline(), "both samplers run on the one loaded base"


def test_batched_guidance_stays_within_rounding_and_has_its_own_key(tiny_zoo: Path, tmp_path: Path) -> None:
    plain, fast = models(tiny_zoo, tmp_path)
    a = plain.generate(make_request("image")).frames.astype(int)
    video = fast.generate(make_request("image"))
    assert np.abs(a - video.frames.astype(int)).max() <= 1, "one batch-2 call must compute what two batch-1 calls do"
    assert video.info["sampler"] == "fast" and video.info["batch_cfg"] is True
    assert fast.identity()["sampler"] == {"name": "fast", "batch_cfg": True}
    assert "sampler" not in plain.identity(), "the default sampler keeps earlier generation keys"
    other = fast.generate(make_request("image", seed=1)).frames
    assert not np.array_equal(other, video.frames), "the seed must still matter"


def test_prompts_are_encoded_once_across_seeds(tiny_zoo: Path, tmp_path: Path) -> None:
    _, fast = models(tiny_zoo, tmp_path)
    pipe = fast.pipeline()
    calls = []
    hook = pipe.text_encoder.register_forward_hook(lambda *a: calls.append(1))
    try:
        for seed in range(3):
            fast.generate(make_request("image", seed=seed))
        fast.generate(make_request("image", prompt="Another task."))
    finally:
        hook.remove()
    assert len(calls) == 3, "prompt + default negative once, then the second prompt once"
    cache = get_loaded_base(fast.base_key()).prompts
    assert cache.misses == 3 and cache.hits == 5


def test_prompt_cache_forgets_the_oldest_string() -> None:
    class Encoder:
        calls: list[str] = []

        def encode_prompt(self, prompt, **kwargs):
            self.calls.append(prompt)
            return torch.tensor([len(self.calls)]), None

    cache, enc = cosmos_sampler.PromptCache(max_items=2), Encoder()
    for text in ("a", "b", "a", "c", "b", "a"):
        cache.get(enc, text, 512, "cpu")
    # "a" stays while it is used; "b" is evicted by "c" and re-encoded, then "a" is evicted by "b"
    assert enc.calls == ["a", "b", "c", "b", "a"] and len(cache) == 2


@pytest.mark.parametrize("frames_in", [1, 5])
def test_the_causal_vae_encodes_conditioning_frames_alone_to_the_same_latents(tiny_zoo: Path, tmp_path: Path, frames_in: int) -> None:
    """What makes skipping the padding exact: the first latent frames depend only on the first frames."""
    plain, _ = models(tiny_zoo, tmp_path)
    vae = plain.pipeline().vae
    g = torch.Generator().manual_seed(0)
    video = torch.rand((1, 3, TINY["num_frames"], TINY["height"], TINY["width"]), generator=g) * 2 - 1
    with torch.no_grad():
        full = vae.encode(video).latent_dist.mode()
        head = vae.encode(video[:, :, :frames_in]).latent_dist.mode()
    kept = (frames_in - 1) // 4 + 1
    assert head.shape[2] == kept
    assert torch.equal(full[:, :, :kept], head)


def test_a_refused_prompt_stops_before_any_work(tiny_zoo: Path, tmp_path: Path) -> None:
    class Refusing:
        def check_text_safety(self, prompt):
            return "forbidden" not in prompt

    _, fast = models(tiny_zoo, tmp_path)
    pipe = fast.pipeline()
    saved = pipe.safety_checker
    pipe.safety_checker = Refusing()
    try:
        with pytest.raises(cosmos_sampler.UnsafePromptError, match="forbidden"):
            cosmos_sampler.check_prompt(pipe, "a forbidden task")
        cosmos_sampler.check_prompt(pipe, "a fine task")
    finally:
        pipe.safety_checker = saved


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sampler": "turbo"}, "sampler must be one of"),
        ({"batch_cfg": True}, "batch_cfg applies to 'sampler: fast' only"),
        ({"sampler": "fast", "batch_cfg": "yes"}, "batch_cfg must be true or false"),
    ],
)
def test_bad_speed_options(tmp_path: Path, options, message) -> None:
    config = parse_models({"models": {"m": {"kind": "cosmos", "safety_checker": "none", **options}}}, tmp_path / "m.yaml")
    with pytest.raises(ModelConfigError, match=message):
        build_model(config.spec("m"))


def test_fast_kernels_compute_the_batched_sampler_s_video_and_leave_the_model_as_it_was(tiny_zoo: Path, tmp_path: Path) -> None:
    from cosmos_bench.models import dit_rewrites

    base = {"kind": "cosmos", "model": str(tiny_zoo.parent / "base"), "safety_checker": "none", "dtype": "float32", "device": "cpu"}
    config = parse_models(
        {"models": {"fast": {**base, "sampler": "fast"}, "kernels": {**base, "sampler": "fast", "fast_kernels": True}}},
        tmp_path / "models.yaml",
    )
    fast, kernels = build_model(config.spec("fast")), build_model(config.spec("kernels"))
    assert kernels.identity()["sampler"] == {"name": "fast", "batch_cfg": True, "fast_kernels": True}
    assert "fast_kernels" not in fast.identity()["sampler"], "earlier fast-sampler keys stay valid"

    tr = kernels.pipeline().transformer
    names = [n for n, _ in tr.named_parameters()]
    shared_batches: list[int] = []
    epilogue_calls: list[int] = []
    real_call, real_gelu = dit_rewrites.SharedGuidanceSelfAttention.__call__, dit_rewrites.LinearGeluEpilogue.__call__

    def spy_shared(self, hidden_states, *args, **kwargs):
        shared_batches.append(hidden_states.shape[0])
        return real_call(self, hidden_states, *args, **kwargs)

    def spy_gelu(self, hidden_states):
        epilogue_calls.append(1)
        return real_gelu(self, hidden_states)

    ref = fast.generate(make_request("image")).frames.astype(int)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dit_rewrites.SharedGuidanceSelfAttention, "__call__", spy_shared)
        mp.setattr(dit_rewrites.LinearGeluEpilogue, "__call__", spy_gelu)
        got = kernels.generate(make_request("image")).frames.astype(int)
    steps, blocks = TINY["steps"], len(tr.transformer_blocks)
    assert shared_batches == [2] * steps, "block 0's self-attention goes through the shared path once per batched step"
    assert len(epilogue_calls) == steps * blocks, "every block's feed-forward uses the epilogue"
    assert np.abs(got - ref).max() <= 1, "the rewrites compute the same video up to rounding"
    # outside the sampler the model is untouched: no instance forwards, the same parameter names
    assert "forward" not in tr.transformer_blocks[0].attn1.__dict__
    assert all("forward" not in b.ff.net[0].__dict__ for b in tr.transformer_blocks)
    assert [n for n, _ in tr.named_parameters()] == names


def test_fast_kernels_leave_unfused_adapter_layers_alone(tiny_zoo: Path) -> None:
    from cosmos_bench.models import dit_rewrites

    [lora] = load_models("lora4", tiny_zoo)
    tr = lora.pipeline().transformer
    first = tr.transformer_blocks[0].ff.net[0]
    assert not dit_rewrites._rewritable(first), "a peft LoRA projection must not be replaced by a plain matmul"
    with dit_rewrites.installed(tr):
        assert "forward" not in first.__dict__
        assert isinstance(tr.transformer_blocks[0].attn1.__dict__.get("forward"), dit_rewrites.SharedGuidanceSelfAttention)
    assert "forward" not in tr.transformer_blocks[0].attn1.__dict__


@pytest.mark.parametrize("options", [{"fast_kernels": True}, {"sampler": "fast", "batch_cfg": False, "fast_kernels": True},
                                     {"sampler": "fast", "fast_kernels": "yes"}])
def test_fast_kernels_need_the_batched_fast_sampler(tmp_path: Path, options) -> None:
    config = parse_models({"models": {"m": {"kind": "cosmos", "safety_checker": "none", **options}}}, tmp_path / "m.yaml")
    with pytest.raises(ModelConfigError, match="fast_kernels"):
        build_model(config.spec("m"))
