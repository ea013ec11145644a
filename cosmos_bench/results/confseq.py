"""Betting confidence sequences for the mean of bounded values (Waudby-Smith & Ramdas, JRSS-B 2024).

Why betting: for every candidate mean ``m`` a gambler bets on whether the next value lies above or
below ``m``, sized by the paper's aGRAPA rule (a Kelly-like bet estimated from the values seen so
far). The wealth is a nonnegative martingale when ``m`` is the true mean, so by Ville's inequality
it ever reaches ``1/alpha`` with probability at most ``alpha``. The set of ``m`` whose wealth stays
below ``1/alpha`` is a confidence sequence: it covers the mean at *every* time at once, hence at
any data-dependent stopping time. In the paper's experiments it is tighter than the Hoeffding and
empirical-Bernstein sequences, most of all at small n, and it needs no distributional assumption
beyond the bounds.

Two sampling schemes:

* ``pool_size=None`` (with replacement): values are i.i.d. draws from a population; the sequence
  covers the population mean.
* ``pool_size=N`` (without replacement): values are a uniformly random order of
  a fixed pool of ``N`` numbers; the sequence covers the pool's mean, whatever the numbers are, and
  shrinks to that mean when the pool is exhausted. The randomness is only the order, which the
  caller draws with a seed, so the guarantee needs no model of the values at all.

Everything is vectorised over independent runs (rows) and evaluated on a grid of candidate means,
so one call serves a single monitor and a 2,000-run simulation alike. The grid is in the unit
interval after mapping ``[low, high]`` onto ``[0, 1]``. The reported interval runs from the grid
point below the lowest non-rejected one to the grid point above the highest, so it contains the
exact set unless that set had an island narrower than a grid step beyond a rejected point (the
wealth is smooth in ``m``; the means decisions compare against are grid points). It is the running
intersection over time, which is as valid as each interval and never widens.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Bets are capped at TRUNCATION / m (the paper's c in (0, 1): 1/2 or 3/4), so one value can
# never take more than 75% of the wealth; the larger cap decides faster on low-variance data.
TRUNCATION = 0.75
PRIOR_WEIGHT = 1.0  # the bet's variance estimate starts as if one value at variance 1/4 was seen
GRID_POINTS = 801


@dataclass(frozen=True)
class ConfidencePath:
    """Interval after each observation: ``low[r, t]``, ``high[r, t]`` for run ``r`` after ``t + 1`` values.

    ``p_value[r, t]`` is the anytime-valid p-value of "mean = null" (``1 / max wealth so far`` at
    the null, capped at 1), kept so a verdict can say how much evidence it had, not only whether.
    """

    low: np.ndarray
    high: np.ndarray
    p_value: np.ndarray


def _grid(points: int, extra: np.ndarray) -> np.ndarray:
    return np.unique(np.concatenate([np.linspace(0.0, 1.0, points), np.clip(extra, 0.0, 1.0)]))


def betting_confidence_path(
    values: np.ndarray,
    *,
    low: float,
    high: float,
    alpha: float,
    pool_size: int | None = None,
    null: float = 0.0,
    anchors: tuple[float, ...] = (),
    grid_points: int = GRID_POINTS,
) -> ConfidencePath:
    """The betting confidence sequence over ``values`` (shape ``(runs, n)`` or ``(n,)``), after each value.

    ``values`` must lie in ``[low, high]`` (clip them first: the bound is what makes the guarantee
    hold). ``anchors`` are means that decisions compare against (0 and ±margin): they are put on
    the grid so a decision at an anchor is exact rather than rounded.
    """
    x = np.atleast_2d(np.asarray(values, dtype=float))
    if high <= low:
        raise ValueError(f"bounds must satisfy low < high, got [{low}, {high}]")
    if np.any(x < low - 1e-12) or np.any(x > high + 1e-12):
        raise ValueError(f"values outside the stated bounds [{low}, {high}]: clip them first")
    if pool_size is not None and x.shape[1] > pool_size:
        raise ValueError(f"{x.shape[1]} values drawn without replacement from a pool of {pool_size}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    width = high - low
    y = np.clip((x - low) / width, 0.0, 1.0)
    runs, n = y.shape
    grid = _grid(grid_points, (np.asarray((null,) + tuple(anchors)) - low) / width)
    null_index = int(np.argmin(np.abs(grid - (null - low) / width)))
    log_level = np.log(1.0 / alpha)

    log_wealth = np.zeros((runs, grid.size))
    impossible = np.zeros((runs, grid.size), dtype=bool)  # m contradicted by the pool's arithmetic
    z_sum = np.zeros((runs, grid.size))
    z2_sum = np.full((runs, grid.size), PRIOR_WEIGHT * 0.25)
    total = np.zeros((runs, 1))
    best_null = np.zeros(runs)
    lows, highs, pvals = (np.empty((runs, n)) for _ in range(3))
    for t in range(n):
        if pool_size is None:
            mu = np.broadcast_to(grid, (runs, grid.size))
        else:  # the mean of what is left in the pool, if the whole pool's mean were m
            mu = (pool_size * grid[None, :] - total) / (pool_size - t)
        impossible |= (mu < 0.0) | (mu > 1.0)
        mu = np.clip(mu, 1e-12, 1.0 - 1e-12)
        # aGRAPA bet (the paper's approximate GRAPA): Kelly's E[Z]/E[Z^2] estimated from the values before this
        # one (predictable), capped so the wealth stays positive whatever the next value is
        lam = np.clip(z_sum / z2_sum, -TRUNCATION / (1.0 - mu), TRUNCATION / mu)
        z = y[:, t : t + 1] - mu
        log_wealth += np.log1p(lam * z)
        z_sum += z
        z2_sum += z * z
        total += y[:, t : t + 1]

        kept = ~(impossible | (log_wealth >= log_level))
        any_kept = kept.any(axis=1)
        first = kept.argmax(axis=1)
        last = grid.size - 1 - kept[:, ::-1].argmax(axis=1)
        # round outwards: the exact set may reach up to the neighbouring rejected grid point
        lows[:, t] = np.where(any_kept, grid[np.maximum(first - 1, 0)], grid[0])
        highs[:, t] = np.where(any_kept, grid[np.minimum(last + 1, grid.size - 1)], grid[-1])
        if pool_size is not None and t == pool_size - 1:  # pool exhausted: its mean is known
            lows[:, t] = highs[:, t] = total[:, 0] / pool_size
        null_wealth = np.where(impossible[:, null_index], np.inf, log_wealth[:, null_index])
        best_null = np.maximum(best_null, null_wealth)
        pvals[:, t] = np.minimum(1.0, np.exp(-best_null))

    low_path = np.maximum.accumulate(low + width * lows, axis=1)  # running intersection stays valid
    high_path = np.minimum.accumulate(low + width * highs, axis=1)
    return ConfidencePath(low=low_path, high=np.maximum(high_path, low_path), p_value=pvals)


# ------------------------------------------------------------------ repeated confidence intervals
# Why a second construction: the betting sequence above needs bounded values, so per-pair differences
# had to be clipped, and what it then covers (the mean of *clipped* differences) moves with the number
# of seeds (a candidate 8% worse read +0.050 log ratio with 1 seed, +0.074 with 5). And being valid at
# every n up to infinity, it is wide at the 50 pairs a suite has. Repeated confidence intervals
# (Jennison & Turnbull, JRSS-B 1989; "Group Sequential Methods", 2000, ch. 9) are intervals that
# cover the mean at every look of a design with a known last look (the suite's N pairs) at once,
# so stopping at any look is as valid as looking once. They are studentized, so they need no bound:
# what they cover is the plain mean per-pair difference, the quantity the user reads.
#
# The boundary has the Wang-Tsiatis shape (Biometrics 1987): the interval at look t is
# mean_t ± c · sd_t · (t / N)^(shape − 1/2) / sqrt(t), no decision before ``min_pairs`` looks.
# shape 1/2 is Pocock's (equal z at every look: early stops, a weak last look), 0 is O'Brien &
# Fleming's (a fixed-sample last look, late stops); 0.35 lies between (benchmarks/sequential_bench.py
# measured the trade-off). c is calibrated by simulation so that, for Gaussian per-pair differences
# whose variance is estimated at every look (the sd_t above, not a known sigma), some look misses
# the mean with probability alpha: exact for Gaussian differences up to the calibration's Monte
# Carlo error, and by the central limit theorem approximately for others (the benchmark checks the
# Sampson-like and judge-like models). That makes it an asymptotic guarantee, stated as such.
RCI_SHAPE = 0.35
RCI_MIN_PAIRS = 10
RCI_CALIBRATION_RUNS = 40_000
RCI_CALIBRATION_SEED = 20_291


def _boundary_shape(t: np.ndarray, horizon: int, shape: float) -> np.ndarray:
    return (t / horizon) ** (shape - 0.5) / np.sqrt(t)


def _running_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Running mean and sample SD (ddof 1; NaN at t = 1) of each row, and t."""
    t = np.arange(1, x.shape[1] + 1, dtype=float)
    mean = np.cumsum(x, axis=1) / t
    centred = np.cumsum(x * x, axis=1) / t - mean * mean
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.maximum(centred, 0.0) * t / (t - 1))
    sd[:, 0] = np.nan
    return mean, sd, t


