"""``fast_kernels: true``: two rewrites of the Cosmos DiT for the ``fast`` sampler's batched guidance.

Measured on an H100 (``benchmarks/generation_parts.py``, figures in ``benchmarks/RESULTS.md``), the
compiled batch-2 guidance step runs against the card's 700 W power limit with the SM clock pulled down
to about 1,485 MHz: it is limited by energy, so work left out is time saved. Two pieces of work can go:

- **Block 0's self-attention once for both guidance branches.** Both halves of the batch carry the
  same latents and timestep; the first thing that tells them apart is block 0's cross-attention to
  their different texts. So block 0's self-attention gets the same input twice; it is computed for
  the first half and shared (exact up to the kernel choice for a batch of one).
- **GELU inside the feed-forward's first matrix product.** ``torch._addmm_activation`` asks cuBLASLt
  for a GELU epilogue, so the 4x-wide activation is written once instead of written, read and written
  again. cuBLASLt's GELU is the tanh approximation, at most 4.7e-4 from the exact one: well under one
  bf16 step at those values, but not bit-identical, which is why the option is in the generation key.
  Only plain ``nn.Linear`` projections are rewritten (base weights, fused adapters); an unfused peft
  layer is left alone.

Both rewrites are instance attributes (``module.forward``) put in place only while the fast sampler
runs (:func:`installed`), so parameter names, adapter loading and fusing, and the plain pipeline
call are untouched. Each module keeps one wrapper object for its lifetime: torch.compile guards on
the object, and the graphs compiled for the first video serve every later one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_WRAPPERS = "_cosmos_bench_fast_kernels"  # attribute on the transformer holding its wrappers


class SharedGuidanceSelfAttention:
    """Stands in for ``attn1.forward`` of the first block during batch-2 guidance calls."""

    def __init__(self, attn):
        self.forward = type(attn).forward.__get__(attn)

    def __call__(self, hidden_states, *args: Any, **kwargs: Any):
        if hidden_states.shape[0] != 2:
            return self.forward(hidden_states, *args, **kwargs)
        out = self.forward(hidden_states[:1], *args, **kwargs)
        return out.expand(2, *out.shape[1:])


class LinearGeluEpilogue:
    """Stands in for a diffusers ``GELU`` module's forward: projection and GELU in one matrix product."""

    def __init__(self, gelu):
        self.gelu = gelu

    def __call__(self, hidden_states):
        import torch

        proj = self.gelu.proj
        bias = proj.bias if proj.bias is not None else hidden_states.new_zeros(proj.out_features)
        flat = hidden_states.reshape(-1, hidden_states.shape[-1])
        out = torch._addmm_activation(bias, flat, proj.weight.t(), use_gelu=True)
        return out.view(*hidden_states.shape[:-1], proj.out_features)


def _wrappers(transformer) -> list[tuple[Any, Any]]:
    """(module, wrapper) pairs, made once per transformer."""
    pairs = transformer.__dict__.get(_WRAPPERS)
    if pairs is None:
        first = transformer.transformer_blocks[0].attn1
        pairs = [(first, SharedGuidanceSelfAttention(first))]
        pairs += [(block.ff.net[0], LinearGeluEpilogue(block.ff.net[0])) for block in transformer.transformer_blocks]
        transformer.__dict__[_WRAPPERS] = pairs
    return pairs


def _rewritable(module) -> bool:
    import torch

    if isinstance(module, torch.nn.Module) and hasattr(module, "proj"):  # a GELU module
        return type(module.proj) is torch.nn.Linear and getattr(module, "approximate", "none") in ("none", "tanh")
    return True


@contextmanager
def installed(transformer) -> Iterator[None]:
    """The rewrites in place for the duration of the block (a batch-2 guidance loop)."""
    active = [(m, w) for m, w in _wrappers(transformer) if _rewritable(m)]
    for module, wrapper in active:
        module.forward = wrapper
    try:
        yield
    finally:
        for module, _ in active:
            module.__dict__.pop("forward", None)


__all__ = ["LinearGeluEpilogue", "SharedGuidanceSelfAttention", "installed"]
