"""``compile_vae: true``: the Wan VAE's decoder under ``torch.compile``.

Decoding a 93-frame video calls the decoder once per latent frame (24 calls), each reading and
rewriting a list of cached feature tensors from the previous call (the VAE is causal in time). On an
H100 the compiled decoder takes 1.24 s per video against 1.98 s eagerly (``benchmarks/RESULTS.md``).

Compiled graphs are guarded on the strides of their inputs, cached tensors included. Some cached
tensors are views or permuted copies whose strides depend on what produced them, so the same call
could see a new stride pattern and compile another graph in the middle of a timed run (seen on an
H100 with torch 2.11). Here every cached tensor is made contiguous before each call (two frames of
features: a negligible copy), so each call position always sees the same layout. Measured on an H100
after two warm-up videos: no graph compiled while later videos were timed, and 1.41 s of fixed cost
per video (decode included) instead of 2.07 s. On the CPU a second video compiles nothing new (tested).
"""

from __future__ import annotations

from typing import Any

from .dynamo_config import raise_recompile_limit


class CompiledDecoder:
    """Stands in for ``vae.decoder.forward``; one instance per loaded VAE keeps its compiled graphs."""

    def __init__(self, decoder, mode: str | None = None):
        import torch

        raise_recompile_limit()  # the first, second and later latent frames each have their own graph
        self.decoder = decoder
        self.mode = mode or "default"
        eager = type(decoder).forward.__get__(decoder)  # the class's forward, bound: never this wrapper
        self.compiled = torch.compile(eager, dynamic=False, **({} if self.mode == "default" else {"mode": self.mode}))

    def __call__(self, x, feat_cache: list[Any] | None = None, feat_idx: list[int] | None = None, first_chunk: bool = False):
        import torch

        if feat_cache is not None:
            for i, cached in enumerate(feat_cache):
                if isinstance(cached, torch.Tensor) and not cached.is_contiguous():
                    feat_cache[i] = cached.contiguous()
        return self.compiled(x, feat_cache=feat_cache, feat_idx=[0] if feat_idx is None else feat_idx, first_chunk=first_chunk)


def set_decoder_compiled(vae, compiled: CompiledDecoder | None) -> None:
    """Route ``vae.decoder``'s calls through ``compiled``, or back to its own forward (None)."""
    if compiled is None:
        vae.decoder.__dict__.pop("forward", None)
    else:
        vae.decoder.forward = compiled


__all__ = ["CompiledDecoder", "set_decoder_compiled"]
