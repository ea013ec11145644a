"""Temporal and cross-view Sampson error of a video: the per-video loop and its aggregation.

Definitions (the README's "Geometric metrics" section says the same in prose):

* A **frame pair** is two frames whose correspondences should obey one epipolar geometry:
  ``(t, t + stride)`` of one view (temporal) or frame ``t`` of two views (cross-view).
* Features are detected once per frame and matched per pair (:mod:`.matching`); every match that
  passes the ratio + mutual test enters the error unless ``select="inliers"``. A video may arrive in
  windows of consecutive frames (a long one, from ``Suite.iter_views``): features and matches are
  made window by window, frames are not kept, and the values are those of the whole video at once.
* Each pair's ``F`` is estimated robustly with unknown intrinsics (:mod:`.epipolar`); for
  cross-view ``mode="pooled"`` one ``F`` per view pair is estimated from the matches of all frames
  (a rigid rig), for ``mode="per_frame"`` one per frame, for ``mode="calibrated"`` it comes from the
  cameras.
* A pair's error values are the √Sampson distances (pixels) of its matches, each under the model of
  its motion group (:mod:`.motions`: the background — the identity for a still camera, else the
  dominant ``F`` — plus, for temporal pairs only, up to ``max_motions`` independently moving rigid
  bodies). Cross-view pairs show one instant of one rigid scene: one ``F``, no groups.
* The statistics of a pair are over the matches that moved at least ``static_px`` (the same rule
  for every pair, still camera or not; a still background carries no evidence). A pair where fewer
  than ``min_moving`` matches moved is a still scene (``mode="static_scene"``), measured on all.
* The **headline value** (``tse/2``, ``cse/2``) is the mean over frame pairs (and over views / view
  pairs, pooled) of the per-pair ``quantile`` (0.95) of the errors: a whole-frame wobble raises all
  errors, a few inconsistent objects the tail, and fewer than 5 % gross mismatches neither.
  ``details["mean_of_medians"]`` (the ``/1`` headline) and ``details["mean_of_means"]`` stay beside it.

Degenerate pairs (no keypoints in a frame, fewer than ``min_matches`` matches, failed estimate)
get ``status="degenerate"`` with a reason, are counted, and do not enter the averages. A video
whose pairs are all degenerate has status ``"degenerate"`` and value NaN.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, fields, replace
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
import torch

from . import epipolar, matching, motions
from .determinism import deterministic_on_cpu
from .base import MetricResult, json_safe

# 2: motion groups, moving-match rule in every pair, quantile headline. 3 (issue 27): cycle-verified matches,
# one camera state per view, homography groups behind a still camera, pooled excess error, gross rate, cuts.
METRIC_VERSION = "3"
TSE = "tse"
CSE = "cse"
CROSS_VIEW_MODES = ("pooled", "per_frame", "calibrated")
SELECTIONS = ("all", "inliers")
MODE_NAMES = ("moving", "static_camera", "static_scene", "calibrated", "degenerate")


@dataclass(frozen=True)
class SampsonOptions:
    """Every setting of the Sampson metrics (all but ``device`` and ``seed`` enter the version).

    Attributes:
        backend: ``"opencv"`` (CPU) or ``"kornia"`` (CPU or CUDA).
        device: kornia's device (None: CUDA if present); opencv runs on the CPU.
        max_features: keypoints kept per frame (strongest first).
        contrast_threshold: SIFT contrast threshold (OpenCV's ``contrastThreshold``).
        features: kornia only: ``"dog"`` (batched DoG + upright SIFT-like descriptor, the fast
            default) or ``"kornia_sift"`` (``kornia.feature.SIFTFeatureScaleSpace``).
        upright: ``"kornia_sift"`` only: no orientation assignment.
        ratio: Lowe ratio-test threshold; mutual: require mutual nearest neighbours.
        ransac: opencv method (see :data:`.epipolar.OPENCV_METHODS`); kornia always uses its
            batched MSAC + local optimisation.
        threshold: inlier threshold on √Sampson, pixels (also MAGSAC's maximum noise scale).
        confidence, max_iters: OpenCV's RANSAC confidence and iteration cap.
        hypotheses: kornia's minimal samples per pair.
        polish: opencv only: refine OpenCV's F by the shared local optimisation (least squares,
            then Levenberg–Marquardt on the truncated Sampson cost, :func:`.epipolar.refine_fundamental`)
            that kornia's RANSAC ends with, so both backends minimise the same cost.
        select: ``"all"`` matches (default) or only the RANSAC ``"inliers"`` enter the error.
        keep: fraction of the lowest errors of a pair that enter its median/mean (1 = all).
        min_matches: fewer matches make a pair degenerate.
        static_px, static_fraction, min_moving: the still-camera rule (:mod:`.motions`).
        max_motions: temporal pairs only: most independently moving rigid groups besides the
            background; group_min: fewest inliers a motion group needs; group_threshold: its
            inlier threshold, px; group_separation: how far (median, px) its matches must be off
            the earlier groups (:mod:`.motions`).
        quantile: the per-pair statistic of the headline, a quantile of the matches' errors
            (module docstring); the median and mean are kept beside it.
        seed: seed of kornia's RANSAC (OpenCV's USAC has its own fixed seed).
    """

    backend: str = "opencv"
    device: str | None = None
    max_features: int = 2048
    contrast_threshold: float = 0.04
    features: str = "dog"
    upright: bool = True
    ratio: float = 0.8
    mutual: bool = True
    ransac: str = "magsac"
    threshold: float = 1.0
    confidence: float = 0.999
    max_iters: int = 10000
    hypotheses: int = 256
    polish: bool = True
    select: str = "all"
    keep: float = 1.0
    min_matches: int = 8
    static_px: float = 1.0
    static_fraction: float = 0.5
    min_moving: int = 16
    max_motions: int = 4
    group_min: int = 16
    group_threshold: float = 0.5
    group_separation: float = 2.0
    quantile: float = 0.95
    gross_px: float = 8.0
    cross_gross_px: float = 24.0
    still_px: float = 0.25
    still_fraction: float = 0.25
    noise_px: float = 0.25
    cut_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.backend not in matching.BACKENDS:
            raise ValueError(f"backend must be one of {matching.BACKENDS}, got {self.backend!r}")
        if self.backend == "opencv" and self.ransac not in epipolar.OPENCV_METHODS:
            raise ValueError(f"ransac must be one of {epipolar.OPENCV_METHODS}, got {self.ransac!r}")
        if self.features not in matching.FEATURES:
            raise ValueError(f"features must be one of {matching.FEATURES}, got {self.features!r}")
        if self.select not in SELECTIONS:
            raise ValueError(f"select must be one of {SELECTIONS}, got {self.select!r}")
        if not 0 < self.keep <= 1:
            raise ValueError(f"keep must be in (0, 1], got {self.keep}")
        if not 0 < self.ratio <= 1:
            raise ValueError(f"ratio must be in (0, 1], got {self.ratio}")
        if self.threshold <= 0:
            raise ValueError(f"threshold must be positive, got {self.threshold}")
        if self.min_matches < 8:
            raise ValueError(f"min_matches must be at least 8 (eight-point F), got {self.min_matches}")
        if self.max_features < 8:
            raise ValueError(f"max_features must be at least 8, got {self.max_features}")
        if not 0 < self.quantile <= 1:
            raise ValueError(f"quantile must be in (0, 1], got {self.quantile}")
        if self.max_motions < 0 or self.group_min < 9:
            raise ValueError(f"max_motions must be >= 0 and group_min >= 9 (an F needs more than 8 inliers), "
                             f"got {self.max_motions} and {self.group_min}")

    @classmethod
    def from_kwargs(cls, backend: str = "opencv", device: str | None = None, **options: Any) -> "SampsonOptions":
        known = {f.name for f in fields(cls)}
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"unknown Sampson option(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(backend=backend, device=device, **options)

    def tag(self) -> str:
        """The settings part of the version string."""
        if self.backend == "opencv":
            feat = f"feat=cv2sift{self.max_features}/c{self.contrast_threshold:g}"
            est = (f"F=cv2-{self.ransac}@{self.threshold:g}/{self.confidence:g}/{self.max_iters}"
                   f"{'+lm' if self.polish else ''}")
        else:
            name = "dog-upright" if self.features == "dog" else f"kornia-sift{'-upright' if self.upright else ''}"
            feat = f"feat={name}{self.max_features}/c{self.contrast_threshold:g}"
            # +lm2: the better of a graduated (8x, 3x) and a direct local optimisation (issue 18's
            # speed work); +lm was three graduated refinements, which read the same within noise.
            est = f"F=msac@{self.threshold:g}/h{self.hypotheses}+lm2"
        return ";".join([
            f"backend={self.backend}",
            feat,
            f"match=ratio{self.ratio:g}{'+mutual' if self.mutual else ''}",
            est,
            f"select={self.select}",
            f"keep={self.keep:g}",
            f"minmatch={self.min_matches}",
            f"static={self.static_px:g}px/{self.static_fraction:g}/{self.min_moving}",
            f"stat=excess{self.noise_px:g}/gross{self.gross_px:g}|{self.cross_gross_px:g}/cycle3",
            f"camera=video:{self.still_px:g}px/{self.still_fraction:g}",
            f"cut={self.cut_fraction:g}",
        ])


def tse_version(opts: SampsonOptions, stride: int) -> str:
    return f"{TSE}/{METRIC_VERSION};{opts.tag()};motions={opts.max_motions}/{opts.group_min}@{opts.group_threshold:g}/sep{opts.group_separation:g};stride={stride}"


def cse_version(opts: SampsonOptions, mode: str) -> str:
    return f"{CSE}/{METRIC_VERSION};{opts.tag()};mode={mode}"


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------


def _check_frames(name: str, frames: Any) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"frames of view {name!r} must have shape (T, H, W, 3), got {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"frames of view {name!r} must be uint8, got {arr.dtype}")
    if arr.shape[0] < 1:
        raise ValueError(f"view {name!r} has no frames")
    return arr


def as_views(video: Any) -> dict[str, np.ndarray]:
    """``(T, H, W, 3)`` array → ``{"view0": frames}``; dict / object with ``.views`` → checked dict."""
    if hasattr(video, "views") and not isinstance(video, Mapping):
        video = video.views
    if isinstance(video, Mapping):
        if not video:
            raise ValueError("no views given")
        views = {str(k): _check_frames(str(k), v) for k, v in video.items()}
    elif hasattr(video, "frames"):
        views = {"view0": _check_frames("view0", video.frames)}
    else:
        views = {"view0": _check_frames("view0", video)}
    lengths = {k: v.shape[0] for k, v in views.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"all views must have the same number of frames, got {lengths}")
    return views


def _camera_arrays(cam: Any, T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``K (T,3,3), R (T,3,3), t (T,3)`` from an object/dict with ``K, R, t`` (world → camera), a
    ``(K, R, t)`` tuple (each per clip or per frame), or a list of one such camera per frame (as
    ``SyntheticClip.cameras[view]``)."""
    if isinstance(cam, (list, tuple)) and len(cam) > 0 and all(
        isinstance(c, Mapping) or all(hasattr(c, a) for a in ("K", "R", "t")) for c in cam
    ):  # one camera per frame
        per = [_camera_arrays(c, 1) for c in cam]
        if len(per) != T:
            raise ValueError(f"got {len(per)} per-frame cameras for {T} frames")
        return tuple(np.concatenate(a) for a in zip(*per))  # type: ignore[return-value]
    if isinstance(cam, Mapping):
        K, R, t = cam["K"], cam["R"], cam["t"]
    elif isinstance(cam, (tuple, list)) and len(cam) == 3:
        K, R, t = cam
    elif all(hasattr(cam, a) for a in ("K", "R", "t")):
        K, R, t = cam.K, cam.R, cam.t
    else:
        raise ValueError(f"a camera must give K, R, t (world → camera, x_cam = R X + t); got {type(cam).__name__}")
    K = np.asarray(K, np.float64)
    R = np.asarray(R, np.float64)
    t = np.asarray(t, np.float64)
    K = np.broadcast_to(K, (T, 3, 3)) if K.shape == (3, 3) else K
    R = np.broadcast_to(R, (T, 3, 3)) if R.shape == (3, 3) else R
    t = t.reshape(-1, 3)
    t = np.broadcast_to(t, (T, 3)) if t.shape[0] == 1 else t
    for name, a, shape in (("K", K, (T, 3, 3)), ("R", R, (T, 3, 3)), ("t", t, (T, 3))):
        if a.shape != shape:
            raise ValueError(f"camera {name} must be per clip or per frame ({T} frames); got shape {a.shape}")
    return K, R, t


