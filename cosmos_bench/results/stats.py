"""The statistics behind leaderboards and the gate: intervals over test pairs, one-sided tests, Holm, power.

The unit of replication is the *test pair* (one prompt and first frame): the seeds of a pair share
their inputs, so their scores are correlated. Every procedure here first reduces a pair's rows to
their mean (``pair_means``) and then treats the pair means as independent observations; a pair's
seeds only make its mean less noisy.

Which interval (``choose_method``, the rule the README documents), measured in
``benchmarks/stats_bench.py`` (coverage of a nominal 95% interval for Sampson-like and judge-like
scores at 50×5, 10×2 and 5×2 test pairs × seeds):

* fewer than 2 test pairs: no interval at all (``method == "none"``); callers must refuse to decide;
* a paired difference (candidate − baseline, the paired table and the gate): Student's t interval
  on the per-pair mean differences. Pairing removes the prompt effect that carries most of the skew,
  the differences are close to symmetric, and the t covers 94-96% at every size; the studentized
  bootstrap covers about the same but rejects a change exactly at the gate's margin slightly more
  often than its level (2.8-3.0% for 2.5%), and the t has no Monte Carlo error at all;
* one model's mean with ``BOOTSTRAP_MIN_PAIRS`` (5) pairs or more: the studentized (bootstrap-t)
  bootstrap over test pairs. It resamples pair means and studentizes each resample by its own
  standard error, so it follows the skew of Sampson errors (lognormal-like), where the t interval
  falls to ~92.5% at 10×2; below 5 pairs, the t (a bootstrap of fewer than 5 values has too few
  distinct resamples to mean anything). The percentile bootstrap used before covered only 82-89%
  at 5-10 pairs, BCa likewise.

When the studentized scale collapses (nearly equal pair means, where resamples of identical values
have a standard error of rounding size) the bootstrap-t tail is made of ±inf or huge statistics; the
interval then falls back to the t, so it cannot explode (it once printed 0.221 [0.220, 4.9e10]).

Bootstrap bounds and p-values carry Monte Carlo error; ``bootstrap_p_greater`` adds resamples until
its p-value is clearly on one side of every decision level it is compared with, and returns its
standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from scipy import stats

IntervalMethod = Literal["auto", "t", "bootstrap"]
INTERVAL_METHODS = ("auto", "t", "bootstrap")
BOOTSTRAP_MIN_PAIRS = 5
MAX_BOOT_GROWTH = 64  # a borderline bootstrap p-value may use up to 64x the requested resamples
# A resample's standard error below this share of the sample's counts as zero (rounding, not spread).
COLLAPSED_SCALE = 1e-6
# A bootstrap-t interval wider than this many t intervals is driven by a few near-constant resamples
# (their t* is huge but finite), not by skew: the t interval is given instead. On skewed Sampson-like
# pairs it measured at most 3.9x the t's width (300 lognormal samples each of 5, 10, 50 pairs).
MAX_WIDTH_RATIO = 10.0


@dataclass(frozen=True)
class Interval:
    """A mean over test pairs with its two-sided interval; ``method`` says how the interval was made."""

    estimate: float
    low: float
    high: float
    method: str  # "t", "bootstrap" or "none" (fewer than two test pairs)
    n_pairs: int
    sd: float  # standard deviation of the pair means (nan below 2 pairs)


def pair_means(values: Sequence[float], clusters: Sequence[str]) -> np.ndarray:
    """Mean of each cluster's values, in sorted cluster order (deterministic whatever the row order)."""
    vals = np.asarray(values, dtype=np.float64)
    if vals.size == 0:
        return vals
    names, ids = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    sums = np.bincount(ids, weights=vals, minlength=len(names))
    counts = np.bincount(ids, minlength=len(names))
    return sums / counts


def choose_method(method: str, n_pairs: int, *, paired: bool = False) -> str:
    """The interval used for ``n_pairs`` test pairs under ``method`` (see the module docstring)."""
    if method not in INTERVAL_METHODS:
        raise ValueError(f"interval method must be one of {INTERVAL_METHODS}, got {method!r}")
    if n_pairs < 2:
        return "none"
    if method == "auto":
        return "bootstrap" if n_pairs >= BOOTSTRAP_MIN_PAIRS and not paired else "t"
    return method


def _constant(x: np.ndarray) -> bool:
    return bool(np.ptp(x) <= 1e-12 * max(1.0, float(np.abs(x).max())))


