"""Does a video fed in windows read the same as the whole video, on this device?

    python benchmarks/metrics_windows_check.py --frames-dir F [--windows 31,10] [--device cuda]

Frames as ``metrics_bench.py --save-frames`` writes them. Prints one JSON line per window size:
``[whole value, windowed value, equal]`` for each metric and the windowed run's stage timings; then
whether detection on 10-frame batches gives bit-identical features.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames-dir", type=Path, required=True)
    ap.add_argument("--frames", type=int, default=93)
    ap.add_argument("--windows", default="31,10")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    import torch

    from cosmos_bench.metrics import matching, sampson_metrics
    from cosmos_bench.metrics.geometry import _concat_features
    from metrics_bench import load_frames

    views = load_frames(args.frames_dir, args.frames)
    whole = sampson_metrics(views, backend="kornia", device=args.device)

    def windows(n: int):
        T = len(next(iter(views.values())))
        for s in range(0, T, n):
            yield {k: v[s : s + n] for k, v in views.items()}

    for n in (int(w) for w in args.windows.split(",")):
        part = sampson_metrics(windows(n), backend="kornia", device=args.device)
        print(json.dumps({"window": n, **{k: [whole[k].value, part[k].value, whole[k].value == part[k].value] for k in whole},
                          "timings_windowed": part["tse"].details["timings"]}), flush=True)
    v = next(iter(views.values()))
    a = matching.detect(v, backend="kornia", device=args.device)
    b = _concat_features([matching.detect(v[s : s + 10], backend="kornia", device=args.device) for s in range(0, len(v), 10)])
    K = a.keypoints.shape[1]
    print(f"detect batch-invariant on {args.device}:", torch.equal(a.keypoints, b.keypoints[:, :K]),
          torch.equal(a.descriptors, b.descriptors[:, :K]))


if __name__ == "__main__":
    main()
