"""Per-frame curves of the Sampson metrics: TSE per view (solid), CSE per view pair (dashed).

One point per frame pair: the headline's statistic on that pair (``pairs[i]["value"]``: its verified
matches' mean error beyond the noise floor, px; older results: the median); degenerate pairs leave gaps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from .base import MetricResult


def per_frame_curves(result: MetricResult) -> dict[str, tuple[list[int], list[float]]]:
    """``{view or "a|b": (frames, per-pair headline values)}`` from a TSE/CSE result (NaN where a pair
    is degenerate).

    TSE pairs are placed at their first frame ``t`` (pair ``t → t + stride``), CSE pairs at ``t``.
    """
    key = "view" if result.name == "tse" else "view_pair"
    curves: dict[str, tuple[list[int], list[float]]] = {}
    for p in result.details.get("pairs", []):
        xs, ys = curves.setdefault(str(p.get(key)), ([], []))
        xs.append(int(p["frame"]))
        stat = "value" if "value" in p else "median"  # "/1" results have only the median
        ok = p.get("status") == "ok" and p.get(stat) is not None
        ys.append(float(p[stat]) if ok else float("nan"))
    return curves


def plot_per_frame(videos: Mapping[str, Mapping[str, MetricResult]], path: str | Path,
                   title: str | None = None) -> Path:
    """One panel per video: per-frame TSE (solid) and CSE (dashed), pixels. Writes a PNG (Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names: Sequence[str] = list(videos)
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.8 * max(1, len(names))), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        results = videos[name]
        for metric, style in (("tse", "-"), ("cse", "--")):
            r = results.get(metric)
            if r is None:
                continue
            for group, (xs, ys) in per_frame_curves(r).items():
                ax.plot(xs, ys, style, lw=1.4, label=f"{metric.upper()} {group}")
        ax.set_title(Path(name).name if title is None else f"{title}: {Path(name).name}", fontsize=10)
        ax.set_xlabel("frame")
        ax.set_ylabel("per-pair headline statistic (px)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    out = Path(path)
    if not out.suffix:
        out = out.with_suffix(".png")  # what matplotlib writes for a bare name: return the file that exists
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
