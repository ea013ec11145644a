"""Geometric consistency metrics: temporal (TSE) and cross-view (CSE) Sampson error.

    from cosmos_bench.metrics import temporal_sampson, cross_view_sampson, sampson_metrics
    tse = temporal_sampson(frames)                       # (T, H, W, 3) uint8, or {view: frames}
    cse = cross_view_sampson({"left": l, "right": r})    # one F per view pair (rigid rig)
    both = sampson_metrics(views, backend="kornia")      # one detection pass for both

Each returns a :class:`MetricResult` (``value`` in pixels, lower is better; ``status``; ``details``).
"""

from .base import MetricResult, json_safe
from .geometry import (
    CROSS_VIEW_MODES,
    SampsonOptions,
    cross_view_sampson,
    sampson_metrics,
    temporal_sampson,
)

__all__ = [
    "CROSS_VIEW_MODES",
    "MetricResult",
    "SampsonOptions",
    "cross_view_sampson",
    "json_safe",
    "sampson_metrics",
    "temporal_sampson",
]
