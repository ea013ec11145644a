"""The statistics behind leaderboards and the gate: intervals over test pairs, one-sided tests, Holm, power.

The unit of replication is the *test pair* (one prompt and first frame): the seeds of a pair share
their inputs, so their scores are correlated. Every procedure here first reduces a pair's rows to
their mean (``pair_means``) and then treats the pair means as independent observations; a pair's
seeds only make its mean less noisy.

Which interval (``choose_method``, the rule the README documents):

* fewer than 2 test pairs: no interval at all (``method == "none"``); callers must refuse to decide;
* 2 to ``BOOTSTRAP_MIN_PAIRS - 1`` pairs: Student's t interval on the pair means. The percentile
  bootstrap under-covers badly there (80-89% for a nominal 95% at 5-10 pairs, measured in
  ``benchmarks/stats_bench.py``), the t interval keeps its level and has no Monte Carlo error;
* ``BOOTSTRAP_MIN_PAIRS`` or more pairs: the BCa bootstrap over test pairs (``scipy.stats.bootstrap``),
  which follows skewed scores (Sampson errors are lognormal-like) without a normality assumption.

Bootstrap p-values carry Monte Carlo error; ``bootstrap_p_greater`` adds resamples until the p-value
is clearly on one side of every decision threshold it is compared with, and returns its standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from scipy import stats

IntervalMethod = Literal["auto", "t", "bootstrap"]
INTERVAL_METHODS = ("auto", "t", "bootstrap")
BOOTSTRAP_MIN_PAIRS = 30
MAX_BOOT_GROWTH = 64  # a borderline bootstrap p-value may use up to 64x the requested resamples


@dataclass(frozen=True)
class Interval:
    """A mean over test pairs with its two-sided interval; ``method`` says how the interval was made."""

    estimate: float
    low: float
    high: float
    method: str  # "t", "bootstrap" or "none" (fewer than two test pairs)
    n_pairs: int
    sd: float  # standard deviation of the pair means (nan below 2 pairs)

    @property
    def defined(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)


def pair_means(values: Sequence[float], clusters: Sequence[str]) -> np.ndarray:
    """Mean of each cluster's values, in sorted cluster order (deterministic whatever the row order)."""
    vals = np.asarray(values, dtype=np.float64)
    if vals.size == 0:
        return vals
    names, ids = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    sums = np.bincount(ids, weights=vals, minlength=len(names))
    counts = np.bincount(ids, minlength=len(names))
    return sums / counts


def choose_method(method: str, n_pairs: int) -> str:
    """The interval used for ``n_pairs`` test pairs under ``method`` (see the module docstring)."""
    if method not in INTERVAL_METHODS:
        raise ValueError(f"interval method must be one of {INTERVAL_METHODS}, got {method!r}")
    if n_pairs < 2:
        return "none"
    if method == "auto":
        return "bootstrap" if n_pairs >= BOOTSTRAP_MIN_PAIRS else "t"
    return method


def _constant(x: np.ndarray) -> bool:
    return bool(np.ptp(x) <= 1e-12 * max(1.0, float(np.abs(x).max())))


def _bootstrap(x: np.ndarray, confidence: float, n_boot: int, seed: int):
    return stats.bootstrap((x,), np.mean, n_resamples=n_boot, confidence_level=confidence, method="BCa",
                           vectorized=True, rng=np.random.default_rng(seed))


def interval(x: np.ndarray, *, confidence: float = 0.95, method: str = "auto", n_boot: int = 2000,
             seed: int = 0) -> Interval:
    """Two-sided ``confidence`` interval for the mean of the pair means ``x``."""
    x = np.asarray(x, dtype=np.float64)
    n = int(x.size)
    chosen = choose_method(method, n)
    estimate = float(x.mean()) if n else math.nan
    if chosen == "none":
        return Interval(estimate, math.nan, math.nan, "none", n, math.nan)
    sd = float(x.std(ddof=1))
    if _constant(x):
        return Interval(estimate, estimate, estimate, chosen, n, 0.0)
    if chosen == "t":
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
        return Interval(estimate, estimate - half, estimate + half, "t", n, sd)
    ci = _bootstrap(x, confidence, n_boot, seed).confidence_interval
    return Interval(estimate, float(ci.low), float(ci.high), "bootstrap", n, sd)


def mean_interval(values: Sequence[float], clusters: Sequence[str], **kwargs) -> Interval:
    """Interval for the mean over test pairs of per-row ``values`` grouped by ``clusters``."""
    return interval(pair_means(values, clusters), **kwargs)


