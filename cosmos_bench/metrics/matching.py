"""Keypoints and matches, per backend.

Features are detected **once per frame** and reused by every pair that frame is in (temporal and
cross-view). Both backends produce the same thing: RootSIFT descriptors (Arandjelović & Zisserman
2012) of DoG keypoints with a doubled first octave, matched by Lowe's ratio test (nearest /
second-nearest descriptor distance < ``ratio``) plus a mutual-nearest-neighbour check, returned as
padded tensors (:class:`Features`, :class:`Matches`).

* ``"opencv"`` (CPU): ``cv2.SIFT`` per frame; exact L2 matching, batched (the same matches as
  ``cv2.BFMatcher``, :func:`match_bfmatcher`, faster).
  OpenCV's SIFT reports positions 0.25 px right of and below the pixel-centre convention of
  :mod:`.epipolar` (its doubled first octave; measured on Gaussian blobs at known sub-pixel
  positions), so 0.25 is subtracted: estimated F is indifferent, calibrated F is not.
* ``"kornia"`` (CPU or CUDA, torch end to end): by default :func:`detect_dog`, a batched
  re-implementation of SIFT's detector (DoG extrema, edge test, sub-pixel step, OpenCV's
  thresholds) with an upright SIFT-like descriptor, written here because
  ``kornia.feature.SIFTFeatureScaleSpace`` (``features="kornia_sift"``) takes one image per call
  in effect (≈ 150 k small kernels for a 186-frame video: 3 s on an H100, against 0.3 s for
  :func:`detect_dog`); then all pairs matched as batched distance matrices. No learned weights.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

BACKENDS = ("opencv", "kornia")
OPENCV_SIFT_OFFSET = 0.25  # px, see module docstring


@dataclass
class Features:
    """Keypoints of ``F`` frames, padded to ``K`` per frame.

    Attributes:
        keypoints: ``(F, K, 2)`` float64 pixel coordinates (convention of :mod:`.epipolar`).
        descriptors: ``(F, K, D)`` float32, unit L2 norm (RootSIFT).
        valid: ``(F, K)`` bool, which slots hold a keypoint.
    """

    keypoints: torch.Tensor
    descriptors: torch.Tensor
    valid: torch.Tensor

    @property
    def counts(self) -> torch.Tensor:
        return self.valid.sum(1)

    @property
    def device(self) -> torch.device:
        return self.keypoints.device


@dataclass
class Matches:
    """Correspondences of ``P`` frame pairs, padded to ``M`` per pair.

    ``x1`` are points of the pair's first frame, ``x2`` of its second, ``(P, M, 2)`` float64;
    ``valid (P, M)`` says which rows are matches. ``index (P, M)`` long, where known, is the keypoint
    of the second frame each row matched (-1: none); row ``i`` is then keypoint ``i`` of the first
    frame, which lets matches of consecutive pairs be chained into tracks (:mod:`.geometry`).
    """

    x1: torch.Tensor
    x2: torch.Tensor
    valid: torch.Tensor
    index: torch.Tensor | None = None

    @property
    def counts(self) -> torch.Tensor:
        return self.valid.sum(1)


def resolve_device(backend: str, device: str | torch.device | None) -> torch.device:
    """``opencv`` → cpu; ``kornia`` → the given device, else CUDA when present, else CPU."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "opencv":
        if device is not None and torch.device(device).type != "cpu":
            raise ValueError(f"the opencv backend runs on the CPU only, got device={device!r}")
        return torch.device("cpu")
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but torch sees no CUDA device")
    return dev


def _rootsift(desc: np.ndarray) -> np.ndarray:
    d = desc.astype(np.float32)
    d /= np.maximum(d.sum(1, keepdims=True), 1e-12)
    return np.sqrt(d)


def _pad(kps: Sequence[np.ndarray], descs: Sequence[np.ndarray], dim: int) -> Features:
    K = max(1, max(len(k) for k in kps))
    n = len(kps)
    kp = np.zeros((n, K, 2), np.float64)
    de = np.zeros((n, K, dim), np.float32)
    va = np.zeros((n, K), bool)
    for i, (k, d) in enumerate(zip(kps, descs)):
        kp[i, : len(k)] = k
        de[i, : len(k)] = d
        va[i, : len(k)] = True
    return Features(torch.from_numpy(kp), torch.from_numpy(de), torch.from_numpy(va))