def _studentized(x: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``draws`` bootstrap-t statistics (mean* − mean) / se* of resampled pair means.

    A resample whose scale has collapsed (all its pairs equal, up to rounding: five copies of 0.22
    have a computed standard error of ~1e-17, not 0) has t* = ±inf, or 0 if its mean equals the
    sample mean: the limit of the statistic, so such resamples count on the correct side and an
    interval that would need them falls back to the t (``interval``).
    """
    n = x.size
    sample = x[rng.integers(0, n, size=(draws, n))]
    se = sample.std(axis=1, ddof=1) / math.sqrt(n)
    diff = sample.mean(axis=1) - x.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        t = diff / se
    flat = se <= COLLAPSED_SCALE * float(x.std(ddof=1)) / math.sqrt(n)
    tie = np.abs(diff[flat]) <= 1e-12 * max(1.0, float(np.abs(x).max()))
    t[flat] = np.where(tie, 0.0, np.copysign(np.inf, diff[flat]))
    return t


def _t_interval(x: np.ndarray, confidence: float, estimate: float, sd: float) -> Interval:
    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 1)) * sd / math.sqrt(x.size)
    return Interval(estimate, estimate - half, estimate + half, "t", int(x.size), sd)


def interval(x: np.ndarray, *, confidence: float = 0.95, method: str = "auto", n_boot: int = 2000,
             seed: int = 0, paired: bool = False) -> Interval:
    """Two-sided ``confidence`` interval for the mean of the pair means ``x`` (``paired``: they are
    per-pair differences between two models)."""
    x = np.asarray(x, dtype=np.float64)
    n = int(x.size)
    chosen = choose_method(method, n, paired=paired)
    estimate = float(x.mean()) if n else math.nan
    if chosen == "none":
        return Interval(estimate, math.nan, math.nan, "none", n, math.nan)
    sd = float(x.std(ddof=1))
    if _constant(x):
        return Interval(estimate, estimate, estimate, chosen, n, 0.0)
    if chosen == "t":
        return _t_interval(x, confidence, estimate, sd)
    t = _studentized(x, n_boot, np.random.default_rng(seed))
    tail = (1 - confidence) / 2
    upper_t, lower_t = np.quantile(t, [1 - tail, tail], method="inverted_cdf")
    se = sd / math.sqrt(n)
    low, high = estimate - upper_t * se, estimate - lower_t * se
    t_ci = _t_interval(x, confidence, estimate, sd)
    if not (math.isfinite(low) and math.isfinite(high)) or high - low > MAX_WIDTH_RATIO * (t_ci.high - t_ci.low):
        return t_ci  # nearly constant pairs: too many collapsed resamples, whose t* decide the tail
    return Interval(estimate, float(low), float(high), "bootstrap", n, sd)


def mean_interval(values: Sequence[float], clusters: Sequence[str], **kwargs) -> Interval:
    """Interval for the mean over test pairs of per-row ``values`` grouped by ``clusters``."""
    return interval(pair_means(values, clusters), **kwargs)


def bootstrap_p_greater(x: np.ndarray, threshold: float, *, n_boot: int, seed: int,
                        thresholds: Sequence[float] = ()) -> tuple[float, float, int]:
    """One-sided studentized-bootstrap p-value of H0 "mean <= threshold", with its Monte Carlo error.

    p is the share of bootstrap-t statistics at or above the observed t = (mean − threshold) / se,
    the dual of "the bootstrap-t interval's lower bound lies above the threshold". While p lies
    within three standard errors of a decision level in ``thresholds``, the resamples are quadrupled
    (up to ``MAX_BOOT_GROWTH`` times ``n_boot``), so another resampling seed would not flip the
    decision. Returns (p, standard error, resamples used).
    """
    if _constant(x):
        return (0.0 if float(x.mean()) > threshold else 1.0), 0.0, 0
    observed = _t_statistic(x, threshold)
    rng = np.random.default_rng(seed)
    draws = above = 0
    target = n_boot
    while True:
        while draws < target:
            batch = min(target - draws, 20000)
            above += int(np.count_nonzero(_studentized(x, batch, rng) >= observed))
            draws += batch
        p = (above + 1) / (draws + 1)
        se = math.sqrt(p * (1 - p) / draws)
        close = any(abs(p - level) < 3 * se for level in thresholds)
        if not close or draws >= n_boot * MAX_BOOT_GROWTH:
            return p, se, draws
        target = draws * 4


def t_p_greater(x: np.ndarray, threshold: float) -> float:
    """One-sided t-test p-value of H0 "mean <= threshold" on the pair means ``x``."""
    if _constant(x):
        return 0.0 if float(x.mean()) > threshold else 1.0
    return float(stats.t.sf(_t_statistic(x, threshold), x.size - 1))


def _t_statistic(x: np.ndarray, threshold: float) -> float:
    """(mean − threshold) / standard error: ``scipy.stats.ttest_1samp``'s statistic without its per-call overhead."""
    return (float(x.mean()) - threshold) / (float(x.std(ddof=1)) / math.sqrt(x.size))


def wilcoxon_p_greater(x: np.ndarray, threshold: float) -> float:
    """One-sided Wilcoxon signed-rank p-value of H0 "centre <= threshold" on the pair means ``x``."""
    shifted = x - threshold
    if np.allclose(shifted, 0):
        return 1.0
    return float(stats.wilcoxon(shifted, alternative="greater", zero_method="zsplit").pvalue)


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


def delivered_mde(base_pairs: np.ndarray, cand_pairs: np.ndarray, margin: float, level: float, *,
                  direction: str, power: float = 0.8) -> float:
    """The worsening the one-sided t-test at ``level`` catches with probability ``power``, as delivered.

    ``minimum_detectable_effect`` with the sample SD plugged in promises more than the test gives on
    Sampson-like data (46-64% instead of 80% at <= 10 test pairs, issue 29), for two reasons fixed here:

    * a worse candidate is a *multiplied* one (errors grow with the error), so the per-pair SD at the
      alternative is larger than under no change. The SD is recomputed at each candidate worsening r
      from the pairs themselves: the per-pair worsening of a candidate ``1 + r`` times as bad (lower is
      better; ``1 - r`` for higher is better); the answer is the larger of this and a plain shift;
    * the sample SD of few pairs is usually below the true one (its distribution is skewed right), so it
      is scaled to its median-unbiased version, sd * sqrt(df / chi2.median(df)).

    Measured (the issue's Sampson-like model, 200 datasets per size, each shifted by its own MDE): caught
    78-79% at 5x2, 10x2 and 50x5, where the plain formula gave 43/57/73% (benchmarks/RESULTS.md).
    Returns the worsening in the metric's unit (``margin``'s), NaN below 2 pairs.
    """
    b, c = np.asarray(base_pairs, dtype=float), np.asarray(cand_pairs, dtype=float)
    n = int(b.size)
    if n < 2:
        return math.nan
    df = n - 1
    inflate = math.sqrt(df / stats.chi2.ppf(0.5, df))
    sign = 1.0 if direction == "lower" else -1.0  # worsening = sign * (candidate - base)
    shift = minimum_detectable_effect(float((sign * (c - b)).std(ddof=1)) * inflate, n, margin, level, power)
    scale = float(np.abs(b).mean())
    if scale == 0 or not math.isfinite(shift):
        return shift
    crit = stats.t.ppf(1 - level, df)

    def shortfall(r: float) -> float:  # power at a candidate (1 + sign r) times the observed one, minus target
        sd = float((sign * ((1 + sign * r) * c - b)).std(ddof=1)) * inflate
        if not sd > 1e-12 * scale:  # no spread (up to rounding): any worsening beyond the margin is caught
            return 1.0 - power if r * scale > margin else -power
        nc = (r * scale - margin) * math.sqrt(n) / sd
        return (1.0 if nc > crit + 40 else float(stats.nct.sf(crit, df, nc))) - power

    limit = 1.0 if direction == "higher" else 1e6  # a higher-is-better score cannot lose more than all of it
    high = max(margin / scale, 1e-6)
    while shortfall(high) < 0:
        if high >= limit:
            return math.inf  # no worsening this metric can take is caught with that power
        high = min(2 * high, limit)
    from scipy.optimize import brentq

    r = float(brentq(shortfall, 0.0, high, xtol=1e-12)) if shortfall(0.0) < 0 else 0.0
    return max(shift, r * scale)


def _bisect(f, low: float, high: float) -> float:
    from scipy.optimize import brentq

    while f(high) < 0:
        high *= 2
    return float(brentq(f, low, high, xtol=1e-10))