def bootstrap_p_greater(x: np.ndarray, threshold: float, *, n_boot: int, seed: int,
                        thresholds: Sequence[float] = ()) -> tuple[float, float, int]:
    """One-sided bootstrap p-value of H0 "mean <= threshold" with its Monte Carlo standard error.

    The p-value is the share of resampled means at or below ``threshold`` (the percentile-bootstrap
    dual of "the interval's lower bound lies above the threshold"). While it lies within three
    standard errors of a decision level in ``thresholds``, the resamples are quadrupled (up to
    ``MAX_BOOT_GROWTH`` times ``n_boot``), so another resampling seed would not flip the decision.
    Returns (p, standard error, resamples used).
    """
    rng = np.random.default_rng(seed)
    n = x.size
    draws = 0
    below = 0
    target = n_boot
    while True:
        while draws < target:
            batch = min(target - draws, 20000)
            means = x[rng.integers(0, n, size=(batch, n))].mean(axis=1)
            below += int(np.count_nonzero(means <= threshold))
            draws += batch
        p = (below + 1) / (draws + 1)
        se = math.sqrt(p * (1 - p) / draws)
        close = any(abs(p - level) < 3 * se for level in thresholds)
        if not close or draws >= n_boot * MAX_BOOT_GROWTH:
            return p, se, draws
        target = draws * 4


def t_p_greater(x: np.ndarray, threshold: float) -> float:
    """One-sided t-test p-value of H0 "mean <= threshold" on the pair means ``x``."""
    if _constant(x):
        return 0.0 if float(x.mean()) > threshold else 1.0
    return float(stats.ttest_1samp(x, threshold, alternative="greater").pvalue)


def wilcoxon_p_greater(x: np.ndarray, threshold: float) -> float:
    """One-sided Wilcoxon signed-rank p-value of H0 "centre <= threshold" on the pair means ``x``."""
    shifted = x - threshold
    if np.allclose(shifted, 0):
        return 1.0
    return float(stats.wilcoxon(shifted, alternative="greater", zero_method="zsplit").pvalue)


def two_sided_p(x: np.ndarray, method: str, *, n_boot: int, seed: int) -> float:
    """Two-sided p-value of "mean = 0" matching the interval ``method`` ("t" or "bootstrap")."""
    if x.size < 2:
        return math.nan
    if _constant(x):
        return 1.0 if abs(float(x.mean())) <= 1e-12 else 0.0
    if method == "bootstrap":
        boot = _bootstrap(x, 0.95, n_boot, seed).bootstrap_distribution
        share = min(np.mean(boot <= 0), np.mean(boot >= 0))
        return float(min(1.0, 2 * (share * n_boot + 1) / (n_boot + 1)))
    return float(stats.ttest_1samp(x, 0.0).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error control); NaN entries stay NaN, uncounted."""
    idx = [i for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    m = len(idx)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def failures_p_greater(only_candidate: int, only_baseline: int) -> float:
    """Exact one-sided McNemar test on paired discordant counts: does the candidate fail more often?

    Under "same failure rate" each discordant pair (one side failed, the other did not) is the
    candidate's with probability 1/2, so the candidate's share is Binomial(discordant, 1/2).
    """
    discordant = only_candidate + only_baseline
    if only_candidate == 0:
        return 1.0
    return float(stats.binomtest(only_candidate, discordant, 0.5, alternative="greater").pvalue)


def minimum_detectable_effect(sd: float, n_pairs: int, margin: float, level: float, power: float = 0.8) -> float:
    """Smallest true worsening the one-sided t-test at ``level`` detects with probability ``power``.

    The test rejects "worsening <= margin" when t = (mean - margin) / (sd / sqrt(n)) exceeds the
    t quantile; its power at a true worsening ``delta`` is a noncentral t tail with noncentrality
    (delta - margin) sqrt(n) / sd. Solved for ``power`` by root finding.
    """
    if n_pairs < 2 or not math.isfinite(sd):
        return math.nan
    if sd == 0:
        return margin
    df = n_pairs - 1
    crit = stats.t.ppf(1 - level, df)
    scale = sd / math.sqrt(n_pairs)

    def shortfall(nc: float) -> float:
        return float(stats.nct.sf(crit, df, nc)) - power

    nc = _bisect(shortfall, 0.0, crit + 10.0 + 2 * stats.norm.ppf(power))
    return margin + nc * scale


def _bisect(f, low: float, high: float) -> float:
    from scipy.optimize import brentq

    while f(high) < 0:
        high *= 2
    return float(brentq(f, low, high, xtol=1e-10))
