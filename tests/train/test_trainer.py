"""The trainer on tiny real components: what changes, learning, checkpoints and resume, the generator's view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cosmos_bench.train.trainer import ADAPTER_FILE, TrainError, Trainer, configure_gradient_checkpointing, train

from .conftest import HEIGHT, WIDTH, tiny_recipe


def is_adapter(name: str) -> bool:
    return "lora_" in name


def test_only_adapter_parameters_change_and_stay_float32(tiny_base, train_data, cache_dir, tmp_path):
    from diffusers import CosmosTransformer3DModel

    recipe = tiny_recipe(tiny_base, cache_dir, model={"dtype": "bfloat16"}, train={"mixed_precision": "bf16", "epochs": 1,
                                                                                    "learning_rate": 1e-2})
    trainer = Trainer(recipe, train_data, tmp_path / "run", device="cpu")
    result = trainer.run()
    assert result.finished and result.steps_done == 2
    before = CosmosTransformer3DModel.from_pretrained(tiny_base, subfolder="transformer", dtype=torch.bfloat16).state_dict()
    after = dict(trainer.model.named_parameters())
    base_names = [n for n in after if not is_adapter(n)]
    assert len(base_names) == len(before)
    for name in base_names:
        key = name.replace(".base_layer", "")
        assert torch.equal(after[name], before[key]), name
        assert not after[name].requires_grad and after[name].dtype == torch.bfloat16
    adapter = {n: p for n, p in after.items() if is_adapter(n)}
    assert adapter and all(p.requires_grad and p.dtype == torch.float32 for p in adapter.values())
    assert any(float(p.abs().max()) > 0 for n, p in adapter.items() if "lora_B" in n)  # B starts at zero


@pytest.mark.parametrize("kind", ["lora", "dora"])
def test_loss_falls_below_half(wide_base, train_data, cache_dir, tmp_path, kind):
    """Two clips, rank 32, sigma near 1 (x_t ~ noise, so the velocity is learnable once the clips are memorised)."""
    recipe = tiny_recipe(
        wide_base, cache_dir, adapter={"type": kind, "rank": 32},
        sigma={"mean": 3.0}, data={"window": "start"},
        train={"epochs": 200, "batch_size": 2, "learning_rate": 1e-2, "lr_warmup_steps": 0, "lr_scheduler": "constant",
               "checkpointing_epochs": None},
    )
    result = train(recipe, train_data, tmp_path / kind, device="cpu")
    first, last = result.losses[0], float(np.mean(result.losses[-10:]))
    assert last < 0.5 * first, (first, last)
    log = (tmp_path / kind / "loss.csv").read_text().splitlines()
    assert log[0].startswith("step,epoch,loss,lr") and len(log) == 201


def adapters_equal(a, b, atol):
    ta, tb = load_file(a), load_file(b)
    assert ta.keys() == tb.keys()
    worst = max(float((ta[k] - tb[k]).abs().max()) for k in ta)
    assert worst <= atol, worst
    return worst


class Killed(Exception):
    pass


@pytest.mark.parametrize("kind", ["dora"])
def test_killed_and_resumed_run_ends_with_the_same_adapter(tiny_base, train_data, cache_dir, tmp_path, kind):
    recipe = tiny_recipe(tiny_base, cache_dir, adapter={"type": kind, "rank": 4}, conditioning={"latent_frames": "sampled"},
                         train={"epochs": 3, "checkpointing_epochs": None, "checkpointing_steps": 2, "learning_rate": 5e-3})
    full = train(recipe, train_data, tmp_path / "full", device="cpu")
    assert full.finished and full.steps_done == 6

    def kill_at_5(info):
        if info.step == 5:
            raise Killed()  # the process dies after step 5; the newest checkpoint is step 4

    with pytest.raises(Killed):
        train(recipe, train_data, tmp_path / "killed", device="cpu", on_step=kill_at_5)
    assert not (tmp_path / "killed" / ADAPTER_FILE).exists()
    with pytest.raises(TrainError, match="already holds a run"):
        train(recipe, train_data, tmp_path / "killed", device="cpu")
    resumed = train(recipe, train_data, tmp_path / "killed", device="cpu", resume=True)
    assert resumed.finished and len(resumed.losses) == 2  # steps 5 and 6 again
    adapters_equal(full.adapter, resumed.adapter, atol=1e-6)
    assert resumed.losses == pytest.approx(full.losses[4:], abs=1e-6)
    rows = (tmp_path / "killed" / "loss.jsonl").read_text().splitlines()
    assert len(rows) == 6  # the lost step 5 is not logged twice

    # a graceful stop (--max-steps) resumes the same way, and the schedule spans the whole run
    part = train(recipe, train_data, tmp_path / "parts", device="cpu", max_steps=3)
    assert not part.finished and part.adapter is None and part.checkpoint.name == "step-00000003"
    rest = train(recipe, train_data, tmp_path / "parts", device="cpu", resume=True)
    adapters_equal(full.adapter, rest.adapter, atol=1e-6)

    changed = recipe.replace(train={"learning_rate": 1e-3})
    with pytest.raises(TrainError, match="different recipe"):
        train(changed, train_data, tmp_path / "parts", device="cpu", resume=True, max_steps=1)


def test_gradient_accumulation_equals_a_larger_batch(tiny_base, train_data, cache_dir, tmp_path):
    big = tiny_recipe(tiny_base, cache_dir, train={"epochs": 2, "batch_size": 2, "checkpointing_epochs": None})
    accum = big.replace(train={"batch_size": 1, "gradient_accumulation_steps": 2})
    a = train(big, train_data, tmp_path / "big", device="cpu")
    b = train(accum, train_data, tmp_path / "accum", device="cpu")
    adapters_equal(a.adapter, b.adapter, atol=1e-6)
    assert a.losses == pytest.approx(b.losses, abs=1e-6)


@pytest.mark.parametrize(("mode", "adapter"), [("full", "lora"), ("partial:1", "lora"), ("selective", "lora"), ("selective:1", "lora"),
                                             ("selective+compile", "lora"), ("selective+compile", "dora")])
def test_gradient_checkpointing_modes_give_the_same_gradients(tiny_base, mode, adapter):
    from diffusers import CosmosTransformer3DModel
    from torch._dynamo.utils import counters

    from cosmos_bench.train.flow import transformer_inputs
    from cosmos_bench.train.trainer import BlockCheckpointing, add_adapter, configure_compile

    recipe = tiny_recipe(tiny_base, tiny_base, adapter={"rank": 4, "type": adapter})
    torch._dynamo.reset()
    counters.clear()
    grads = {}
    for m in ("none", mode):
        model = CosmosTransformer3DModel.from_pretrained(tiny_base, subfolder="transformer")
        add_adapter(model, recipe, seed=0)
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "lora_B" in n:
                    p.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
        checkpointing, _, compile_mode = m.partition("+")
        configure_gradient_checkpointing(model, checkpointing)
        if compile_mode:
            configure_compile(model, "blocks")
            # the checkpoint now runs inside each compiled block, not around it
            func = model._gradient_checkpointing_func
            assert isinstance(func, BlockCheckpointing)
            assert func.inside == {id(b) for b in model.transformer_blocks}
        g = torch.Generator().manual_seed(0)
        x0, noise = torch.randn(1, 16, 3, 4, 6, generator=g), torch.randn(1, 16, 3, 4, 6, generator=g)
        fb = transformer_inputs(x0, noise, torch.tensor([0.7]), [1], torch.randn(1, 8, 64, generator=g), transformer_dtype=torch.float32)
        model.train()
        model(**fb.kwargs)[0].square().mean().backward()
        grads[m] = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    for n in grads["none"]:
        torch.testing.assert_close(grads[mode][n], grads["none"][n], rtol=1e-5, atol=1e-7)
    # a graph break inside a compiled block's checkpoint runs that whole block eagerly (DoRA did: dora_compile.py)
    assert not counters["graph_break"], dict(counters["graph_break"])


def test_trained_adapter_loads_in_the_generator(tiny_base, train_data, cache_dir, tmp_path):
    import yaml

    from cosmos_bench.models.base import GenerationRequest, load_models, register_model
    from cosmos_bench.models.cosmos import release_pipelines
    from cosmos_bench.train.trainer import models_entry

    recipe = tiny_recipe(tiny_base, cache_dir, name="lora4", adapter={"type": "lora", "rank": 4},
                         train={"epochs": 2, "learning_rate": 5e-2, "lr_warmup_steps": 0})
    result = train(recipe, train_data, tmp_path / "lora4", device="cpu")
    models = tmp_path / "models.yaml"
    models.write_text(yaml.safe_dump({"models": {"base": {"kind": "cosmos", "model": str(tiny_base), "safety_checker": "none",
                                                          "dtype": "float32", "device": "cpu"}}}))
    name, entry = models_entry(result, recipe, models)
    assert name == "lora4" and entry["extends"] == "base"
    register_model(name, entry, models)
    base, lora = load_models(["base", "lora4"], models)
    try:
        request = GenerationRequest(prompt="The robot arm picks up the red cup.", image=np.full((HEIGHT, WIDTH, 3), 90, np.uint8),
                                    num_frames=9, height=HEIGHT, width=WIDTH, seed=0, steps=2, fps=8.0)
        out_base = base.generate(request).frames
        out_lora = lora.generate(request).frames
        assert not np.array_equal(out_base, out_lora)
        pipe = lora.pipeline()
        from peft.utils import get_peft_model_state_dict

        loaded = get_peft_model_state_dict(pipe.transformer, adapter_name=lora.adapter.name)
        saved = load_file(result.adapter)
        assert len(loaded) == len(saved)
        for k, v in saved.items():
            key = k.removeprefix("transformer.")
            torch.testing.assert_close(loaded[key].float(), v.float(), rtol=0, atol=0)
    finally:
        release_pipelines()


def test_cached_latents_train_exactly_as_online_encoding(tiny_base, train_data, tmp_path):
    """The latent cache is exact: VAE-in-the-loop training gives the same adapter; a second run encodes nothing."""
    recipe = tiny_recipe(tiny_base, tmp_path / "cache", train={"epochs": 3, "checkpointing_epochs": None})
    cached = train(recipe, train_data, tmp_path / "cached", device="cpu")
    windows = {(s.clip, s.start) for step in range(6) for s in Trainer(recipe, train_data, tmp_path / "x", device="cpu").plan.step_samples(step)}
    assert cached.info["timings"]["cache_encoded"] == len(windows) + 2  # the plan's windows + two captions
    online = train(recipe.replace(train={"latents": "online"}), train_data, tmp_path / "online", device="cpu")
    adapters_equal(cached.adapter, online.adapter, atol=0.0)
    again = train(recipe, train_data, tmp_path / "again", device="cpu")
    assert again.info["timings"]["cache_encoded"] == 0


class _RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (Path.touch, (self.marker,))

    def __init__(self, marker: Path) -> None:
        self.marker = marker


def test_resume_loads_checkpoints_without_running_pickled_code(tmp_path):
    """A checkpoint folder copied from elsewhere must not execute code on --resume (weights_only=True)."""
    from cosmos_bench.train.trainer import STATE_FILE

    marker = tmp_path / "code-ran"
    ckpt = tmp_path / "step-00000001"
    ckpt.mkdir()
    torch.save({"fingerprint": _RunsCodeWhenUnpickled(marker)}, ckpt / STATE_FILE)
    with pytest.raises(TrainError, match="cannot load safely|can load safely"):
        Trainer._load_state(None, ckpt)  # the load fails before the state is looked at
    assert not marker.exists()
