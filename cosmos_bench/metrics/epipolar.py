"""Two-view epipolar geometry as batched pure functions.

Convention (used by every function here, by ``cv2.findFundamentalMat`` and by
``kornia.geometry.epipolar``): points are pixel coordinates ``(x, y)``, x to the right, y down, with
the centre of the top-left pixel at ``(0, 0)``; a correspondence ``(x1, x2)`` of image 1 and image 2
satisfies

    x2ᵀ F x1 = 0                                   (Hartley & Zisserman, eq. 9.3)

so ``F x1`` is the epipolar line of ``x1`` in image 2 and ``Fᵀ x2`` that of ``x2`` in image 1.
Cameras map world points as ``x_cam = R X + t`` (world → camera) and project with ``K``.

Shapes follow kornia: points ``(*, N, 2)``, matrices ``(*, 3, 3)``, masks ``(*, N)``; one call covers
one pair or every pair of a video. The per-video loop lives in :mod:`cosmos_bench.metrics.geometry`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
from kornia.geometry.epipolar import find_fundamental, sampson_epipolar_distance

from .determinism import deterministic_on_cpu

__all__ = [
    "sampson_distance",
    "sampson_terms",
    "cross_product_matrix",
    "fundamental_from_cameras",
    "normalize_fundamental",
    "ransac_fundamental",
    "refine_fundamental",
    "lm_refine_fundamental",
    "fit_translation_fundamental",
    "fundamental_opencv",
    "OPENCV_METHODS",
]


def _check_points(name: str, x: torch.Tensor) -> None:
    if x.ndim < 2 or x.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (*, N, 2), got {tuple(x.shape)}")


def sampson_distance(x1: Any, x2: Any, F: Any) -> Any:
    """√Sampson distance in pixels of correspondences ``x1 ↔ x2`` under ``F`` (convention above).

    The Sampson distance is the first-order approximation of the geometric error: the smallest
    joint displacement of ``(x1, x2)`` that puts them on corresponding epipolar lines
    (H&Z eq. 11.9): ``(x2ᵀF x1)² / ((F x1)₁² + (F x1)₂² + (Fᵀx2)₁² + (Fᵀx2)₂²)``. This returns its
    square root, in pixels, computed by ``kornia.geometry.epipolar.sampson_epipolar_distance``.

    Args:
        x1: ``(*, N, 2)`` points of image 1 (torch tensor or numpy array).
        x2: ``(*, N, 2)`` points of image 2.
        F: ``(*, 3, 3)`` fundamental matrices (any scale).

    Returns:
        ``(*, N)`` distances, of the input's type (numpy in → numpy out, float64). A point whose
        epipolar lines are both undefined (``F`` = 0) is at distance ``inf``.
    """
    as_numpy = not isinstance(x1, torch.Tensor)
    if as_numpy:
        x1, x2, F = (torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in (x1, x2, F))
    _check_points("x1", x1)
    _check_points("x2", x2)
    if F.shape[-2:] != (3, 3):
        raise ValueError(f"F must have shape (*, 3, 3), got {tuple(F.shape)}")
    d = sampson_epipolar_distance(x1, x2, F.to(x1.dtype), squared=False)
    return d.numpy() if as_numpy else d


def sampson_terms(x1: torch.Tensor, x2: torch.Tensor, F: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Algebraic residual ``r = x2ᵀ F x1`` and Sampson denominator ``g`` (so Sampson² = r² / g).

    Shapes: ``x1, x2 (B, N, 2)``, ``F (B, 3, 3)`` → ``r, g (B, N)``. Used to weight refits so that
    the linear eight-point solve minimises the Sampson error (H&Z §11.4.3, iterative reweighting).
    """
    h1 = torch.cat([x1, torch.ones_like(x1[..., :1])], -1)
    h2 = torch.cat([x2, torch.ones_like(x2[..., :1])], -1)
    l2 = h1 @ F.transpose(-1, -2)  # rows: F x1, epipolar lines in image 2
    l1 = h2 @ F  # rows: Fᵀ x2, epipolar lines in image 1
    r = (h2 * l2).sum(-1)
    g = l2[..., 0] ** 2 + l2[..., 1] ** 2 + l1[..., 0] ** 2 + l1[..., 1] ** 2
    return r, g


def cross_product_matrix(v: torch.Tensor) -> torch.Tensor:
    """``[v]×`` of ``(*, 3)`` vectors, so that ``[v]× u = v × u``; shape ``(*, 3, 3)``."""
    z = torch.zeros_like(v[..., 0])
    a, b, c = v[..., 0], v[..., 1], v[..., 2]
    return torch.stack([torch.stack([z, -c, b], -1), torch.stack([c, z, -a], -1), torch.stack([-b, a, z], -1)], -2)


