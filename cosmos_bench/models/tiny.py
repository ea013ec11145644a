"""Tiny random-initialised instances of the *real* components, for tests and the offline demo.

Nothing is downloaded: the text encoder is a real ``Qwen2_5_VLForConditionalGeneration`` with a
2-layer, 32-wide config and a byte-level BPE tokenizer trained here with ``tokenizers`` (plus a
Qwen-style chat template); the DiT is a real ``CosmosTransformer3DModel`` whose cross-attention
projection takes ``text_layers x text_hidden`` channels exactly as the 2B model takes 28 x 3584;
the VAE is a real ``AutoencoderKLWan`` (16 latent channels, 4x time, 8x space); the scheduler is
the real ``UniPCMultistepScheduler`` with Cosmos Predict 2.5's flow settings. They assemble into
the real ``Cosmos2_5_PredictBasePipeline``, which ``save_pretrained``\\s to a folder that the
``cosmos`` kind loads through the same ``from_pretrained`` path as the hub weights.

A 9-frame 32x48 video with 2 steps runs in well under a second on one CPU core. Everything is
seeded: the same ``seed`` gives the same weights in every process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .cosmos_facts import ADAPTER_FILE, LORA_TARGET_MODULES, SCHEDULER_CONFIG, save_adapter
from .safety import NoSafetyChecker

# Generation settings that suit the tiny pipeline (frames = 1 + 4k, sizes multiples of 16).
TINY_FRAMES = 9
TINY_HEIGHT = 32
TINY_WIDTH = 48
TINY_STEPS = 2
TEXT_LAYERS = 2
TEXT_HIDDEN = 32

_CORPUS = [
    "You are a helpful assistant who will provide prompts to an image generator.",
    "The robot arm picks up the red cup and places it on the wooden table.",
    "A humanoid robot opens the drawer with its left hand while the camera stays still.",
    "The gripper grasps the blue block, lifts it and moves it to the right side of the tray.",
    "Two cameras watch the robot pour water from a bottle into a glass.",
    "The video captures a series of frames showing ugly scenes, static with no motion, motion blur, "
    "over-saturation, shaky footage, low resolution, grainy texture, pixelated images, poorly lit areas, "
    "underexposed and overexposed scenes, poor color balance, washed out colors, choppy sequences, "
    "jerky movements, low frame rate, artifacting, color banding, unnatural transitions.",
]

# Qwen2.5-VL style: message content may be a string or a list of {"type": "text", "text": ...}.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}"
    "{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def build_tiny_tokenizer(vocab_size: int = 384):
    """A byte-level BPE tokenizer trained on a few robot sentences, with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="right",
        model_max_length=4096,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_text_encoder(seed: int = 0, *, layers: int = TEXT_LAYERS, hidden: int = TEXT_HIDDEN, vocab_size: int = 384):
    """A real ``Qwen2_5_VLForConditionalGeneration`` with ``layers`` x ``hidden`` text layers."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    heads = 2
    half = hidden // heads // 2
    mrope = [half - 2 * (half // 3), half // 3, half // 3]
    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": hidden,
            "intermediate_size": 2 * hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": heads,
            "num_key_value_heads": 1,
            "vocab_size": vocab_size,
            "max_position_embeddings": 2048,
            "bos_token_id": 0,  # <|endoftext|>; the real ids (151643...) are outside this vocabulary
            "eos_token_id": 2,  # <|im_end|>
            "pad_token_id": 0,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": mrope},
        },
        vision_config={
            "depth": 1,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_heads": 2,
            "out_hidden_size": hidden,
            "fullatt_block_indexes": [0],
        },
        vocab_size=vocab_size,
    )
    torch.manual_seed(seed)
    return Qwen2_5_VLForConditionalGeneration(config).eval()


def build_tiny_transformer(seed: int = 0, *, text_layers: int = TEXT_LAYERS, text_hidden: int = TEXT_HIDDEN):
    """A real ``CosmosTransformer3DModel``: 2 layers, 2 heads x 16, the 2B model's layout otherwise."""
    import torch
    from diffusers import CosmosTransformer3DModel

    torch.manual_seed(seed)
    return CosmosTransformer3DModel(
        in_channels=16 + 1,
        out_channels=16,
        num_attention_heads=2,
        attention_head_dim=16,
        num_layers=2,
        mlp_ratio=2.0,
        text_embed_dim=32,
        adaln_lora_dim=4,
        max_size=(32, 128, 128),  # RoPE table: up to 125 frames and 1024x1024 px (the demo's 2-view grid is 896 px wide)
        patch_size=(1, 2, 2),
        rope_scale=(1.0, 3.0, 3.0),
        concat_padding_mask=True,
        extra_pos_embed_type=None,
        use_crossattn_projection=True,
        crossattn_proj_in_channels=text_layers * text_hidden,
        encoder_hidden_states_channels=32,
    ).eval()


