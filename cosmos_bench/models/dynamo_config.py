"""torch.compile settings that the compiled parts of a Cosmos pipeline need."""

from __future__ import annotations


def raise_recompile_limit(at_least: int = 64) -> None:
    """Let one function hold ``at_least`` compiled graphs before dynamo falls back to eager.

    The transformer gets one guarded graph per adapter state (base, each unfused adapter, fused); the
    VAE decoder one per call position (first, second, later latent frames) and compile mode. The
    default limit (8) would silently send some of them back to eager mode.
    """
    import torch._dynamo

    for name in ("recompile_limit", "cache_size_limit"):  # the name changed in torch 2.6
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, max(getattr(torch._dynamo.config, name), at_least))
            return
