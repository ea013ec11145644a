"""peft DoRA layers compile into one graph, also inside activation checkpointing (dora_compile.py)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.checkpoint import checkpoint

from cosmos_bench.models.dora_compile import make_dora_traceable


def dora_model(seed: int = 0) -> torch.nn.Module:
    from peft import LoraConfig, inject_adapter_in_model

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.GELU(), torch.nn.Linear(32, 16))
    model = inject_adapter_in_model(LoraConfig(r=4, lora_alpha=4, target_modules=["0", "2"], use_dora=True), model)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)  # peft starts B at zero; a trained adapter's is not
    return model


@pytest.mark.parametrize("training", [False, True], ids=["generation", "checkpointed-training"])
def test_patched_dora_compiles_in_one_graph_and_computes_what_peft_does(training: bool) -> None:
    eager, compiled = dora_model(), dora_model()
    assert make_dora_traceable(compiled) == 2
    assert make_dora_traceable(compiled) == 0, "patching twice must be a no-op"
    x = torch.randn(3, 16, generator=torch.Generator().manual_seed(1))
    for m in (eager, compiled):
        m.train(training)

    def run(model: torch.nn.Module, compile_it: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        fn = (lambda t: checkpoint(model, t, use_reentrant=False)) if training else model
        if compile_it:
            fn = torch.compile(fn, fullgraph=True, backend="aot_eager")  # fullgraph: any graph break raises
        out = fn(x)
        grads = []
        if training:
            out.square().sum().backward()
            grads = [p.grad for n, p in model.named_parameters() if p.requires_grad]
        return out.detach(), grads

    want, want_grads = run(eager, compile_it=False)
    got, got_grads = run(compiled, compile_it=True)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert len(got_grads) == len(want_grads)
    for g, w in zip(got_grads, want_grads):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)


def test_quantised_or_unusual_weights_still_go_through_peft() -> None:
    from peft.tuners.lora import dora

    make_dora_traceable(dora_model())
    seen = []

    class HQQLike(torch.nn.Module):  # peft dequantizes modules that carry W_q
        weight = torch.nn.Parameter(torch.zeros(2, 2))
        W_q = None

        def dequantize(self):
            seen.append("dequantize")
            return torch.ones(2, 2)

    assert torch.equal(dora.dequantize_module_weight(HQQLike()), torch.ones(2, 2)) and seen == ["dequantize"]
    plain = torch.nn.Linear(2, 2)
    assert dora.dequantize_module_weight(plain) is plain.weight