def build_tiny_vae(seed: int = 0):
    """A real ``AutoencoderKLWan`` with 8 base channels (16 latent channels, 4x time, 8x space)."""
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(seed)
    return AutoencoderKLWan(
        base_dim=8, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    ).eval()


def build_scheduler():
    """The real scheduler with Cosmos Predict 2.5's settings."""
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(**SCHEDULER_CONFIG)


def build_tiny_cosmos_pipeline(seed: int = 0, *, safety_checker: Any = None):
    """The real ``Cosmos2_5_PredictBasePipeline`` assembled from tiny random components.

    ``safety_checker`` defaults to :class:`~cosmos_bench.models.safety.NoSafetyChecker` (random
    weights have nothing to guard).
    """
    from diffusers import Cosmos2_5_PredictBasePipeline

    pipe = Cosmos2_5_PredictBasePipeline(
        text_encoder=build_tiny_text_encoder(seed),
        tokenizer=build_tiny_tokenizer(),
        transformer=build_tiny_transformer(seed + 1),
        vae=build_tiny_vae(seed + 2),
        scheduler=build_scheduler(),
        safety_checker=NoSafetyChecker() if safety_checker is None else safety_checker,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_pipeline(pipe, path: str | os.PathLike) -> Path:
    """``save_pretrained`` a Cosmos pipeline; the safety checker is never saved (it is chosen at load)."""
    out = Path(path)
    # A stand-in safety checker is not a loadable component: record it as absent instead of letting
    # diffusers warn that it "cannot be saved".
    if not hasattr(pipe.safety_checker, "save_pretrained"):
        pipe.register_to_config(safety_checker=(None, None))
    from transformers.utils import logging as transformers_logging

    bar_was_on = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # the text encoder's "Writing model shards" bar: noise in the demo
    try:
        pipe.save_pretrained(out)
    finally:
        if bar_was_on:
            transformers_logging.enable_progress_bar()
    return out


def save_tiny_cosmos_pipeline(path: str | os.PathLike, seed: int = 0) -> Path:
    """Write a tiny pipeline folder that ``Cosmos2_5_PredictBasePipeline.from_pretrained`` loads."""
    return save_pipeline(build_tiny_cosmos_pipeline(seed), path)


def add_random_adapter(
    transformer,
    *,
    rank: int = 4,
    alpha: float | None = None,
    use_dora: bool = False,
    seed: int = 0,
    scale: float = 0.1,
    adapter_name: str = "default",
    target_modules: list[str] | None = None,
):
    """Add a peft LoRA/DoRA adapter with random (non-zero) weights to a ``CosmosTransformer3DModel``.

    peft initialises LoRA ``B`` to zero (an untrained adapter changes nothing); here both factors
    are random so that outputs measurably differ from the base, as a trained adapter's do.
    """
    import torch
    from peft import LoraConfig

    config = LoraConfig(
        r=rank,
        lora_alpha=alpha if alpha is not None else rank,
        target_modules=target_modules or LORA_TARGET_MODULES,
        use_dora=use_dora,
        init_lora_weights=True,
    )
    transformer.add_adapter(config, adapter_name=adapter_name)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in transformer.named_parameters():
            if f"lora_A.{adapter_name}" in name or f"lora_B.{adapter_name}" in name:
                param.copy_(torch.randn(param.shape, generator=gen, dtype=torch.float32).to(param.dtype) * scale)
    return transformer


def save_random_adapter(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    rank: int = 4,
    use_dora: bool = False,
    base_seed: int = 0,
    scale: float = 0.1,
    transformer=None,
) -> Path:
    """Write ``out_dir/pytorch_lora_weights.safetensors`` for the tiny DiT (or ``transformer``)."""
    tr = build_tiny_transformer(base_seed + 1) if transformer is None else transformer
    add_random_adapter(tr, rank=rank, use_dora=use_dora, seed=seed, scale=scale)
    path = save_adapter(tr, out_dir)
    if transformer is not None:
        tr.unload_lora()  # leave the caller's transformer as it was
    return path


# ------------------------------------------------------------------------------------ LTX i2v
def build_tiny_ltx_i2v_pipeline(seed: int = 0):
    """A real ``LTXImageToVideoPipeline`` of tiny random components (for the ``diffusers-i2v`` kind)."""
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXImageToVideoPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4,
        attention_head_dim=8, cross_attention_dim=32, num_layers=1, caption_channels=32,
    )
    torch.manual_seed(seed + 1)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False), upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1), timestep_conditioning=False, patch_size=1, patch_size_t=1,
        encoder_causal=True, decoder_causal=False,
    )
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    tokenizer = build_tiny_tokenizer()
    torch.manual_seed(seed + 2)
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                 relative_attention_num_buckets=8, pad_token_id=tokenizer.pad_token_id)
    ).eval()
    pipe = LTXImageToVideoPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
        tokenizer=tokenizer, transformer=transformer,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny_ltx_i2v_pipeline(path: str | os.PathLike, seed: int = 0) -> Path:
    """Write a tiny LTX-Video image-to-video pipeline folder (``DiffusionPipeline.from_pretrained`` loads it)."""
    out = Path(path)
    build_tiny_ltx_i2v_pipeline(seed).save_pretrained(out)
    return out


