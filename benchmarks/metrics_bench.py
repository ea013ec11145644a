"""Seconds per video of the geometric metrics (TSE of every view + pooled CSE, one detection pass).

    python benchmarks/metrics_bench.py --backend kornia --device cuda --frames 93 --size 432x768 --views 2 --repeat 3
    python benchmarks/metrics_bench.py --device cuda --frames 128 --size 720x1280 --views 1 --supersample 1
    python benchmarks/metrics_bench.py --device cuda --frames 93 --size 432x768 --views 6 --supersample 1  # 2x3 grid

``peak_gpu_gib`` is ``torch.cuda.max_memory_allocated`` over the timed runs (CUDA only).

Input: a synthetic scene (``cosmos_bench.data.synthetic``, textured boxes on a table, orbiting rig),
or frames saved earlier with ``--save-frames DIR`` and read back with ``--frames-dir DIR`` (JPEG files
``DIR/<view>/<t>.jpg``; lets a machine without OpenCV run the kornia backend on the same frames).
The first run is a warm-up (kernel compilation, caches) and is not timed unless ``--warmup 0``.
Prints one line per timed run and a final JSON line: ``seconds_per_video`` is the median of the
timed runs, ``timings`` the per-stage split of the fastest one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size must be HxW, e.g. 432x768; got {text!r}") from None
    return h, w


def _read_image(path: Path) -> np.ndarray:
    try:
        import cv2

        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise OSError(f"cannot read {path}")
        return img[..., ::-1].copy()
    except ImportError:
        from PIL import Image

        return np.asarray(Image.open(path).convert("RGB"))


def load_frames(folder: Path, frames: int | None) -> dict[str, np.ndarray]:
    views = {}
    for vdir in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(vdir.glob("*.jpg"))[:frames]
        views[vdir.name] = np.stack([_read_image(f) for f in files])
    if not views:
        raise SystemExit(f"no <view>/*.jpg folders under {folder}")
    return views


def save_frames(views: dict[str, np.ndarray], folder: Path, quality: int = 95) -> None:
    import cv2

    for name, frames in views.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(frames):
            cv2.imwrite(str(folder / name / f"{t:04d}.jpg"), frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])


def synthetic(frames: int, size: tuple[int, int], views: int, seed: int, supersample: int = 2) -> dict[str, np.ndarray]:
    from cosmos_bench.data.synthetic import SceneConfig, render_clip

    cfg = SceneConfig(views=views, frames=frames, height=size[0], width=size[1], seed=seed, camera_motion="orbit",
                      supersample=supersample)
    return dict(render_clip(cfg).views)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["opencv", "kornia"], default="kornia")
    ap.add_argument("--device", default=None, help="kornia: cpu | cuda (default: cuda if present)")
    ap.add_argument("--frames", type=int, default=93)
    ap.add_argument("--size", type=_parse_size, default=(432, 768), help="HxW, default 432x768")
    ap.add_argument("--views", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs first")
    ap.add_argument("--mode", default="pooled", choices=["pooled", "per_frame"], help="cross-view mode")
    ap.add_argument("--max-features", type=int, default=2048)
    ap.add_argument("--hypotheses", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--frames-dir", type=Path, default=None, help="read <view>/*.jpg frames instead of rendering")
    ap.add_argument("--save-frames", type=Path, default=None, help="write the rendered frames here and exit")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--supersample", type=int, default=2, help="renderer supersampling (1: faster rendering)")
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from cosmos_bench.metrics import sampson_metrics

    t0 = time.perf_counter()
    if args.frames_dir is not None:
        views = load_frames(args.frames_dir, args.frames)
        source = f"frames-dir:{args.frames_dir}"
    else:
        views = synthetic(args.frames, args.size, args.views, args.seed, args.supersample)
        source = "synthetic"
    prep = time.perf_counter() - t0
    if args.save_frames is not None:
        save_frames(views, args.save_frames)
        print(json.dumps({"saved": str(args.save_frames), "views": list(views), "render_s": round(prep, 2)}))
        return {}
    first = next(iter(views.values()))
    options = dict(backend=args.backend, device=args.device, max_features=args.max_features)
    if args.backend == "kornia":
        options["hypotheses"] = args.hypotheses
    runs, results, warmup_s = [], None, []
    cuda = torch.cuda.is_available() and (args.device or "cuda").startswith("cuda") and args.backend == "kornia"
    for i in range(args.warmup + args.repeat):
        if cuda and i == args.warmup:
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        results = sampson_metrics(views, stride=1, mode=args.mode, **options)
        dt = time.perf_counter() - t
        if i < args.warmup:
            warmup_s.append(round(dt, 3))
        else:
            runs.append((dt, results))
            print(f"run {i - args.warmup + 1}/{args.repeat}: {dt:.3f} s  "
                  f"timings={next(iter(results.values())).details.get('timings')}", flush=True)
    if not runs:
        raise SystemExit("--repeat must be at least 1")
    best = min(runs, key=lambda r: r[0])[1]
    any_result = next(iter(best.values()))
    device_name = any_result.details.get("device")
    gpu = torch.cuda.get_device_name(0) if device_name and device_name.startswith("cuda") else None
    import kornia

    out = {
        "bench": "metrics",
        "backend": args.backend,
        "device": device_name,
        "gpu": gpu,
        "cpu_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "frames": int(first.shape[0]),
        "size": f"{first.shape[1]}x{first.shape[2]}",
        "views": len(views),
        "mode": args.mode,
        "source": source,
        "seconds_per_video": round(statistics.median(r[0] for r in runs), 4),
        "seconds_all": [round(r[0], 4) for r in runs],
        "warmup_s": warmup_s,
        "timings": any_result.details.get("timings"),
        "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "values": {k: (None if not r.ok else round(r.value, 5)) for k, r in best.items()},
        "versions": {k: r.version for k, r in best.items()},
        "torch": torch.__version__,
        "kornia": kornia.__version__,
        "blur": os.environ.get("COSMOS_BENCH_BLUR") or "default",
        "python": platform.python_version(),
    }
    print(json.dumps(out), flush=True)
    return out


if __name__ == "__main__":
    main()
