"""benchmarks/train_bench.py and train_scaling.py run end to end on the CPU at tiny size."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_bench_small_writes_cached_and_baseline_records(tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    assert load("train_bench").main(["--small", "--checkpointing", "selective,partial:1", "--steps", "1", "--warmup", "1",
                                     "--quiet", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["record"] for r in records] == ["run", "run", "run", "summary"]
    cached = [r for r in records if r.get("path") == "cached"]
    assert [r["checkpointing"] for r in cached] == ["selective", "partial:1"]
    encode = records[2]
    assert encode["path"] == "encode" and encode["text_encoder"] == "tiny" and encode["encode_seconds"] is not None
    for r in records[:3]:
        assert r["status"] == "ok" and r["finite"] and r["seconds_per_sample_step"] > 0 and r["trainable_parameters"] > 0
        assert r["latents"] == [16, 3, 4, 6]
    assert records[-1]["speedup_vs_encode_every_step"] > 0


def test_train_scaling_small_launches_one_and_two_processes(tmp_path: Path) -> None:
    out = tmp_path / "scaling.jsonl"
    assert load("train_scaling").main(["--small", "--steps", "1", "--warmup", "1", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    scaling = [r for r in records if r["record"] == "scaling"]
    assert [r["processes"] for r in scaling] == [1, 2] and all(r["status"] == "ok" for r in scaling)
    assert scaling[0]["speedup"] == 1.0 and scaling[1]["efficiency"] is not None
    assert len(scaling[1]["peak_allocated_gib_per_process"]) == 2
    assert records[-1]["record"] == "summary" and "min_efficiency" in records[-1]
