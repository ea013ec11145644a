#!/usr/bin/env python
"""Multi-GPU scaling of the trainer's step: DDP over 1, 2, 4, 8 GPUs with the same per-GPU batch.

For every N in ``--gpus`` this launches ``benchmarks/train_bench.py`` (cached path only: what
``cosmos-bench train`` runs) with ``accelerate launch --num_processes N`` (``--multi_gpu`` for N > 1):
the full-size random-init 2B DiT in bf16, 93 frames at 432x768, LoRA r32, ``--batch-size`` samples per
GPU per step, DDP through the trainer's own ``make_accelerator`` (NCCL on GPUs, gloo on CPUs), the
trainer's ``micro_step``/``apply_update``. One JSON line per N (stdout, and appended to ``--out``)::

    {"record": "scaling", "processes": 8, "sample_steps_per_second": 2.9, "seconds_per_step": 2.75,
     "speedup": 7.1, "efficiency": 0.89, "peak_allocated_gib_per_process": [...], "status": "ok", ...}

``speedup`` = sample-steps per second with N processes / with one (so run 1 in the same invocation,
on the same machine); ``efficiency`` = speedup / N (issue 9's target: >= 0.85, i.e. >= 6.8x on 8).
A final ``summary`` record lists every N. NVLink multicast stays off in the children
(``NCCL_NVLS_ENABLE=0``, ``TORCH_SYMM_MEM_DISABLE_MULTICAST=1``, ``NVSHMEM_DISABLE_NVLS=1``).

Run here on the CPU at tiny size (1 and 2 gloo processes; a check that the script works)::

    .venv/bin/python benchmarks/train_scaling.py --small

On an 8-GPU machine (diffusers and peft carried as wheels, see train_bench.py)::

    python benchmarks/train_scaling.py --gpus 1,2,4,8 --checkpointing selective --out benchmarks/train_scaling.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared benchmark helpers
from bench_io import emit  # noqa: E402

HERE = Path(__file__).resolve().parent
BENCH = HERE / "train_bench.py"
NO_MULTICAST = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]




def launch(n: int, args, bench_args: list[str]) -> tuple[dict[str, Any] | None, str, float]:
    """Run train_bench.py under ``accelerate launch`` with ``n`` processes; returns its run record."""
    with tempfile.TemporaryDirectory(prefix="cosmos_bench_scaling_") as tmp:
        out = Path(tmp) / "run.jsonl"
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(n), "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port())]
        if n > 1:
            cmd.append("--multi_gpu")
        cmd += [str(BENCH), "--no-baseline", "--quiet", "--out", str(out), *bench_args]
        env = {**os.environ, **NO_MULTICAST, "PYTHONUNBUFFERED": "1"}
        if args.small:
            env.update({"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"})
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
            log = proc.stdout[-4000:] + proc.stderr[-4000:]
        except subprocess.TimeoutExpired as exc:
            log = f"timed out after {args.timeout} s\n" + str(exc.stdout or "")[-2000:] + str(exc.stderr or "")[-2000:]
        wall = time.perf_counter() - t0
        records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    runs = [r for r in records if r.get("record") == "run"]
    return (runs[0] if runs else None), log, wall


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gpus", default=None, help="comma list of process counts (default 1,2,4,8; 1,2 with --small)")
    p.add_argument("--small", action="store_true", help="tiny components on CPU processes (gloo)")
    p.add_argument("--checkpointing", default="selective", help="one gradient-checkpointing mode (see train_bench.py)")
    p.add_argument("--compile", default="false", help="false, blocks or full")
    p.add_argument("--adapter", choices=("lora", "dora"), default="lora")
    p.add_argument("--rank", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=1, help="samples per GPU per step (the same for every N)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per run (default 6; 3 with --small)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default: train_bench.py's)")
    p.add_argument("--timeout", type=int, default=900, help="seconds allowed per launch")
    p.add_argument("--out", type=Path, default=None, help="append JSON lines here too")
    args = p.parse_args(argv)

    counts = [int(x) for x in (args.gpus or ("1,2" if args.small else "1,2,4,8")).split(",") if x.strip()]
    if 1 not in counts:
        counts.insert(0, 1)  # the speed-up needs the one-process figure from the same machine
    bench_args = ["--checkpointing", args.checkpointing, "--compile", args.compile, "--adapter", args.adapter,
                  "--batch-size", str(args.batch_size), "--steps", str(args.steps or (3 if args.small else 6))]
    if args.rank:
        bench_args += ["--rank", str(args.rank)]
    if args.warmup is not None:
        bench_args += ["--warmup", str(args.warmup)]
    if args.small:
        bench_args += ["--small", "--device", "cpu"]

    results: dict[int, dict[str, Any]] = {}
    base_rate = None
    for n in counts:
        run, log, wall = launch(n, args, bench_args)
        record: dict[str, Any] = {"record": "scaling", "processes": n, "batch_size_per_process": args.batch_size,
                                  "checkpointing": args.checkpointing, "compile": args.compile, "launch_seconds": round(wall, 1)}
        if run is None or run.get("status") != "ok":
            record.update({"status": (run or {}).get("status", "failed"), "error": (run or {}).get("error"), "log_tail": log[-3000:]})
        else:
            rate = run["sample_steps_per_second"]
            if n == 1:
                base_rate = rate
            record.update({
                "status": "ok",
                "seconds_per_step": run["seconds_per_step"],
                "sample_steps_per_second": rate,
                "speedup": round(rate / base_rate, 3) if base_rate else None,
                "efficiency": round(rate / base_rate / n, 3) if base_rate else None,
                "peak_allocated_gib_per_process": run.get("peak_allocated_gib_per_process", [run.get("peak_allocated_gib")]),
                "peak_reserved_gib_per_process": run.get("peak_reserved_gib_per_process", [run.get("peak_reserved_gib")]),
                "step_seconds": run["step_seconds"],
                "device_name": run.get("device_name"),
                "size": run.get("size"),
                "frames": run.get("frames"),
                "rank": run.get("rank"),
                "adapter": run.get("adapter"),
                "small": run.get("small"),
                "versions": run.get("versions"),
            })
        results[n] = record
        emit(record, args.out)

    summary = {"record": "summary", "bench": "train_scaling", "target_efficiency": 0.85,
               "by_processes": {str(n): {k: r.get(k) for k in ("status", "sample_steps_per_second", "speedup", "efficiency")}
                                for n, r in results.items()}}
    ok = [r for r in results.values() if r.get("status") == "ok" and r["processes"] > 1 and r.get("efficiency") is not None]
    if ok:
        summary["min_efficiency"] = min(r["efficiency"] for r in ok)
        summary["meets_target"] = summary["min_efficiency"] >= 0.85
    emit(summary, args.out)
    return 0 if all(r.get("status") == "ok" for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