# --------------------------------------------------------------------------------------------------
# Core: features → pairs → F per estimation set → errors per pair
# --------------------------------------------------------------------------------------------------


@dataclass
class _PairTable:
    """Per-pair results of one family of pairs (temporal or cross-view), CPU numpy arrays."""

    group: list[str]  # view ("a") or view pair ("a|b")
    frame: np.ndarray
    frame2: np.ndarray
    median: np.ndarray
    quantile: np.ndarray  # the headline's per-pair statistic
    mean: np.ndarray
    n_matches: np.ndarray
    n_inliers: np.ndarray
    n_used: np.ndarray
    n_static: np.ndarray
    mode: np.ndarray  # index into MODE_NAMES
    reason: list[str | None]  # None = ok
    fundamentals: dict[str, list[float]]
    motion_groups: list[list[int]]  # per pair: inliers of each motion group (background first)
    sums: dict[str, np.ndarray]  # per pair: the counts and sums that :func:`_summary` pools (SUMS)


SUMS = ("n_verified", "n_gross", "err_sum", "n_moved", "err_sum_moved", "flow_sum", "excess_sum")


def _pad_cat(parts: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate along dim 0 tensors padded with zeros (False) along dim 1 to the widest."""
    K = max(p.shape[1] for p in parts)
    return torch.cat([p if p.shape[1] == K else torch.cat(
        [p, torch.zeros(p.shape[0], K - p.shape[1], *p.shape[2:], dtype=p.dtype, device=p.device)], 1) for p in parts])


def _concat_features(parts: list[matching.Features]) -> matching.Features:
    return matching.Features(*(_pad_cat([getattr(p, a) for p in parts]) for a in ("keypoints", "descriptors", "valid")))


@dataclass
class _Pairs:
    """The matches of one family of pairs (temporal or cross-view), gathered window by window and
    put in the order of an all-at-once run (by view or view pair, then frame) by :meth:`ordered`:
    the batched estimator's random draws follow the row order, so the order fixes the values."""

    parts: list[tuple[matching.Matches, torch.Tensor]]  # matches, keypoint counts (P, 2)
    keys: list[tuple[int, int]]  # (view or view-pair index, first frame)
    groups: list[str]
    frames: list[tuple[int, int]]

    @classmethod
    def empty(cls) -> "_Pairs":
        return cls([], [], [], [])

    def add(self, features: matching.Features, local: list[tuple[int, int]], keys: list[tuple[int, int]],
            groups: list[str], frames: list[tuple[int, int]], opts: SampsonOptions) -> None:
        """Match the pairs ``local`` (indices into ``features``) and keep them."""
        if not local:
            return
        idx = np.array(local)
        m = matching.match(features, idx, ratio=opts.ratio, mutual=opts.mutual)
        self.parts.append((m, features.counts[torch.as_tensor(idx, device=features.device)]))
        self.keys += keys
        self.groups += groups
        self.frames += frames

    def ordered(self) -> tuple[matching.Matches, torch.Tensor, list[str], np.ndarray]:
        order = sorted(range(len(self.keys)), key=self.keys.__getitem__)
        m = matching.Matches(*(_pad_cat([getattr(p[0], a) for p in self.parts]) for a in ("x1", "x2", "valid")))
        index = _pad_cat([p[0].index + 1 for p in self.parts]) - 1  # padding reads -1 (no match)
        kpc = torch.cat([p[1] for p in self.parts])
        o = torch.as_tensor(order, device=kpc.device)
        return (matching.Matches(m.x1[o], m.x2[o], m.valid[o], index[o]), kpc[o], [self.groups[i] for i in order],
                np.array([self.frames[i] for i in order]).reshape(-1, 2))

def verify_tracks(m: matching.Matches, keys: list[tuple[int, int]], skip: matching.Matches,
                   skip_keys: list[tuple[int, int]], stride: int) -> torch.Tensor:
    """``(P, M)`` bool: matches of temporal pairs that close a three-frame cycle.

    A match ``i → j`` of pair ``(t, t + s)`` is verified when it continues to a keypoint ``k`` of frame
    ``t + 2s`` (pair ``(t + s, t + 2s)``) that the direct match ``(t, t + 2s)`` also reaches from ``i``,
    or when it is the second half of such a cycle from frame ``t - s``. The cycle is on keypoint
    identities, not positions: content that moves wrongly still forms tracks (it is what the metric
    measures), while a mismatch rarely agrees with two other independent matches (a random keypoint of
    ~1000 would have to be picked twice). ``keys``/``skip_keys``: ``(view, first frame)`` of each row.
    """
    P, M = m.valid.shape
    dev = m.valid.device
    verified = torch.zeros(P, M, dtype=torch.bool, device=dev)
    if P == 0 or skip.valid.shape[0] == 0:
        return verified
    row = {k: r for r, k in enumerate(keys)}
    srow = {k: r for r, k in enumerate(skip_keys)}
    Ms = skip.index.shape[1]

    def gather_rows(idx: torch.Tensor, table: torch.Tensor, width: int) -> torch.Tensor:
        """``table[row, idx]`` with -1 for idx < 0 or beyond ``width``."""
        ok = (idx >= 0) & (idx < width)
        return torch.where(ok, table.gather(1, idx.clamp(0, width - 1)), torch.full_like(idx, -1))

    # Forward: pair p = (t, t+s), next q = (t+s, t+2s), skip k = (t, t+2s).
    fwd = [(r, row[(v, t + stride)], srow[(v, t)]) for r, (v, t) in enumerate(keys)
           if (v, t + stride) in row and (v, t) in srow]
    if fwd:
        p, q, k = (torch.as_tensor(x, device=dev) for x in zip(*fwd))
        j = m.index[p]  # (n, M) keypoint of frame t+s
        via = gather_rows(j, m.index[q], M)  # keypoint of frame t+2s through t+s
        direct = gather_rows(torch.arange(M, device=dev).expand(len(k), M), skip.index[k], Ms)
        verified[p] |= (j >= 0) & (via >= 0) & (via == direct)
    # Backward: pair p = (t, t+s) is the second half of the cycle from r = (t-s, t), skip k = (t-s, t+s).
    bwd = [(r, row[(v, t - stride)], srow[(v, t - stride)]) for r, (v, t) in enumerate(keys)
           if (v, t - stride) in row and (v, t - stride) in srow]
    if bwd:
        p, r, k = (torch.as_tensor(x, device=dev) for x in zip(*bwd))
        prev = m.index[r]  # (n, M): keypoint of frame t matched from each keypoint of frame t-s
        inv = torch.full((len(r), M + 1), -1, dtype=torch.long, device=dev)  # keypoint of t → its source in t-s
        src = torch.arange(M, device=dev).expand(len(r), M)
        inv.scatter_(1, torch.where(prev >= 0, prev, torch.full_like(prev, M)), src)
        i_prev = inv[:, :M]  # (n, M) for each keypoint i of frame t
        direct = gather_rows(i_prev, skip.index[k], Ms)
        j = m.index[p]
        verified[p] |= (j >= 0) & (i_prev >= 0) & (direct == j)
    return verified


def _estimate(x1: torch.Tensor, x2: torch.Tensor, fit_mask: torch.Tensor, opts: SampsonOptions
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Robust F per set (row): ``(S, N, 2)`` points, ``fit_mask (S, N)`` → F, inliers, ok (inlier
    threshold ``opts.threshold``)."""
    if opts.backend == "kornia":
        return epipolar.ransac_fundamental(
            x1, x2, fit_mask, threshold=opts.threshold, num_hypotheses=opts.hypotheses, seed=opts.seed
        )
    S, N, _ = x1.shape
    F = torch.zeros(S, 3, 3, dtype=torch.float64)
    inl = torch.zeros(S, N, dtype=torch.bool)
    ok = torch.zeros(S, dtype=torch.bool)
    a1, a2, m = x1.cpu().numpy(), x2.cpu().numpy(), fit_mask.cpu().numpy()
    for s in range(S):
        rows = np.nonzero(m[s])[0]
        if len(rows) < 8:
            continue
        Fs, inl_s = epipolar.fundamental_opencv(
            a1[s, rows], a2[s, rows], method=opts.ransac, threshold=opts.threshold,
            confidence=opts.confidence, max_iters=opts.max_iters,
        )
        if Fs is None:
            continue
        F[s] = torch.from_numpy(Fs)
        inl[s, torch.from_numpy(rows)] = torch.from_numpy(inl_s)
        ok[s] = True
    if opts.polish and bool(ok.any()):
        idx = torch.nonzero(ok)[:, 0]
        F_ref, inl_ref = epipolar.refine_fundamental(x1[idx], x2[idx], fit_mask[idx], F[idx], threshold=opts.threshold)
        F[idx] = epipolar.normalize_fundamental(F_ref)
        inl[idx] = inl_ref
        ok[idx] = inl_ref.sum(1) > 8
    return F, inl, ok


def _pair_stats(d: torch.Tensor, mask: torch.Tensor, keep: float, quantile: float
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Median, ``quantile`` and mean of the lowest ``keep`` fraction of ``d`` over ``mask`` per row,
    and the count used (quantiles interpolate linearly, as ``numpy.quantile``)."""
    n = mask.sum(1)
    k = torch.where(n > 0, torch.ceil(keep * n.double()).long().clamp(min=1), torch.zeros_like(n))
    nan = torch.full(n.shape, float("nan"), dtype=torch.float64, device=d.device)
    if d.shape[1] == 0:
        return nan, nan, nan, k
    e = torch.where(mask & ~torch.isnan(d), d, torch.full_like(d, float("inf")))
    s, _ = torch.sort(e, dim=1)

    def at(q: float) -> torch.Tensor:
        pos = q * (k - 1).clamp(min=0).double()
        lo = pos.floor().long()
        hi = pos.ceil().long()
        a, b = s.gather(1, lo[:, None])[:, 0], s.gather(1, hi[:, None])[:, 0]
        return a + (pos - lo) * torch.where(hi > lo, b - a, torch.zeros_like(a))

    within = torch.arange(d.shape[1], device=d.device)[None] < k[:, None]
    mean = torch.where(within, s, torch.zeros_like(s)).sum(1) / k.clamp(min=1)
    some = k > 0
    return (torch.where(some, at(0.5), nan), torch.where(some, at(quantile), nan), torch.where(some, mean, nan), k)


def _shot_cuts(n_matches: np.ndarray, pair_groups: list[str], opts: SampsonOptions) -> np.ndarray:
    """``(P,)`` bool: temporal pairs across a hard cut. Consecutive frames of one shot share most of
    their keypoints; across a cut the ratio and mutual tests leave a few chance matches (measured on the
    real clips: 2–5 % of a view's median pair). A pair with fewer than ``cut_fraction`` of its view's
    median count of matches is a cut."""
    names = np.array(pair_groups)
    out = np.zeros(len(pair_groups), bool)
    for g in dict.fromkeys(pair_groups):
        rows = names == g
        if rows.sum() >= 3:
            out[rows] = n_matches[rows] < opts.cut_fraction * float(np.median(n_matches[rows]))
    return out


def _camera_state(x1: torch.Tensor, x2: torch.Tensor, valid: torch.Tensor, pair_groups: list[str],
                  opts: SampsonOptions) -> torch.Tensor:
    """``(P,)`` bool: whether each pair's view has a still camera, decided once per view: the median
    over its pairs of the fraction of matches that move less than ``static_px`` is at least
    ``static_fraction``. Per pair, a jittering or warped background flipped the model (and so the
    quantity measured) from pair to pair."""
    n = valid.sum(1).double()
    frac = ((valid & ((x2 - x1).norm(dim=-1) < opts.still_px)).sum(1) / n.clamp(min=1)).cpu().numpy()
    has = n.cpu().numpy() > 0
    names = np.array(pair_groups)
    out = np.zeros(len(pair_groups), bool)
    for g in dict.fromkeys(pair_groups):
        rows = names == g
        f = frac[rows & has]
        out[rows] = len(f) > 0 and float(np.median(f)) >= opts.still_fraction
    return torch.as_tensor(out, device=x1.device)


@deterministic_on_cpu  # estimation and error statistics: values independent of the core count
def _evaluate_pairs(
    m: matching.Matches,
    kp_counts: torch.Tensor,
    pair_frames: np.ndarray,
    opts: SampsonOptions,
    *,
    pooled_sets: int = 0,
    calibrated_F: torch.Tensor | None = None,
    max_motions: int = 0,
    verified: torch.Tensor | None = None,
    pair_groups: list[str] | None = None,
    gross_px: float | None = None,
) -> dict[str, Any]:
    """Errors per pair: motion groups (:mod:`.motions`) or calibrated ``F``. ``pooled_sets=S``: the P
    pairs form S equal consecutive sets with one model each (a rigid rig). ``verified (P, M)``: the
    matches that enter the statistics (:func:`verify_tracks`; None: every match). ``pair_groups``: the
    view of each pair, whose camera state (still or moving) is decided once for all its pairs."""
    P, M = m.valid.shape
    x1, x2, valid = m.x1, m.x2, m.valid
    still_video = None
    if pair_groups is not None and not pooled_sets and calibrated_F is None:
        still_video = _camera_state(x1, x2, valid, pair_groups, opts)
    n_matches = valid.sum(1)
    set_F = None
    groups: list[list[int]] = [[] for _ in range(P)]
    if calibrated_F is not None:
        F_pair = calibrated_F.to(x1.device, torch.float64)
        ok_pair = F_pair.flatten(1).abs().amax(1) > 0
        d = epipolar.sampson_distance(x1, x2, F_pair)
        mode = torch.full((P,), 3, dtype=torch.long, device=x1.device)
        n_static = (valid & ((x2 - x1).norm(dim=-1) < opts.static_px)).sum(1)
    else:
        S = pooled_sets or P
        per = P // S
        fit = motions.fit_motions(
            x1.reshape(S, per * M, 2), x2.reshape(S, per * M, 2), valid.reshape(S, per * M),
            lambda a, b, mask: _estimate(a, b, mask, opts), threshold=opts.threshold, static_px=opts.static_px,
            static_fraction=opts.static_fraction, min_moving=opts.min_moving, max_motions=max_motions,
            group_min=opts.group_min, group_threshold=opts.group_threshold, group_separation=opts.group_separation,
            group_estimate=lambda a, b, mask: _estimate(a, b, mask, replace(opts, threshold=opts.group_threshold)),
            still=still_video,
            still_group_estimate=lambda a, b, mask: epipolar.ransac_homography(
                a, b, mask, threshold=opts.group_threshold, seed=opts.seed),
        )
        d = fit.error.reshape(P, M)
        ok_pair = fit.ok.repeat_interleave(per, 0)
        mode = torch.zeros(S, dtype=torch.long, device=x1.device)
        mode[fit.still & ~fit.still_scene] = 1
        mode[fit.still_scene] = 2
        mode = mode.repeat_interleave(per, 0)
        n_static = (valid & ((x2 - x1).norm(dim=-1) < opts.static_px)).sum(1)
        if pooled_sets:
            set_F = fit.F[:, 0]
        else:
            sizes, exists = fit.group_sizes(opts.threshold).cpu().numpy(), fit.exists.cpu().numpy()
            groups = [[int(c) for c, e in zip(sizes[p], exists[p]) if e] for p in range(P)]
    inl = valid & (d < opts.threshold)
    flow = (x2 - x1).norm(dim=-1)
    used = valid if verified is None else valid & verified.to(valid.device)
    if opts.select == "inliers":
        used = used & inl
    gross = used & ~(d < (opts.gross_px if gross_px is None else gross_px))
    fine = used & ~gross
    if opts.keep < 1:  # only the lowest `keep` fraction of each pair's errors
        e = torch.where(fine, d, torch.full_like(d, float("inf")))
        n = fine.sum(1)
        k = torch.ceil(opts.keep * n.double()).long().clamp(min=1)
        kth = torch.sort(e, dim=1).values.gather(1, (k - 1).clamp(max=max(e.shape[1] - 1, 0))[:, None])
        fine = fine & (e <= kth)
    moved = fine & ~(flow < opts.static_px)
    med, quant, mean, n_fine = _pair_stats(d, fine, 1.0, opts.quantile)  # `keep` already applied to fine
    dz = torch.where(fine, d, torch.zeros_like(d))
    out = {
        "median": med.cpu().numpy(), "quantile": quant.cpu().numpy(), "mean": mean.cpu().numpy(),
        "n_used": n_fine.cpu().numpy(), "n_matches": n_matches.cpu().numpy(), "n_inliers": inl.sum(1).cpu().numpy(),
        "n_static": n_static.cpu().numpy(), "mode": mode.cpu().numpy(), "ok": ok_pair.cpu().numpy(),
        "set_F": None if set_F is None else set_F.cpu().numpy(), "groups": groups,
        # sums for the support-weighted pooling over pairs (:func:`_summary`)
        "n_verified": used.sum(1).cpu().numpy(), "n_gross": gross.sum(1).cpu().numpy(),
        "err_sum": dz.sum(1).cpu().numpy(), "n_moved": moved.sum(1).cpu().numpy(),
        "err_sum_moved": torch.where(moved, d, torch.zeros_like(d)).sum(1).cpu().numpy(),
        "flow_sum": torch.where(fine, flow, torch.zeros_like(flow)).sum(1).cpu().numpy(),
        "excess_sum": torch.where(fine, (d - opts.noise_px).clamp(min=0), torch.zeros_like(d)).sum(1).cpu().numpy(),
    }
    # Degenerate reasons, most basic first.
    reasons: list[str | None] = []
    kc = kp_counts.cpu().numpy()
    cut = _shot_cuts(out["n_matches"], pair_groups, opts) if pair_groups is not None else np.zeros(P, bool)
    for p in range(P):
        fa, fb = pair_frames[p]
        if kc[p, 0] == 0 or kc[p, 1] == 0:
            which = fa if kc[p, 0] == 0 else fb
            reasons.append(f"no_keypoints: no keypoints in frame {which} (blank or textureless)")
        elif cut[p]:
            reasons.append(f"shot_cut: {int(out['n_matches'][p])} matches between frames {fa} and {fb}, under "
                           f"{opts.cut_fraction:g} of the view's median pair (a different shot)")
        elif out["n_matches"][p] < opts.min_matches:
            reasons.append(f"few_matches: {int(out['n_matches'][p])} matches < {opts.min_matches}")
        elif not out["ok"][p]:
            reasons.append("no_camera_baseline: calibrated cameras share their centre" if calibrated_F is not None
                           else "estimation_failed: no fundamental matrix with more than 8 inliers")
        elif out["n_used"][p] == 0 or not np.isfinite(out["median"][p]):
            reasons.append("no_measured_matches: no match entered the error")
        else:
            reasons.append(None)
    out["reason"] = reasons
    return out


def _run(
    windows: Iterable[Mapping[str, np.ndarray]],
    opts: SampsonOptions,
    *,
    stride: int | None,
    cross_mode: str | None,
    cameras: Mapping[str, Any] | None,
    timings: dict[str, float] | None = None,
) -> tuple[dict[str, _PairTable], list[str], int]:
    """Features and matches window by window, then every estimate at once: (tables, view names, frames).

    A window is ``{view: (n, H, W, 3)}``, the next ``n`` frames of every view. Only the features of
    the last ``stride`` frames of each view outlive their window (the first frames of the next
    window's temporal pairs); no pixels do. Per-frame features and per-pair matches do not depend
    on how the frames were cut into windows, and the pairs are put back in the all-at-once order
    before estimation, so the values do not either.
    """
    device = matching.resolve_device(opts.backend, opts.device)
    timings = timings if timings is not None else {}
    clock = _Clock(device, timings)
    temporal, skip, cross = _Pairs.empty(), _Pairs.empty(), _Pairs.empty()  # skip: (t, t + 2 stride), for cycles
    names: list[str] = []
    carry: dict[str, matching.Features] = {}  # per view: features of frames [t0 - len, t0)
    t0 = 0
    for window in windows:
        views = as_views(window)
        if not names:
            names = list(views)
        elif list(views) != names:
            raise ValueError(f"every window must have the views {names}, got {list(views)}")
        n = next(iter(views.values())).shape[0]
        feats = {name: matching.detect(views[name], backend=opts.backend, device=device,
                                       max_features=opts.max_features, contrast_threshold=opts.contrast_threshold,
                                       upright=opts.upright, features=opts.features) for name in names}
        del window, views  # the reader may decode the next window into the memory freed here
        clock.lap("detect")
        if stride is not None:
            for vi, name in enumerate(names):
                prev = carry.get(name)
                local = _concat_features([prev, feats[name]]) if prev is not None else feats[name]
                base = t0 - (prev.valid.shape[0] if prev is not None else 0)  # frame of local index 0
                ts = range(max(base, t0 - stride), t0 + n - stride)
                temporal.add(local, [(t - base, t - base + stride) for t in ts], [(vi, t) for t in ts],
                             [name] * len(ts), [(t, t + stride) for t in ts], opts)
                ts2 = range(max(base, t0 - 2 * stride), t0 + n - 2 * stride)
                skip.add(local, [(t - base, t - base + 2 * stride) for t in ts2], [(vi, t) for t in ts2],
                         [name] * len(ts2), [(t, t + 2 * stride) for t in ts2], opts)
                keep = min(2 * stride, local.valid.shape[0])
                carry[name] = matching.Features(*(getattr(local, a)[-keep:].clone()
                                                  for a in ("keypoints", "descriptors", "valid")))
            clock.lap("tse_match")
        if cross_mode is not None and len(names) > 1:
            allf = _concat_features([feats[name] for name in names])
            vpairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
            for k, (i, j) in enumerate(vpairs):
                cross.add(allf, [(i * n + t, j * n + t) for t in range(n)], [(k, t0 + t) for t in range(n)],
                          [f"{names[i]}|{names[j]}"] * n, [(t0 + t, t0 + t) for t in range(n)], opts)
            clock.lap("cse_match")
        t0 += n
    if not names:
        raise ValueError("no frames given")
    T = t0
    tables: dict[str, _PairTable] = {}

    def table(groups: list[str], frames: np.ndarray, res: dict[str, Any], fund: dict[str, list[float]]) -> _PairTable:
        mode = np.where([r is None for r in res["reason"]], res["mode"], MODE_NAMES.index("degenerate"))
        return _PairTable(groups, frames[:, 0], frames[:, 1], res["median"], res["quantile"], res["mean"],
                          res["n_matches"], res["n_inliers"], res["n_used"], res["n_static"], mode.astype(int),
                          res["reason"], fund, res["groups"], {k: np.asarray(res[k], float) for k in SUMS})

    if stride is not None:
        if temporal.keys:
            m, kpc, groups, frames = temporal.ordered()
            verified = None
            if skip.keys:
                sm = skip.ordered()[0]
                verified = verify_tracks(m, sorted(temporal.keys), sm, sorted(skip.keys), stride)
            clock.lap("tse_match")
            res = _evaluate_pairs(m, kpc, frames, opts, max_motions=opts.max_motions, verified=verified,
                                  pair_groups=groups)
            tables[TSE] = table(groups, frames, res, {})
            clock.lap("tse_estimate")
        else:
            tables[TSE] = table([], np.zeros((0, 2), int), _empty_result(), {})

    if cross_mode is not None and len(names) > 1:
        vpairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
        m, kpc, groups, frames = cross.ordered()
        clock.lap("cse_match")
        calF = None
        if cross_mode == "calibrated":
            if cameras is None:
                raise ValueError("mode='calibrated' needs cameras={view: (K, R, t)}")
            Fs = []
            for a, b in vpairs:
                for name in (a, b):
                    if name not in cameras:
                        raise ValueError(f"no camera for view {name!r}; cameras has {sorted(cameras)}")
                Ka, Ra, ta = _camera_arrays(cameras[a], T)
                Kb, Rb, tb = _camera_arrays(cameras[b], T)
                Fs.append(epipolar.fundamental_from_cameras(Ka, Ra, ta, Kb, Rb, tb))
            calF = torch.cat(Fs)
        res = _evaluate_pairs(m, kpc, frames, opts,
                              pooled_sets=len(vpairs) if cross_mode == "pooled" else 0, calibrated_F=calF,
                              gross_px=opts.cross_gross_px)
        fund = {}
        if res["set_F"] is not None:
            fund = {f"{a}|{b}": res["set_F"][i].reshape(-1).tolist() for i, (a, b) in enumerate(vpairs)}
        tables[CSE] = table(groups, frames, res, fund)
        clock.lap("cse_estimate")
    return tables, names, T


class _Clock:
    """Wall time per stage (synchronising CUDA so that each stage is charged its own kernels)."""

    def __init__(self, device: torch.device, out: dict[str, float]) -> None:
        self.device, self.out = device, out
        self.t = self._now()

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def lap(self, name: str) -> None:
        now = self._now()
        self.out[name] = round(self.out.get(name, 0.0) + now - self.t, 4)
        self.t = now


def _empty_result() -> dict[str, Any]:
    z = np.zeros(0)
    return {"median": z, "quantile": z, "mean": z, "n_matches": z, "n_inliers": z, "n_used": z, "n_static": z,
            "mode": z, "reason": [], "groups": [], **{k: z for k in SUMS}}


# --------------------------------------------------------------------------------------------------
# Aggregation into a MetricResult
# --------------------------------------------------------------------------------------------------


def _summary(tab: _PairTable, rows: np.ndarray) -> dict[str, Any]:
    ok = np.array([tab.reason[i] is None for i in rows], bool) if len(rows) else np.zeros(0, bool)
    okr = rows[ok]
    kinds = Counter(tab.reason[i].split(":")[0] for i in rows if tab.reason[i] is not None)
    tot = {k: float(tab.sums[k][okr].sum()) for k in SUMS}
    n_fine = float(tab.n_used[okr].sum()) if len(okr) else 0.0

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 else float("nan")

    return {
        "value": ratio(tot["excess_sum"], n_fine),
        "mean_error": ratio(tot["err_sum"], n_fine),
        "mean_error_moved": ratio(tot["err_sum_moved"], tot["n_moved"]),
        "gross_rate": ratio(tot["n_gross"], tot["n_verified"]),
        "motion": ratio(tot["flow_sum"], n_fine),
        "moved_fraction": ratio(tot["n_moved"], n_fine),
        "n_measured": int(n_fine),
        "mean_of_quantiles": float(np.mean(tab.quantile[okr])) if len(okr) else float("nan"),
        "mean_of_medians": float(np.mean(tab.median[okr])) if len(okr) else float("nan"),
        "mean_of_means": float(np.mean(tab.mean[okr])) if len(okr) else float("nan"),
        "n_pairs": int(len(rows)),
        "n_ok": int(len(okr)),
        "n_degenerate": int(len(rows) - len(okr)),
        "degenerate_reasons": dict(kinds),
        "n_static_camera_pairs": int(np.sum(tab.mode[okr] == 1)) if len(okr) else 0,
        "n_static_scene_pairs": int(np.sum(tab.mode[okr] == 2)) if len(okr) else 0,
    }


def _result(name: str, version: str, tab: _PairTable, group_key: str, extra: dict[str, Any]) -> MetricResult:
    rows = np.arange(len(tab.group))
    summ = _summary(tab, rows)
    groups = list(dict.fromkeys(tab.group))
    per_group = {g: _summary(tab, np.array([i for i in rows if tab.group[i] == g], int)) for g in groups}
    step = float(extra.get("stride") or 1)  # motion per frame: a pair spans `stride` frames
    for sm in (summ, *per_group.values()):
        sm["motion"] /= step
    pairs = []
    for i in rows:
        pairs.append({
            group_key: tab.group[i],
            "frame": int(tab.frame[i]),
            "frame2": int(tab.frame2[i]),
            "status": "ok" if tab.reason[i] is None else "degenerate",
            "reason": tab.reason[i],
            "mode": MODE_NAMES[int(tab.mode[i])],
            "value": float(tab.sums["excess_sum"][i] / tab.n_used[i]) if tab.n_used[i] else float("nan"),
            "q95": float(tab.quantile[i]),
            "n_gross": int(tab.sums["n_gross"][i]),
            "motion": float(tab.sums["flow_sum"][i] / tab.n_used[i] / step) if tab.n_used[i] else float("nan"),
            "median": float(tab.median[i]),
            "mean": float(tab.mean[i]),
            "n_matches": int(tab.n_matches[i]),
            "n_inliers": int(tab.n_inliers[i]),
            "n_used": int(tab.n_used[i]),
            "n_static": int(tab.n_static[i]),
            **({"motion_groups": tab.motion_groups[i]} if tab.motion_groups[i] else {}),
        })
    extra = dict(extra)
    noise_px = extra.pop("noise_px")
    min_moving = extra.pop("min_moving")
    details: dict[str, Any] = {
        "statistic": (f"mean over the verified matches of all pairs (pooled, weighted by support) of the error "
                      f"beyond {noise_px:g} px, matches with errors of {extra['gross_px']:g} px or more left out "
                      "and counted as gross_rate"),
        "mean_error": summ["mean_error"],
        "mean_error_moved": summ["mean_error_moved"],
        "gross_rate": summ["gross_rate"],
        "motion": summ["motion"],
        "moved_fraction": summ["moved_fraction"],
        "n_measured": summ["n_measured"],
        "mean_of_quantiles": summ["mean_of_quantiles"],
        "mean_of_medians": summ["mean_of_medians"],
        "mean_of_means": summ["mean_of_means"],
        "n_motion_group_pairs": int(sum(len(g) > 1 for g in tab.motion_groups)),
        "n_pairs": summ["n_pairs"],
        "n_ok": summ["n_ok"],
        "n_degenerate": summ["n_degenerate"],
        "degenerate_reasons": summ["degenerate_reasons"],
        "n_static_camera_pairs": summ["n_static_camera_pairs"],
        "n_static_scene_pairs": summ["n_static_scene_pairs"],
        group_key + "s": per_group,
        "pairs": pairs,
        **extra,
    }
    if tab.fundamentals:
        details["fundamental"] = tab.fundamentals
    details = json_safe(details)  # NaN/inf of degenerate pairs → None, as the results store needs
    direction = "lower"
    if summ["n_ok"] == 0:
        if summ["n_pairs"] == 0:
            reason = "no frame pairs to measure"
        else:
            top = Counter(r for r in tab.reason if r is not None).most_common(1)[0][0]
            reason = f"all {summ['n_pairs']} pairs degenerate (e.g. {top})"
        return MetricResult.failed(name, version, direction, "degenerate", reason, details)
    n_moved = int(round(summ["moved_fraction"] * summ["n_measured"])) if summ["n_measured"] else 0
    if name == TSE and n_moved < min_moving:
        return MetricResult.failed(name, version, direction, "static", static_reason(n_moved, min_moving), details)
    return MetricResult(name, version, direction, summ["value"], "ok", None, details)


def static_reason(n_moved: int, min_moving: int) -> str:
    return (f"static: {n_moved} matched points moved in the whole video (fewer than {min_moving}): nothing moves, "
            "so there is no geometry to check (a result, not a best score)")


def sampson_metrics(
    video: Any,
    *,
    stride: int | None = 1,
    mode: str | None = "pooled",
    cameras: Mapping[str, Any] | None = None,
    backend: str = "opencv",
    device: str | None = None,
    **options: Any,
) -> dict[str, MetricResult]:
    """TSE and CSE of one video from one feature detection pass.

    Args:
        video: frames ``(T, H, W, 3)`` uint8 RGB, ``{view: frames}``, an object with ``.views``
            (and ``.cameras``, used for ``mode="calibrated"`` when ``cameras`` is None), or an
            iterator of ``{view: frames}`` windows, consecutive frames of every view (as
            :meth:`~cosmos_bench.data.suite.Suite.iter_views` reads a long video): the same values,
            with at most one window of frames in memory.
        stride: temporal pair distance (pairs ``(t, t + stride)`` for every t); None skips TSE.
        mode: cross-view mode (``"pooled"`` | ``"per_frame"`` | ``"calibrated"``); None skips CSE,
            as does a single view.
        cameras: ``{view: (K, R, t)}`` (world → camera; per clip or per frame) for ``"calibrated"``.
        backend, device, options: see :class:`SampsonOptions`.

    Returns:
        ``{"tse": MetricResult, "cse": MetricResult}`` (the ones asked for).
    """
    opts = SampsonOptions.from_kwargs(backend=backend, device=device, **options)
    if cameras is None and hasattr(video, "cameras") and not isinstance(video, Mapping):
        cameras = video.cameras
    if stride is not None and (not isinstance(stride, (int, np.integer)) or stride < 1):
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    if mode is not None and mode not in CROSS_VIEW_MODES:
        raise ValueError(f"mode must be one of {CROSS_VIEW_MODES}, got {mode!r}")
    if isinstance(video, Iterator):
        windows: Iterable[Any] = video  # read window by window (e.g. Suite.iter_views)
    else:
        views = as_views(video)
        windows = [views]
        if len(views) < 2:
            mode = None
    if stride is None and mode is None:
        return {}
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    tables, names, T = _run(windows, opts, stride=stride, cross_mode=mode, cameras=cameras, timings=timings)
    seconds = time.perf_counter() - t0
    dev = str(matching.resolve_device(opts.backend, opts.device))
    extra = {"backend": opts.backend, "device": dev, "view_names": names, "frames": T,
             "seconds_all_metrics": round(seconds, 4), "timings": timings, "noise_px": opts.noise_px,
             "gross_px": opts.gross_px, "min_moving": opts.min_moving}
    out: dict[str, MetricResult] = {}
    if TSE in tables:
        out[TSE] = _result(TSE, tse_version(opts, stride), tables[TSE], "view", {**extra, "stride": stride})
    if CSE in tables:
        out[CSE] = _result(CSE, cse_version(opts, mode), tables[CSE], "view_pair",
                           {**extra, "mode": mode, "gross_px": opts.cross_gross_px})
        tse = out.get(TSE)
        if tse is not None and tse.status == "static" and out[CSE].ok:  # a frozen rig: one instant, not a score
            c = out[CSE]
            out[CSE] = MetricResult.failed(CSE, c.version, c.direction, "static", tse.reason or "static", c.details)
    return out


def temporal_sampson(
    frames: Any, *, stride: int = 1, backend: str = "opencv", device: str | None = None, **options: Any
) -> MetricResult:
    """Temporal Sampson Error (TSE) of a video; for a dict of views, the aggregate over views.

    Every pair ``(t, t + stride)`` of each view gets an ``F`` estimated with unknown intrinsics;
    value = mean over pairs (all views pooled) of the per-pair ``quantile`` (0.95) of the matches'
    √Sampson errors, pixels (lower is better; the module docstring says why a quantile). ``details["views"]`` has each view's value; ``details["pairs"]`` every pair.
    See the module docstring for static cameras and degenerate pairs, :class:`SampsonOptions`
    for ``options``.
    """
    return sampson_metrics(frames, stride=stride, mode=None, backend=backend, device=device, **options)[TSE]


def cross_view_sampson(
    views: Any,
    *,
    mode: str = "pooled",
    cameras: Mapping[str, Any] | None = None,
    backend: str = "opencv",
    device: str | None = None,
    **options: Any,
) -> MetricResult:
    """Cross-view Sampson Error (CSE) between simultaneous frames of every pair of views.

    ``mode="pooled"`` (default): one ``F`` per view pair from the matches of all frames (a rigid
    rig); ``"per_frame"``: one ``F`` per frame (a moving rig); ``"calibrated"``: ``F`` from
    ``cameras`` (``{view: (K, R, t)}``, world → camera), no estimation. Value = mean over frames
    (and view pairs) of the per-frame ``quantile`` (0.95) of the √Sampson errors, pixels (lower is better).
    """
    if mode is None or mode not in CROSS_VIEW_MODES:
        raise ValueError(f"mode must be one of {CROSS_VIEW_MODES}, got {mode!r}")
    v = as_views(views)
    if len(v) < 2:
        raise ValueError(f"cross-view Sampson error needs at least 2 views, got {list(v)}")
    return sampson_metrics(views, stride=None, mode=mode, cameras=cameras, backend=backend, device=device,
                           **options)[CSE]
