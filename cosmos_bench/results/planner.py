"""Plan a comparison from pilot data: how many test pairs and seeds a fixed and a sequential design need.

Why variance components: a per-pair difference (candidate − base, mean over S seeds) has variance
``tau2 + sigma2_within / S``, where ``sigma2_within`` is the seed-to-seed variance of one pair's
difference and ``tau2`` the prompt × model interaction (some prompts suit the adapter, some do not).
Extra seeds only shrink the second term; extra prompts shrink both. So when ``tau2`` is not
negligible, more prompts beat more seeds for the same number of videos, and the plan says by how
much. The pilot gives both terms (a one-way random-effects ANOVA over pairs), plus the base's own
between-pair spread and the base–candidate correlation that makes pairing pay.

The fixed design uses a normal approximation to the paired t-test on per-pair means; the
sequential design is simulated with the very confidence sequence the monitor uses (``confseq.py``)
on normal per-pair differences with the estimated variance, clipped at the rule's bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .confseq import betting_confidence_path
from .sequential import VERDICT_CODES, MetricRule, first_decisions
from .store import ResultRow


@dataclass(frozen=True)
class PilotVariance:
    """Variance components of one metric's per-pair difference, in the rule's unit."""

    metric: str
    candidate: str
    n_pairs: int
    seeds: int
    base_mean: float
    mean_difference: float
    within: float  # seed-to-seed variance of one pair's difference
    interaction: float  # prompt x model variance of the per-pair difference
    base_between: float  # variance of base's per-pair means
    correlation: float  # base vs candidate per-pair means

    def pair_variance(self, seeds: int) -> float:
        return self.interaction + self.within / seeds


def pilot_variance(rows: list[ResultRow], *, candidate: str, baseline: str, rule: MetricRule) -> PilotVariance:
    """Estimate the components from rows of ``candidate`` and ``baseline`` scored on the same pairs and seeds."""
    values: dict[str, dict[str, dict[int, float]]] = {}
    for r in rows:
        if r.metric == rule.metric and r.model in (candidate, baseline) and r.status == "ok":
            values.setdefault(r.sample, {}).setdefault(r.model, {})[r.seed] = float(r.value)
    per_pair = []  # (per-seed differences, base seed-mean, candidate seed-mean)
    for sample in sorted(values):
        cand, base = values[sample].get(candidate, {}), values[sample].get(baseline, {})
        seeds = sorted(set(cand) & set(base))
        if not seeds:
            continue
        b = np.array([base[s] for s in seeds])
        c = np.array([cand[s] for s in seeds])
        scale = float(b.mean()) if rule.relative else 1.0
        if scale <= 0:
            continue
        per_pair.append(((c - b) / scale, float(b.mean()), float(c.mean())))
    if len(per_pair) < 3:
        raise ValueError(f"pilot: {rule.metric} has {len(per_pair)} test pairs that both {candidate!r} and "
                         f"{baseline!r} scored; need at least 3")
    seeds = int(np.median([len(d) for d, _, _ in per_pair]))
    means = np.array([d.mean() for d, _, _ in per_pair])
    within_terms = [d.var(ddof=1) for d, _, _ in per_pair if len(d) > 1]
    within = float(np.mean(within_terms)) if within_terms else 0.0
    # one-way ANOVA: var(pair means) = interaction + within / seeds (floored at 0)
    interaction = max(0.0, float(means.var(ddof=1)) - within / seeds)
    base_means = np.array([b for _, b, _ in per_pair])
    cand_means = np.array([c for _, _, c in per_pair])
    corr = float(np.corrcoef(base_means, cand_means)[0, 1]) if base_means.std() > 0 and cand_means.std() > 0 else math.nan
    return PilotVariance(rule.metric, candidate, len(per_pair), seeds, float(base_means.mean()), float(means.mean()),
                         within, interaction, float(base_means.var(ddof=1)), corr)


@dataclass(frozen=True)
class DesignPlan:
    """Pairs and videos one design needs with ``seeds`` seeds per pair (candidate videos only)."""

    seeds: int
    fixed_pairs: int
    fixed_power_at_pool: float
    sequential_median_videos: float
    sequential_p90_videos: float
    sequential_power: float

    @property
    def fixed_videos(self) -> int:
        return self.fixed_pairs * self.seeds


def fixed_pairs_needed(effect: float, pair_variance: float, *, alpha: float, power: float) -> int:
    """Smallest n with normal-approximation power >= ``power`` for a two-sided level-``alpha`` paired test."""
    if pair_variance <= 0:
        return 2
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return max(2, math.ceil(z * z * pair_variance / (effect * effect)))


def fixed_power(effect: float, pair_variance: float, n_pairs: int, *, alpha: float) -> float:
    if pair_variance <= 0:
        return 1.0
    se = math.sqrt(pair_variance / n_pairs)
    return float(stats.norm.sf(stats.norm.ppf(1 - alpha / 2) - abs(effect) / se))


def simulate_sequential(effect: float, pair_variance: float, rule: MetricRule, *, pool: int, alpha: float,
                        runs: int = 400, seed: int = 0, direction: str = "higher") -> tuple[np.ndarray, np.ndarray]:
    """Pairs used and whether `better` was reached, for ``runs`` simulated sequential runs over ``pool`` pairs."""
    rng = np.random.default_rng(seed)
    diffs = np.clip(effect + math.sqrt(max(pair_variance, 1e-12)) * rng.standard_normal((runs, pool)),
                    -rule.bound, rule.bound)
    # an i.i.d. sample is a uniformly random order of itself: the suite (without-replacement) form applies
    path = betting_confidence_path(diffs, low=-rule.bound, high=rule.bound, alpha=alpha, pool_size=pool,
                                   anchors=(rule.margin, -rule.margin), grid_points=401)
    used, codes = first_decisions(path.low, path.high, rule.margin, direction)
    return used, codes == VERDICT_CODES.index("better")


def plan(pilot: PilotVariance, rule: MetricRule, *, effect: float, alpha: float = 0.05, power: float = 0.9,
         pool: int = 50, seed_options: tuple[int, ...] = (1, 2, 3, 5), runs: int = 400, seed: int = 0) -> list[DesignPlan]:
    """A plan per seeds-per-pair option; ``effect`` in the rule's unit, signed as an improvement."""
    direction = "higher"  # simulate in improvement units: the verdict logic is symmetric in sign
    plans = []
    for seeds in seed_options:
        variance = pilot.pair_variance(seeds)
        used, better = simulate_sequential(abs(effect), variance, rule, pool=pool, alpha=alpha, runs=runs,
                                           seed=seed, direction=direction)
        plans.append(DesignPlan(
            seeds=seeds,
            fixed_pairs=fixed_pairs_needed(effect, variance, alpha=alpha, power=power),
            fixed_power_at_pool=fixed_power(effect, variance, pool, alpha=alpha),
            sequential_median_videos=float(np.median(used)) * seeds,
            sequential_p90_videos=float(np.quantile(used, 0.9)) * seeds,
            sequential_power=float(better.mean()),
        ))
    return plans
