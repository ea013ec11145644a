"""benchmarks/train_bench.py and train_scaling.py run end to end on the CPU at tiny size."""

from __future__ import annotations

import importlib.util
import json
import statistics
from pathlib import Path

import pytest

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


def test_train_scaling_small_smoke_launches_one_and_two_processes(tmp_path: Path) -> None:
    """A smoke test: CPU timings on a shared machine bound nothing, so it checks that both launches run
    and that every derived figure is computed from the measured step times as documented (one
    process is the reference, speedup 1.0 by definition; N processes: rate_N / rate_1, efficiency /N)."""
    out = tmp_path / "scaling.jsonl"
    assert load("train_scaling").main(["--small", "--steps", "1", "--warmup", "1", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    scaling = [r for r in records if r["record"] == "scaling"]
    assert [r["processes"] for r in scaling] == [1, 2] and all(r["status"] == "ok" for r in scaling)
    for r in scaling:  # rate = samples per optimiser step (batch x processes) / median step time
        assert len(r["step_seconds"]) == 1 and r["step_seconds"][0] > 0
        expected_rate = r["batch_size_per_process"] * r["processes"] / statistics.median(r["step_seconds"])
        assert r["sample_steps_per_second"] == pytest.approx(expected_rate, rel=1e-2)
    one, two = scaling
    assert one["speedup"] == 1.0 and one["efficiency"] == 1.0
    ratio = two["sample_steps_per_second"] / one["sample_steps_per_second"]
    assert two["speedup"] == pytest.approx(ratio, abs=1e-3) and two["efficiency"] == pytest.approx(ratio / 2, abs=1e-3)
    assert len(two["peak_allocated_gib_per_process"]) == 2
    summary = records[-1]
    assert summary["record"] == "summary" and summary["min_efficiency"] == two["efficiency"]
    assert summary["meets_target"] == (two["efficiency"] >= 0.85)
