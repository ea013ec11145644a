"""Precomputed prompt embeddings and VAE latents, so training runs with the DiT alone.

What is cached, and why it is exact:

- **Prompt embeddings**, one file per distinct caption: the output of the pipeline's own
  ``encode_prompt`` (the 7B Qwen2.5-VL's 28 hidden layers, each normalised, concatenated:
  ``(512, 100352)`` in the text encoder's dtype, ~103 MB in bf16). The DiT receives at training time
  the very tensor it receives at inference; the 7B text encoder (~16 GB) and its forward pass are
  absent from training.
- **VAE latents**, one file per training *window* (clip, first frame, size, stride): the VAE mean of
  the window in the VAE's dtype (the pipeline's ``retrieve_latents(..., sample_mode="argmax")``), plus
  ``latents_mean``/``latents_std``; :meth:`TrainCache.load_latents` normalises in float32 exactly as
  ``prepare_latents`` does. The Wan VAE is causal in time, so the latents of a window are *not* a
  slice of the whole clip's latents: every window is encoded on its own. The random-window
  augmentation stays honest because the trainer's :class:`~cosmos_bench.train.dataset.SamplePlan` draws
  every epoch's windows from the seed before training, and exactly those windows are encoded: the run
  sees a fresh random window of each clip every epoch, as with online encoding, at the same cost
  (one encode per sample-epoch) -- paid once, outside the training loop, shared by every recipe with
  the same data, seed and size (the four candidates), and never again on resume. ``window_grid``
  bounds the cache (N windows per clip) when disk matters: 93x432x768 is 4 MB per window in bf16.
  ``train.latents: online`` keeps the VAE in the loop instead (no latent cache).

Files are safetensors under ``<root>/text/`` and ``<root>/latents/``, named by a SHA-256 of everything
that determines their content (caption or video bytes, window, sizes, model identity, dtype,
diffusers version), written atomically; a stale entry can never be read for a different input.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from ..atomic import atomic_path
from ..cachedir import CACHE_ENV, user_cache_dir  # CACHE_ENV re-exported (older import path)
from ..provenance import folder_fingerprint, minor_version, sha256_hex

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``train/`` below cosmos-bench's user cache root (:func:`cosmos_bench.cachedir.user_cache_dir`)."""
    return user_cache_dir() / "train"


def _digest(payload: dict[str, Any]) -> str:
    return sha256_hex(json.dumps(payload, sort_keys=True, default=str))


def _diffusers_version() -> str:
    return ".".join(str(part) for part in minor_version("diffusers") or ("unknown",))


def component_identity(model: str, subfolders: Iterable[str], revision: str | None = None) -> str:
    """What identifies some components of a base model: content hashes for a local folder, id@revision for the hub."""
    p = Path(os.path.expanduser(model))
    if p.is_dir():
        parts = [f"{sub}={folder_fingerprint(p / sub)}" for sub in subfolders if (p / sub).is_dir()]
        return "local:" + ",".join(parts)
    return f"hub:{model}@{revision or 'main'}"


def text_key(caption: str, *, identity: str, max_sequence_length: int, dtype: str) -> str:
    return _digest({"v": CACHE_VERSION, "kind": "text", "caption": caption, "model": identity,
                    "max_sequence_length": max_sequence_length, "dtype": dtype, "diffusers": _diffusers_version()})


def latent_key(video_sha256: str, start: int, *, num_frames: int, stride: int, height: int, width: int, resize: str,
               identity: str, dtype: str) -> str:
    return _digest({"v": CACHE_VERSION, "kind": "latents", "video": video_sha256, "start": start, "num_frames": num_frames,
                    "stride": stride, "height": height, "width": width, "resize": resize, "model": identity,
                    "dtype": dtype, "diffusers": _diffusers_version()})


class TrainCache:
    """A folder of cached prompt embeddings and window latents (see the module docstring)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def text_path(self, key: str) -> Path:
        return self.root / "text" / f"{key}.safetensors"

    def latent_path(self, key: str) -> Path:
        return self.root / "latents" / key[:2] / f"{key}.safetensors"

    @staticmethod
    def _write(path: Path, tensors: dict, metadata: dict[str, str]) -> None:
        from safetensors.torch import save_file

        with atomic_path(path) as tmp:
            save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)

    # -- text
    def save_text(self, key: str, embeds, caption: str) -> None:
        self._write(self.text_path(key), {"prompt_embeds": embeds}, {"caption": caption[:2000]})

    def load_text(self, key: str):
        """``(L, D)`` prompt embeddings in the dtype they were encoded in."""
        from safetensors.torch import load_file

        return load_file(self.text_path(key))["prompt_embeds"]

    # -- latents
    def save_latents(self, key: str, raw, latents_mean, latents_std, info: dict[str, Any]) -> None:
        import torch

        self._write(
            self.latent_path(key),
            {"latents": raw, "latents_mean": torch.as_tensor(latents_mean).float(), "latents_std": torch.as_tensor(latents_std).float()},
            {k: str(v) for k, v in info.items()},
        )

    def load_latents(self, key: str):
        """Normalised float32 ``(C, T, H, W)`` latents, computed as ``prepare_latents`` does."""
        from safetensors.torch import load_file

        data = load_file(self.latent_path(key))
        return normalize_latents(data["latents"], data["latents_mean"], data["latents_std"])


def normalize_latents(raw, latents_mean, latents_std):
    """``(raw.float() - mean) * (1 / std)`` with the pipeline's float32 arithmetic; ``raw`` (C, ...) or (B, C, ...)."""
    import torch

    c = raw.shape[-4]
    shape = (c,) + (1,) * 3
    mean = torch.as_tensor(latents_mean).float().view(shape).to(raw.device)
    inv_std = (1.0 / torch.as_tensor(latents_std).float()).view(shape).to(raw.device)
    return (raw.float() - mean) * inv_std


def vae_stats(vae) -> tuple[list[float], list[float]]:
    return list(vae.config.latents_mean), list(vae.config.latents_std)


def encode_window(vae, pixels):
    """VAE mean of one window: ``pixels`` float ``(3, T, H, W)`` in [-1, 1] -> ``(16, T', H/8, W/8)`` in the VAE's dtype."""
    import torch

    with torch.no_grad():
        x = pixels.unsqueeze(0).to(device=vae.device, dtype=vae.dtype)
        return vae.encode(x).latent_dist.mode()[0]


def encode_caption(pipe, caption: str, *, max_sequence_length: int):
    """``(L, D)`` prompt embeddings from the pipeline's own ``encode_prompt``."""
    import torch

    with torch.no_grad():
        embeds, _ = pipe.encode_prompt(
            prompt=caption, do_classifier_free_guidance=False, max_sequence_length=max_sequence_length,
            device=pipe._execution_device,
        )
    return embeds[0]


__all__ = [
    "CACHE_ENV",
    "TrainCache",
    "component_identity",
    "default_cache_dir",
    "encode_caption",
    "encode_window",
    "latent_key",
    "normalize_latents",
    "text_key",
    "vae_stats",
]
