"""Forest plots: per metric, every candidate's difference to the baseline with its interval and the gate's margin.

Why this picture first: a reviewer asks "is the adapter better than base, by how much, and is that
more than noise?"; a bar per model answers none of it, a point with its interval beside zero and the
margin answers all three. The numbers are the leaderboard's own paired comparisons (never
recomputed here); a mark is bold where the board marks the difference (Holm-adjusted sign-flip
test), as the markdown's bold cells. The margin drawn is the one ``cosmos-bench check`` uses by
default: a fraction (``--max-regression``, 5%) of the baseline's mean, on the side that is worse.

Each mark carries its numbers as ``data-*`` attributes and the axis its value-to-pixel mapping, so a
browser test can check that what is drawn is what the CSV says.
"""

from __future__ import annotations

import math
from html import escape

DEFAULT_MAX_REGRESSION = 0.05  # `cosmos-bench check --max-regression` default
LEFT, RIGHT, TOP, ROW, BOTTOM = 110, 16, 22, 24, 30


def _finite(*xs: float | None) -> bool:
    return all(x is not None and math.isfinite(x) for x in xs)


def gate_margin(board, metric: str, max_regression: float = DEFAULT_MAX_REGRESSION) -> float | None:
    """The default gate margin in the metric's unit: ``max_regression`` × |baseline mean| (None without a baseline mean)."""
    base = board.summaries.get((board.baseline, metric)) if board.baseline else None
    return max_regression * abs(base.mean) if base is not None and _finite(base.mean) else None


def forest_plot(board, metric: str, *, width: int = 460, max_regression: float = DEFAULT_MAX_REGRESSION) -> str:
    """An SVG of candidate − baseline on ``metric`` for every candidate with a paired comparison ('' if none)."""
    comps = [board.comparisons[(m, metric)] for m in board.models if (m, metric) in board.comparisons]
    comps = [c for c in comps if c.n_pairs > 0 and _finite(c.diff)]
    if not comps:
        return ""
    margin = gate_margin(board, metric, max_regression)
    worse_sign = 1.0 if board.directions[metric] == "lower" else -1.0
    values = [0.0] + [c.diff for c in comps] + [x for c in comps if c.has_interval for x in (c.ci_low, c.ci_high)]
    if margin is not None:
        values.append(worse_sign * margin)
    v0, v1 = float(min(values)), float(max(values))  # plain floats: repr() below must read back as a number
    pad = (v1 - v0) * 0.06 or 1.0
    v0, v1 = v0 - pad, v1 + pad
    x0, x1 = LEFT, width - RIGHT
    height = TOP + ROW * len(comps) + BOTTOM

    def px(v: float) -> float:
        return x0 + (v - v0) / (v1 - v0) * (x1 - x0)

    better = "← better" if worse_sign > 0 else "better →"
    parts = [
        (f'<svg class="forest" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
         f'role="img" data-metric="{escape(metric)}" data-x0="{x0}" data-x1="{x1}" data-v0="{v0!r}" data-v1="{v1!r}">'),
        f"<title>{escape(metric)}: candidate − {escape(str(board.baseline))} with its interval</title>",
        f'<text class="tick" x="{x0}" y="{height - 4}">{v0:+.3g}</text>',
        f'<text class="tick" x="{x1}" y="{height - 4}" text-anchor="end">{v1:+.3g}</text>',
        f'<text class="tick" x="{(x0 + x1) / 2:.1f}" y="{height - 4}" text-anchor="middle">{better}</text>',
        f'<line class="axis" x1="{x0}" y1="{height - BOTTOM + 6}" x2="{x1}" y2="{height - BOTTOM + 6}"/>',
        f'<line class="zero" x1="{px(0.0):.2f}" y1="{TOP - 6}" x2="{px(0.0):.2f}" y2="{height - BOTTOM + 6}"/>',
        f'<text class="tick" x="{px(0.0):.2f}" y="{height - BOTTOM + 17}" text-anchor="middle">0</text>',
    ]
    if margin is not None:
        m = px(worse_sign * margin)
        parts.append(f'<line class="margin" data-margin="{float(worse_sign * margin)!r}" x1="{m:.2f}" y1="{TOP - 6}" x2="{m:.2f}" '
                     f'y2="{height - BOTTOM + 6}"><title>gate margin: {max_regression:.0%} of {escape(str(board.baseline))}\'s mean '
                     f'({worse_sign * margin:+.3g})</title></line>')
        parts.append(f'<text class="tick margin-label" x="{m:.2f}" y="{TOP - 9}" text-anchor="middle">margin</text>')
    for i, c in enumerate(comps):
        y = TOP + ROW * i + ROW / 2
        bold = c.significant
        cls = "mark bold" if bold else "mark"
        attrs = (f'data-model="{escape(c.model)}" data-diff="{float(c.diff)!r}" data-low="{float(c.ci_low)!r}" '
                 f'data-high="{float(c.ci_high)!r}" '
                 f'data-bold="{str(bold).lower()}" data-verdict="{escape(c.verdict)}"')
        ci = f"[{c.ci_low:+.3g}, {c.ci_high:+.3g}]" if c.has_interval else "n too small"
        parts.append(f'<g class="{cls}" {attrs}><title>{escape(c.model)}: {c.diff:+.4g} {ci} {escape(c.method)}, '
                     f'{escape(c.verdict)} ({c.n_test_pairs} test pairs)</title>')
        parts.append(f'<text class="name" x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(c.model)}</text>')
        if c.has_interval:
            parts.append(f'<line class="ci" x1="{px(c.ci_low):.2f}" y1="{y:.1f}" x2="{px(c.ci_high):.2f}" y2="{y:.1f}"/>')
        parts.append(f'<circle class="point" cx="{px(c.diff):.2f}" cy="{y:.1f}" r="{4 if bold else 3}"/>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
