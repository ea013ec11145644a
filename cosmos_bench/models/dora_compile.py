"""Let ``torch.compile`` trace peft's DoRA layers without a graph break.

peft 0.21's ``DoraLinearLayer`` clears its small weight-norm cache (``self._dora_cache.clear()``) on every
forward pass while caching is off, which it always is during training. Clearing a dict is a side
effect that dynamo refuses inside a higher-order operator such as ``torch.utils.checkpoint``: with
``gradient_checkpointing: selective`` and ``compile: blocks`` each block's checkpointed region then
falls back to eager, and a DoRA r32 training step took 4.38 s against LoRA's 2.15 s on an H200
(benchmarks/RESULTS.md). Outside a checkpoint the same clear still splits every compiled graph at each
DoRA layer.

Two changes, each computing exactly what peft computes:

- the cache is empty whenever caching is off (peft only stores into it in eval mode with
  ``ENABLE_DORA_CACHING``), so each DoRA layer clears it only when it holds something, and dynamo sees
  no mutation;
- peft's ``dequantize_module_weight`` tests ``type(weight).__module__.startswith("torchao.")``, a string
  method dynamo cannot trace inside a checkpoint. For a plain ``nn.Parameter`` weight (no HQQ, torchao or
  bitsandbytes) peft returns the weight itself; the wrapper returns it before that test and hands
  every other weight to peft.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the generator's modules import torch only when a model is loaded
    import torch


def _clear_if_filled(self) -> None:
    if self._dora_cache:
        self._dora_cache.clear()


def _plain_weight_first(peft_dequantize):
    import torch

    def dequantize_module_weight(module):
        if not hasattr(module, "W_q"):  # HQQ modules may have no .weight at all: peft handles them
            weight = getattr(module, "weight", None)
            if type(weight) is torch.nn.Parameter:
                return weight
        return peft_dequantize(module)

    dequantize_module_weight.peft_original = peft_dequantize
    return dequantize_module_weight


def make_dora_traceable(module: "torch.nn.Module") -> int:
    """Patch every peft DoRA layer under ``module`` (no-op without peft or DoRA); returns how many were patched."""
    try:
        from peft.tuners.lora import dora
        from peft.tuners.lora.dora import DoraLinearLayer
    except ImportError:  # peft is a dependency, but a module without adapters needs nothing from it
        return 0
    patched = 0
    for m in module.modules():
        if isinstance(m, DoraLinearLayer) and "_cache_clear" not in m.__dict__:
            m._cache_clear = types.MethodType(_clear_if_filled, m)
            patched += 1
    if patched and not hasattr(dora.dequantize_module_weight, "peft_original"):
        dora.dequantize_module_weight = _plain_weight_first(dora.dequantize_module_weight)
    return patched
