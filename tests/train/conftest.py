"""Fixtures for the trainer tests: tiny real Cosmos components saved like hub weights, a tiny GR1 train set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

CAPTIONS = [
    "The robot arm picks up the red cup and places it on the wooden table.",
    "A humanoid robot opens the drawer with its left hand while the camera stays still.",
]
FRAMES, HEIGHT, WIDTH = 13, 32, 48  # windows of 9 frames: 5 possible starts per clip


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs with one torch thread (see tests/conftest.py)."""


def moving_pattern(seed: int, frames: int = FRAMES, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """A smooth pattern drifting over time (different per seed), uint8 (T, H, W, 3)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        for c in range(3):
            out[t, :, :, c] = np.clip(127 + 100 * np.sin(xx / (5 + seed) + 0.4 * t + c) * np.cos(yy / (4 + seed)), 0, 255)
    return out


def write_train_set(root: Path, n: int = 2) -> Path:
    from cosmos_bench.data.video import write_video

    (root / "videos").mkdir(parents=True, exist_ok=True)
    (root / "metas").mkdir(parents=True, exist_ok=True)
    rows = ["video,caption"]
    for i in range(n):
        write_video(root / "videos" / f"clip{i}.mp4", moving_pattern(i), 8.0)
        (root / "metas" / f"clip{i}.txt").write_text(CAPTIONS[i % len(CAPTIONS)] + "\n")
        rows.append(f"clip{i}.mp4,clip{i}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="session")
def train_data(tmp_path_factory) -> Path:
    return write_train_set(tmp_path_factory.mktemp("gr1") / "train")


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """The tiny pipeline written by save_pretrained (the trainer loads it through from_pretrained)."""
    import torch

    from cosmos_bench.models.tiny import save_tiny_cosmos_pipeline

    torch.set_num_threads(1)
    return save_tiny_cosmos_pipeline(tmp_path_factory.mktemp("tiny") / "base")


@pytest.fixture(scope="session")
def wide_base(tmp_path_factory) -> Path:
    """The tiny pipeline with a 128-wide DiT (4 heads x 32), for the learning tests.

    The 32-wide tiny DiT cannot learn to carry its input to its output through LoRA layers alone
    (patch embedding 72 -> 32 and projection 32 -> 64 are frozen bottlenecks), so its loss stalls at
    the noise variance; at 128 wide the adapter can fit a two-clip set.
    """
    import torch
    from diffusers import Cosmos2_5_PredictBasePipeline, CosmosTransformer3DModel

    from cosmos_bench.models.cosmos import NoSafetyChecker
    from cosmos_bench.models.tiny import build_scheduler, build_tiny_text_encoder, build_tiny_tokenizer, build_tiny_vae, save_pipeline

    torch.set_num_threads(1)
    torch.manual_seed(1)
    transformer = CosmosTransformer3DModel(
        in_channels=17, out_channels=16, num_attention_heads=4, attention_head_dim=32, num_layers=2, mlp_ratio=2.0,
        text_embed_dim=32, adaln_lora_dim=4, max_size=(16, 64, 64), patch_size=(1, 2, 2), rope_scale=(1.0, 3.0, 3.0),
        concat_padding_mask=True, extra_pos_embed_type=None, use_crossattn_projection=True,
        crossattn_proj_in_channels=64, encoder_hidden_states_channels=32,
    ).eval()
    pipe = Cosmos2_5_PredictBasePipeline(
        text_encoder=build_tiny_text_encoder(0), tokenizer=build_tiny_tokenizer(), transformer=transformer,
        vae=build_tiny_vae(2), scheduler=build_scheduler(), safety_checker=NoSafetyChecker(),
    )
    return save_pipeline(pipe, tmp_path_factory.mktemp("wide") / "base")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One cache for the session: captions and windows are content-addressed, so sharing is safe."""
    return tmp_path_factory.mktemp("train_cache")


def tiny_recipe(base: Path, cache: Path, **sections):
    """A CPU recipe for the tiny components (float32, no autocast, 9 frames at 32x48)."""
    from cosmos_bench.train.recipe import parse_recipe

    data = {
        "name": "tiny",
        "model": {"pretrained": str(base), "dtype": "float32"},
        "adapter": {"type": "lora", "rank": 4},
        "data": {"num_frames": 9, "height": HEIGHT, "width": WIDTH},
        "train": {"epochs": 2, "batch_size": 1, "learning_rate": 1e-3, "lr_warmup_steps": 1, "mixed_precision": "no",
                  "gradient_checkpointing": "none", "checkpointing_epochs": 1},
        "cache": {"dir": str(cache)},
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return parse_recipe(data)
