"""The benchmark's metrics, written down once.

What a metric *is* — which way is better, which stage computes it, which rubric the judge reads, which
headline metric it accompanies, where it sits in a table, and what a missing column means — used to be
spelled out separately by the runner, the leaderboard, the statistics and the CLI help. They all read
this table now, so adding a metric is one entry here plus the stage that computes it.

Ground floor: imports nothing from the package (any layer may read it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Direction = Literal["lower", "higher"]
Stage = Literal["geometry", "judge"]

JUDGE_NOT_RUN = "judge not run: serve Cosmos Reason2 and pass --judge-url (README, Judge)"


@dataclass(frozen=True)
class MetricInfo:
    """One metric of the benchmark."""

    name: str
    direction: Direction  # which way is better
    stage: Stage  # the runner stage that computes it
    description: str  # a few words, for help texts
    rubric: str | None = None  # the judge rubric a judge metric scores with
    companion_of: str | None = None  # a secondary row written beside this headline metric (tse_mean for tse)
    order: int = 0  # display order in tables
    not_run: str | None = None  # why a column with no rows is empty, when there is a usual reason
    min_views: int = 1  # the views a suite needs for the metric to apply
    # The values the metric can take. A mean's interval is cut to it: the true mean lies inside, so
    # cutting changes no coverage, and a skewed 5-pair bootstrap no longer shows a negative pixel error.
    value_range: tuple[float, float] = (-math.inf, math.inf)
    # Whether the gate and the leaderboard's paired tests judge it. ``motion`` describes a video (how much
    # moves) rather than grading it: it is shown and noted, never a pass/fail of its own.
    judged: bool = True

    @property
    def selectable(self) -> bool:
        """Whether ``--metrics`` may name it (companions come with their headline metric)."""
        return self.companion_of is None


PIXELS = (0.0, math.inf)  # Sampson errors are distances
JUDGE_SCALE = (1.0, 5.0)  # the rubrics' 1-5 scores
SECONDARY_SUFFIX = "_mean"  # tse_mean / cse_mean: the mean of per-pair means, beside the headline

METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("tse", "lower", "geometry", "temporal Sampson error", order=0, value_range=PIXELS),
        MetricInfo("cse", "lower", "geometry", "cross-view Sampson error", order=1,
                   not_run="needs a suite with two or more views", min_views=2, value_range=PIXELS),
        MetricInfo("physics", "higher", "judge", "physical plausibility, judge rubric video_physics", rubric="video_physics", order=2,
                   not_run=JUDGE_NOT_RUN, value_range=JUDGE_SCALE),
        MetricInfo("if", "higher", "judge", "instruction following, judge rubric video_IF", rubric="video_IF",
                   order=3, not_run=JUDGE_NOT_RUN, value_range=JUDGE_SCALE),
        MetricInfo("tse" + SECONDARY_SUFFIX, "lower", "geometry", "mean of per-pair means of tse",
                   companion_of="tse", order=4, value_range=PIXELS),
        MetricInfo("cse" + SECONDARY_SUFFIX, "lower", "geometry", "mean of per-pair means of cse",
                   companion_of="cse", order=5, not_run="needs a suite with two or more views", min_views=2,
                   value_range=PIXELS),
        # How much the matched content moves: a still or frozen video is trivially consistent, so tse/cse
        # are read beside it (VBench's "dynamic degree" plays this part beside its consistency scores).
        MetricInfo("motion", "higher", "geometry", "motion of the matched content, px per frame (beside tse)",
                   companion_of="tse", order=6, value_range=PIXELS, judged=False),
    )
}


def metric(name: str) -> MetricInfo:
    """The catalogue entry of ``name``; one clear line if there is none."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; the catalogue has {sorted(METRICS)}") from None


def selectable_metrics() -> tuple[str, ...]:
    """The metrics a run may ask for, in display order."""
    return tuple(m.name for m in sorted(METRICS.values(), key=lambda m: m.order) if m.selectable)


def metrics_of_stage(stage: Stage) -> tuple[str, ...]:
    """The selectable metrics one stage computes, in display order."""
    return tuple(n for n in selectable_metrics() if METRICS[n].stage == stage)


def companion(name: str) -> str | None:
    """The secondary metric written beside headline ``name`` (``tse`` → ``tse_mean``), if any."""
    return next((m.name for m in METRICS.values() if m.companion_of == name), None)


def judged(name: str) -> bool:
    """Whether paired tests (gate, leaderboard comparisons) judge ``name``; metrics outside the catalogue are."""
    info = METRICS.get(name)
    return info is None or info.judged


def companions(name: str) -> tuple[str, ...]:
    """Every metric written beside headline ``name`` (``tse`` → ``tse_mean``, ``motion``)."""
    return tuple(m.name for m in sorted(METRICS.values(), key=lambda m: m.order) if m.companion_of == name)


def display_order() -> tuple[str, ...]:
    """Every catalogued metric, in the order tables show them."""
    return tuple(m.name for m in sorted(METRICS.values(), key=lambda m: m.order))


def standard_directions() -> dict[str, Direction]:
    """Headline metrics and their directions: the columns a leaderboard always shows."""
    return {n: METRICS[n].direction for n in selectable_metrics()}


def not_run_hints() -> dict[str, str]:
    """Why a metric's column may be empty, for the metrics that have a usual reason."""
    return {m.name: m.not_run for m in METRICS.values() if m.not_run and m.selectable}


def metrics_help() -> str:
    """The ``--metrics`` help text, from the catalogue."""
    return "Comma-separated: " + ", ".join(f"{n} ({METRICS[n].description})" for n in selectable_metrics()) + "."
