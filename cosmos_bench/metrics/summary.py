"""The per-video summary of Sampson results: which ``details`` keys a reader sees, and how.

``sampson_metrics`` returns a :class:`~cosmos_bench.metrics.base.MetricResult` per metric whose
``details`` hold many keys (pair counts, degenerate reasons, static-camera pairs, per-view groups).
Which of them make the short summary, and how they are written, belongs with the metric, not with
one front end: the CLI's table and any notebook read the same :func:`summary_lines`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .base import MetricResult


@dataclass(frozen=True)
class SummaryLine:
    """One line of a video's summary: a metric, or (indented) one view / view pair of it.

    ``value`` is the formatted headline; ``failed`` is the metric's status when it has no value
    (e.g. ``"degenerate"``), so a front end can show it as a failure instead of a number.
    """

    label: str
    value: str
    failed: str | None
    mean_of_means: str
    pairs_ok: str
    degenerate: str
    static_pairs: str
    group: bool = False


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def summary_lines(results: Mapping[str, MetricResult]) -> list[SummaryLine]:
    """The summary of one video's results: a line per metric, then its views (TSE) or view pairs (CSE)
    when there are several."""
    lines: list[SummaryLine] = []
    for name, r in results.items():
        d = r.details
        reasons = ", ".join(f"{k} {v}" for k, v in d.get("degenerate_reasons", {}).items())
        static = d.get("n_static_camera_pairs", 0)  # still-camera pairs only (still scenes are counted apart)
        lines.append(SummaryLine(
            label=name.upper(), value=f"{r.value:.4f}" if r.ok else "", failed=None if r.ok else r.status,
            mean_of_means=_num(d.get("mean_of_means")), pairs_ok=f"{d['n_ok']}/{d['n_pairs']}",
            degenerate=f"{d['n_degenerate']}" + (f" ({reasons})" if reasons else ""), static_pairs=str(static),
        ))
        groups = d.get("views" if name == "tse" else "view_pairs", {})
        if len(groups) > 1:
            for g, summ in groups.items():
                lines.append(SummaryLine(
                    label=g, value=_num(summ.get("value")), failed=None, mean_of_means=_num(summ.get("mean_of_means")),
                    pairs_ok=f"{summ['n_ok']}/{summ['n_pairs']}", degenerate=str(summ["n_degenerate"]),
                    static_pairs="", group=True,
                ))
    return lines


__all__ = ["SummaryLine", "summary_lines"]
