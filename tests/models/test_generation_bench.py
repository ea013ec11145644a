"""benchmarks/generation_bench.py --small runs end to end on the CPU and writes its JSON lines."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "generation_bench.py"


def test_small_benchmark_writes_json_lines(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("generation_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.jsonl"
    assert bench.main(["--small", "--modes", "base,lora,fused,fast", "--compile", "eager", "--steps", "2", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = [r["record"] for r in records]
    assert kinds == ["noise", "setup", "run", "run", "run", "run", "summary"]
    noise = records[0]
    assert noise["float32_identical"] and noise["bfloat16_identical"]
    runs = {r["mode"]: r for r in records if r["record"] == "run"}
    assert set(runs) == {"base", "lora", "fused", "fast"}
    for r in runs.values():
        assert r["seconds_per_video"] > 0 and r["finite"] and r["frames"] == 9 and r["steps"] == 2
    assert runs["fused"]["max_abs_diff"]["vs_lora_unfused"]["max"] < 1e-4
    assert runs["lora"]["max_abs_diff"]["vs_base"]["max"] > runs["fused"]["max_abs_diff"]["vs_lora_unfused"]["max"]
    # the fast sampler's frames are the pipeline's up to the 8-bit rounding of its output
    assert runs["fast"]["max_abs_diff"]["vs_plain_pipeline"]["max"] <= 1 / 255 + 1e-6
    assert "speedup_vs_plain" in records[-1] and "fused_over_base_eager" in records[-1]


def test_small_parts_benchmark_checks_the_causal_encoding(tmp_path: Path) -> None:
    """generation_parts.py --small runs every part on the CPU; its VAE record carries the exactness
    check that sampler: fast relies on (first latent frame of the padded video == the image alone)."""
    path = BENCH.with_name("generation_parts.py")
    spec = importlib.util.spec_from_file_location("generation_parts", path)
    parts = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(parts)
    out = tmp_path / "parts.jsonl"
    variants = "eager:native,eager:native+share0+gelu_epilogue+opaque_sdpa"
    argv = ["--small", "--parts", "text,vae,dit,sdpa", "--vae-compile-modes", "", "--dit-variants", variants, "--repeats", "1", "--out", str(out)]
    assert parts.main(argv) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    records = {r["record"]: r for r in lines}
    assert set(records) == {"text", "vae", "dit", "sdpa"}
    assert records["vae"]["first_latent_frame_max_abs_diff"] == 0.0
    plain, experiment = [r for r in lines if r["record"] == "dit"]
    assert plain["cfg_step_one_s"] > 0 and experiment["experiments"] == ["share0", "gelu_epilogue", "opaque_sdpa"]
    assert plain["rel_diff_one_vs_first"] < 1e-5, "batch-2 guidance must match two batch-1 calls"
    # sharing block 0's self-attention between identical halves, GELU in the matmul epilogue (exact
    # GELU on the CPU) and attention behind an opaque custom op compute the same function
    assert experiment["rel_diff_one_vs_first"] < 1e-5 and experiment["rel_diff_two_vs_first"] < 1e-5


def test_gpu_monitor_reads_the_card_the_benchmark_runs_on() -> None:
    spec = importlib.util.spec_from_file_location("gpu_monitor", BENCH.with_name("gpu_monitor.py"))
    gpu_monitor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_monitor)
    assert gpu_monitor.physical_gpu_index(0, "1") == "1", "torch's cuda:0 under CUDA_VISIBLE_DEVICES=1 is nvidia-smi's GPU 1"
    assert gpu_monitor.physical_gpu_index(1, "3,2") == "2"
    assert gpu_monitor.physical_gpu_index(0, "GPU-4b1c") == "GPU-4b1c"
    assert gpu_monitor.physical_gpu_index(2, "") == "2"
