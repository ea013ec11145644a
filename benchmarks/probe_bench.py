"""Cost of the scoring guard's probe per video (issue 30, 4): demux only vs demux + checked decode.

    python benchmarks/probe_bench.py [--frames 93 --size 432x768 --repeats 5]

Writes one textured H.264 clip (the project's own encoder settings) and times ``probe_video`` with
``decode=False`` (packets counted) and ``decode=True`` (every frame decoded, single-threaded, with
error detection), median of ``--repeats``. Also checks the damaged copy (400 bytes zeroed a third in)
is refused. One JSON line per size (``benchmarks/bench_io.py``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from cosmos_bench.data.video import VideoError, probe_video, write_video

try:
    from bench_io import emit
except ImportError:  # run from the repository root
    from benchmarks.bench_io import emit


def clip(frames: int, height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        luma = 127.5 + 90 * np.sin(xx / 9.0 + 0.3 * t) * np.cos(yy / 7.0)
        out[t] = np.clip(luma, 0, 255).astype(np.uint8)[..., None]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=93)
    ap.add_argument("--size", default="432x768")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    h, w = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        path = write_video(Path(tmp) / "v.mp4", clip(args.frames, h, w), fps=16)
        times = {}
        for decode in (False, True):
            runs = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                probe_video(path, decode=decode)
                runs.append(time.perf_counter() - t0)
            times[decode] = statistics.median(runs)
        data = bytearray(path.read_bytes())
        data[len(data) // 3: len(data) // 3 + 400] = bytes(400)
        bad = Path(tmp) / "bad.mp4"
        bad.write_bytes(bytes(data))
        try:
            probe_video(bad)
            refused = False
        except VideoError:
            refused = True
    emit({"bench": "probe", "frames": args.frames, "size": args.size, "bytes": len(data),
          "demux_s": round(times[False], 4), "decode_s": round(times[True], 4), "damaged_refused": refused}, args.out)


if __name__ == "__main__":
    main()