def normalize_fundamental(F: torch.Tensor) -> torch.Tensor:
    """``F`` scaled to unit Frobenius norm and sign fixed so the largest-magnitude entry is positive."""
    flat = F.flatten(-2)
    sign = torch.sign(flat.gather(-1, flat.abs().argmax(-1, keepdim=True)))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    norm = flat.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(F.dtype).tiny)
    return (flat * sign / norm).reshape(F.shape)


def fundamental_from_cameras(
    K1: Any, R1: Any, t1: Any, K2: Any, R2: Any, t2: Any
) -> torch.Tensor:
    """Ground-truth ``F`` of two calibrated cameras (``x_cam = R X + t``), convention ``x2ᵀ F x1 = 0``.

    With the relative pose ``R = R2 R1ᵀ``, ``t = t2 − R t1`` (camera 1 → camera 2) the essential
    matrix is ``E = [t]× R`` and ``F = K2⁻ᵀ E K1⁻¹`` (H&Z eq. 9.12). All inputs broadcast:
    ``K (*, 3, 3)``, ``R (*, 3, 3)``, ``t (*, 3)``. Returns float64 ``(*, 3, 3)``, unit Frobenius norm
    (all zeros when the cameras share their centre: no epipolar geometry).
    """
    K1, R1, t1, K2, R2, t2 = (torch.as_tensor(np.asarray(a, dtype=np.float64)) if not isinstance(a, torch.Tensor)
                              else a.double() for a in (K1, R1, t1, K2, R2, t2))
    R = R2 @ R1.transpose(-1, -2)
    t = t2 - (R @ t1[..., None])[..., 0]
    E = cross_product_matrix(t) @ R
    F = torch.linalg.inv(K2).transpose(-1, -2) @ E @ torch.linalg.inv(K1)
    flat = F.flatten(-2)
    norm = flat.norm(dim=-1, keepdim=True)
    scale = torch.where(norm > 1e-12 * (1 + t.norm(dim=-1, keepdim=True)), 1 / norm, torch.zeros_like(norm))
    return (flat * scale).reshape(F.shape)


# --------------------------------------------------------------------------------------------------
# Robust estimation, batched over pairs (torch: CPU or CUDA)
# --------------------------------------------------------------------------------------------------


