"""Small inline SVG line charts: per-frame Sampson curves under each video, training loss curves.

Inline SVG rather than PNGs because a report has one curve per video and metric (thousands), and
because the page's script can move a playhead over an SVG as the videos play. The charts of one
comparison row share their y range, so a taller curve under one candidate really is a larger error.
"""

from __future__ import annotations

import math
from html import escape
from typing import Sequence

from .model import Curve

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 34, 6, 6, 16


def value_range(curves: Sequence[Curve]) -> tuple[float, float]:
    """(0, max) over all finite points, so bars of zero error sit on the axis; (0, 1) when empty."""
    ys = [y for c in curves for _, y in c.points if y is not None and math.isfinite(y)]
    top = max(ys, default=0.0)
    return 0.0, top if top > 0 else 1.0


def _segments(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive finite points: a degenerate pair breaks the line instead of being drawn as 0."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None or not math.isfinite(y):
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [r for r in runs if r]


def line_chart(curves: Sequence[Curve], *, x_range: tuple[float, float], y_range: tuple[float, float],
               width: int = 260, height: int = 90, y_label: str = "", css_class: str = "curve") -> str:
    """An SVG line chart; ``data-x0``/``data-x1``/``data-f0``/``data-f1`` map x values to pixels for a playhead."""
    x0, x1 = x_range
    y0, y1 = y_range
    span_x = (x1 - x0) or 1.0
    span_y = (y1 - y0) or 1.0
    left, right = PAD_LEFT, width - PAD_RIGHT
    top, bottom = PAD_TOP, height - PAD_BOTTOM

    def px(x: float) -> float:
        return left + (x - x0) / span_x * (right - left)

    def py(y: float) -> float:
        return bottom - (y - y0) / span_y * (bottom - top)

    parts = [
        f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" data-x0="{left}" data-x1="{right}" data-f0="{x0:g}" data-f1="{x1:g}" role="img">',
        f'<line class="axis" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}"/>',
        f'<text class="tick" x="{left - 3}" y="{top + 8}" text-anchor="end">{y1:.3g}</text>',
        f'<text class="tick" x="{left - 3}" y="{bottom}" text-anchor="end">{y0:.3g}</text>',
        f'<text class="tick" x="{left}" y="{height - 3}">{x0:g}</text>',
        f'<text class="tick" x="{right}" y="{height - 3}" text-anchor="end">{x1:g}</text>',
    ]
    if y_label:
        parts.append(f'<text class="tick" x="{(left + right) / 2:.1f}" y="{height - 3}" text-anchor="middle">{escape(y_label)}</text>')
    for i, curve in enumerate(curves):
        color = PALETTE[i % len(PALETTE)]
        title = f"<title>{escape(curve.label)}</title>"
        for run in _segments(curve.points):
            if len(run) == 1:
                x, y = run[0]
                parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2" fill="{color}">{title}</circle>')
            else:
                pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in run)
                parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{pts}">{title}</polyline>')
        for x, y in curve.points:
            if y is None:  # a degenerate pair: a mark on the axis, not a value
                parts.append(f'<text class="degenerate" x="{px(x):.1f}" y="{bottom - 2}" text-anchor="middle" fill="{color}">×</text>')
    parts.append(f'<line class="playhead" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}"/>')
    parts.append("</svg>")
    return "".join(parts)


def legend(curves: Sequence[Curve]) -> str:
    """Coloured labels matching :func:`line_chart`'s colours."""
    return " ".join(f'<span class="key" style="color:{PALETTE[i % len(PALETTE)]}">━ {escape(c.label)}</span>'
                    for i, c in enumerate(curves))
