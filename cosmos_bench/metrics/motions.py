"""Several rigid motions per frame pair: which fundamental matrix each match is measured against.

Why: one fundamental matrix describes one rigid motion *relative to the camera*. A robot video has
several: the background (the camera's own motion, or none), and every independently moving rigid
body — each box the robot pushes, each link of its arm. Measuring every match against one ``F``
reads a physically perfect arm as error; measuring only the background hides the arm. So each pair
is explained by a small, bounded set of **motion groups** and each match is measured against the
group that explains it best:

1. **Background group** (group 0).

   * *Still camera* — a pair where at least ``static_fraction`` of the matches move less than
     ``static_px``: the background obeys the identity ``x2 = x1`` (a stronger model than any ``F``:
     zero flow satisfies ``x2ᵀ [e]× x1 = 0`` for every ``e``, so an ``F`` fitted to it would be
     arbitrary). A match's error under it is ``‖x2 − x1‖ / √2``, the smallest joint displacement of
     ``(x1, x2)`` that makes them coincide: the same first-order geometric error, in pixels, that
     √Sampson is for an ``F``. If fewer than ``min_moving`` matches move the pair is a *still scene*
     and has no other group.
   * *Moving camera* — ``F`` robustly fitted to all matches (the dominant rigid motion).

2. **Motion groups** 1..``max_motions``, sequentially (sequential RANSAC, Vincent & Laganière 2001,
   as in multi-body structure from motion): the matches that no group so far explains (error ≥
   ``threshold``) get a robust ``F`` of their own; it is kept as a group if at least ``group_min``
   of them are its inliers and, behind a moving camera, those inliers were at least
   ``group_separation`` px (median) off the earlier groups: a distinct rigid motion, not the residue
   that a warp leaves under the background's estimated ``F`` (which one more ``F`` fits to a fraction of
   a pixel: measured, an ``elastic:4`` orbit read 0.45 px with groups against 2.1 px without). Behind a
   still camera the background model (the identity) is exact, so every match that moves is moving
   content and needs no separation (slow parts, 1–3 px per frame, must get their groups). At most ``max_motions`` groups: a deformation (a whole-frame wobble, a
   melting arm) breaks into many small inconsistent pieces and cannot be explained away by an
   unbounded number of ``F``, each with 7 degrees of freedom.

3. **Assignment**: every match belongs to the group whose model gives it the smallest error, and
   that error is the match's error. Matches that no group explains (gross mismatches, inconsistent
   content) keep their smallest error and enter the statistics like any other.

Everything is batched over pairs; ``estimate`` is the backend's robust ``F`` (rows = sets of matches).
A round fits only the sets that can gain a group: behind a moving camera at least about half of a new
group's ≥ ``group_min`` inliers must lie ``group_separation`` px off the earlier groups, so a set with
fewer such matches is skipped (exactly the sets the separation rule would reject; in a rigid scene
behind a moving camera, almost all of them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from . import epipolar

__all__ = ["MotionFit", "fit_motions", "still_error"]

Estimator = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


@dataclass
class MotionFit:
    """Motion groups of ``S`` sets of ``N`` matches.

    Attributes:
        error: ``(S, N)`` float64, each match's error (px) under its group (inf where not valid).
        group: ``(S, N)`` long, the group of each match (0 = background; -1 = not a valid match).
        F: ``(S, G, 3, 3)`` float64, ``G = 1 + max_motions``; zeros where a group does not exist
            (and for group 0 of a still pair, whose model is the identity).
        exists: ``(S, G)`` bool, which groups were found.
        ok: ``(S,)`` bool, the background group exists (else the pair cannot be measured).
        still: ``(S,)`` bool, the background is a still camera (identity model).
        still_scene: ``(S,)`` bool, a still camera where (almost) nothing moves: no motion groups.
        n_static: ``(S,)`` long, matches that move less than ``static_px``.
    """

    error: torch.Tensor
    group: torch.Tensor
    F: torch.Tensor
    exists: torch.Tensor
    ok: torch.Tensor
    still: torch.Tensor
    still_scene: torch.Tensor
    n_static: torch.Tensor

    def group_sizes(self, threshold: float) -> torch.Tensor:
        """``(S, G)`` long: matches of each group within ``threshold`` px of its model (its inliers)."""
        G = self.F.shape[1]
        member = (self.error < threshold)[:, None, :] & (self.group[:, None, :] == torch.arange(
            G, device=self.group.device)[None, :, None])
        return member.sum(-1)


def still_error(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """Error of matches under the still-camera model ``x2 = x1``: ``‖x2 − x1‖ / √2`` px (module docstring)."""
    return (x2 - x1).norm(dim=-1) / math.sqrt(2.0)


def fit_motions(
    x1: torch.Tensor,
    x2: torch.Tensor,
    valid: torch.Tensor,
    estimate: Estimator,
    *,
    threshold: float,
    static_px: float,
    static_fraction: float,
    min_moving: int,
    max_motions: int,
    group_min: int,
    group_estimate: Estimator | None = None,
    group_threshold: float | None = None,
    group_separation: float = 0.0,
    still: torch.Tensor | None = None,
    still_group_estimate: Estimator | None = None,
) -> MotionFit:
    """Background group, then up to ``max_motions`` motion groups (module docstring), batched.

    Shapes: ``x1, x2 (S, N, 2)``, ``valid (S, N)``. ``max_motions=0`` gives one model per set (what
    simultaneous views need: one instant of one rigid scene). ``group_estimate`` / ``group_threshold``
    (default: ``estimate`` / ``threshold``): the estimator and inlier threshold of the motion groups.
    A tighter one than the background's keeps one ``F`` from spanning two objects whose motions
    differ by less than the threshold (an ``F`` has 7 degrees of freedom: two nearby translations
    fit one ``F`` to within a few tenths of a pixel). ``still (S,)`` bool, when given, is the camera
    state of each set decided elsewhere (once per video: a pair whose background happens to move must
    not change what is measured); else each set decides by its own ``static_fraction``.
    ``still_group_estimate``: the robust homography of a motion group behind a still camera (module
    docstring); None: an ``F`` there too.
    """
    group_estimate = group_estimate or estimate
    group_threshold = threshold if group_threshold is None else group_threshold
    S, N, _ = x1.shape
    dev = x1.device
    G = 1 + max(0, int(max_motions))
    inf = torch.tensor(float("inf"), dtype=torch.float64, device=dev)
    flow = (x2 - x1).norm(dim=-1)
    static = valid & (flow < static_px)
    n = valid.sum(1)
    n_static = static.sum(1)
    n_moving = (valid & ~static).sum(1)
    if still is None:
        still = (n > 0) & (n_static >= static_fraction * n)
    else:
        still = still.to(dev, torch.bool) & (n > 0)
    still_scene = still & (n_moving < min_moving)
    E = torch.full((S, G, N), float("inf"), dtype=torch.float64, device=dev)
    F = torch.zeros(S, G, 3, 3, dtype=torch.float64, device=dev)
    exists = torch.zeros(S, G, dtype=torch.bool, device=dev)
    # Group 0: identity for a still camera, the dominant F otherwise.
    E[:, 0] = torch.where(still[:, None] & valid, still_error(x1, x2).double(), inf)
    exists[:, 0] = still & (n >= 8)
    _add_group(E, F, exists, 0, ~still, x1, x2, valid, estimate, need=0, before=None, separation=0.0,
               threshold=threshold)
    searching = exists[:, 0].clone()  # a set stops at its first round that finds no group
    separation = torch.where(still, 0.0, group_separation)
    # A group is kept only if the (lower) median of its inliers' errors under the earlier groups is at
    # least ``separation``: so at least ``far_min`` of its ≥ ``group_min`` inliers lie that far off.
    # Sets with fewer such matches cannot gain a group and are not fitted (most pairs of a rigid
    # scene behind a moving camera): the same groups, without a robust fit per set and round.
    m_min = max(group_min, 9)
    far_min = m_min - (m_min - 1) // 2
    for k in range(1, G):
        best = E[:, :k].amin(1)
        remaining = valid & ~(best < group_threshold)
        far = (remaining & (best >= separation[:, None])).sum(1)
        rows = searching & ~still_scene & (remaining.sum(1) >= group_min) & ((separation <= 0) | (far >= far_min))
        if not bool(rows.any()):
            break
        if still_group_estimate is None:
            _add_group(E, F, exists, k, rows, x1, x2, remaining, group_estimate, need=group_min, before=best,
                       separation=separation, threshold=group_threshold)
        else:  # behind a still camera a rigid part is a homography; behind a moving one an F
            _add_group(E, F, exists, k, rows & ~still, x1, x2, remaining, group_estimate, need=group_min,
                       before=best, separation=separation, threshold=group_threshold)
            _add_group(E, F, exists, k, rows & still, x1, x2, remaining, still_group_estimate, need=group_min,
                       before=best, separation=separation, threshold=group_threshold,
                       error=epipolar.transfer_error)
        searching = rows & exists[:, k]
    error, group = E.amin(1), E.argmin(1)
    error = torch.where(valid, error, inf)
    group = torch.where(valid, group, torch.full_like(group, -1))
    return MotionFit(error, group, F, exists, exists[:, 0].clone(), still, still_scene, n_static)


def _add_group(E: torch.Tensor, F: torch.Tensor, exists: torch.Tensor, k: int, rows: torch.Tensor,
               x1: torch.Tensor, x2: torch.Tensor, fit_mask: torch.Tensor, estimate: Estimator, need: int,
               before: torch.Tensor | None, separation: float | torch.Tensor, threshold: float,
               error: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> None:
    """Fit group ``k``'s ``F`` on ``fit_mask`` in ``rows``; keep it where it is found with at least
    ``need`` inliers among ``fit_mask`` whose median error under the earlier groups (``before``) is at
    least ``separation`` px: a distinct motion, not the residue of a deformation (in place)."""
    idx = torch.nonzero(rows)[:, 0]
    if len(idx) == 0:
        return
    Fk, inl, ok = estimate(x1[idx], x2[idx], fit_mask[idx])
    d = (error or epipolar.sampson_distance)(x1[idx].double(), x2[idx].double(), Fk.to(torch.float64))
    member = fit_mask[idx] & (d < threshold)
    ok = ok & (member.sum(1) >= max(need, 9))
    if before is not None:
        prior = torch.where(member, before[idx], torch.full_like(d, float("nan"))).nanmedian(1).values
        sep = separation[idx] if isinstance(separation, torch.Tensor) else torch.full_like(prior, separation)
        ok = ok & ((sep <= 0) | (prior >= sep))
    idx, Fk, d = idx[ok], Fk[ok].to(torch.float64), d[ok]
    if len(idx) == 0:
        return
    E[idx, k] = torch.where(torch.isfinite(d), d, torch.full_like(d, float("inf")))
    F[idx, k] = Fk
    exists[idx, k] = True