def _compact(valid: torch.Tensor, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Move the valid entries of each row to the front (stable); returns (valid, *xs) reordered."""
    order = torch.argsort((~valid).to(torch.int8), dim=1, stable=True)
    out = [valid.gather(1, order)]
    for x in xs:
        out.append(x.gather(1, order[..., None].expand(-1, -1, x.shape[-1])))
    return (*out, order)  # type: ignore[return-value]


def _msac_cost(d2: torch.Tensor, mask: torch.Tensor, th2: float | torch.Tensor) -> torch.Tensor:
    """Truncated quadratic (MSAC) cost over ``mask``: Σ min(d²/th², 1); NaN counts as an outlier."""
    c = torch.clamp(d2 / th2, max=1.0)
    c = torch.where(torch.isnan(c), torch.ones_like(c), c)
    return (c * mask).sum(-1)


def _design_rows(h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
    """``vec(x2 x1ᵀ)`` rows ``(B, N, 9)`` of homogeneous points, so that ``row · vec(F) = x2ᵀ F x1``."""
    return (h2[..., :, None] * h1[..., None, :]).flatten(-2)


def _shared_scale_normalization(x1: torch.Tensor, x2: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per-image centring and one isotropic scale ``s`` per pair (mean radius √2 over both images).

    Sampson distances are invariant to translating either image and scale with a common zoom, so in
    these coordinates they are exactly ``s`` times the pixel distances. Returns ``T1, T2 (B, 3, 3)``, ``s (B,)``.
    """
    w = mask.to(x1.dtype)
    n = w.sum(1).clamp_min(1)
    c1 = (x1 * w[..., None]).sum(1) / n[:, None]
    c2 = (x2 * w[..., None]).sum(1) / n[:, None]
    r = (((x1 - c1[:, None]).norm(dim=-1) + (x2 - c2[:, None]).norm(dim=-1)) * w).sum(1) / (2 * n)
    s = math.sqrt(2) / r.clamp_min(1e-12)
    T = []
    for c in (c1, c2):
        t = torch.zeros(x1.shape[0], 3, 3, dtype=x1.dtype, device=x1.device)
        t[:, 0, 0] = s
        t[:, 1, 1] = s
        t[:, 0, 2] = -s * c[:, 0]
        t[:, 1, 2] = -s * c[:, 1]
        t[:, 2, 2] = 1
        T.append(t)
    return T[0], T[1], s


_HAT = ((0.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0)), ((0.0, 0.0, 1.0), (0.0, 0.0, 0.0), (-1.0, 0.0, 0.0)), (
    (0.0, -1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 0.0))


def lm_refine_fundamental(
    F: torch.Tensor,
    x1: torch.Tensor,
    x2: torch.Tensor,
    mask: torch.Tensor,
    *,
    threshold: float = 1.0,
    iters: int = 10,
    schedule: Sequence[tuple[float | torch.Tensor, int]] | None = None,
) -> torch.Tensor:
    """Levenberg–Marquardt on the truncated Sampson cost ``Σ min(d², th²)``, batched over pairs.

    ``F = U diag(1, σ, 0) Vᵀ`` with rotations ``U, V`` updated by Cayley steps: the minimal
    seven-parameter form of Bartoli & Sturm (TPAMI 2004), as in kornia's single-pair
    ``_refine_fundamental_lm`` and PoseLib, here with different correspondences per pair.
    A step is kept only where it lowers the cost. ``schedule`` (default ``((threshold, iters),)``):
    ``(threshold, iterations)`` stages run in order on the same parametrisation, a graduated
    truncation in one loop (the cost is re-evaluated where the threshold changes). Shapes:
    ``F (B, 3, 3)``, ``x1, x2 (B, N, 2)``, ``mask (B, N)`` → refined ``F (B, 3, 3)`` float64.
    """
    dt = torch.float64
    dev = F.device
    x1, x2, F = x1.to(dt), x2.to(dt), F.to(dt)
    B = F.shape[0]
    T1, T2, s = _shared_scale_normalization(x1, x2, mask)
    ones = torch.ones_like(x1[..., :1])
    h1 = torch.cat([x1, ones], -1) @ T1.transpose(1, 2)
    h2 = torch.cat([x2, ones], -1) @ T2.transpose(1, 2)
    Fn = torch.linalg.inv(T2).transpose(1, 2) @ F @ torch.linalg.inv(T1)
    Fn = Fn / Fn.flatten(1).norm(dim=1).clamp_min(1e-300)[:, None, None]
    stages = list(schedule) if schedule is not None else [(threshold, iters)]
    w_mask = mask.to(dt)
    algebraic = _design_rows(h1, h2).transpose(1, 2)  # (B, 9, N)
    quadratic = torch.cat([_design_rows(h1, h1), _design_rows(h2, h2)], 2).transpose(1, 2)  # (B, 18, N)
    E = torch.tensor(_HAT, dtype=dt, device=dev)
    eye3 = torch.eye(3, dtype=dt, device=dev)
    eye7 = torch.eye(7, dtype=dt, device=dev)

    def normal_equations(Fm: torch.Tensor, UV: torch.Tensor, scale2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tangent = torch.cat([E @ Fm[:, None], (Fm[:, None] @ E).neg(), (UV[:, 0, :, 1:2] @ UV[:, 1, :, 1:2].mT)[:, None]], 1)
        stacked = torch.cat([Fm[:, None], tangent], 1)  # (B, 8, 3, 3)
        quad1 = Fm[:, None, :2, :].mT @ stacked[:, :, :2, :]
        quad2 = Fm[:, None, :, :2] @ stacked[:, :, :, :2].mT
        out_c = stacked.reshape(B, 8, 9) @ algebraic
        out_g = torch.cat([quad1, quad2], 2).reshape(B, 8, 18) @ quadratic
        den = torch.where(w_mask > 0, out_g[:, 0], torch.ones_like(out_g[:, 0])).clamp_min(1e-300)
        inv = den.rsqrt()
        r = out_c[:, 0] * inv
        J = (out_c[:, 1:] - (r * inv)[:, None] * out_g[:, 1:]) * inv[:, None]  # (B, 7, N)
        r2 = r * r
        w = (r2 < scale2).to(dt) * w_mask
        rho = torch.minimum(r2, scale2.expand_as(r2)) * w_mask
        Jw = J * w[:, None]
        return torch.cat([Jw @ J.mT, Jw @ r[..., None]], 2), rho.sum(1)

    def compose(UV: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sc = torch.stack([torch.ones_like(sigma), sigma], 1)[:, None, :]
        return (UV[:, 0, :, :2] * sc) @ UV[:, 1, :, :2].mT

    U, S, Vh = torch.linalg.svd(Fn)
    V = Vh.mT
    U = torch.cat([U[..., :2], U[..., 2:] * torch.linalg.det(U).sign()[:, None, None]], -1)
    V = torch.cat([V[..., :2], V[..., 2:] * torch.linalg.det(V).sign()[:, None, None]], -1)
    UV = torch.stack([U, V], 1)
    sigma = S[:, 1] / S[:, 0].clamp_min(1e-300)
    Fm = compose(UV, sigma)
    for th, n_iter in stages:
        if n_iter <= 0:
            continue
        scale2 = ((s * th) ** 2)[:, None]
        system, cost = normal_equations(Fm, UV, scale2)  # the cost at this stage's threshold
        damping = torch.full((B, 1, 1), 1e-3, dtype=dt, device=dev)
        for _ in range(n_iter):
            delta = -torch.linalg.solve_ex(system[..., :7] + damping * eye7, system[..., 7:])[0][..., 0]
            delta = torch.where(torch.isfinite(delta), delta, torch.zeros_like(delta))
            half = delta[:, :6].reshape(B * 2, 3) * 0.5
            skew = (half @ E.reshape(3, 9)).reshape(B, 2, 3, 3)
            factor = (2.0 / (1.0 + half.square().sum(1))).reshape(B, 2, 1, 1)
            UV_new = (eye3 + factor * (skew + skew @ skew)) @ UV
            sigma_new = sigma + delta[:, 6]
            F_new = compose(UV_new, sigma_new)
            system_new, cost_new = normal_equations(F_new, UV_new, scale2)
            accept = (cost_new < cost)[:, None, None]
            UV = torch.where(accept[..., None], UV_new, UV)
            Fm = torch.where(accept, F_new, Fm)
            system = torch.where(accept, system_new, system)
            sigma = torch.where(accept[:, 0, 0], sigma_new, sigma)
            cost = torch.where(accept[:, 0, 0], cost_new, cost)
            damping = damping * torch.where(accept, 0.1, 10.0)
    return normalize_fundamental(T2.transpose(1, 2) @ Fm @ T1)


@deterministic_on_cpu
def refine_fundamental(
    x1: torch.Tensor,
    x2: torch.Tensor,
    valid: torch.Tensor,
    F: torch.Tensor,
    *,
    threshold: float = 1.0,
    iters: int = 3,
    lm_iters: int = 10,
    wide: Sequence[float | torch.Tensor] = (),
    wide_lm_iters: int = 3,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Local optimisation of ``F`` on its inliers, batched: least squares, then Levenberg–Marquardt.

    First ``iters`` rounds of the normalised eight-point least-squares fit to the current inliers
    (√Sampson below the widest threshold), each kept only where it lowers the MSAC cost at that
    threshold; then :func:`lm_refine_fundamental` on the truncated Sampson cost, graduated:
    ``wide_lm_iters`` iterations at each multiple ``wide`` of ``threshold`` (widest first), then
    ``lm_iters`` at ``threshold``; the LM result is kept where it does not raise the MSAC cost at
    ``threshold``. A multiple may be a ``(B,)`` tensor, one per pair. Shapes: ``x1, x2 (B, N, 2)``,
    ``valid (B, N)``, ``F (B, 3, 3)``. Returns the refined ``F`` and its inlier mask (√Sampson <
    ``threshold``).
    """
    ths = [f * threshold for f in wide] + [threshold]
    th2 = threshold**2
    x1 = x1.double()
    x2 = x2.double()
    F = F.double()
    validf = valid.double()
    ls2 = ths[0] ** 2
    if isinstance(ls2, torch.Tensor):
        ls2 = ls2.to(x1)[:, None]
    d2 = sampson_epipolar_distance(x1, x2, F, squared=True)
    cost = _msac_cost(d2, validf, ls2)
    for _ in range(iters):
        inl = valid & (d2 < ls2)
        enough = inl.sum(1) >= 8
        F_new = find_fundamental(x1, x2, weights=inl.double())
        ok = enough & torch.isfinite(F_new).flatten(1).all(1)
        F_new = torch.where(ok[:, None, None], F_new, F)
        d2_new = sampson_epipolar_distance(x1, x2, F_new, squared=True)
        cost_new = _msac_cost(d2_new, validf, ls2)
        better = ok & (cost_new < cost)
        F = torch.where(better[:, None, None], F_new, F)
        d2 = torch.where(better[:, None], d2_new, d2)
        cost = torch.where(better, cost_new, cost)
    if lm_iters > 0 or (wide and wide_lm_iters > 0):
        schedule = [(t, wide_lm_iters) for t in ths[:-1]] + [(threshold, lm_iters)]
        F_lm = lm_refine_fundamental(F, x1, x2, valid, schedule=schedule)
        ok = torch.isfinite(F_lm).flatten(1).all(1)
        d2_lm = sampson_epipolar_distance(x1, x2, torch.where(ok[:, None, None], F_lm, F), squared=True)
        better = ok & (_msac_cost(d2_lm, validf, th2) <= _msac_cost(d2, validf, th2))
        F = torch.where(better[:, None, None], F_lm, F)
        d2 = torch.where(better[:, None], d2_lm, d2)
    return F, valid & (d2 < th2)


def _best_refinement(p1: torch.Tensor, p2: torch.Tensor, v: torch.Tensor, F0: torch.Tensor, *, threshold: float,
                     iters: int, lm_iters: int, wide: Sequence[float], wide_lm_iters: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The better of a graduated and a direct local optimisation of each pair's ``F0``, run as one
    batch of twice the pairs: the one with the lower MSAC cost at ``threshold`` is kept.

    Why both: with noise of the order of the threshold (σ = 2 px against 1 px) the best of a few
    hundred noisy eight-point samples is poor and the truncated cost at the threshold has local
    minima near it; refining straight away read the error 6–22 % above theory where OpenCV's MAGSAC++
    start did not, and wider thresholds first (``wide``) pull ``F`` into the right basin. But a wide
    threshold also takes in content that no ``F`` of the scene explains (objects shifted by a few
    pixels between views): the graduated fit then settles between the background and them, and
    the direct one, at the threshold throughout, is the better fit of the scene.
    """
    B = F0.shape[0]
    two = lambda t: torch.cat([t, t])  # noqa: E731  (graduated rows, then direct rows)
    ones = torch.ones(B, dtype=torch.float64, device=F0.device)
    multiples = [torch.cat([float(f) * ones, ones]) for f in wide]
    F2, inl2 = refine_fundamental(two(p1), two(p2), two(v), two(F0), threshold=threshold, iters=iters,
                                  lm_iters=lm_iters, wide=multiples, wide_lm_iters=wide_lm_iters)
    cost = _msac_cost(sampson_epipolar_distance(two(p1), two(p2), F2, squared=True), two(v).double(), threshold**2)
    direct = cost[B:] < cost[:B]
    return torch.where(direct[:, None, None], F2[B:], F2[:B]), torch.where(direct[:, None], inl2[B:], inl2[:B])


def ransac_fundamental(
    x1: torch.Tensor,
    x2: torch.Tensor,
    valid: torch.Tensor | None = None,
    *,
    threshold: float = 1.0,
    num_hypotheses: int = 256,
    score_points: int = 512,
    refine_iters: int = 3,
    lm_iters: int = 10,
    seed: int = 0,
    max_elements: int = 1 << 24,
    wide_stages: tuple[float, ...] = (8.0, 3.0),
    wide_lm_iters: int = 3,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Robust ``F`` for a batch of pairs at once: MSAC over eight-point samples + local optimisation.

    Every pair draws ``num_hypotheses`` random eight-point samples among its valid correspondences;
    all ``B × num_hypotheses`` minimal problems are solved in one call of kornia's normalised
    eight-point solver (``find_fundamental``, rank 2 enforced) and scored together on up to
    ``score_points`` correspondences per pair with the MSAC cost ``Σ min(d²/th², 1)``, d the
    √Sampson distance. The best hypothesis of each pair is refined by
    :func:`refine_fundamental` on all its valid correspondences. Deterministic for a given ``seed``
    and device.

    Args:
        x1, x2: ``(B, N, 2)`` correspondences in pixels (padded).
        valid: ``(B, N)`` bool, which rows are real correspondences (default: all).
        threshold: inlier threshold on √Sampson, pixels.
        num_hypotheses: minimal samples per pair.
        score_points: correspondences per pair used to score hypotheses (sampled; all if fewer).
        refine_iters: least-squares refits of the local optimisation; lm_iters: its
            Levenberg–Marquardt iterations (:func:`refine_fundamental`).
        seed: seed of the private random generator.
        max_elements: cap on ``pairs × hypotheses × points`` scored at once (memory).
        wide_stages, wide_lm_iters: the local optimisation is graduated (so that noise near the
            threshold does not trap it): its least-squares refits use the inliers at the widest of
            these multiples of ``threshold``, and its Levenberg–Marquardt loop runs
            ``wide_lm_iters`` iterations at each of them before ``lm_iters`` at ``threshold``.

    Returns:
        ``F (B, 3, 3)`` float64 (zeros where the estimate failed), inliers ``(B, N)`` bool in the input
        order, and ``ok (B,)``: at least 8 valid correspondences and more than 8 inliers.
    """
    _check_points("x1", x1)
    _check_points("x2", x2)
    if x1.shape != x2.shape or x1.ndim != 3:
        raise ValueError(f"x1 and x2 must both be (B, N, 2), got {tuple(x1.shape)} and {tuple(x2.shape)}")
    B, N, _ = x1.shape
    dev = x1.device
    if valid is None:
        valid = torch.ones(B, N, dtype=torch.bool, device=dev)
    F_out = torch.zeros(B, 3, 3, dtype=torch.float64, device=dev)
    inl_out = torch.zeros(B, N, dtype=torch.bool, device=dev)
    ok_out = torch.zeros(B, dtype=torch.bool, device=dev)
    n_valid = valid.sum(1)
    todo = n_valid >= 8
    if N < 8 or not bool(todo.any()):
        return F_out, inl_out, ok_out
    idx_b = torch.nonzero(todo)[:, 0]
    v, p1, p2, order = _compact(valid[idx_b], x1[idx_b].double(), x2[idx_b].double())
    n = v.sum(1)
    Bt = len(idx_b)
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    H = num_hypotheses
    # Minimal samples: 8 indices per hypothesis among the pair's valid rows (repeats make a
    # degenerate sample, which scores badly and is discarded by the MSAC ranking).
    u = torch.rand(Bt, H, 8, generator=gen, device=dev, dtype=torch.float64)
    sidx = (u * n[:, None, None]).long().clamp_max((n - 1)[:, None, None])
    ar = torch.arange(Bt, device=dev)[:, None, None]
    s1 = p1[ar, sidx].float()
    s2 = p2[ar, sidx].float()
    Fh = find_fundamental(s1.reshape(-1, 8, 2), s2.reshape(-1, 8, 2)).reshape(Bt, H, 3, 3)
    Fh = torch.where(torch.isfinite(Fh), Fh, torch.zeros_like(Fh))
    # Scoring subset: all valid rows when there are few, else a random draw (with replacement).
    S = min(score_points, N)
    rnd = (torch.rand(Bt, S, generator=gen, device=dev, dtype=torch.float64) * n[:, None]).long()
    rnd = rnd.clamp_max((n - 1)[:, None])
    seq = torch.arange(S, device=dev).expand(Bt, S)
    small = (n <= S)[:, None]
    score_idx = torch.where(small, seq, rnd)
    score_mask = torch.where(small, seq < n[:, None], torch.ones_like(seq, dtype=torch.bool)).float()
    q1 = p1.gather(1, score_idx[..., None].expand(-1, -1, 2)).float()
    q2 = p2.gather(1, score_idx[..., None].expand(-1, -1, 2)).float()
    th2 = threshold**2
    best = torch.empty(Bt, dtype=torch.long, device=dev)
    chunk = max(1, max_elements // max(1, H * S))
    for i in range(0, Bt, chunk):
        sl = slice(i, i + chunk)
        d2 = sampson_epipolar_distance(q1[sl, None], q2[sl, None], Fh[sl], squared=True)  # (b, H, S)
        cost = _msac_cost(d2, score_mask[sl, None], th2)
        best[sl] = cost.argmin(1)
    F0 = Fh[torch.arange(Bt, device=dev), best].double()
    # Local optimisation: graduated and direct at once, the better kept (_best_refinement). One
    # refinement with a graduated LM loop replaced three full refinements at 8x, 3x and 1x: about half
    # the kernel launches, which is what the time of these small batched solves is.
    F_ref, inl = _best_refinement(p1, p2, v, F0, threshold=threshold, iters=refine_iters, lm_iters=lm_iters,
                                  wide=wide_stages, wide_lm_iters=wide_lm_iters)
    ok = (inl.sum(1) > 8) & torch.isfinite(F_ref).flatten(1).all(1) & (F_ref.flatten(1).abs().amax(1) > 0)
    # Back to the input order.
    inl_orig = torch.zeros_like(inl)
    inl_orig.scatter_(1, order, inl)
    F_out[idx_b] = normalize_fundamental(F_ref)
    inl_out[idx_b] = inl_orig & ok[:, None]
    ok_out[idx_b] = ok
    return F_out, inl_out, ok_out


def fit_translation_fundamental(
    x1: torch.Tensor, x2: torch.Tensor, valid: torch.Tensor | None = None, *, iters: int = 3
) -> torch.Tensor:
    """Least-squares ``F = [e]×`` (a camera that only translates, or stands still), batched.

    ``x2ᵀ [e]× x1 = e · (x1 × x2) = 0`` is linear in the epipole ``e``: it is the eigenvector of the
    smallest eigenvalue of ``Σ w a aᵀ`` with ``a = x1 × x2``, computed on points normalised by one
    similarity ``T`` shared by both images (``Tᵀ [e]× T`` is again of the form ``[e']×``), with
    Sampson reweighting. Static points (``x2 = x1``) satisfy it for every ``e``, so this is the
    model of a static camera. Shapes: ``x1, x2 (B, N, 2)``, ``valid (B, N)`` → ``F (B, 3, 3)`` float64.
    """
    x1 = x1.double()
    x2 = x2.double()
    B, N, _ = x1.shape
    if valid is None:
        valid = torch.ones(B, N, dtype=torch.bool, device=x1.device)
    w0 = valid.double()
    cnt = (2 * w0.sum(1)).clamp_min(1)
    c = ((x1 + x2) * w0[..., None]).sum(1) / cnt[:, None]
    spread = ((((x1 - c[:, None]) ** 2).sum(-1) + ((x2 - c[:, None]) ** 2).sum(-1)) * w0).sum(1) / cnt
    s = math.sqrt(2) / spread.clamp_min(1e-12).sqrt()
    T = torch.zeros(B, 3, 3, dtype=torch.float64, device=x1.device)
    T[:, 0, 0] = s
    T[:, 1, 1] = s
    T[:, 0, 2] = -s * c[:, 0]
    T[:, 1, 2] = -s * c[:, 1]
    T[:, 2, 2] = 1
    h1 = torch.cat([x1, torch.ones_like(x1[..., :1])], -1) @ T.transpose(-1, -2)
    h2 = torch.cat([x2, torch.ones_like(x2[..., :1])], -1) @ T.transpose(-1, -2)
    a = torch.linalg.cross(h1, h2)
    w = w0
    F = torch.zeros(B, 3, 3, dtype=torch.float64, device=x1.device)
    for _ in range(max(1, iters)):
        M = (a * w[..., None]).transpose(1, 2) @ a
        _, vecs = torch.linalg.eigh(M)
        e = vecs[..., 0]
        F = T.transpose(-1, -2) @ cross_product_matrix(e) @ T
        _, g = sampson_terms(x1, x2, F)
        w = w0 / g.clamp_min(1e-300)
        w = w / w.amax(1, keepdim=True).clamp_min(1e-300)
    return normalize_fundamental(F)


# --------------------------------------------------------------------------------------------------
# OpenCV (CPU, one pair per call)
# --------------------------------------------------------------------------------------------------

OPENCV_METHODS = ("magsac", "ransac", "lmeds", "usac_default", "usac_accurate")


def fundamental_opencv(
    x1: np.ndarray,
    x2: np.ndarray,
    *,
    method: str = "magsac",
    threshold: float = 1.0,
    confidence: float = 0.999,
    max_iters: int = 10000,
) -> tuple[np.ndarray | None, np.ndarray]:
    """``cv2.findFundamentalMat(x1, x2)`` for one pair (same convention ``x2ᵀ F x1 = 0``).

    Args:
        x1, x2: ``(N, 2)`` pixel coordinates, N ≥ 8.
        method: one of :data:`OPENCV_METHODS`; ``"magsac"`` is ``cv2.USAC_MAGSAC`` (MAGSAC++).
        threshold: inlier threshold in pixels (MAGSAC: the upper bound of the noise scale).

    Returns:
        ``F`` (3, 3) float64 with unit Frobenius norm, or None if OpenCV found none; inlier mask (N,).
    """
    import cv2

    codes = {
        "magsac": cv2.USAC_MAGSAC,
        "ransac": cv2.FM_RANSAC,
        "lmeds": cv2.FM_LMEDS,
        "usac_default": cv2.USAC_DEFAULT,
        "usac_accurate": cv2.USAC_ACCURATE,
    }
    if method not in codes:
        raise ValueError(f"method must be one of {OPENCV_METHODS}, got {method!r}")
    x1 = np.ascontiguousarray(x1, dtype=np.float64).reshape(-1, 2)
    x2 = np.ascontiguousarray(x2, dtype=np.float64).reshape(-1, 2)
    n = len(x1)
    if n < 8:
        return None, np.zeros(n, bool)
    try:
        F, mask = cv2.findFundamentalMat(x1, x2, codes[method], threshold, confidence, max_iters)
    except cv2.error:
        # OpenCV's USAC asserts "!model.empty()" on some well-conditioned inputs (seen with 5.1 on
        # clean synthetic pairs; cf. opencv#19639): fall back to classic RANSAC.
        if method == "ransac":
            return None, np.zeros(n, bool)
        return fundamental_opencv(x1, x2, method="ransac", threshold=threshold, confidence=confidence,
                                  max_iters=max_iters)
    if F is None or F.shape != (3, 3) or not np.all(np.isfinite(F)) or not np.any(F):
        return None, np.zeros(n, bool)
    F = F / np.linalg.norm(F)
    if F.flat[np.argmax(np.abs(F))] < 0:
        F = -F
    inl = np.zeros(n, bool) if mask is None else mask.ravel().astype(bool)
    return F, inl


# --------------------------------------------------------------------------------------------------
# Homographies: the motion model of a rigid part behind a still camera (:mod:`.motions`)
# --------------------------------------------------------------------------------------------------


def transfer_error(x1: torch.Tensor, x2: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """``‖x2 − H x1‖ / √2`` px for ``x1, x2 (B, N, 2)`` and ``H (B, 3, 3)`` (``x2 ~ H x1``): the same
    first-order joint displacement of ``(x1, x2)`` that the still-camera error ``‖x2 − x1‖ / √2``
    (``H = I``) is. inf where ``H x1`` is at infinity."""
    h = torch.cat([x1.double(), torch.ones_like(x1[..., :1], dtype=torch.float64)], -1) @ H.double().transpose(1, 2)
    w = h[..., 2:]
    p = h[..., :2] / torch.where(w.abs() > 1e-12, w, torch.full_like(w, 1e-12))
    d = (x2.double() - p).norm(dim=-1) / math.sqrt(2.0)
    return torch.where(w[..., 0].abs() > 1e-12, d, torch.full_like(d, float("inf")))


def _dlt_homography(p1: torch.Tensor, p2: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Weighted normalised DLT (Hartley & Zisserman alg. 4.2): ``p1, p2 (B, N, 2)``, ``w (B, N)`` → ``H (B, 3, 3)``."""
    B = p1.shape[0]
    cnt = w.sum(1).clamp_min(1e-12)

    def norm(p: torch.Tensor) -> torch.Tensor:
        c = (p * w[..., None]).sum(1) / cnt[:, None]
        r = (((p - c[:, None]) ** 2).sum(-1).sqrt() * w).sum(1) / cnt
        s = math.sqrt(2.0) / r.clamp_min(1e-12)
        T = torch.zeros(B, 3, 3, dtype=p.dtype, device=p.device)
        T[:, 0, 0] = s
        T[:, 1, 1] = s
        T[:, 0, 2] = -s * c[:, 0]
        T[:, 1, 2] = -s * c[:, 1]
        T[:, 2, 2] = 1
        return T

    T1, T2 = norm(p1), norm(p2)
    q1 = p1 * T1[:, None, 0, 0, None] + T1[:, None, :2, 2]
    q2 = p2 * T2[:, None, 0, 0, None] + T2[:, None, :2, 2]
    x, y = q1[..., 0], q1[..., 1]
    u, v = q2[..., 0], q2[..., 1]
    o, z = torch.ones_like(x), torch.zeros_like(x)
    r1 = torch.stack([-x, -y, -o, z, z, z, u * x, u * y, u], -1)
    r2 = torch.stack([z, z, z, -x, -y, -o, v * x, v * y, v], -1)
    A = torch.cat([r1, r2], 1) * torch.cat([w, w], 1)[..., None]
    _, _, Vh = torch.linalg.svd(A.transpose(1, 2) @ A)
    Hn = Vh[:, -1].reshape(B, 3, 3)
    H = torch.linalg.solve(T2, Hn @ T1)
    return H / torch.where(H[:, 2:, 2:].abs() > 1e-12, H[:, 2:, 2:], torch.ones_like(H[:, 2:, 2:]))


@deterministic_on_cpu
def ransac_homography(
    x1: torch.Tensor, x2: torch.Tensor, valid: torch.Tensor | None = None, *, threshold: float = 1.0,
    num_hypotheses: int = 128, refits: int = 3, seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Robust ``H`` (``x2 ~ H x1``) for a batch of sets at once: MSAC over four-point samples on the
    transfer error (:func:`transfer_error`), then ``refits`` weighted least-squares refits on the inliers.
    Same shapes and returns as :func:`ransac_fundamental` (``ok``: more than 8 inliers)."""
    B, N, _ = x1.shape
    dev = x1.device
    if valid is None:
        valid = torch.ones(B, N, dtype=torch.bool, device=dev)
    H_out = torch.zeros(B, 3, 3, dtype=torch.float64, device=dev)
    inl_out = torch.zeros(B, N, dtype=torch.bool, device=dev)
    ok_out = torch.zeros(B, dtype=torch.bool, device=dev)
    todo = valid.sum(1) >= 8
    if N < 8 or not bool(todo.any()):
        return H_out, inl_out, ok_out
    idx = torch.nonzero(todo)[:, 0]
    v, p1, p2, order = _compact(valid[idx], x1[idx].double(), x2[idx].double())
    n = v.sum(1)
    Bt, Hn = len(idx), num_hypotheses
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    u = torch.rand(Bt, Hn, 4, generator=gen, device=dev, dtype=torch.float64)
    sidx = (u * n[:, None, None]).long().clamp_max((n - 1)[:, None, None])
    ar = torch.arange(Bt, device=dev)[:, None, None]
    s1, s2 = p1[ar, sidx].reshape(-1, 4, 2), p2[ar, sidx].reshape(-1, 4, 2)
    Hh = _dlt_homography(s1, s2, torch.ones(Bt * Hn, 4, dtype=torch.float64, device=dev))
    Hh = torch.where(torch.isfinite(Hh), Hh, torch.zeros_like(Hh))
    d = transfer_error(p1.repeat_interleave(Hn, 0), p2.repeat_interleave(Hn, 0), Hh).reshape(Bt, Hn, -1)
    cost = _msac_cost(d ** 2, v[:, None].double(), threshold ** 2)
    H = Hh.reshape(Bt, Hn, 3, 3)[torch.arange(Bt, device=dev), cost.argmin(1)]
    for _ in range(refits):
        inl = v & (transfer_error(p1, p2, H) < threshold)
        Hr = _dlt_homography(p1, p2, inl.double())
        better = (inl.sum(1) >= 4) & torch.isfinite(Hr).flatten(1).all(1)
        H = torch.where(better[:, None, None], Hr, H)
    inl = v & (transfer_error(p1, p2, H) < threshold)
    ok = inl.sum(1) > 8
    inl_orig = torch.zeros_like(inl)
    inl_orig.scatter_(1, order, inl)
    H_out[idx] = torch.where(ok[:, None, None], H, torch.zeros_like(H))
    inl_out[idx] = inl_orig & ok[:, None]
    ok_out[idx] = ok
    return H_out, inl_out, ok_out