def detect_opencv(frames: np.ndarray, *, max_features: int = 2048, contrast_threshold: float = 0.04) -> Features:
    """``cv2.SIFT`` on every frame of ``frames`` ``(F, H, W, 3)`` uint8 RGB; RootSIFT descriptors."""
    import cv2

    sift = cv2.SIFT_create(nfeatures=max_features, contrastThreshold=contrast_threshold)
    kps, descs = [], []
    for frame in frames:
        gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        kp, de = sift.detectAndCompute(gray, None)
        if de is None or len(kp) == 0:
            kps.append(np.zeros((0, 2)))
            descs.append(np.zeros((0, 128), np.float32))
            continue
        kp = kp[:max_features]  # nfeatures may keep ties beyond the cap
        de = de[:max_features]
        kps.append(np.array([k.pt for k in kp], np.float64) - OPENCV_SIFT_OFFSET)
        descs.append(_rootsift(de))
    return _pad(kps, descs, 128)


_KORNIA_EXTRACTORS: dict[tuple, torch.nn.Module] = {}


def detect_kornia(
    frames: np.ndarray,
    *,
    max_features: int = 2048,
    contrast_threshold: float = 0.04,
    upright: bool = True,
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
) -> Features:
    """kornia's scale-space SIFT on batches of frames ``(F, H, W, 3)`` uint8 RGB, on ``device``.

    Keypoints whose absolute DoG response is below ``contrast_threshold / 3`` (OpenCV's rule for 3
    layers per octave) are dropped, so blank or flat frames give no keypoints, as with OpenCV.
    """
    from kornia.feature import SIFTFeatureScaleSpace, get_laf_center, laf_is_filled

    dev = torch.device(device)
    key = (max_features, upright, str(dev))
    if key not in _KORNIA_EXTRACTORS:
        _KORNIA_EXTRACTORS[key] = SIFTFeatureScaleSpace(
            num_features=max_features, upright=upright, rootsift=True, descriptor_backend="pyramid", device=dev
        ).eval()
    extractor = _KORNIA_EXTRACTORS[key]
    n, H, W, _ = frames.shape
    if batch_size is None:
        # ~ 64 M doubled-octave pixels per batch on CUDA, ~ 4 M on CPU.
        budget = (1 << 26) if dev.type == "cuda" else (1 << 22)
        batch_size = max(1, min(n, budget // (4 * H * W)))
    weights = torch.tensor([0.299, 0.587, 0.114], device=dev, dtype=torch.float32).view(1, 3, 1, 1)
    kps, descs, valids = [], [], []
    with torch.inference_mode():
        for i in range(0, n, batch_size):
            rgb = torch.from_numpy(np.ascontiguousarray(frames[i : i + batch_size])).to(dev, non_blocking=True)
            gray = (rgb.permute(0, 3, 1, 2).float() * weights).sum(1, keepdim=True) / 255.0
            lafs, resp, desc = extractor(gray)
            valid = laf_is_filled(lafs) & (resp.abs() >= contrast_threshold / 3)
            kps.append(get_laf_center(lafs).double())
            descs.append(desc.float())
            valids.append(valid)
    return compact_features(Features(torch.cat(kps), torch.nn.functional.normalize(torch.cat(descs), dim=-1),
                                     torch.cat(valids)))


def compact_features(f: Features) -> Features:
    """Valid keypoints moved to the front of each frame and the padding trimmed to the largest count."""
    order = torch.argsort((~f.valid).to(torch.int8), dim=1, stable=True)
    K = max(1, int(f.valid.sum(1).max()))
    order = order[:, :K]
    va = f.valid.gather(1, order)
    kp = f.keypoints.gather(1, order[..., None].expand(-1, -1, 2))
    de = f.descriptors.gather(1, order[..., None].expand(-1, -1, f.descriptors.shape[-1]))
    kp = torch.where(va[..., None], kp, torch.zeros_like(kp))
    de = torch.where(va[..., None], de, torch.zeros_like(de))
    return Features(kp, de, va)


# --------------------------------------------------------------------------------------------------
# Batched DoG detector + upright SIFT-like descriptor (torch; the kornia backend's default)
# --------------------------------------------------------------------------------------------------

_BORDER = 5  # px kept free of keypoints at every octave, as OpenCV's SIFT_IMG_BORDER


def _gaussian_kernel(sigma: float, device: torch.device) -> torch.Tensor:
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _pad_reflect(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    H, W = x.shape[-2:]
    ok = max(pad[0], pad[1]) < W and max(pad[2], pad[3]) < H
    return F.pad(x, pad, mode="reflect" if ok else "replicate")


def _blur_conv(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    if not x.is_cuda and x.shape[0] > 1:
        # One frame per call on the CPU: oneDNN picks its algorithm by batch and size, and a frame
        # blurred in a batch of 2 differed in the last bit from the same frame alone (80x128 maps),
        # which made the features depend on how a video was cut into windows.
        return torch.cat([_blur_conv(f, k) for f in x.split(1)])
    r = (len(k) - 1) // 2
    # TF32 would round the image to 10 mantissa bits (2e-4 errors, the size of small DoG responses)
    # and is also slower here: cuDNN then picks an implicit GEMM with layout conversions.
    with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=False, allow_tf32=False):
        x = F.conv2d(_pad_reflect(x, (r, r, 0, 0)), k.view(1, 1, 1, -1))
        return F.conv2d(_pad_reflect(x, (0, 0, r, r)), k.view(1, 1, -1, 1))


def _blur_depthwise(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Frames as channels of one depthwise convolution."""
    r = (len(k) - 1) // 2
    B = x.shape[0]
    y = x.reshape(1, B, *x.shape[-2:])
    with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=False, allow_tf32=False):
        y = F.conv2d(_pad_reflect(y, (r, r, 0, 0)), k.view(1, 1, 1, -1).expand(B, 1, 1, -1), groups=B)
        y = F.conv2d(_pad_reflect(y, (0, 0, r, r)), k.view(1, 1, -1, 1).expand(B, 1, -1, 1), groups=B)
    return y.reshape(x.shape)


BLUR = {"conv": _blur_conv, "depthwise": _blur_depthwise}


def _blur(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of ``(B, 1, H, W)`` with reflect padding.

    On CUDA the frames are the channels of one depthwise convolution: measured on an H100 for 93
    two-view 432×768 frames, the whole metric took 0.45 s per video this way against 0.62 s with a
    one-channel convolution and 0.74 s with shifted-slice sums (``torch.compile`` of those: 0.58 s,
    after a 50 s warm-up). ``COSMOS_BENCH_BLUR=conv|depthwise`` overrides the choice.
    """
    mode = os.environ.get("COSMOS_BENCH_BLUR") or ("depthwise" if x.is_cuda else "conv")
    return BLUR[mode](x, k)


def _max3x3x3(D: torch.Tensor) -> torch.Tensor:
    """Max over each 3×3×3 (level, y, x) neighbourhood of the interior levels of ``D (B, L, h, w)``,
    separably (much faster than ``max_pool3d``); returns ``(B, L - 2, h, w)``."""
    m = torch.maximum(torch.maximum(D[:, :-2], D[:, 1:-1]), D[:, 2:])
    if m.is_cuda:
        return F.max_pool2d(m, 3, stride=1, padding=1)
    p = F.pad(m, (1, 1, 1, 1), mode="replicate")
    m = torch.maximum(torch.maximum(p[..., :-2], p[..., 1:-1]), p[..., 2:])
    return torch.maximum(torch.maximum(m[..., :-2, :], m[..., 1:-1, :]), m[..., 2:, :])


def _solve_sym3(a, b, c, d, e, f, r0, r1, r2) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve ``[[a, d, e], [d, b, f], [e, f, c]] x = r`` elementwise (closed form; batched 3×3
    solvers are slow for millions of tiny systems). Returns ``x (..., 3)`` and ``det != 0``."""
    A = b * c - f * f
    Bc = e * f - d * c
    C = d * f - e * b
    det = a * A + d * Bc + e * C
    E = a * c - e * e
    Fc = d * e - a * f
    I = a * b - d * d
    ok = det != 0
    inv = torch.where(ok, 1.0 / torch.where(ok, det, torch.ones_like(det)), torch.zeros_like(det))
    x0 = (A * r0 + Bc * r1 + C * r2) * inv
    x1 = (Bc * r0 + E * r1 + Fc * r2) * inv
    x2 = (C * r0 + Fc * r1 + I * r2) * inv
    return torch.stack([x0, x1, x2], -1), ok


def _octave_count(H: int, W: int, min_size: int = 24) -> int:
    n = 1
    while min(H, W) / 2**n >= min_size:
        n += 1
    return n


def _integral(x: torch.Tensor) -> torch.Tensor:
    """Integral image ``(B, C, H + 1, W + 1)`` with a zero first row and column."""
    return F.pad(x.cumsum(-1).cumsum(-2), (1, 0, 1, 0))


def detect_dog(
    gray: torch.Tensor,
    *,
    max_features: int = 2048,
    contrast_threshold: float = 0.04,
    edge_threshold: float = 10.0,
    n_layers: int = 3,
    sigma: float = 1.6,
    double: bool = True,
) -> Features:
    """Batched DoG keypoints and upright SIFT-like descriptors of ``gray (B, 1, H, W)`` in [0, 1].

    Detection follows Lowe (IJCV 2004) and OpenCV's SIFT: per octave ``n_layers + 3`` Gaussian
    levels from ``sigma`` (input blur assumed 0.5, no doubled first octave), 3×3×3 extrema of the
    difference of Gaussians with ``|D| > contrast_threshold / (2 n_layers)``, edge responses
    removed (``tr²/det ≥ (r+1)²/r``, ``r = edge_threshold``), one quadratic sub-pixel/sub-scale step
    (rejected when it moves more than 0.6 of a sample) and the interpolated contrast
    ``|D(x̂)| ≥ contrast_threshold / n_layers``. The ``max_features`` strongest (``|D(x̂)|``) per frame
    are kept. Positions follow :mod:`.epipolar` (pixel centres at integers): level ``o`` pixel
    ``x`` is image pixel ``2^o x``.

    The descriptor is SIFT's 4×4 cells × 8 orientation bins around the keypoint, upright, with
    cells ``3σ`` wide; gradients come from the octave's middle Gaussian level, orientations are
    soft-binned, each cell is a box sum read from an integral image (bilinear at sub-pixel cell
    bounds) and weighted by SIFT's Gaussian window; then normalised, clipped at 0.2, renormalised
    and turned into RootSIFT. Everything is batched over frames (a few hundred kernels per batch).
    """
    dev = gray.device
    B, _, H, W = gray.shape
    S = n_layers
    n_oct = _octave_count(H, W)
    o0 = 0
    in_sigma = 0.5
    gray = gray.float()
    if double:
        # Octave -1 as in OpenCV: image doubled (pixel x → 2x, so pixel centres stay at integers:
        # bilinear with align_corners=True onto 2H-1 points, then one replicated row/column).
        gray = F.pad(F.interpolate(gray, size=(2 * H - 1, 2 * W - 1), mode="bilinear", align_corners=True),
                     (0, 1, 0, 1), mode="replicate")
        o0, in_sigma, n_oct = -1, 1.0, n_oct + 1
    k = 2.0 ** (1.0 / S)
    sig = [sigma * k**i for i in range(S + 3)]
    first = _gaussian_kernel(math.sqrt(max(sigma**2 - in_sigma**2, 0.01)), dev)
    incs = [_gaussian_kernel(math.sqrt(sig[i] ** 2 - sig[i - 1] ** 2), dev) for i in range(1, S + 3)]
    pre = 0.5 * contrast_threshold / S
    edge = (edge_threshold + 1) ** 2 / edge_threshold
    base = _blur(gray, first)
    octaves = []  # (gaussian levels (B, S+3, h, w), dog (B, S+2, h, w))
    scores, sizes = [], []
    for o in range(n_oct):
        levels = [base]
        for kern in incs:
            levels.append(_blur(levels[-1], kern))
        L = torch.cat(levels, 1)
        D = L[:, 1:] - L[:, :-1]
        h, w = D.shape[-2:]
        if o + 1 < n_oct:
            base = L[:, S : S + 1, ::2, ::2]
        # Candidates: 3x3x3 extrema of D in the interior levels, off the border, above contrast.
        c = D[:, 1 : S + 1]
        cand = ((c == _max3x3x3(D)) | (c == -_max3x3x3(-D))) & (c.abs() > pre)
        border = torch.zeros(h, w, dtype=torch.bool, device=dev)
        if h > 2 * _BORDER and w > 2 * _BORDER:
            border[_BORDER : h - _BORDER, _BORDER : w - _BORDER] = True
        cand &= border
        scores.append(torch.where(cand, c.abs(), torch.zeros_like(c)).flatten(1))
        sizes.append((S, h, w))
        octaves.append((L, D))
    flat = torch.cat(scores, 1)
    K = min(max_features, flat.shape[1])
    # Over-select, since the edge test and the sub-pixel step (both on the selected) reject some.
    Kc = min(flat.shape[1], int(K * 1.5) + 8)
    top, idx = torch.topk(flat, Kc, dim=1)
    ok = top > 0
    offs = np.cumsum([0] + [s * h * w for s, h, w in sizes])
    kp = torch.zeros(B, Kc, 2, dtype=torch.float64, device=dev)
    resp = torch.zeros(B, Kc, device=dev)
    scale = torch.zeros(B, Kc, device=dev)
    octv = torch.full((B, Kc), -1, dtype=torch.long, device=dev)
    for o, (L, D) in enumerate(octaves):
        _, h, w = sizes[o]
        # Only this octave's candidates (compacted: the gathers below are random memory accesses).
        bi, ki = torch.nonzero(ok & (idx >= int(offs[o])) & (idx < int(offs[o + 1])), as_tuple=True)
        if len(bi) == 0:
            continue
        li = idx[bi, ki] - int(offs[o])
        sc = li // (h * w) + 1  # DoG level (1..S)
        yc = ((li % (h * w)) // w).clamp(1, h - 2)
        xc = (li % w).clamp(1, w - 2)
        base_i = ((bi * D.shape[1] + sc) * h + yc) * w + xc  # flat index into D

        def at(ds: int, dy: int, dx: int) -> torch.Tensor:
            return torch.take(D, base_i + (ds * h + dy) * w + dx).double()

        v = at(0, 0, 0)
        gx = 0.5 * (at(0, 0, 1) - at(0, 0, -1))
        gy = 0.5 * (at(0, 1, 0) - at(0, -1, 0))
        gs = 0.5 * (at(1, 0, 0) - at(-1, 0, 0))
        hxx = at(0, 0, 1) + at(0, 0, -1) - 2 * v
        hyy = at(0, 1, 0) + at(0, -1, 0) - 2 * v
        hss = at(1, 0, 0) + at(-1, 0, 0) - 2 * v
        hxy = 0.25 * (at(0, 1, 1) - at(0, 1, -1) - at(0, -1, 1) + at(0, -1, -1))
        hxs = 0.25 * (at(1, 0, 1) - at(1, 0, -1) - at(-1, 0, 1) + at(-1, 0, -1))
        hys = 0.25 * (at(1, 1, 0) - at(1, -1, 0) - at(-1, 1, 0) + at(-1, -1, 0))
        off, det_ok = _solve_sym3(hxx, hyy, hss, hxy, hxs, hys, -gx, -gy, -gs)
        # Edge test on the spatial 2x2 Hessian of D (Lowe §4.1).
        tr = hxx + hyy
        det2 = hxx * hyy - hxy * hxy
        good = (det2 > 0) & (tr * tr < edge * det2) & det_ok & torch.isfinite(off).all(-1)
        good &= off.abs().amax(-1) <= 0.6
        off = torch.where(good[:, None], off, torch.zeros_like(off))
        contrast = (v + 0.5 * (gx * off[:, 0] + gy * off[:, 1] + gs * off[:, 2])).abs()
        good &= contrast >= contrast_threshold / S
        f = float(2.0 ** (o + o0))
        pos = torch.stack([xc + off[:, 0], yc + off[:, 1]], -1) * f
        kp[bi, ki] = torch.where(good[:, None], pos, torch.zeros_like(pos))
        resp[bi, ki] = torch.where(good, contrast, torch.zeros_like(contrast)).float()
        scale[bi, ki] = (sigma * 2 ** ((sc + off[:, 2]) / S)).float()  # in octave pixels
        octv[bi, ki] = torch.where(good, o, -1)
    # Keep the K strongest valid ones.
    resp_sorted, order = torch.topk(resp, K, dim=1)
    kp = kp.gather(1, order[..., None].expand(-1, -1, 2))
    scale = scale.gather(1, order)
    octv = octv.gather(1, order)
    valid = resp_sorted > 0
    # Descriptors: per octave, soft-binned gradient orientations of the middle level, integral image,
    # 5x5 cell-corner samples per keypoint → 4x4 box sums × 8 bins.
    desc = torch.zeros(B, K, 8, 4, 4, device=dev)
    grid_i = torch.arange(5, device=dev, dtype=torch.float32) - 2.0  # cell corners, in cell widths
    cell_c = torch.arange(4, device=dev, dtype=torch.float32) - 1.5
    window = torch.exp(-(cell_c[:, None] ** 2 + cell_c[None, :] ** 2) / 8.0)  # SIFT window σ = half width
    bins = torch.arange(8, device=dev, dtype=torch.float32)
    for o, (L, _) in enumerate(octaves):
        sel = valid & (octv == o)
        if not bool(sel.any()):
            continue
        img = L[:, 2:3]
        oo = o + o0
        if oo < 0:
            # Keypoints of the doubled octave are described at the input resolution (cells ≥ 2.4 px
            # there): 4× less work on the largest maps, at a slightly coarser gradient sampling.
            img, oo = img[..., ::2, ::2], 0
        h, w = img.shape[-2:]
        p = F.pad(img, (1, 1, 1, 1), mode="replicate")
        dx = 0.5 * (p[..., 1:-1, 2:] - p[..., 1:-1, :-2])
        dy = 0.5 * (p[..., 2:, 1:-1] - p[..., :-2, 1:-1])
        mag = torch.sqrt(dx * dx + dy * dy)
        ang = torch.atan2(dy, dx) % (2 * math.pi) * (8 / (2 * math.pi))  # in bins, [0, 8)
        dist = (ang - bins.view(1, 8, 1, 1)).abs()
        dist = torch.minimum(dist, 8 - dist)
        omap = mag * (1 - dist).clamp(min=0)  # (B, 8, h, w)
        ii = _integral(omap)  # (B, 8, h+1, w+1); box sum over [x0, x1) = ii[x1] - ii[x0] at corners x - 0.5
        f = float(2.0**oo)
        c = kp.float() / f  # pixel coordinates of the map
        cw = 3.0 * scale * float(2.0 ** (o + o0)) / f  # cell width in map pixels
        gx = c[..., 0, None, None] + grid_i[None, None, None, :] * cw[..., None, None]  # (B, K, 1, 5)
        gy = c[..., 1, None, None] + grid_i[None, None, :, None] * cw[..., None, None]  # (B, K, 5, 1)
        gx = gx.expand(B, K, 5, 5)
        gy = gy.expand(B, K, 5, 5)
        # Integral-image coordinate of the boundary at pixel position u is u + 0.5; normalise for
        # grid_sample (align_corners=True over the (w+1, h+1) integral image).
        nx = (gx + 0.5) / w * 2 - 1
        ny = (gy + 0.5) / h * 2 - 1
        grid = torch.stack([nx, ny], -1).reshape(B, K * 5, 5, 2)
        corners = F.grid_sample(ii, grid, mode="bilinear", padding_mode="border", align_corners=True)
        corners = corners.reshape(B, 8, K, 5, 5).permute(0, 2, 1, 3, 4)  # (B, K, 8, 5y, 5x)
        box = corners[..., 1:, 1:] - corners[..., 1:, :-1] - corners[..., :-1, 1:] + corners[..., :-1, :-1]
        desc = torch.where(sel[..., None, None, None], box * window, desc)
    d = desc.permute(0, 1, 3, 4, 2).reshape(B, K, 128).clamp(min=0)  # (cell y, cell x, bin)
    d = F.normalize(d, dim=-1)
    d = F.normalize(d.clamp(max=0.2), dim=-1)
    d = torch.sqrt(d / d.sum(-1, keepdim=True).clamp(min=1e-12))  # RootSIFT (unit L2 norm)
    kp = torch.where(valid[..., None], kp, torch.zeros_like(kp))
    d = torch.where(valid[..., None], d, torch.zeros_like(d))
    return Features(kp, d, valid)


# Input pixels per detection batch at most: the doubled octave's Gaussian levels are a (B, 6, 2H, 2W)
# tensor, 24 elements per input pixel, and CUDA kernels index with 32 bits (2**31 elements), which
# 720x1280x128 frames in one batch exceeded ("input tensor must fit into 32-bit index math").
MAX_BATCH_PIXELS = 1 << 26
BYTES_PER_PIXEL = 300  # measured peak of detect_dog per input pixel (fp32, doubled octave)


def detect_batch_size(n: int, H: int, W: int, device: torch.device) -> int:
    """Frames per :func:`detect_dog` batch: half the free CUDA memory at :data:`BYTES_PER_PIXEL`
    (2**21 pixels on the CPU), never more than :data:`MAX_BATCH_PIXELS`, at least one frame. The
    peak memory of detection is thus ≈ 300 B × min(frames, batch) × H × W, whatever the video's
    length: ≤ 20 GB (72 frames) at 720×1280, ≤ 20 GB (202 frames) at 432×768."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = free // 2 // BYTES_PER_PIXEL
    else:
        budget = 1 << 21
    return max(1, min(n, min(budget, MAX_BATCH_PIXELS) // (H * W)))


def detect_torch(
    frames: np.ndarray,
    *,
    max_features: int = 2048,
    contrast_threshold: float = 0.04,
    device: torch.device | str = "cpu",
    batch_size: int | None = None,
) -> Features:
    """:func:`detect_dog` on ``frames (F, H, W, 3)`` uint8 RGB, in batches, on ``device``."""
    dev = torch.device(device)
    n, H, W, _ = frames.shape
    if batch_size is None:
        batch_size = detect_batch_size(n, H, W, dev)
    weights = torch.tensor([0.299, 0.587, 0.114], device=dev, dtype=torch.float32).view(1, 3, 1, 1)
    parts = []
    with torch.inference_mode():
        for i in range(0, n, batch_size):
            rgb = torch.from_numpy(np.ascontiguousarray(frames[i : i + batch_size]))
            if dev.type == "cuda":
                rgb = rgb.pin_memory()
            rgb = rgb.to(dev, non_blocking=True)
            gray = (rgb.permute(0, 3, 1, 2).float() * weights).sum(1, keepdim=True) / 255.0
            parts.append(detect_dog(gray, max_features=max_features, contrast_threshold=contrast_threshold))
    f = Features(torch.cat([p.keypoints for p in parts]), torch.cat([p.descriptors for p in parts]),
                 torch.cat([p.valid for p in parts]))
    return compact_features(f)


FEATURES = ("dog", "kornia_sift")


def detect(
    frames: np.ndarray,
    *,
    backend: str = "opencv",
    device: torch.device | str | None = None,
    max_features: int = 2048,
    contrast_threshold: float = 0.04,
    upright: bool = True,
    features: str = "dog",
) -> Features:
    """Keypoints + RootSIFT descriptors of every frame of ``frames`` ``(F, H, W, 3)`` uint8 RGB.

    ``features`` (kornia backend): ``"dog"`` (:func:`detect_dog`, batched, fast on GPU) or
    ``"kornia_sift"`` (``kornia.feature.SIFTFeatureScaleSpace``, slower: many small kernels).
    """
    if backend == "opencv":
        return detect_opencv(frames, max_features=max_features, contrast_threshold=contrast_threshold)
    if features not in FEATURES:
        raise ValueError(f"features must be one of {FEATURES}, got {features!r}")
    if features == "dog":
        return detect_torch(frames, max_features=max_features, contrast_threshold=contrast_threshold,
                            device=resolve_device(backend, device))
    return detect_kornia(
        frames,
        max_features=max_features,
        contrast_threshold=contrast_threshold,
        upright=upright,
        device=resolve_device(backend, device),
    )


# --------------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------------


def match_descriptors(
    desc1: torch.Tensor,
    desc2: torch.Tensor,
    valid1: torch.Tensor,
    valid2: torch.Tensor,
    *,
    ratio: float = 0.8,
    mutual: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched ratio-test (+ mutual) matching of unit-norm descriptors.

    Args:
        desc1: ``(P, K1, D)``; desc2: ``(P, K2, D)``; valid1 ``(P, K1)``, valid2 ``(P, K2)`` bool.
        ratio: keep ``i → j`` when ``d(i, j) < ratio · d(i, j')``, ``j'`` the second-nearest.
        mutual: also require ``i`` to be the nearest neighbour of ``j`` among ``desc1``.

    Returns:
        ``nn (P, K1)`` long, the index in ``desc2`` of each row's nearest neighbour, and
        ``keep (P, K1)`` bool, the rows that pass.
    """
    # Unit vectors: ‖a − b‖² = 2 − 2 a·b. Invalid slots get distance +inf.
    sim = desc1 @ desc2.transpose(1, 2)
    d2 = (2 - 2 * sim).clamp_min(0)
    inf = torch.tensor(float("inf"), device=d2.device, dtype=d2.dtype)
    d2 = torch.where(valid1[:, :, None] & valid2[:, None, :], d2, inf)
    k = min(2, d2.shape[2])
    vals, idx = torch.topk(d2, k, dim=2, largest=False)
    nn = idx[..., 0]
    best = vals[..., 0]
    second = vals[..., 1] if k == 2 else torch.full_like(best, float("inf"))
    keep = valid1 & torch.isfinite(best) & (best < (ratio**2) * second)
    if mutual:
        back = d2.argmin(dim=1)  # (P, K2): nearest row of desc1 for each column
        keep &= back.gather(1, nn) == torch.arange(d2.shape[1], device=d2.device)[None]
    return nn, keep


def match_batched(
    features: Features, pairs: torch.Tensor | np.ndarray, *, ratio: float = 0.8, mutual: bool = True,
    max_elements: int | None = None,
) -> Matches:
    """Match frame pairs ``pairs (P, 2)`` (indices into ``features``): batched distance matrices
    (:func:`match_descriptors`), in chunks, on the features' device. Rows of the output are the first
    frame's keypoints; ``valid`` marks those that found a match."""
    pairs = torch.as_tensor(np.asarray(pairs), dtype=torch.long, device=features.device).reshape(-1, 2)
    F, K, D = features.descriptors.shape
    P = len(pairs)
    x1 = torch.zeros(P, K, 2, dtype=torch.float64, device=features.device)
    x2 = torch.zeros_like(x1)
    valid = torch.zeros(P, K, dtype=torch.bool, device=features.device)
    index = torch.full((P, K), -1, dtype=torch.long, device=features.device)
    if max_elements is None:
        max_elements = (1 << 28) if features.device.type == "cuda" else (1 << 24)
    chunk = max(1, max_elements // max(1, K * K))
    for i in range(0, P, chunk):
        pa, pb = pairs[i : i + chunk, 0], pairs[i : i + chunk, 1]
        nn, keep = match_descriptors(
            features.descriptors[pa], features.descriptors[pb], features.valid[pa], features.valid[pb],
            ratio=ratio, mutual=mutual,
        )
        x1[i : i + chunk] = features.keypoints[pa]
        x2[i : i + chunk] = features.keypoints[pb].gather(1, nn[..., None].expand(-1, -1, 2))
        valid[i : i + chunk] = keep
        index[i : i + chunk] = torch.where(keep, nn, torch.full_like(nn, -1))
    return Matches(x1, x2, valid, index)


def match_bfmatcher(features: Features, pairs: torch.Tensor | np.ndarray, *, ratio: float = 0.8,
                    mutual: bool = True) -> Matches:
    """``cv2.BFMatcher`` (L2, exact) k=2 ratio test (+ mutual check), one pair at a time.

    The reference for :func:`match_batched`, which returns the same matches (tested on SIFT
    descriptors of a rendered video) about 1.5x faster on 2 CPU cores, and batched on a GPU."""
    import cv2

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    kp = features.keypoints.cpu().numpy()
    de = features.descriptors.cpu().numpy()
    cnt = features.counts.cpu().numpy()
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    out1, out2 = [], []
    for a, b in pairs:
        na, nb = int(cnt[a]), int(cnt[b])
        if na == 0 or nb == 0:
            out1.append(np.zeros((0, 2)))
            out2.append(np.zeros((0, 2)))
            continue
        da, db = de[a, :na], de[b, :nb]
        knn = matcher.knnMatch(da, db, k=2)
        back = {}
        if mutual:
            for m in matcher.match(db, da):
                back[m.queryIdx] = m.trainIdx
        ia, ib = [], []
        for ms in knn:
            if not ms:
                continue
            m = ms[0]
            if len(ms) > 1 and not m.distance < ratio * ms[1].distance:
                continue
            if mutual and back.get(m.trainIdx) != m.queryIdx:
                continue
            ia.append(m.queryIdx)
            ib.append(m.trainIdx)
        out1.append(kp[a, ia])
        out2.append(kp[b, ib])
    M = max(1, max(len(o) for o in out1)) if out1 else 1
    P = len(pairs)
    x1 = np.zeros((P, M, 2))
    x2 = np.zeros((P, M, 2))
    valid = np.zeros((P, M), bool)
    for i, (p1, p2) in enumerate(zip(out1, out2)):
        x1[i, : len(p1)] = p1
        x2[i, : len(p2)] = p2
        valid[i, : len(p1)] = True
    return Matches(torch.from_numpy(x1), torch.from_numpy(x2), torch.from_numpy(valid))


def match(features: Features, pairs, *, ratio: float = 0.8, mutual: bool = True) -> Matches:
    """Correspondences of frame pairs ``pairs (P, 2)`` (both backends; see :func:`match_batched`)."""
    return match_batched(features, pairs, ratio=ratio, mutual=mutual)