# ------------------------------------------------------------------------------------ demo zoo
def write_tiny_zoo(root: str | os.PathLike, seed: int = 0, *, models_file: str = "models.yaml") -> Path:
    """A self-contained offline model zoo under ``root``; returns the models YAML path.

    Writes the tiny base pipeline (``base/``), a LoRA and a DoRA adapter (``adapters/``) and a
    models YAML with ``base``, ``lora4``, ``lora4-fused`` and ``dora4``. Reused when present.
    """
    import yaml

    r = Path(root)
    base = r / "base"
    if not (base / "model_index.json").exists():
        save_tiny_cosmos_pipeline(base, seed)
    adapters = {"lora4": (False, seed + 10), "dora4": (True, seed + 20)}
    for name, (dora, s) in adapters.items():
        if not (r / "adapters" / name / ADAPTER_FILE).exists():
            save_random_adapter(r / "adapters" / name, seed=s, use_dora=dora, base_seed=seed)
    config = {
        "models": {
            "base": {
                "kind": "cosmos",
                "model": "base",
                "safety_checker": "none",
                "dtype": "float32",
                "device": "cpu",
                "description": "tiny random-init Cosmos Predict 2.5 (offline demo)",
            },
            "lora4": {"extends": "base", "adapter": "adapters/lora4"},
            "lora4-fused": {"extends": "base", "adapter": "adapters/lora4", "fuse": True},
            "dora4": {"extends": "base", "adapter": "adapters/dora4"},
        }
    }
    path = r / models_file
    if not path.exists():
        path.write_text(
            "# Offline demo zoo written by cosmos_bench.models.tiny.write_tiny_zoo (random weights).\n"
            + yaml.safe_dump(config, sort_keys=False)
        )
    return path


__all__ = [
    "CHAT_TEMPLATE",
    "TINY_FRAMES",
    "TINY_HEIGHT",
    "TINY_STEPS",
    "TINY_WIDTH",
    "add_random_adapter",
    "build_scheduler",
    "build_tiny_cosmos_pipeline",
    "build_tiny_ltx_i2v_pipeline",
    "build_tiny_text_encoder",
    "build_tiny_tokenizer",
    "build_tiny_transformer",
    "build_tiny_vae",
    "save_pipeline",
    "save_random_adapter",
    "save_tiny_cosmos_pipeline",
    "save_tiny_ltx_i2v_pipeline",
    "write_tiny_zoo",
]
