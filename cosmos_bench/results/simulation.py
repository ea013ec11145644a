"""Simulated paired scores with known truth, for validating the sequential rule and planning.

Both generators share one structure, the one the planner estimates: a video's score is
``pair effect + model effect + pair × model interaction + seed noise``, where part of the seed
noise is shared by all models at the same (pair, seed) (same prompt, image and initial noise: the
paired design) and part is the model's own. Arrays are ``(runs, pairs, seeds)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Components:
    """Standard deviations of the score's parts (judge: score points; Sampson: natural-log pixels)."""

    between: float  # pair to pair (prompt difficulty): cancels in the paired difference
    interaction: float  # pair x model: does not cancel, does not shrink with more seeds
    seed_shared: float  # seed noise both models share at the same (pair, seed)
    seed_own: float  # seed noise of one model's video (and the judge's own noise)
    tail_df: float | None = None  # Student-t degrees of freedom for the noise (None = normal)


# Judge scores: no judge runs on this machine, so these are stated assumptions (README): base
# mean 3.0 of 5, a per-video SD ≈ 1.1 points, of which 0.8 is the prompt.
JUDGE = Components(between=0.8, interaction=0.2, seed_shared=0.6, seed_own=0.42)


def _noise(rng: np.random.Generator, shape: tuple[int, ...], df: float | None) -> np.ndarray:
    if df is None:
        return rng.standard_normal(shape)
    return rng.standard_t(df, shape) / np.sqrt(df / (df - 2))  # unit variance, heavy tails


def _latent(rng: np.random.Generator, c: Components, runs: int, pairs: int, seeds: int) -> tuple[np.ndarray, np.ndarray]:
    shape = (runs, pairs, seeds)
    pair = c.between * _noise(rng, (runs, pairs, 1), c.tail_df)
    shared = c.seed_shared * _noise(rng, shape, c.tail_df)
    base = pair + shared + c.interaction * _noise(rng, (runs, pairs, 1), c.tail_df) + c.seed_own * _noise(rng, shape, c.tail_df)
    cand = pair + shared + c.interaction * _noise(rng, (runs, pairs, 1), c.tail_df) + c.seed_own * _noise(rng, shape, c.tail_df)
    return base, cand


def judge_scores(rng: np.random.Generator, *, runs: int, pairs: int, seeds: int, improvement: float = 0.0,
                 base_mean: float = 3.0, components: Components = JUDGE) -> tuple[np.ndarray, np.ndarray]:
    """Integer 1–5 scores (many ties) of base and a candidate ``improvement`` × base_mean better."""
    base, cand = _latent(rng, components, runs, pairs, seeds)
    def to_score(latent: np.ndarray, mean: float) -> np.ndarray:
        return np.clip(np.rint(mean + latent), 1, 5)
    return to_score(base, base_mean), to_score(cand, base_mean * (1 + improvement))


def sampson_values(rng: np.random.Generator, *, runs: int, pairs: int, seeds: int, components: Components,
                   improvement: float = 0.0, base_median: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Positive, right-skewed errors (lognormal or log-t) of base and a candidate with error × (1 − improvement)."""
    base, cand = _latent(rng, components, runs, pairs, seeds)
    return base_median * np.exp(base), base_median * (1 - improvement) * np.exp(cand)
