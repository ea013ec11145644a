"""Plan a comparison from pilot data: how many test pairs and seeds a fixed and a sequential design need.

Why variance components: a per-pair difference (candidate − base, mean over S seeds) has variance
``tau2 + sigma2_within / S``, where ``sigma2_within`` is the seed-to-seed variance of one pair's
difference and ``tau2`` the prompt × model interaction (some prompts suit the adapter, some do not).
Extra seeds only shrink the second term; extra prompts shrink both. So when ``tau2`` is not
negligible, more prompts beat more seeds for the same number of videos, and the plan says by how
much. The pilot gives both terms (a one-way random-effects ANOVA over pairs), plus the base's own
between-pair spread and the base–candidate correlation that makes pairing pay.

The fixed design uses the paired t-test on per-pair means (a shifted-t power approximation); the
sequential design is simulated with the very rule the monitor uses (repeated confidence intervals,
``confseq.py``) on normal per-pair differences with the estimated variance, both at the run's alpha
split over its K candidates × M gated metrics (what each comparison of the run gets).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .confseq import RCI_MIN_PAIRS, repeated_confidence_path
from .sequential import VERDICT_CODES, MetricRule, first_decisions
from .simulation import Components
from .store import ResultRow
from ..errors import InputError


@dataclass(frozen=True)
class PilotVariance:
    """Variance components of one metric's per-pair difference, in the rule's unit (log for relative rules)."""

    metric: str
    candidate: str
    n_pairs: int
    seeds: int
    base_mean: float
    mean_difference: float
    within: float  # seed-to-seed variance of one pair's difference
    interaction: float  # prompt x model variance of the per-pair difference
    base_between: float  # variance of base's per-pair means
    base_within: float  # seed-to-seed variance of base's values within a pair
    correlation: float  # base vs candidate per-pair means

    def components(self, tail_df: float | None = None) -> Components:
        """The simulation's standard deviations that reproduce these variances (each model's own
        seed noise and interaction are half of the difference's)."""
        own = math.sqrt(self.within / 2)
        return Components(between=math.sqrt(max(self.base_between - self.base_within / self.seeds, 0.0)),
                          interaction=math.sqrt(self.interaction / 2),
                          seed_shared=math.sqrt(max(self.base_within - own * own, 0.0)), seed_own=own, tail_df=tail_df)

    def pair_variance(self, seeds: int) -> float:
        return self.interaction + self.within / seeds


def pilot_variance(rows: list[ResultRow], *, candidate: str, baseline: str, rule: MetricRule) -> PilotVariance:
    """Estimate the components from rows of ``candidate`` and ``baseline`` scored on the same pairs and seeds."""
    values: dict[str, dict[str, dict[int, float]]] = {}
    for r in rows:
        if r.metric == rule.metric and r.model in (candidate, baseline) and r.status == "ok":
            values.setdefault(r.sample, {}).setdefault(r.model, {})[r.seed] = float(r.value)
    per_pair = []  # (per-seed differences, base per-seed values), both in the rule's unit
    for sample in sorted(values):
        cand, base = values[sample].get(candidate, {}), values[sample].get(baseline, {})
        seeds = sorted(set(cand) & set(base))
        b = np.array([base[s] for s in seeds])
        c = np.array([cand[s] for s in seeds])
        if not seeds or (rule.relative and (b.min() <= 0 or c.min() <= 0)):
            continue
        if rule.relative:  # per-seed log ratios: the seed mean of logs approximates the log of seed means
            b, c = np.log(b), np.log(c)
        per_pair.append((c - b, b))
    if len(per_pair) < 3:
        raise InputError(f"pilot: {rule.metric} has {len(per_pair)} test pairs that both {candidate!r} and "
                         f"{baseline!r} scored; need at least 3")
    seeds = int(np.median([len(d) for d, _ in per_pair]))
    means = np.array([d.mean() for d, _ in per_pair])
    within = _mean_within_variance([d for d, _ in per_pair])
    # one-way ANOVA: var(pair means) = interaction + within / seeds (floored at 0)
    interaction = max(0.0, float(means.var(ddof=1)) - within / seeds)
    base_means = np.array([b.mean() for _, b in per_pair])
    cand_means = base_means + means
    corr = float(np.corrcoef(base_means, cand_means)[0, 1]) if base_means.std() > 0 and cand_means.std() > 0 else math.nan
    return PilotVariance(rule.metric, candidate, len(per_pair), seeds, float(base_means.mean()), float(means.mean()),
                         within, interaction, float(base_means.var(ddof=1)), _mean_within_variance([b for _, b in per_pair]),
                         corr)


def _mean_within_variance(groups: list[np.ndarray]) -> float:
    terms = [g.var(ddof=1) for g in groups if len(g) > 1]
    return float(np.mean(terms)) if terms else 0.0


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