@lru_cache(maxsize=64)
def _null_maxima(horizon: int, min_pairs: int, shape: float) -> np.ndarray:
    """Sorted max over looks of |mean_t| / (sd_t · shape_t) for Gaussian paths: the law c is read from."""
    rng = np.random.default_rng(np.random.SeedSequence([RCI_CALIBRATION_SEED, horizon, min_pairs]))
    out = np.empty(RCI_CALIBRATION_RUNS)
    chunk = max(1, 2_000_000 // horizon)
    for start in range(0, RCI_CALIBRATION_RUNS, chunk):
        z = rng.standard_normal((min(chunk, RCI_CALIBRATION_RUNS - start), horizon))
        mean, sd, t = _running_moments(z)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.abs(mean) / (sd * _boundary_shape(t, horizon, shape))
        out[start:start + z.shape[0]] = ratio[:, min_pairs - 1:].max(axis=1)
    return np.sort(out)


def rci_constant(alpha: float, horizon: int, *, min_pairs: int = RCI_MIN_PAIRS, shape: float = RCI_SHAPE) -> float:
    """The boundary constant c: P(some look of a Gaussian null path crosses) = alpha."""
    return float(np.quantile(_null_maxima(horizon, min_pairs, shape), 1.0 - alpha))


def repeated_confidence_path(values: np.ndarray, *, alpha: float, horizon: int, null: float = 0.0,
                             min_pairs: int = RCI_MIN_PAIRS, shape: float = RCI_SHAPE) -> ConfidencePath:
    """Repeated confidence intervals after each of ``values`` (shape ``(runs, n)`` or ``(n,)``, n <= horizon).

    Before ``min_pairs`` values the interval is the whole line. Intervals are intersected over
    looks (they hold at all looks at once, so the intersection holds too). ``p_value`` is the
    smallest alpha at which some look so far excluded ``null`` (from the same simulated law).
    """
    x = np.atleast_2d(np.asarray(values, dtype=float))
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if x.shape[1] > horizon:
        raise ValueError(f"{x.shape[1]} looks beyond the design's last look {horizon}")
    if not 2 <= min_pairs <= horizon:
        raise ValueError(f"min_pairs must be in [2, horizon={horizon}], got {min_pairs}")
    if not np.all(np.isfinite(x)):
        raise ValueError("values must be finite")
    maxima = _null_maxima(horizon, min_pairs, shape)
    c = float(np.quantile(maxima, 1.0 - alpha))
    mean, sd, t = _running_moments(x)
    half = c * sd * _boundary_shape(t, horizon, shape)
    early = t < min_pairs
    low = np.where(early, -np.inf, mean - half)
    high = np.where(early, np.inf, mean + half)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(early, 0.0, np.abs(mean - null) / (sd * _boundary_shape(t, horizon, shape)))
    ratio = np.where(np.isnan(ratio), np.where(np.abs(mean - null) > 0, np.inf, 0.0), ratio)
    best = np.maximum.accumulate(ratio, axis=1)
    p = 1.0 - np.searchsorted(maxima, best, side="left") / maxima.size
    low_path = np.maximum.accumulate(low, axis=1)
    high_path = np.minimum.accumulate(high, axis=1)
    return ConfidencePath(low=low_path, high=np.maximum(high_path, low_path), p_value=np.maximum(p, 1.0 / maxima.size))
