#!/usr/bin/env python
"""The ray executor on one GPU: per-video speed against the local runner, and the compile warm-up with
and without the shared compile cache, through ``cosmos-bench run`` itself (not a copy of its loop).

Phases (each a separate process, as separate runs and workers are):

- ``prepare``: save a full-size random-initialised Cosmos Predict 2.5 pipeline (2B DiT, 7B text encoder,
  Wan VAE; ``generation_bench.build_full_pipeline``) with ``save_pretrained`` to ``ROOT/pipeline``, write
  a models YAML whose ``base-fast`` loads it (``sampler: fast``, ``compile``, ``compile_vae``,
  ``fast_kernels``) and a synthetic suite of ``--videos`` test pairs at 432x768x93.
- ``ray-cold``: ``run --executor ray --workers 1`` with an empty compile cache and an empty inductor
  cache: the first video carries the whole compile warm-up; the worker saves its artifacts.
- ``ray-warm``: the same in a new process, new inductor cache folder, new output folder, the compile
  cache of ``ray-cold``: the first video's warm-up with the cache.
- ``local``: ``run`` (local executor) in a new process on the same work: the per-video speed to
  compare with the ray worker's (videos after the first; inductor's on-disk cache of ``ray-cold`` is
  reused so the phase fits the device's 10-minute call, which changes only its first video).

Each phase prints one JSON line (and appends it to ``--out``) with every video's generation seconds
from its sidecar (``seconds``: the model call, as the runner measures it), the first and the median of
the rest, and the phase's wall time. Small check here on the CPU: ``--small`` (tiny pipeline).

    python benchmarks/ray_bench.py --phase prepare --root /tmp/rb
    python benchmarks/ray_bench.py --phase ray-cold --root /tmp/rb --steps 8 --out ray.jsonl
    python benchmarks/ray_bench.py --phase ray-warm --root /tmp/rb --steps 8 --out ray.jsonl
    python benchmarks/ray_bench.py --phase local --root /tmp/rb --steps 8 --out ray.jsonl

Scaling over N GPUs (issue 23): ``--phase prepare --videos 8N``, then ``--phase ray-warm --workers 1`` and
``--phase ray-warm --workers N`` on the same cache; each record has ``videos_per_hour`` (whole phase,
warm-up included: use enough videos per worker that the warm-up is small against the run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def prepare(root: Path, videos: int, small: bool) -> None:
    import torch

    from cosmos_bench.data.synthetic import SceneConfig
    from cosmos_bench.data.synthetic_suite import write_synthetic_suite
    from cosmos_bench.models.tiny import save_pipeline, save_tiny_cosmos_pipeline

    pipe_dir = root / "pipeline"
    if not (pipe_dir / "model_index.json").exists():
        if small:
            save_tiny_cosmos_pipeline(pipe_dir)
        else:
            from generation_bench import build_full_pipeline

            pipe = build_full_pipeline("cuda", torch.bfloat16, "full", seed=0)
            save_pipeline(pipe, pipe_dir)
            del pipe
    size = (64, 96, 9) if small else (432, 768, 93)
    write_synthetic_suite(root / "suite", SceneConfig(frames=size[2], height=size[0], width=size[1], views=1, seed=11),
                          samples=videos, storage="grid", name="raybench")
    dtype = "float32" if small else "bfloat16"
    (root / "models.yaml").write_text(
        "models:\n"
        f"  base-fast: {{kind: cosmos, model: {pipe_dir}, dtype: {dtype}, safety_checker: none, sampler: fast,"
        f" compile: {str(not small).lower()}, compile_vae: {str(not small).lower()}, fast_kernels: {str(not small).lower()}}}\n"
    )


def run_phase(root: Path, phase: str, steps: int, small: bool, workers: int = 1) -> dict:
    out_dir = root / f"videos_{phase}"
    cmd = ["cosmos-bench", "run", "--models", "base-fast", "--suite", str(root / "suite"), "--models-file",
           str(root / "models.yaml"), "--seeds", "1", "--metrics", "tse", "--steps", str(steps),
           "--store", str(root / f"{phase}.sqlite"), "--leaderboards", str(root / f"boards_{phase}")]
    env = dict(os.environ)
    if phase == "local":
        cmd += ["--out", str(out_dir)]
        env["TORCHINDUCTOR_CACHE_DIR"] = str(root / "inductor_ray-cold")
    else:
        cmd += ["--executor", "ray", "--workers", str(workers), "--artifacts", str(out_dir),
                "--compile-cache", str(root / "compile-cache")]
        env["TORCHINDUCTOR_CACHE_DIR"] = str(root / f"inductor_{phase}")
        if small:
            cmd += ["--gpus-per-worker", "0"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
    sidecars = sorted(out_dir.glob("base-fast/*/seed*/*.json"), key=lambda p: json.loads(p.read_text())["created"])
    seconds = [json.loads(p.read_text())["seconds"] for p in sidecars]
    rest = seconds[1:]
    return {"record": "ray_bench", "phase": phase, "workers": workers if phase != "local" else 1, "steps": steps,
            "videos": len(seconds), "videos_per_hour": round(3600 * len(seconds) / wall, 2) if wall else None, "seconds": seconds,
            "first_video_s": seconds[0] if seconds else None,
            "median_after_first_s": statistics.median(rest) if rest else None, "wall_s": round(wall, 1),
            "returncode": proc.returncode, "cache_files": sorted(p.name for p in (root / "compile-cache").glob("*.bin"))
            if (root / "compile-cache").is_dir() else []}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phase", required=True, choices=("prepare", "ray-cold", "ray-warm", "local"))
    p.add_argument("--root", type=Path, required=True)
    p.add_argument("--videos", type=int, default=3, help="test pairs (one seed each)")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--workers", type=int, default=1, help="ray phases: one worker per GPU (issue 23: 1 vs N GPUs in one lease)")
    p.add_argument("--small", action="store_true", help="tiny pipeline on the CPU: checks the script, measures nothing")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    if args.phase == "prepare":
        t0 = time.perf_counter()
        prepare(args.root, args.videos, args.small)
        record = {"record": "ray_bench", "phase": "prepare", "wall_s": round(time.perf_counter() - t0, 1)}
    else:
        record = run_phase(args.root, args.phase, args.steps, args.small, args.workers)
    try:
        import torch

        record["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        record["torch"] = torch.__version__
    except ImportError:
        pass
    line = json.dumps(record)
    print(line)
    if args.out:
        with open(args.out, "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
