"""Paired sign-flip (randomisation) test: the test behind the leaderboard's bold marks.

Why not the t-test: Holm over a board's m comparisons (4 candidates × 6 metrics = 24) asks each
test to hold its level at alpha / m ≈ 0.2%, far out in the tail, where a t-test on skewed or
discrete per-pair differences is close to, but not exactly, calibrated; at 50 test pairs × 5 seeds
Holm on t-tests marked a cell in 5.3 ± 0.7% of boards where nothing differed (target ≤ 5%).

Why a sign-flip test holds exactly: if candidate and baseline are the same model, the two videos
of one (test pair, seed) are exchangeable, so each per-pair mean difference is as likely to have
either sign, whatever its distribution (skewed scores, 1–5 integers, ties). Flipping the signs of
the n per-pair differences gives 2^n equally likely data sets under that null; the p-value is the
share of them whose |sum| is at least the observed one (ties count as "at least", which keeps
discrete data valid). Sum and t statistic give the same test (the sum of squares does not change
under sign flips, so |t| is an increasing function of |sum|).

* n ≤ ``EXACT_MAX_PAIRS`` (16): all 2^n sign patterns, an exact p-value. Its smallest value is
  2 / 2^n (all differences of one sign): with 5 test pairs 1/16 = 0.0625, above any usual alpha,
  so such a board can mark nothing, and says so (``smallest_p``).
* more pairs: ``n_flips`` random patterns (seeded, so a board regenerates byte-identically) and
  the estimator (1 + count) / (n_flips + 1), which is a valid p-value for any number of flips
  (Phipson & Smyth 2010); ``flips_for`` picks enough flips that about 50 are expected beyond the
  observed value at Holm's first level alpha / m.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

EXACT_MAX_PAIRS = 16  # 2^16 = 65,536 patterns: exact enumeration is cheaper than random flips up to here
MIN_FLIPS = 20_000
EXPECTED_AT_LEVEL = 50  # flips expected beyond the observed sum at p = alpha / m (MC relative error ≈ 14%)
_CHUNK = 4_000_000  # statistics computed at once (rows × flips), to bound memory


def flips_for(family: int, alpha: float) -> int:
    """Random flips for a family of ``family`` tests at ``alpha``: ~50 expected beyond at alpha / family."""
    needed = EXPECTED_AT_LEVEL * max(1, family) / alpha
    return max(MIN_FLIPS, int(math.ceil(needed / 1000.0)) * 1000)


def is_exact(n_pairs: int) -> bool:
    return n_pairs <= EXACT_MAX_PAIRS


def smallest_p(n_pairs: int, n_flips: int = MIN_FLIPS) -> float:
    """The smallest p-value the test can give with ``n_pairs`` test pairs (NaN below 2 pairs)."""
    if n_pairs < 2:
        return math.nan
    return 2.0 ** (1 - n_pairs) if is_exact(n_pairs) else 1.0 / (n_flips + 1)


def fewest_pairs(level: float) -> int:
    """The fewest test pairs whose smallest p-value lies below ``level`` (beyond the exact range,
    random flips resolve any level: ``flips_for`` sizes them)."""
    return min(EXACT_MAX_PAIRS + 1, max(2, math.floor(1 - math.log2(level)) + 1))


def describe(n_pairs: int, n_flips: int, seed: int) -> str:
    """How the p-value of ``n_pairs`` test pairs was computed, for the CSV and the board."""
    if n_pairs < 2:
        return "none"
    if is_exact(n_pairs):
        return f"sign-flip exact ({2 ** n_pairs} patterns)"
    return f"sign-flip ({n_flips} random flips, seed {seed})"


@lru_cache(maxsize=8)
def _signs(n_pairs: int, n_flips: int, seed: int) -> np.ndarray:
    """The sign patterns (rows of ±1): all 2^n when exact, else ``n_flips`` seeded random ones. Read-only."""
    if is_exact(n_pairs):
        bits = (np.arange(2 ** n_pairs)[:, None] >> np.arange(n_pairs)) & 1
    else:
        bits = np.random.default_rng([seed, n_pairs]).integers(0, 2, size=(n_flips, n_pairs))
    signs = 1.0 - 2.0 * bits
    signs.flags.writeable = False
    return signs


def sign_flip_p(x: np.ndarray, *, n_flips: int = MIN_FLIPS, seed: int = 0) -> np.ndarray | float:
    """Two-sided p-value of "the per-pair differences ``x`` are symmetric about 0".

    ``x`` is one data set of n per-pair differences, or a (k, n) array of k data sets of the same
    size (one matrix product for all). NaN below 2 pairs. See the module docstring.
    """
    data = np.asarray(x, dtype=np.float64)
    rows = np.atleast_2d(data)
    n = rows.shape[1]
    if n < 2:
        out = np.full(rows.shape[0], math.nan)
        return float(out[0]) if data.ndim == 1 else out
    signs = _signs(n, n_flips, seed)
    observed = np.abs(rows.sum(axis=1))
    tolerance = 1e-9 * np.abs(rows).sum(axis=1)  # sums equal up to rounding (discrete scores) are ties
    counts = np.zeros(rows.shape[0], dtype=np.int64)
    step = max(1, _CHUNK // signs.shape[0])
    for start in range(0, rows.shape[0], step):
        part = slice(start, start + step)
        flipped = np.abs(signs @ rows[part].T)  # (patterns, rows): the fast order of the product for numpy
        counts[part] = np.count_nonzero(flipped >= observed[part] - tolerance[part], axis=0)
    if is_exact(n):
        p = counts / float(signs.shape[0])
    else:
        p = (counts + 1.0) / (n_flips + 1.0)
    p = np.minimum(p, 1.0)
    return float(p[0]) if data.ndim == 1 else p
