"""An adapter that changes nothing is reported, not benchmarked: real tiny Cosmos pipeline, real peft adapters.

peft initialises LoRA ``B`` to zero, so an adapter saved untrained (or one that never loaded) gives the
base model's exact frames; a trained (here: random non-zero) adapter does not.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from cosmos_bench.models.adapter_check import NO_EFFECT, adapter_bases
from cosmos_bench.models.cosmos_facts import LORA_TARGET_MODULES, save_adapter
from cosmos_bench.results.store import ResultStore
from cosmos_bench.runner import RunConfig, rescore, run

from .conftest import make_suite


def _untrained_adapter(out: Path) -> Path:
    from peft import LoraConfig

    from cosmos_bench.models.tiny import build_tiny_transformer

    transformer = build_tiny_transformer(1)  # the tiny zoo's base DiT (seed 0 + 1)
    transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=LORA_TARGET_MODULES))  # B = 0: no effect
    return save_adapter(transformer, out)


def test_an_adapter_identical_to_base_gets_error_rows(tmp_path: Path, tiny_zoo: Path) -> None:
    zoo = yaml.safe_load(tiny_zoo.read_text())["models"]
    _untrained_adapter(tiny_zoo.parent / "adapters" / "untrained")
    models = tmp_path / "models.yaml"
    entries = {"base": {**zoo["base"], "model": str(tiny_zoo.parent / "base")},
               "lora4": {"extends": "base", "adapter": str(tiny_zoo.parent / "adapters" / "lora4")},
               "silent": {"extends": "base", "adapter": str(tiny_zoo.parent / "adapters" / "untrained")}}
    models.write_text(yaml.safe_dump({"models": entries}))
    suite = make_suite(tmp_path / "suite", names=("pick_cup",))
    cfg = RunConfig(models=["base", "lora4", "silent"], suite=suite, models_file=models, metrics=["tse"], seeds=1,
                    out=tmp_path / "out", store=tmp_path / "s.sqlite", leaderboards=None, frames=9, size=(32, 48),
                    steps=2, fps=8.0)
    summary = run(cfg)
    with ResultStore(tmp_path / "s.sqlite") as store:
        silent = store.rows(model="silent")
        lora = store.rows(model="lora4")
    assert silent and all(r.status == "error" and r.reason == NO_EFFECT for r in silent)
    assert lora and not any(r.reason == NO_EFFECT for r in lora)
    assert any(e.startswith(f"silent: {NO_EFFECT}") and "base's" in e for e in summary.errors)
    assert not any(e.startswith("lora4:") for e in summary.errors)
    # rescore over the same videos says the same (the error rows are retried, and fail the same way)
    again = rescore(cfg)
    assert any(e.startswith(f"silent: {NO_EFFECT}") for e in again.errors)


def test_the_base_of_an_adapter_is_the_same_identity_without_it() -> None:
    from cosmos_bench.models.outputs import Output, Sidecar

    def out(model: str, identity: dict) -> Output:
        return Output(model, "k", "s", 0, Path("."), Sidecar(model=model, sample="s", seed=0, model_identity=identity,
                                                              content_sha256="c"))

    plain = {"kind": "cosmos", "base": {"hub_id": "x"}, "adapter": None, "dtype": "bfloat16"}
    fast = {**plain, "sampler": {"name": "fast"}}
    adapter = {**plain, "adapter": {"sha256": "a"}}
    outputs = [out("base", plain), out("base-fast", fast), out("lora", adapter), out("fast-lora", {**fast, "adapter": {"sha256": "a"}})]
    assert adapter_bases(outputs) == {"lora": "base", "fast-lora": "base-fast"}