def fixed_pairs_needed(effect: float, pair_variance: float, *, alpha: float, power: float, most: int = 100_000) -> int:
    """Smallest n (>= 3) whose paired t-test (two-sided, level ``alpha``) has power >= ``power``.

    t quantiles with n − 1 degrees of freedom, so a tiny pilot variance does not promise 2 pairs.
    """
    for n in range(3, most):
        if fixed_power(effect, pair_variance, n, alpha=alpha) >= power:
            return n
    return most


def fixed_power(effect: float, pair_variance: float, n_pairs: int, *, alpha: float) -> float:
    """Power of the paired t-test on ``n_pairs`` per-pair means (shifted-t approximation)."""
    if pair_variance <= 0:
        return 1.0
    se = math.sqrt(pair_variance / n_pairs)
    df = max(n_pairs - 1, 1)
    return float(stats.t.sf(stats.t.ppf(1 - alpha / 2, df) - abs(effect) / se, df))


def simulate_sequential(effect: float, pair_variance: float, rule: MetricRule, *, pool: int, alpha: float,
                        runs: int = 400, seed: int = 0, direction: str = "higher") -> tuple[np.ndarray, np.ndarray]:
    """Pairs used and whether `better` was reached, for ``runs`` simulated sequential runs over ``pool`` pairs.

    The very rule a sequential run uses (``SequentialMonitor``): repeated confidence intervals over a
    suite of ``pool`` pairs at ``alpha`` (pass the run's per-comparison alpha), on normal per-pair
    differences with the pilot's variance.
    """
    rng = np.random.default_rng(seed)
    diffs = effect + math.sqrt(max(pair_variance, 1e-12)) * rng.standard_normal((runs, pool))
    path = repeated_confidence_path(diffs, alpha=alpha, horizon=pool, min_pairs=max(2, min(RCI_MIN_PAIRS, pool)))
    used, codes = first_decisions(path.low, path.high, rule.margin, direction)
    return used, codes == VERDICT_CODES.index("better")


def plan(pilot: PilotVariance, rule: MetricRule, *, effect: float, alpha: float = 0.05, power: float = 0.9,
         pool: int = 50, seed_options: tuple[int, ...] = (1, 2, 3, 5), runs: int = 400, seed: int = 0) -> list[DesignPlan]:
    """A plan per seeds-per-pair option; ``effect`` in the rule's unit, signed as an improvement; ``alpha`` is
    one comparison's (the run's alpha over its candidates × gated metrics, as ``plan_from_rows`` passes it)."""
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


def effect_in_rule_units(effect: str, rule: MetricRule, pilot: PilotVariance, direction: str) -> float:
    """``'10%'`` or ``'0.3'`` → the improvement in the rule's unit (log ratio for relative rules)."""
    text = effect.strip()
    percent = text.endswith("%")
    try:
        value = float(text[:-1] if percent else text)
    except ValueError:
        raise InputError(f"{effect!r} is not a number or a percentage (e.g. 10%)", option="effect") from None
    if not math.isfinite(value) or value <= 0 or (percent and value >= 100):
        raise InputError(f"{effect!r} must be positive (and below 100%)", option="effect")
    if rule.relative:
        fraction = value / 100 if percent else value
        return abs(math.log1p(fraction if direction == "higher" else -fraction))
    return value / 100 * pilot.base_mean if percent else value


def plan_from_rows(rows: list[ResultRow], rules: dict[str, MetricRule], *, effect: str, baseline: str = "base",
                   candidates: list[str] | None = None, alpha: float = 0.05, power: float = 0.9, pool: int = 50,
                   seed_options: tuple[int, ...] = (1, 2, 3, 5), runs: int = 400, run_candidates: int | None = None
                   ) -> list[tuple[PilotVariance, float, list[DesignPlan]]]:
    """One (pilot variance, effect in rule units, plans) per candidate and gated metric found in the pilot.

    ``alpha`` is the run's overall level: like ``SequentialMonitor``, each comparison gets alpha / (K · M)
    for K candidates (``run_candidates``, default the pilot's chosen ones) × M gated metrics (``rules``).
    """
    models = sorted({r.model for r in rows})
    if baseline not in models:
        raise InputError(f"pilot: no rows of the baseline {baseline!r} (models: {', '.join(models) or 'none'})")
    chosen = candidates or [m for m in models if m != baseline]
    if not chosen:
        raise InputError(f"pilot: only {baseline!r} was scored; a pilot needs a candidate too "
                         "(its differences give the prompt x model variance)")
    directions = {r.metric: r.direction for r in rows}
    alpha_each = alpha / ((run_candidates or len(chosen)) * len(rules))
    out = []
    for candidate in chosen:
        for metric, rule in rules.items():
            if metric not in directions:
                continue
            pilot = pilot_variance(rows, candidate=candidate, baseline=baseline, rule=rule)
            size = effect_in_rule_units(effect, rule, pilot, directions[metric])
            out.append((pilot, size, plan(pilot, rule, effect=size, alpha=alpha_each, power=power, pool=pool,
                                          seed_options=seed_options, runs=runs)))
    if not out:
        raise InputError(f"pilot: none of the gated metrics ({', '.join(rules)}) has rows")
    return out
