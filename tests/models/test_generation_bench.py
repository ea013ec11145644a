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
    assert bench.main(["--small", "--compile", "eager", "--steps", "2", "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = [r["record"] for r in records]
    assert kinds == ["noise", "setup", "run", "run", "run", "summary"]
    noise = records[0]
    assert noise["float32_identical"] and noise["bfloat16_identical"]
    runs = {r["mode"]: r for r in records if r["record"] == "run"}
    assert set(runs) == {"base", "lora", "fused"}
    for r in runs.values():
        assert r["seconds_per_video"] > 0 and r["finite"] and r["frames"] == 9 and r["steps"] == 2
    assert runs["fused"]["max_abs_diff"]["vs_lora_unfused"]["max"] < 1e-4
    assert runs["lora"]["max_abs_diff"]["vs_base"]["max"] > runs["fused"]["max_abs_diff"]["vs_lora_unfused"]["max"]
    assert "speedup_vs_plain" in records[-1] and "fused_over_base_eager" in records[-1]
