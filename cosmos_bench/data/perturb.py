"""Corruptions of real video, for validating the geometric metrics on footage nobody rendered.

The synthetic scenes (:mod:`.synthetic`) degrade a video with known geometry; these functions corrupt
frames that already exist (``(T, H, W, 3)`` uint8 RGB), so a metric can be checked on real clips as a
ratio to the clean clip:

* geometric corruptions, which a consistency metric must see: :func:`elastic_warp` (a local,
  time-varying smooth displacement of part of the frame), :func:`jitter` (a whole-frame shift per frame);
* photometric ones, which it must not: :func:`blur`, :func:`brightness`, :func:`noise`, :func:`reencode`;
* structural ones with a known answer: :func:`freeze` (no motion at all) and :func:`cut` (a shot change).

Every random choice comes from ``seed``, so a test reads the same frames every run.
"""

from __future__ import annotations

import io

import cv2
import numpy as np

__all__ = ["blur", "brightness", "cut", "elastic_warp", "freeze", "jitter", "noise", "reencode"]


def _check(frames: np.ndarray) -> np.ndarray:
    a = np.asarray(frames)
    if a.ndim != 4 or a.shape[-1] != 3 or a.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {a.shape} {a.dtype}")
    return a


def _smooth_field(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """``(h, w, 2)`` smooth random displacement with largest magnitude 1 (Gaussian values on a grid
    of ``cells`` per shorter side, upsampled bicubically)."""
    cell = min(h, w) / float(cells)
    g = rng.standard_normal((int(round(h / cell)) + 3, int(round(w / cell)) + 3, 2)).astype(np.float32)
    f = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    return f / max(float(np.sqrt((f ** 2).sum(-1)).max()), 1e-6)


def _remap(frame: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    X, Y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(frame, X + dx, Y + dy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def elastic_warp(frames: np.ndarray, amplitude: float, *, seed: int = 0, region: float = 0.4,
                 cells: int = 3) -> np.ndarray:
    """A local elastic warp that changes every frame: each frame gets its own smooth random field of
    largest magnitude ``amplitude`` px, confined to a disc (smooth edge) of radius ``region`` × the
    shorter side at a random place that stays the same for the clip. Content there wobbles by up
    to ``amplitude`` px between frames: no rigid motion (and no still background) explains it."""
    a = _check(frames)
    if amplitude == 0:
        return a.copy()
    T, h, w, _ = a.shape
    rng = np.random.default_rng([seed, 1])
    r = region * min(h, w)
    cx, cy = rng.uniform(r * 0.6, w - r * 0.6), rng.uniform(r * 0.6, h - r * 0.6)
    Y, X = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.sqrt((X - cx) ** 2 + (Y - cy) ** 2) / r
    mask = np.clip(1.5 - dist, 0.0, 1.0)[..., None] ** 2  # 1 inside 0.5 r, 0 beyond 1.5 r
    out = np.empty_like(a)
    for t in range(T):
        f = amplitude * mask * _smooth_field(rng, h, w, cells)
        out[t] = _remap(a[t], f[..., 0], f[..., 1])
    return out


def jitter(frames: np.ndarray, amplitude: float, *, seed: int = 0) -> np.ndarray:
    """Shift each frame as a whole by a random sub-pixel offset of length ``amplitude`` px (a shaking
    camera that a still-camera model no longer fits, and that moves the whole background)."""
    a = _check(frames)
    rng = np.random.default_rng([seed, 2])
    out = np.empty_like(a)
    for t in range(len(a)):
        ang = rng.uniform(0, 2 * np.pi)
        dx, dy = amplitude * np.cos(ang), amplitude * np.sin(ang)
        h, w = a.shape[1:3]
        out[t] = _remap(a[t], np.full((h, w), dx, np.float32), np.full((h, w), dy, np.float32))
    return out


def blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of every frame, ``sigma`` px."""
    a = _check(frames)
    return np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in a])


def brightness(frames: np.ndarray, factor: float) -> np.ndarray:
    """Every pixel times ``factor`` (1.12: 12 % brighter), clipped to [0, 255]."""
    a = _check(frames)
    return np.clip(np.rint(a.astype(np.float32) * factor), 0, 255).astype(np.uint8)


def noise(frames: np.ndarray, sigma: float, *, seed: int = 0) -> np.ndarray:
    """Independent Gaussian sensor noise of ``sigma`` grey levels per pixel and frame."""
    a = _check(frames)
    rng = np.random.default_rng([seed, 3])
    return np.clip(np.rint(a + rng.normal(0.0, sigma, a.shape)), 0, 255).astype(np.uint8)


def reencode(frames: np.ndarray, crf: int = 30, fps: int = 15) -> np.ndarray:
    """H.264 round trip (libx264, ``crf``, yuv420p) through PyAV, in memory."""
    import av

    a = _check(frames)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = a.shape[2], a.shape[1], "yuv420p"
        s.options = {"crf": str(crf), "preset": "medium"}
        for f in a:
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    buf.seek(0)
    with av.open(buf) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def freeze(frames: np.ndarray) -> np.ndarray:
    """The first frame repeated for the clip's length (a model that does not move at all)."""
    a = _check(frames)
    return np.repeat(a[:1], len(a), axis=0)


def cut(first: np.ndarray, second: np.ndarray, at: int) -> np.ndarray:
    """Frames ``[0, at)`` of ``first`` then frames ``[at, T)`` of ``second`` (a hard shot change
    between frames ``at - 1`` and ``at``)."""
    a, b = _check(first), _check(second)
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"cut needs frames of one size, got {a.shape[1:]} and {b.shape[1:]}")
    if not 0 < at < min(len(a), len(b)):
        raise ValueError(f"cut position must be inside both clips, got {at}")
    return np.concatenate([a[:at], b[at:]])
