"""Procedural multi-view robot-table scenes with exact epipolar ground truth.

Why this exists: a Sampson-error metric can only be trusted if we can show it reads ~0 on videos whose
geometry is exactly consistent and grows when the geometry is broken by a known amount. Real videos have
no ground truth, so this module renders its own: a table-top pick-and-place layout of textured boxes
inside a textured room, seen by a rig of pinhole cameras with known ``K, R, t`` per view and per frame.
Everything is numpy + OpenCV (no GL): a vectorised per-pixel ray caster intersects each pixel's ray with
the room (a convex box seen from inside, so every ray hits the floor, a wall or the ceiling: the whole
image is covered by rigid textured content) and with every solid — the table slab and the boxes on it —
by a slab test, keeps the nearest hit and samples that surface's procedural texture from one atlas with
``cv2.remap``. Frames are rendered at
``supersample`` x the size and reduced with ``INTER_AREA`` so that textures do not alias or flicker.
Given a :class:`SceneConfig` (seed included) the output is deterministic.

Conventions (written once, used everywhere in this module)
----------------------------------------------------------
* World: metres, ``z`` up, the table top is the plane ``z = 0``, the table centre is the origin; the
  table is a 1.6 x 1.1 m slab standing on the floor of a 4.4 x 4.4 m room (floor at ``z = -0.75``).
* Camera: ``x_cam = R @ X + t`` (world → camera), OpenCV axes (x right, y down, z forward); the camera
  centre is ``C = -Rᵀ t``.
* Pixels: ``(x, y)`` = (column, row), the centre of pixel ``(col, row)`` is at integer coordinates
  ``(col, row)`` (OpenCV / SIFT keypoint convention); the image spans ``[-0.5, W - 0.5]``.
* Fundamental matrix: ``x2ᵀ F x1 = 0`` with ``x1`` a pixel of the *first* camera and ``x2`` of the
  *second*, normalised to Frobenius norm 1 with its largest-magnitude entry positive.
* Surfaces: id 0 is the room (floor, walls, ceiling), 1 the table, ``2 + i`` is ``boxes[i]``.

Degradations (:class:`Degradation`, ``parse_degradation("elastic:2")``)
----------------------------------------------------------------------
Each one moves image content by a known amount that no single fundamental matrix can explain, and the
clip exposes the exact map "undegraded pixel → degraded pixel" (:meth:`SyntheticClip.displace`,
:meth:`SyntheticClip.elastic_field`, :meth:`SyntheticClip.object_shifts`). The random directions/fields are
drawn from the seed independently of the amplitude, so amplitudes 1, 2, 4 apply the *same* pattern scaled.

* ``elastic:a`` — per view and per frame an independent, spatially smooth random displacement field
  ``D`` (correlation length ≈ a quarter of the shorter image side) whose **maximum** magnitude over the
  pixel grid is exactly ``a`` px. A scene point seen at ``x`` in the clean frame is seen at ``x + D(x)``
  (``D`` bilinear between pixel centres). Rendered by casting rays through the inverse map (found by
  fixed-point iteration, accurate to ~1e-3 px), so no resampling blur is added.
* ``drift:a`` — every box, in every view and every frame independently, is translated in the image by
  exactly ``a`` px in a uniformly random direction (a 2-D layer shift composited with a depth test, so
  occlusions stay correct). Boxes thus jitter between frames in a way no single F explains; since the
  shifts are also independent per view, drift breaks cross-view consistency as well.
* ``view_shift:a`` — in every view except the first (the reference), each box is translated by exactly
  ``a`` px **perpendicular to the epipolar line** through it (the line, in that view, of the box centre
  as seen by the reference view at the same frame), with a random but fixed sign per box. A shift *along*
  the epipolar line would look like a change of depth and be invisible to Sampson error (NOTES.md). The
  shift is constant over time up to the slow rotation of the epipolar lines, so it mainly breaks the
  cross-view geometry, hardly the temporal one. The reference view is never changed.

* ``deform:a`` — every *moving* box or arm link, in every view and frame independently, is bent by its
  own smooth displacement field (correlation length a tenth of the shorter image side, maximum
  magnitude ``a`` px over the object's projected bounding rectangle) applied to that object's pixels only: a non-rigid object
  (an elastic or melting arm) while the rest of the scene stays rigid. A per-object 2-D *shift*
  (``drift``) is not enough for this: a homography of one object's pixels is absorbed by that
  object's own fundamental matrix (see below), a bend is not.

Layer shifts are applied first, then each moving object's ``deform`` field, the elastic field last:
``degraded = x + s_box``, then ``+ D_box(·)``, then ``+ D(·)``.

Why a global 2-D shake of the whole image is *not* such a degradation: if frame ``j`` is replaced by
``H_j``·frame ``j`` for any per-frame homography ``H_j`` (a translation, rotation, zoom or affine shake
are special cases), every true match ``(x1, x2)`` becomes ``(H_1 x1, H_2 x2)`` and still satisfies an exact
epipolar constraint, with ``F' = H_2⁻ᵀ F H_1⁻¹``. A metric that *estimates* F from matches, with unknown
intrinsics, finds ``F'`` and reports zero error: the shake is absorbed exactly as if the camera's
intrinsics (principal point, focal length, skew) had changed. Only displacements that differ across the
scene in a way no homography pair reproduces — the non-projective part of an elastic field, objects that
move relative to their surroundings — show up in Sampson error. (For the same reason the low-frequency,
nearly affine part of an ``elastic`` field is partly absorbed; the measured error is below ``a``.)

Static camera: consecutive frames of a static camera share the camera centre, so no fundamental matrix is
defined (the static background maps by the identity ``x2 = x1``, which satisfies ``x2ᵀ F x1 = 0`` for
*every* skew-symmetric F). :meth:`SyntheticClip.temporal_fundamentals` returns ``None`` for such pairs.
A box translating by ``T`` in front of a static camera satisfies ``F = [e]ₓ`` with ``e ~ K R T`` (its focus
of expansion) — see :meth:`SyntheticClip.object_fundamental` — and the background satisfies it too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Sequence

import cv2
import numpy as np

from .synthetic_motion import ARM_LINKS, arm_chain, independent_motion
from ..bounds import check_amplitude
from ..errors import InputError

__all__ = [
    "FIRST_BOX_SURFACE",
    "ROOM_SURFACE",
    "TABLE_SURFACE",
    "Box",
    "Camera",
    "Correspondences",
    "DEGRADATION_KINDS",
    "Degradation",
    "SceneConfig",
    "SyntheticClip",
    "fundamental_from_cameras",
    "parse_degradation",
    "render_clip",
    "sampson_distance",
    "skew",
]

# The room that encloses the table: a convex box seen from inside, so every ray hits one of its faces.
ROOM_MIN = np.array([-2.2, -2.2, -0.75])
ROOM_MAX = np.array([2.2, 2.2, 1.65])
# The table: a solid slab whose top is z = 0, standing on the room's floor. Its edges, with the floor
# 0.75 m below, give every view strong depth discontinuities (a scene that is mostly one plane would make
# F estimation nearly degenerate).
TABLE_HALF = np.array([0.8, 0.55, 0.375])
TABLE_CENTER = np.array([0.0, 0.0, -0.375])
# Surface ids, as reported by correspondences: the room, the table, then boxes[i] -> FIRST_BOX_SURFACE + i.
ROOM_SURFACE = 0
TABLE_SURFACE = 1
FIRST_BOX_SURFACE = 2
# Cameras look at this point (just above the table centre).
LOOK_AT = np.array([0.0, 0.0, 0.05])

CameraMotion = Literal["static", "orbit"]
ObjectMotion = Literal["none", "translate", "independent", "arm"]
OBJECT_MOTIONS = ("none", "translate", "independent", "arm")
INDEPENDENT_MOVERS = 3  # boxes with their own rigid motion under object_motion="independent"

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (200, 35, 35),
    "green": (40, 160, 60),
    "blue": (40, 70, 200),
    "yellow": (225, 195, 40),
    "orange": (235, 125, 30),
    "purple": (130, 50, 160),
    "white": (225, 225, 220),
    "cyan": (40, 175, 195),
}


# =====================================================================================================
# Cameras and epipolar geometry
# =====================================================================================================
@dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole camera: intrinsics ``K`` (3x3) and world→camera pose ``x_cam = R @ X + t``.

    ``R`` (3x3, orthonormal, det +1) and ``t`` (3,) map world points into the camera frame (OpenCV axes:
    x right, y down, z forward); pixels are ``K @ x_cam`` dehomogenised, pixel centres at integers.
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray

    def __post_init__(self) -> None:
        K = np.asarray(self.K, dtype=np.float64)
        R = np.asarray(self.R, dtype=np.float64)
        t = np.asarray(self.t, dtype=np.float64).reshape(-1)
        if K.shape != (3, 3) or R.shape != (3, 3) or t.shape != (3,):
            raise ValueError(f"Camera needs K (3, 3), R (3, 3), t (3,). Got {K.shape}, {R.shape}, {t.shape}")
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", t)

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates, ``C = -Rᵀ t`` (3,)."""
        return -self.R.T @ self.t

    @classmethod
    def look_at(cls, K: np.ndarray, eye: np.ndarray, target: np.ndarray, up: Sequence[float] = (0, 0, 1)) -> Camera:
        """A camera at ``eye`` whose optical axis points at ``target`` with image "up" towards ``up``."""
        eye = np.asarray(eye, dtype=np.float64)
        forward = np.asarray(target, dtype=np.float64) - eye
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, np.asarray(up, dtype=np.float64))
        norm = np.linalg.norm(right)
        if norm < 1e-9:
            raise ValueError(f"look_at: viewing direction {forward} is parallel to up {up}")
        right /= norm
        down = np.cross(forward, right)
        R = np.stack([right, down, forward])
        return cls(K=K, R=R, t=-R @ eye)

    def project(self, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project world points ``(N, 3)`` → pixels ``(N, 2)`` and camera depth ``z_cam`` ``(N,)``.

        Points with depth ≤ 0 (behind the camera) get meaningless pixels; check the depth.
        """
        X = np.asarray(points_world, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != 3:
            raise ValueError(f"project expects points of shape (N, 3). Got {X.shape}")
        xc = X @ self.R.T + self.t
        depth = xc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uvw = xc @ self.K.T
            pix = uvw[:, :2] / uvw[:, 2:3]
        return pix, depth

    def to_json(self) -> dict[str, list]:
        """``{"K": 3x3, "R": 3x3, "t": 3}`` as nested lists of floats."""
        return {"K": self.K.tolist(), "R": self.R.tolist(), "t": self.t.tolist()}


def skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrix ``[v]ₓ`` (3x3) with ``[v]ₓ w = v × w``."""
    x, y, z = np.asarray(v, dtype=np.float64).reshape(3)
    return np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])


def _normalise_f(F: np.ndarray) -> np.ndarray:
    """Frobenius norm 1, largest-magnitude entry positive: one canonical representative per F."""
    F = F / np.linalg.norm(F)
    flat = F.reshape(-1)
    return F if flat[np.argmax(np.abs(flat))] > 0 else -F


def fundamental_from_cameras(cam1: Camera, cam2: Camera, *, min_baseline: float = 1e-9) -> np.ndarray:
    """Ground-truth fundamental matrix ``F`` (3x3) with ``x2ᵀ F x1 = 0`` (x1 in ``cam1``, x2 in ``cam2``).

    ``F = K2⁻ᵀ [t_rel]ₓ R_rel K1⁻¹`` with ``R_rel = R2 R1ᵀ``, ``t_rel = t2 - R_rel t1`` (H&Z eq. 9.2 for
    ``P = K[R | t]`` cameras), normalised to Frobenius norm 1. Raises ``ValueError`` when the camera
    centres coincide (identical cameras or a pure rotation): then no F is defined.
    """
    baseline = np.linalg.norm(cam2.center - cam1.center)
    if baseline <= min_baseline:
        raise ValueError(
            f"cameras share their centre (baseline {baseline:.3g} m): the fundamental matrix is undefined"
        )
    R_rel = cam2.R @ cam1.R.T
    t_rel = cam2.t - R_rel @ cam1.t
    F = np.linalg.inv(cam2.K).T @ skew(t_rel) @ R_rel @ np.linalg.inv(cam1.K)
    return _normalise_f(F)


def sampson_distance(x1: np.ndarray, x2: np.ndarray, F: np.ndarray) -> np.ndarray:
    """√Sampson error in pixels, ``(N,)``, of matches ``x1 (N, 2)`` ↔ ``x2 (N, 2)`` under ``x2ᵀ F x1 = 0``.

    Hartley & Zisserman eq. 11.9: ``(x2ᵀFx1)² / ((Fx1)₁² + (Fx1)₂² + (Fᵀx2)₁² + (Fᵀx2)₂²)``; its square
    root is a first-order geometric distance in pixels. Validation helper only; the production, batched
    version lives in ``cosmos_bench.metrics``.
    """
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = np.asarray(x2, dtype=np.float64)
    F = np.asarray(F, dtype=np.float64)
    if x1.ndim != 2 or x1.shape[1] != 2 or x1.shape != x2.shape:
        raise ValueError(f"sampson_distance expects x1, x2 of the same shape (N, 2). Got {x1.shape}, {x2.shape}")
    if F.shape != (3, 3):
        raise ValueError(f"sampson_distance expects F of shape (3, 3). Got {F.shape}")
    h1 = np.concatenate([x1, np.ones((len(x1), 1))], axis=1)
    h2 = np.concatenate([x2, np.ones((len(x2), 1))], axis=1)
    Fx1 = h1 @ F.T
    Ftx2 = h2 @ F
    num = np.sum(h2 * Fx1, axis=1)
    den = Fx1[:, 0] ** 2 + Fx1[:, 1] ** 2 + Ftx2[:, 0] ** 2 + Ftx2[:, 1] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(num) / np.sqrt(den)


# =====================================================================================================
# Configuration and degradations
# =====================================================================================================
DEGRADATION_KINDS = ("elastic", "drift", "view_shift", "deform")
_DEGRADATION_STREAM = {kind: i for i, kind in enumerate(DEGRADATION_KINDS)}


@dataclass(frozen=True)
class Degradation:
    """A geometry-breaking change of the rendered video: ``kind`` in ``DEGRADATION_KINDS`` and
    ``amplitude`` in pixels (see the module docstring for exactly what each amplitude means)."""

    kind: str
    amplitude: float

    def __post_init__(self) -> None:
        if self.kind not in DEGRADATION_KINDS:
            raise InputError(f"unknown degradation kind {self.kind!r}; expected one of {DEGRADATION_KINDS}")
        amp = float(self.amplitude)
        if not math.isfinite(amp) or amp < 0:
            raise InputError(f"degradation amplitude must be a finite number of pixels >= 0. Got {self.amplitude!r}")
        check_amplitude(amp, f"degradation {self.kind}:{self.amplitude}")  # 1e308 is finite, and overflows
        object.__setattr__(self, "amplitude", amp)

    def __str__(self) -> str:
        return f"{self.kind}:{self.amplitude:g}"


def parse_degradation(spec: str | Degradation) -> Degradation:
    """Parse ``"KIND:PIXELS"`` (e.g. ``"elastic:2"``, ``"view_shift:1.5"``) into a :class:`Degradation`."""
    if isinstance(spec, Degradation):
        return spec
    kind, sep, amp = str(spec).strip().partition(":")
    if not sep:
        raise InputError(f"degradation {spec!r}: expected KIND:PIXELS, e.g. 'elastic:2' (kinds {DEGRADATION_KINDS})")
    try:
        amplitude = float(amp)
    except ValueError:
        raise InputError(f"degradation {spec!r}: amplitude {amp!r} is not a number of pixels") from None
    return Degradation(kind.strip(), amplitude)


def _default_view_names(n: int) -> tuple[str, ...]:
    return {1: ("center",), 2: ("left", "right"), 3: ("left", "center", "right")}.get(
        n, tuple(f"view{i}" for i in range(n))
    )


@dataclass(frozen=True)
class SceneConfig:
    """What to render. Distances in metres, angles in degrees, sizes in pixels.

    ``views``: a number of cameras or their names (1 → center; 2 → left, right; 3 → left, center, right;
    more → view0..); view 0 is the left-most and the reference view of ``view_shift``. The rig is rigid
    (a robot head): its cameras sit on a horizontal segment of length ``baseline``, toed in to look at
    the table centre, so every view pair has a real baseline, a well-conditioned F, and the same F at
    every frame. ``camera_motion="orbit"`` moves the whole rig around the table at ``orbit_speed_deg_s``
    (plus a ±3 cm height bob): ≈ 3–4 px median image motion per frame at 256x448 and 16 fps, with strong
    depth variation (boxes, table edge, floor and walls behind); ``"static"`` keeps it still. With
    ``object_motion="translate"`` box 0 slides rigidly along a straight line of ``object_travel`` metres over
    the clip at constant speed (a pick-and-place move); with ``"independent"`` the first three boxes each
    slide (20–40 % of ``object_travel`` per second) and turn (12–25° per second) with their own rigid
    motion; with ``"arm"`` a three-link arm
    (:func:`.synthetic_motion.arm_chain`) swings over the still boxes, each link a rigid body joined
    to the next. Rendering is deterministic given the whole config
    (the texture resolution follows the focal length, so a different size is a different texture).
    """

    views: int | Sequence[str] = ("left", "right")
    frames: int = 33
    height: int = 256
    width: int = 448
    fps: float = 16.0
    seed: int = 0
    camera_motion: CameraMotion = "orbit"
    object_motion: ObjectMotion = "none"
    num_boxes: int = 4
    baseline: float = 0.25
    camera_distance: float = 1.0
    camera_height: float = 0.85
    hfov_deg: float = 62.0
    orbit_speed_deg_s: float = 24.0
    object_travel: float = 0.35
    supersample: int = 2
    degradation_seed: int | None = None

    @property
    def degradation_stream_seed(self) -> int:
        """Seed of the degradations' random pattern: ``degradation_seed`` if set, else the scene seed.

        Separate from the scene seed so that one scene can be degraded differently per generation
        seed (the demo's synthetic world models do this), like a generator's seed varies its output.
        """
        return self.seed if self.degradation_seed is None else int(self.degradation_seed)

    def __post_init__(self) -> None:
        if isinstance(self.views, str):
            raise InputError(f"views must be a count or a list of names, not the string {self.views!r}")
        names = self.view_names
        if len(names) < 1 or len(set(names)) != len(names):
            raise InputError(f"views must be a positive count or distinct names. Got {self.views!r}")
        for name, value, lo in (("frames", self.frames, 1), ("height", self.height, 16), ("width", self.width, 16),
                                ("num_boxes", self.num_boxes, 1), ("supersample", self.supersample, 1)):
            if int(value) != value or value < lo:
                raise InputError(f"{name} must be an integer >= {lo}. Got {value!r}")
        if self.camera_motion not in ("static", "orbit"):
            raise InputError(f"camera_motion must be 'static' or 'orbit'. Got {self.camera_motion!r}")
        if self.object_motion not in OBJECT_MOTIONS:
            raise InputError(f"object_motion must be one of {OBJECT_MOTIONS}. Got {self.object_motion!r}")
        if self.object_motion == "arm" and self.num_boxes + len(ARM_LINKS) > len(PALETTE):
            raise InputError(f"object_motion='arm' adds {len(ARM_LINKS)} links: num_boxes must be <= "
                             f"{len(PALETTE) - len(ARM_LINKS)} (one colour each). Got {self.num_boxes}")
        if not self.fps > 0:
            raise InputError(f"fps must be > 0. Got {self.fps!r}")
        if not 10.0 <= self.hfov_deg <= 120.0:
            raise InputError(f"hfov_deg must be in [10, 120]. Got {self.hfov_deg!r}")
        if self.num_boxes > len(PALETTE):
            raise InputError(f"num_boxes must be <= {len(PALETTE)} (one colour each). Got {self.num_boxes}")
        if not 0.5 <= self.camera_distance <= 1.8 or not 0.3 <= self.camera_height <= 2.0:
            raise InputError(
                "camera_distance must be in [0.5, 1.8] m and camera_height in [0.3, 2.0] m (inside the room, "
                f"above the boxes). Got {self.camera_distance!r}, {self.camera_height!r}"
            )
        if self.baseline < 0 or self.baseline > 1.0 or (len(names) > 1 and self.baseline <= 0):
            raise InputError(f"baseline must be in (0, 1] m for a multi-view rig. Got {self.baseline!r}")

    @property
    def view_names(self) -> tuple[str, ...]:
        if isinstance(self.views, (int, np.integer)):
            if self.views < 1:
                raise InputError(f"views must be >= 1. Got {self.views}")
            return _default_view_names(int(self.views))
        return tuple(str(v) for v in self.views)

    @property
    def focal(self) -> float:
        """Focal length in pixels (square pixels) from the horizontal field of view."""
        return (self.width / 2.0) / math.tan(math.radians(self.hfov_deg) / 2.0)

    @property
    def K(self) -> np.ndarray:
        """Intrinsics shared by all views, principal point at the image centre ``((W-1)/2, (H-1)/2)``."""
        f = self.focal
        return np.array([[f, 0.0, (self.width - 1) / 2.0], [0.0, f, (self.height - 1) / 2.0], [0.0, 0.0, 1.0]])


# =====================================================================================================
# Scene: boxes, textures, atlas
# =====================================================================================================
@dataclass(frozen=True, eq=False)
class Box:
    """A textured box, yawed about ``z``: an object on the table or one link of the robot arm.

    ``centers`` ``(T, 3)`` is its centre per frame (all rows equal unless it moves); ``half_size`` ``(3,)``
    the half extents along its local axes; ``yaw`` radians about world ``z`` at frame 0 and ``yaws``
    ``(T,)`` per frame (None: constant), so a moving box is a rigid body that translates and turns.
    """

    color_name: str
    color: tuple[int, int, int]
    half_size: np.ndarray
    yaw: float
    centers: np.ndarray
    moving: bool = False
    yaws: np.ndarray | None = None

    def yaw_at(self, frame: int) -> float:
        return self.yaw if self.yaws is None else float(self.yaws[frame])

    def rotation(self, frame: int = 0) -> np.ndarray:
        c, s = math.cos(self.yaw_at(frame)), math.sin(self.yaw_at(frame))
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def moves_between(self, frame_a: int, frame_b: int) -> bool:
        return self.moving and (not np.array_equal(self.centers[frame_a], self.centers[frame_b])
                                or self.yaw_at(frame_a) != self.yaw_at(frame_b))

    def motion(self, frame_a: int, frame_b: int) -> tuple[np.ndarray, np.ndarray]:
        """The rigid motion ``X_b = M X_a + d`` of the box's points from ``frame_a`` to ``frame_b``."""
        M = self.rotation(frame_b) @ self.rotation(frame_a).T
        return M, self.centers[frame_b] - M @ self.centers[frame_a]

    def corners(self, frame: int) -> np.ndarray:
        """The 8 corners in world coordinates at ``frame``, ``(8, 3)``."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
        return (signs * self.half_size) @ self.rotation(frame).T + self.centers[frame]

    def to_json(self) -> dict[str, Any]:
        return {"color": self.color_name, "half_size": self.half_size.tolist(), "yaw": self.yaw,
                "moving": self.moving, "center_first": self.centers[0].tolist(),
                "center_last": self.centers[-1].tolist(), "yaw_last": self.yaw_at(len(self.centers) - 1)}


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """Independent, reproducible random stream per (seed, purpose, index...)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *stream]))


def _layout(config: SceneConfig) -> list[Box]:
    """Boxes on the table: non-overlapping footprints within 0.36 m of the centre and on the table; with
    translation, box 0's straight path (start → end) stays on the table and clear of the others."""

    def on_table(xy: np.ndarray, radius: float) -> bool:
        return bool(np.all(np.abs(xy) + radius + 0.04 <= TABLE_HALF[:2]))

    rng = _rng(config.seed, 1)
    T = config.frames
    for _attempt in range(200):
        names = [list(PALETTE)[i] for i in rng.permutation(len(PALETTE))[: config.num_boxes]]
        placed: list[tuple[np.ndarray, np.ndarray, float, float]] = []  # centre xy, half, yaw, radius
        for _ in range(config.num_boxes):
            for _try in range(200):
                half = np.array([rng.uniform(0.045, 0.1), rng.uniform(0.045, 0.1), rng.uniform(0.04, 0.11)])
                radius = float(np.hypot(half[0], half[1]))
                r, a = 0.36 * math.sqrt(rng.uniform()), rng.uniform(0, 2 * math.pi)
                xy = np.array([r * math.cos(a), r * math.sin(a)])
                if on_table(xy, radius) and all(np.linalg.norm(xy - p[0]) > radius + p[3] + 0.03 for p in placed):
                    placed.append((xy, half, float(rng.uniform(0, math.pi)), radius))
                    break
        if len(placed) < config.num_boxes:
            continue
        end_xy = placed[0][0]
        if config.object_motion == "translate":
            end_xy = None  # type: ignore[assignment]
            for _try in range(100):
                a = rng.uniform(0, 2 * math.pi)
                cand = placed[0][0] + config.object_travel * np.array([math.cos(a), math.sin(a)])
                if not on_table(cand, placed[0][3]):
                    continue
                seg = cand - placed[0][0]
                ok = True
                for xy, _h, _y, rad in placed[1:]:
                    s = np.clip(np.dot(xy - placed[0][0], seg) / np.dot(seg, seg), 0.0, 1.0)
                    if np.linalg.norm(placed[0][0] + s * seg - xy) <= placed[0][3] + rad + 0.02:
                        ok = False
                        break
                if ok:
                    end_xy = cand
                    break
            if end_xy is None:
                continue
        paths = _independent_paths(rng, placed, config) if config.object_motion == "independent" else {}
        if paths is None:
            continue
        boxes = []
        for i, (xy, half, yaw, _rad) in enumerate(placed):
            start = np.array([xy[0], xy[1], half[2]])
            yaws = None
            if i == 0 and config.object_motion == "translate":
                end = np.array([end_xy[0], end_xy[1], half[2]])
                s = np.linspace(0.0, 1.0, T) if T > 1 else np.zeros(1)
                centers = start + s[:, None] * (end - start)
            elif i in paths:
                path_xy, yaws = paths[i]
                centers = np.concatenate([path_xy, np.full((T, 1), half[2])], 1)
            else:
                centers = np.repeat(start[None], T, axis=0)
            boxes.append(Box(names[i], PALETTE[names[i]], half, yaw, centers,
                             moving=(i == 0 and config.object_motion == "translate") or i in paths, yaws=yaws))
        if config.object_motion == "arm":
            spare = [c for c in PALETTE if c not in names]
            for (half, centers, yaws), colour in zip(arm_chain(_rng(config.seed, 7), T, config.fps), spare):
                boxes.append(Box(colour, PALETTE[colour], half, float(yaws[0]), centers, moving=True, yaws=yaws))
        return boxes
    raise RuntimeError(f"could not lay out {config.num_boxes} boxes for seed {config.seed}")  # pragma: no cover


def _independent_paths(rng: np.random.Generator, placed: list, config: SceneConfig
                       ) -> dict[int, tuple[np.ndarray, np.ndarray]] | None:
    """Own rigid motions of the first :data:`INDEPENDENT_MOVERS` boxes whose footprints stay on the
    table and clear of every other box at every frame; None if 100 draws found none."""
    movers = range(min(INDEPENDENT_MOVERS, len(placed)))
    T = config.frames
    for _try in range(100):
        paths = {i: independent_motion(rng, placed[i][0], placed[i][2], T, config.fps, config.object_travel)
                 for i in movers}
        tracks = [paths[i][0] if i in paths else np.repeat(p[0][None], T, 0) for i, p in enumerate(placed)]
        radii = [p[3] for p in placed]
        ok = all(on_table_all(track, r) for track, r in zip(tracks, radii))
        for a in range(len(placed)):
            for b in range(a + 1, len(placed)):
                ok = ok and bool(np.all(np.linalg.norm(tracks[a] - tracks[b], axis=1) > radii[a] + radii[b] + 0.02))
        if ok:
            return paths
    return None


def on_table_all(track_xy: np.ndarray, radius: float) -> bool:
    """Every position of a planar track ``(T, 2)`` keeps a footprint of ``radius`` on the table."""
    return bool(np.all(np.abs(track_xy) + radius + 0.04 <= TABLE_HALF[:2]))


def _table(config: SceneConfig) -> Box:
    """The static table slab; its base colour comes from the seed (its texture uses random hues)."""
    base = tuple(int(c) for c in _rng(config.seed, 6).uniform(90, 170, 3))
    return Box("table", base, TABLE_HALF.copy(), 0.0, np.repeat(TABLE_CENTER[None], config.frames, axis=0))


def _texture(rng: np.random.Generator, h: int, w: int, base: Sequence[float], *, colourful: bool) -> np.ndarray:
    """A high-frequency RGB texture ``(h, w, 3) uint8``: multi-octave value noise, then many random
    anti-aliased blobs, ellipses, lines and patches at scales of ~2–30 texels (what gives SIFT/DoG its
    stable, well-localised keypoints), then fine grain. ``colourful`` uses random hues (room); otherwise
    shades of ``base`` so a box keeps its recognisable colour."""
    img = np.empty((h, w, 3), np.float32)
    img[:] = np.asarray(base, np.float32)
    for cell, amp in ((48.0, 30.0), (16.0, 24.0), (6.0, 18.0)):
        gh, gw = int(h / cell) + 2, int(w / cell) + 2
        g = rng.standard_normal((gh, gw, 3)).astype(np.float32)
        g = 0.8 * g[..., :1] + 0.45 * g  # mostly luminance, some chroma
        img += amp * cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    canvas = np.clip(img, 0, 255).astype(np.uint8)
    n_shapes = max(8, int(h * w / 220))
    base_arr = np.asarray(base, np.float64)
    kinds = rng.integers(0, 10, n_shapes)
    xs = rng.uniform(0, w, n_shapes)
    ys = rng.uniform(0, h, n_shapes)
    sizes = np.exp(rng.uniform(math.log(1.6), math.log(14.0), n_shapes))
    angles = rng.uniform(0, 360, n_shapes)
    shades = rng.uniform(0.25, 1.6, n_shapes)
    hues = rng.uniform(20, 245, (n_shapes, 3))
    for i in range(n_shapes):
        if colourful:
            col = (0.45 * hues[i] + 0.55 * base_arr * shades[i]) if kinds[i] < 8 else np.full(3, 255.0 * (kinds[i] % 2))
        else:
            col = base_arr * shades[i] if kinds[i] < 8 else np.full(3, 20.0 + 215.0 * (kinds[i] % 2))
        color = tuple(float(c) for c in np.clip(col, 0, 255))
        c = (int(xs[i]), int(ys[i]))
        r = float(sizes[i])
        k = kinds[i]
        if k < 4:
            cv2.circle(canvas, c, max(1, int(round(r))), color, -1, cv2.LINE_AA)
        elif k < 6:
            cv2.ellipse(canvas, c, (max(1, int(r * 1.6)), max(1, int(r * 0.6))), angles[i], 0, 360, color, -1,
                        cv2.LINE_AA)
        elif k < 8:
            a = math.radians(angles[i])
            p2 = (int(xs[i] + 2.5 * r * math.cos(a)), int(ys[i] + 2.5 * r * math.sin(a)))
            cv2.line(canvas, c, p2, color, max(1, int(r / 4)), cv2.LINE_AA)
        else:
            box = cv2.boxPoints(((xs[i], ys[i]), (1.8 * r, 1.1 * r), angles[i])).astype(np.int32)
            cv2.fillConvexPoly(canvas, box, color, cv2.LINE_AA)
    img = canvas.astype(np.float32)
    g = rng.standard_normal((h // 2 + 2, w // 2 + 2, 1)).astype(np.float32)
    img += 10.0 * cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


# In-plane axes (a, b) of a face whose normal is along axis k: texture x follows a, texture y follows -b.
_PLANE_AXES = {0: (1, 2), 1: (0, 2), 2: (0, 1)}
_PAD = 3  # texels of texture around every face in the atlas: bilinear lookups never bleed


@dataclass
class _FaceTable:
    """Atlas placement per face, as arrays indexed by face id ``2 * axis + side`` (side 1 = + face):
    texture ``x = x0 + (p_a - a_min) * dens``, ``y = y0 + (b_max - p_b) * dens``."""

    x0: np.ndarray
    y0: np.ndarray
    dens: np.ndarray
    a_min: np.ndarray
    b_max: np.ndarray


class _Atlas:
    """All surface textures packed into one image, so a frame needs a single ``cv2.remap``."""

    def __init__(self, config: SceneConfig, solids: list[Box]) -> None:
        """``solids``: the table then the boxes; owner ``i + 1`` of the face tables is ``solids[i]``."""
        f = config.focal
        light = np.array([0.3, -0.5, 0.8])
        light /= np.linalg.norm(light)
        tiles: list[tuple[int, int, np.ndarray, float, float, float]] = []  # owner, face, tex, dens, a_min, b_max
        # Texel density ~1 output pixel at a typical viewing distance: sharp near, not too aliased far.
        room_ext = ROOM_MAX - ROOM_MIN
        for face in range(6):
            axis, side = divmod(face, 2)
            a, b = _PLANE_AXES[axis]
            dens = f / 2.5
            if face == 5:
                dens *= 0.5  # ceiling: rarely seen
            h = int(math.ceil(room_ext[b] * dens)) + 2 * _PAD
            w = int(math.ceil(room_ext[a] * dens)) + 2 * _PAD
            base = _rng(config.seed, 2, 0, face).uniform(70, 190, 3)
            tex = _texture(_rng(config.seed, 2, 1, face), h, w, base, colourful=True)
            shade = 1.0 if face == 4 else 0.85
            tiles.append((0, face, (tex * shade).astype(np.uint8), dens, ROOM_MIN[a], ROOM_MAX[b]))
        for i, box in enumerate(solids):
            table = i == 0
            dens = f / (1.1 if table else 0.9)
            rot = box.rotation()
            for face in range(6):
                axis, side = divmod(face, 2)
                a, b = _PLANE_AXES[axis]
                h = int(math.ceil(2 * box.half_size[b] * dens)) + 2 * _PAD
                w = int(math.ceil(2 * box.half_size[a] * dens)) + 2 * _PAD
                tex = _texture(_rng(config.seed, 2, 2 + i, face), h, w, box.color, colourful=table)
                normal = rot[:, axis] * (1 if side else -1)
                shade = 0.55 + 0.45 * max(0.0, float(normal @ light))
                tiles.append((i + 1, face, (tex * shade).astype(np.uint8), dens, -box.half_size[a], box.half_size[b]))
        # Shelf packing, tallest first.
        order = sorted(range(len(tiles)), key=lambda j: -tiles[j][2].shape[0])
        atlas_w = max(2048, max(t[2].shape[1] for t in tiles))
        pos: dict[int, tuple[int, int]] = {}
        x = y = shelf_h = 0
        for j in order:
            th, tw = tiles[j][2].shape[:2]
            if x + tw > atlas_w:
                x, y, shelf_h = 0, y + shelf_h, 0
            pos[j] = (x, y)
            x += tw
            shelf_h = max(shelf_h, th)
        atlas_h = y + shelf_h
        if atlas_h >= 32767 or atlas_w >= 32767:
            raise ValueError(f"texture atlas {atlas_h}x{atlas_w} too large for cv2.remap; lower the image size")
        self.image = np.zeros((atlas_h, atlas_w, 3), np.uint8)
        n_owners = len(solids) + 1
        tabs = {k: np.zeros((n_owners, 6), np.float32) for k in ("x0", "y0", "dens", "a_min", "b_max")}
        for j, (owner, face, tex, dens, a_min, b_max) in enumerate(tiles):
            px, py = pos[j]
            self.image[py: py + tex.shape[0], px: px + tex.shape[1]] = tex
            # -0.5: texel centres at integers, so texture coordinate 0 is the left edge of texel 0.
            tabs["x0"][owner, face] = px + _PAD - 0.5
            tabs["y0"][owner, face] = py + _PAD - 0.5
            tabs["dens"][owner, face] = dens
            tabs["a_min"][owner, face] = a_min
            tabs["b_max"][owner, face] = b_max
        keys = ("x0", "y0", "dens", "a_min", "b_max")
        self.faces = [_FaceTable(*(tabs[k][o] for k in keys)) for o in range(n_owners)]


# =====================================================================================================
# Ray casting
# =====================================================================================================
def _room_hit(o: np.ndarray, d: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Exit of rays ``o + t d`` from the room (the camera is inside): ``t``, the axis of the face hit
    (int8), and the masks ``axis == 0`` and ``axis == 1``.

    ``t`` is in units of ``d``; with ``d = Rᵀ K⁻¹ (x, y, 1)`` it is the camera depth ``z_cam``.
    """
    ts = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(3):
            inv = 1.0 / d[i]
            # max of the two plane distances picks the one ahead; d == ±0 gives +inf, never -inf.
            # Python-float scalars keep float32 rays in float32 (NEP 50).
            ts.append(np.maximum(float(ROOM_MAX[i] - o[i]) * inv, float(ROOM_MIN[i] - o[i]) * inv))
    t = np.minimum(np.minimum(ts[0], ts[1]), ts[2])
    is0 = ts[0] == t
    is1 = ~is0 & (ts[1] == t)
    axis = np.where(is0, 0, np.where(is1, 1, 2)).astype(np.int8)
    return t, axis, is0, is1


def _box_slab(o: np.ndarray, d: Sequence[np.ndarray], box: Box, frame: int) -> tuple[Any, ...]:
    """Slab test of rays ``o + t d`` against ``box`` at ``frame``, in the box's local frame.

    Returns ``(t_near, hit, oL, dL, tn)`` with ``hit`` = ray enters the box in front of the camera and
    ``tn`` the per-axis entry distances (the largest one tells the face that was hit).
    """
    c, s = math.cos(box.yaw_at(frame)), math.sin(box.yaw_at(frame))
    rel = [float(x) for x in np.asarray(o, np.float64) - box.centers[frame]]  # floats: keep the rays' dtype
    oL = (c * rel[0] + s * rel[1], -s * rel[0] + c * rel[1], rel[2])
    dL = (c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2])
    tn, tf = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(3):
            inv = 1.0 / dL[i]
            h = float(box.half_size[i])
            ta = (-h - oL[i]) * inv
            tb = (h - oL[i]) * inv
            tn.append(np.minimum(ta, tb))
            tf.append(np.maximum(ta, tb))
    t_near = np.maximum(np.maximum(tn[0], tn[1]), tn[2])
    t_far = np.minimum(np.minimum(tf[0], tf[1]), tf[2])
    hit = (t_near <= t_far) & (t_near > 0)
    return t_near, hit, oL, dL, tn


class _Scene:
    """Geometry + textures of one clip; casts rays and renders frames."""

    def __init__(self, config: SceneConfig, boxes: list[Box], atlas: _Atlas | None) -> None:
        self.config = config
        self.boxes = boxes
        self.table = _table(config)
        self.solids = [self.table, *boxes]  # surface id of solids[k] is k + 1
        self.atlas = atlas

    # --------------------------------------------------------------------------------------- exact casts
    def cast(self, cam: Camera, frame: int, pix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest hit of the rays through pixels ``pix (N, 2)``: camera depth ``(N,)``, surface id ``(N,)``.
        float64, no culling: used for exact correspondences and visibility."""
        A = cam.R.T @ np.linalg.inv(cam.K)
        u, v = pix[:, 0], pix[:, 1]
        d = [A[i, 0] * u + A[i, 1] * v + A[i, 2] for i in range(3)]
        o = cam.center
        t, *_ = _room_hit(o, d)
        surface = np.zeros(len(u), np.int64)
        for k, box in enumerate(self.solids):
            tn, hit, *_ = _box_slab(o, d, box, frame)
            closer = hit & (tn < t)
            t = np.where(closer, tn, t)
            surface[closer] = k + 1
        return t, surface

    # ----------------------------------------------------------------------------------------- render
    def render(self, cam: Camera, frame: int, shifts: np.ndarray, field: np.ndarray | None,
               box_fields: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """One RGB frame ``(H, W, 3) uint8``.

        ``shifts (n_boxes, 2)``: image translation (px) of each box layer; ``field (H, W, 2)`` or None:
        elastic displacement ``D`` (the pixel that shows undegraded point ``x`` is ``x + D(x)``);
        ``box_fields``: box index → its own ``deform`` displacement, applied to that box's layer only.
        """
        box_fields = box_fields or {}
        cfg = self.config
        s = cfg.supersample
        H2, W2 = cfg.height * s, cfg.width * s
        # Final-image coordinates of the supersamples: sample i covers [i/s, (i+1)/s) - 0.5.
        u = (np.arange(W2, dtype=np.float32) + 0.5) / s - 0.5
        v = (np.arange(H2, dtype=np.float32) + 0.5) / s - 0.5
        U, V = np.meshgrid(u, v)
        margin = 1.0
        if field is not None:
            U, V = _invert_field(field, U, V)
            margin += float(np.sqrt((field ** 2).sum(-1)).max())
        A = (cam.R.T @ np.linalg.inv(cam.K)).astype(np.float32)
        o = cam.center.astype(np.float32)
        d = [A[i, 0] * U + A[i, 1] * V + A[i, 2] for i in range(3)]
        t, axis, is0, is1 = _room_hit(o, d)
        P = [o[i] + t * d[i] for i in range(3)]
        pa = np.where(is0, P[1], P[0])
        pb = np.where(is0 | is1, P[2], P[1])
        daxis = np.where(is0, d[0], np.where(is1, d[1], d[2]))
        face = axis * 2 + (daxis > 0)
        ft = self.atlas.faces[ROOM_SURFACE]
        map_x = ft.x0[face] + (pa - ft.a_min[face]) * ft.dens[face]
        map_y = ft.y0[face] + (ft.b_max[face] - pb) * ft.dens[face]
        del P, pa, pb, daxis, face, is0, is1, axis
        shifts = np.concatenate([np.zeros((1, 2)), shifts])  # the table never moves
        for k, box in enumerate(self.solids):
            own = box_fields.get(k - 1)
            extra = 0.0 if own is None else float(np.sqrt((own ** 2).sum(-1)).max())
            sl = self._box_window(cam, box, frame, shifts[k], margin + extra)
            if sl is None:
                continue
            if shifts[k, 0] == 0 and shifts[k, 1] == 0 and own is None:
                ds = [di[sl] for di in d]
            else:
                Us, Vs = (U[sl], V[sl]) if own is None else _invert_field(own, U[sl], V[sl])
                Us = Us - np.float32(shifts[k, 0])
                Vs = Vs - np.float32(shifts[k, 1])
                ds = [A[i, 0] * Us + A[i, 1] * Vs + A[i, 2] for i in range(3)]
            tn, hit, oL, dL, tns = _box_slab(o, ds, box, frame)
            tw = t[sl]
            hit &= tn < tw
            if not hit.any():
                continue
            tn = tn[hit]
            tn0, tn1, tn2 = (x[hit] for x in tns)
            dLh = [x[hit] for x in dL]
            ax0 = (tn0 >= tn1) & (tn0 >= tn2)
            ax1 = ~ax0 & (tn1 >= tn2)
            PL = [oL[i] + tn * dLh[i] for i in range(3)]
            pa = np.where(ax0, PL[1], PL[0])
            pb = np.where(ax0 | ax1, PL[2], PL[1])
            daxis = np.where(ax0, dLh[0], np.where(ax1, dLh[1], dLh[2]))
            face = np.where(ax0, 0, np.where(ax1, 2, 4)) + (daxis < 0)  # entering against d: the + face
            fb = self.atlas.faces[k + 1]
            tw[hit] = tn
            map_x[sl][hit] = fb.x0[face] + (pa - fb.a_min[face]) * fb.dens[face]
            map_y[sl][hit] = fb.y0[face] + (fb.b_max[face] - pb) * fb.dens[face]
        hi = cv2.remap(self.atlas.image, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
        if s == 1:
            return hi
        return cv2.resize(hi, (cfg.width, cfg.height), interpolation=cv2.INTER_AREA)

    def _box_window(self, cam: Camera, box: Box, frame: int, shift: np.ndarray,
                    margin: float) -> tuple[slice, slice] | None:
        """Supersample rows/cols that can see ``box`` (projected corners + shift ± margin), or None."""
        cfg = self.config
        s = cfg.supersample
        H2, W2 = cfg.height * s, cfg.width * s
        pix, depth = cam.project(box.corners(frame))
        if np.any(depth <= 1e-3):
            return np.s_[0:H2, 0:W2]
        lo = pix.min(0) + shift - margin
        hi = pix.max(0) + shift + margin
        c0 = max(0, int(math.floor((lo[0] + 0.5) * s - 0.5)))
        c1 = min(W2, int(math.ceil((hi[0] + 0.5) * s - 0.5)) + 1)
        r0 = max(0, int(math.floor((lo[1] + 0.5) * s - 0.5)))
        r1 = min(H2, int(math.ceil((hi[1] + 0.5) * s - 0.5)) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        return np.s_[r0:r1, c0:c1]


def _bilinear(field: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear sample of ``field (H, W, C)`` at float pixel positions ``pts (N, 2)`` (clamped at the
    border, like ``BORDER_REPLICATE``): the exact definition of a displacement between pixel centres."""
    H, W = field.shape[:2]
    x = np.clip(pts[:, 0], 0, W - 1)
    y = np.clip(pts[:, 1], 0, H - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), W - 2 if W > 1 else 0)
    y0 = np.minimum(np.floor(y).astype(np.int64), H - 2 if H > 1 else 0)
    fx = (x - x0)[:, None]
    fy = (y - y0)[:, None]
    x1 = np.minimum(x0 + 1, W - 1)
    y1 = np.minimum(y0 + 1, H - 1)
    f = field.astype(np.float64)
    return ((1 - fy) * ((1 - fx) * f[y0, x0] + fx * f[y0, x1]) + fy * ((1 - fx) * f[y1, x0] + fx * f[y1, x1]))


def _invert_field(field: np.ndarray, U: np.ndarray, V: np.ndarray,
                  iterations: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``q + D(q) = y`` for every supersample position ``y = (U, V)`` by fixed-point iteration
    ``q ← y - D(q)`` (a contraction: ``D`` is smooth, ``|∇D| ≪ 1``), so the ray through ``q`` shows at
    ``y`` what the clean frame shows at ``q``."""
    qx, qy = U.copy(), V.copy()
    for _ in range(iterations):
        Dq = cv2.remap(field, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        qx = U - Dq[..., 0]
        qy = V - Dq[..., 1]
    return qx, qy


# =====================================================================================================
# Cameras of the rig over time
# =====================================================================================================
def _rig_cameras(config: SceneConfig) -> dict[str, list[Camera]]:
    """Per view, per frame cameras of a rigid rig.

    The rig (a segment of length ``baseline``, views evenly spread, view 0 on the left) stands
    ``camera_distance`` m from the table centre and ``camera_height`` m above it, its "head" aimed at the
    table centre; each view is toed in by a fixed angle so that it too looks at the table centre from the
    nominal pose. The views' relative pose never changes (a robot head), so the cross-view F is the same
    at every frame. Orbit: the rig's azimuth advances at ``orbit_speed_deg_s`` (centred on the clip's
    middle) and its height bobs by ±3 cm (period 2.5 s), so consecutive frames have a real baseline."""
    rng = _rng(config.seed, 5)
    az0 = math.radians(-90.0 + rng.uniform(-20.0, 20.0))
    names = config.view_names
    K = config.K
    T = config.frames
    reach = math.hypot(config.camera_distance, config.camera_height - LOOK_AT[2])
    offsets = [0.0 if len(names) == 1 else config.baseline * (i / (len(names) - 1) - 0.5) for i in range(len(names))]
    # Toe-in about the rig's down axis (camera y): a camera offset to the right turns left by atan(off/reach).
    toe = []
    for off in offsets:
        a = math.atan2(off, reach)
        c, s = math.cos(a), math.sin(a)
        toe.append(np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]))
    cams: dict[str, list[Camera]] = {n: [] for n in names}
    for f in range(T):
        time = f / config.fps
        if config.camera_motion == "orbit":
            az = az0 + math.radians(config.orbit_speed_deg_s) * (time - (T - 1) / (2 * config.fps))
            z = config.camera_height + 0.03 * math.sin(2 * math.pi * time / 2.5)
        else:
            az, z = az0, config.camera_height
        rig_pos = np.array([config.camera_distance * math.cos(az), config.camera_distance * math.sin(az), z])
        head = Camera.look_at(K, rig_pos, LOOK_AT)
        for name, off, Rt in zip(names, offsets, toe):
            R = Rt @ head.R
            centre = rig_pos + off * head.R[0]  # head.R[0] = the rig's right axis in world coordinates
            cams[name].append(Camera(K, R, -R @ centre))
    return cams


# =====================================================================================================
# The clip
# =====================================================================================================
@dataclass(frozen=True, eq=False)
class Correspondences:
    """Exact pixel pairs of the same 3-D surface points, visible in both images.

    ``x1 (N, 2)`` in the first image, ``x2 (N, 2)`` in the second, ``surface (N,)`` their surface id
    (``ROOM_SURFACE``, ``TABLE_SURFACE``, or ``FIRST_BOX_SURFACE + i`` for box ``i``), ``points (N, 3)``
    world positions at the first image's frame.
    """

    x1: np.ndarray
    x2: np.ndarray
    surface: np.ndarray
    points: np.ndarray

    def __len__(self) -> int:
        return len(self.x1)

    @property
    def on_box(self) -> np.ndarray:
        """``(N,)`` bool: the point lies on one of the boxes (the objects that degradations move)."""
        return self.surface >= FIRST_BOX_SURFACE


class SyntheticClip:
    """A rendered multi-view clip with its exact geometry.

    ``views``: view name → ``uint8 (T, H, W, 3)`` RGB; ``cameras``: view name → one :class:`Camera` per
    frame; ``fps``; ``prompt``: a caption of the robot task consistent with the scene; ``boxes``;
    ``degradations`` applied to ``views``. All fundamental matrices are those of the *undegraded* scene:
    they are what a consistent video would satisfy.
    """

    def __init__(self, config: SceneConfig, scene: _Scene, cameras: dict[str, list[Camera]],
                 degradations: tuple[Degradation, ...], views: dict[str, np.ndarray], prompt: str,
                 shifts: np.ndarray) -> None:
        self.config = config
        self._scene = scene
        self.cameras = cameras
        self.degradations = degradations
        self.views = views
        self.prompt = prompt
        self.fps = float(config.fps)
        self.boxes = scene.boxes
        self._shifts = shifts  # (V, T, n_boxes, 2)

    def __repr__(self) -> str:
        degr = ", ".join(str(d) for d in self.degradations) or "none"
        return (f"SyntheticClip(views={list(self.view_names)}, frames={self.num_frames}, "
                f"size={self.config.height}x{self.config.width}, seed={self.config.seed}, degradations={degr})")

    # ----------------------------------------------------------------------------------------- basics
    @property
    def view_names(self) -> tuple[str, ...]:
        return self.config.view_names

    @property
    def num_frames(self) -> int:
        return self.config.frames

    def _view_index(self, view: str) -> int:
        try:
            return self.view_names.index(view)
        except ValueError:
            raise KeyError(f"unknown view {view!r}; views are {list(self.view_names)}") from None

    def _frame(self, frame: int) -> int:
        if not 0 <= frame < self.num_frames:
            raise IndexError(f"frame {frame} out of range [0, {self.num_frames})")
        return int(frame)

    def camera(self, view: str, frame: int) -> Camera:
        self._view_index(view)
        return self.cameras[view][self._frame(frame)]

    # ------------------------------------------------------------------------------------ fundamentals
    def fundamental(self, view_a: str, frame_a: int, view_b: str, frame_b: int) -> np.ndarray:
        """F with ``x_bᵀ F x_a = 0`` between two camera instants; valid for static scene content
        (everything except a moving box). Raises ``ValueError`` if both instants share a centre."""
        return fundamental_from_cameras(self.camera(view_a, frame_a), self.camera(view_b, frame_b))

    def temporal_fundamentals(self, view: str) -> list[np.ndarray | None]:
        """``T-1`` matrices F_j with ``x_{j+1}ᵀ F_j x_j = 0`` for consecutive frames of ``view``; an entry is
        ``None`` when the camera did not move between the two frames (static camera: F undefined)."""
        out: list[np.ndarray | None] = []
        for j in range(self.num_frames - 1):
            try:
                out.append(self.fundamental(view, j, view, j + 1))
            except ValueError:
                out.append(None)
        return out

    def cross_view_fundamentals(self, view_a: str, view_b: str) -> list[np.ndarray]:
        """Per frame ``j``, F with ``x_bᵀ F x_a = 0`` between simultaneous frames of two views."""
        return [self.fundamental(view_a, j, view_b, j) for j in range(self.num_frames)]

    def moving_boxes(self) -> list[int]:
        """Indices (into :attr:`boxes`) of the boxes and arm links that move during the clip."""
        return [k for k, box in enumerate(self.boxes) if box.moving]

    def object_fundamental(self, view_a: str, frame_a: int, view_b: str, frame_b: int,
                           box: int | None = None) -> np.ndarray:
        """F for one moving box's own points: ``x_bᵀ F x_a = 0`` for its pixels in the two instants.

        The box moves rigidly, ``X_b = M X_a + d`` (:meth:`Box.motion`), so seeing it from camera b
        equals seeing it frozen from the camera ``(K_b, R_b M, t_b + R_b d)``. For a static camera and a
        pure translation this is ``[e]ₓ`` with ``e ~ K R T``, the focus of expansion. ``box``: index
        into :attr:`boxes` (default: the first moving one). Raises ``ValueError`` if the relative
        motion is a pure rotation about the camera centre (no F)."""
        movers = self.moving_boxes()
        if not movers:
            raise ValueError(f"this clip has no moving object (object_motion={self.config.object_motion!r})")
        k = movers[0] if box is None else box
        cam_b = self.camera(view_b, frame_b)
        M, d = self.boxes[k].motion(self._frame(frame_a), self._frame(frame_b))
        moved = Camera(cam_b.K, cam_b.R @ M, cam_b.t + cam_b.R @ d)
        return fundamental_from_cameras(self.camera(view_a, frame_a), moved)

    # -------------------------------------------------------------------------------- correspondences
    def correspondences(self, view_a: str, frame_a: int, view_b: str, frame_b: int, n: int = 500,
                        subset: Literal["static", "moving", "all"] = "static", degraded: bool = False,
                        seed: int = 0) -> Correspondences:
        """Up to ``n`` exact pixel pairs of the same surface points seen (unoccluded, inside the image) in
        both instants.

        ``subset``: ``"static"`` = room, table and boxes that do not move between the two frames;
        ``"moving"`` = the moving boxes / arm links only; ``"all"``. Fewer than ``n`` come back only when fewer are
        visible (e.g. the moving box leaves the image). With ``degraded=True`` both sides are moved by
        :meth:`displace`, i.e. they are where the degraded video shows those points. Points are found by
        casting float64 rays through random pixels of the first image (``seed`` picks them), so ``x1``
        reprojects exactly; visibility in the second image is checked by casting its ray back.
        """
        if subset not in ("static", "moving", "all"):
            raise ValueError(f"subset must be 'static', 'moving' or 'all'. Got {subset!r}")
        if n < 1:
            raise ValueError(f"n must be >= 1. Got {n}")
        cam_a, cam_b = self.camera(view_a, frame_a), self.camera(view_b, frame_b)
        cfg = self.config
        moving = np.array([False, False] + [b.moves_between(frame_a, frame_b) for b in self.boxes])
        rng = _rng(cfg.seed, 4, seed, self._view_index(view_a), frame_a, self._view_index(view_b), frame_b)
        lo, hi = np.zeros(2), np.array([cfg.width - 1.0, cfg.height - 1.0])
        if subset == "moving":
            if not moving.any():
                raise ValueError(f"no object moves between frames {frame_a} and {frame_b}")
            corners = np.concatenate([self.boxes[k].corners(frame_a) for k in np.nonzero(moving[2:])[0]])
            pix, depth = cam_a.project(corners)
            lo, hi = np.maximum(lo, pix.min(0)), np.minimum(hi, pix.max(0))
            if np.any(lo >= hi):  # the moving box is outside the first image
                return Correspondences(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros((0, 3)))
        outs: list[tuple[np.ndarray, ...]] = []
        found = 0
        for _round in range(20):
            x1 = rng.uniform(lo, hi, (max(4 * n, 256), 2))
            t, surf = self._scene.cast(cam_a, frame_a, x1)
            keep = {"static": ~moving[surf], "moving": moving[surf], "all": np.ones(len(surf), bool)}[subset]
            x1, t, surf = x1[keep], t[keep], surf[keep]
            A = cam_a.R.T @ np.linalg.inv(cam_a.K)
            X = cam_a.center + t[:, None] * (np.concatenate([x1, np.ones((len(x1), 1))], 1) @ A.T)
            Xb = X.copy()
            for k, box in enumerate(self.boxes):
                on = surf == FIRST_BOX_SURFACE + k
                if on.any() and box.moving:
                    M, dk = box.motion(frame_a, frame_b)
                    Xb[on] = X[on] @ M.T + dk
            x2, depth_b = cam_b.project(Xb)
            inside = (depth_b > 0) & np.all(x2 >= 0, axis=1)
            inside &= (x2[:, 0] <= cfg.width - 1) & (x2[:, 1] <= cfg.height - 1)
            tb, surf_b = self._scene.cast(cam_b, frame_b, np.where(inside[:, None], x2, 0.0))
            visible = inside & (surf_b == surf) & (np.abs(tb - depth_b) <= 1e-7 * np.abs(depth_b) + 1e-9)
            outs.append((x1[visible], x2[visible], surf[visible], X[visible]))
            found += int(visible.sum())
            if found >= n:
                break
        x1, x2, surf, X = (np.concatenate(parts)[:n] for parts in zip(*outs))
        if degraded:
            x1 = self.displace(view_a, frame_a, x1, surf)
            x2 = self.displace(view_b, frame_b, x2, surf)
        return Correspondences(x1, x2, surf, X)

    # ------------------------------------------------------------------------------------ degradations
    def object_shifts(self, view: str, frame: int) -> np.ndarray:
        """Image translation (px) of each box layer in ``view`` at ``frame``, ``(n_boxes, 2)``: the sum of
        the ``drift`` and ``view_shift`` displacements (zeros when neither is applied)."""
        return self._shifts[self._view_index(view), self._frame(frame)].copy()

    def deform_fields(self, view: str, frame: int) -> dict[int, np.ndarray]:
        """The ``deform`` displacement of each moving box at ``view``/``frame``: box index →
        ``(H, W, 2)`` px, applied to that box's pixels only (empty without a deform degradation)."""
        return _deform_fields(self.config, self.degradations, self.boxes, self.camera(view, frame),
                              self._view_index(view), self._frame(frame))

    def elastic_field(self, view: str, frame: int) -> np.ndarray | None:
        """The ``elastic`` displacement ``D (H, W, 2)`` (x, y components, px, at pixel centres) applied to
        ``view`` at ``frame``, or None when no elastic degradation is applied."""
        amp = sum(d.amplitude for d in self.degradations if d.kind == "elastic")
        if amp == 0:
            return None
        return _elastic_field(self.config.degradation_stream_seed, self._view_index(view), self._frame(frame),
                              self.config.height, self.config.width) * np.float32(amp)

    def displace(self, view: str, frame: int, points: np.ndarray, surface: np.ndarray) -> np.ndarray:
        """Where the degraded ``view``/``frame`` shows the points that the clean one shows at ``points``.

        ``points (N, 2)`` clean pixel positions, ``surface (N,)`` the surface each lies on (as in
        :class:`Correspondences`): box pixels are first moved by their layer shift, then every pixel by
        the elastic field (bilinear between pixel centres). Identity without degradations."""
        pts = np.asarray(points, dtype=np.float64)
        surface = np.asarray(surface, dtype=np.int64)
        if pts.ndim != 2 or pts.shape[1] != 2 or surface.shape != (len(pts),):
            raise ValueError(f"displace expects points (N, 2) and surface (N,). Got {pts.shape}, {surface.shape}")
        shifts = np.concatenate([np.zeros((FIRST_BOX_SURFACE, 2)), self.object_shifts(view, frame)])
        out = pts + shifts[surface]
        for k, own in self.deform_fields(view, frame).items():
            on = surface == FIRST_BOX_SURFACE + k
            out[on] = out[on] + _bilinear(own, out[on])
        field = self.elastic_field(view, frame)
        if field is not None:
            out = out + _bilinear(field, out)
        return out

    # ---------------------------------------------------------------------------------------- export
    def cameras_json(self) -> dict[str, Any]:
        """JSON-serialisable geometry: K, R, t per view per frame, ground-truth F for every
        consecutive-frame pair (per view; null where the camera did not move) and every view pair
        (per frame), plus the conventions needed to use them."""
        names = self.view_names
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
        return {
            "conventions": {
                "camera": "x_cam = R @ X_world + t (OpenCV axes: x right, y down, z forward); metres",
                "pixels": "(x, y) = (column, row); pixel centres at integer coordinates",
                "fundamental": "x2^T F x1 = 0, x1 in the first camera/frame, x2 in the second; ||F||_F = 1",
                "temporal_fundamentals": "per view, F[j]: frame j (x1) to frame j+1 (x2); null = camera did not move",
                "cross_view_fundamentals": "key 'a|b': per frame, F maps view a (x1) to view b (x2)",
            },
            "height": self.config.height,
            "width": self.config.width,
            "fps": self.fps,
            "frames": self.num_frames,
            "views": list(names),
            "cameras": {v: [c.to_json() for c in self.cameras[v]] for v in names},
            "temporal_fundamentals": {
                v: [None if F is None else F.tolist() for F in self.temporal_fundamentals(v)] for v in names
            },
            "cross_view_fundamentals": {
                f"{a}|{b}": [F.tolist() for F in self.cross_view_fundamentals(a, b)] for a, b in pairs
            },
        }

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`cameras_json` plus scene metadata (seed, prompt, boxes, degradations) as a JSON string."""
        data = self.cameras_json()
        data.update({
            "seed": self.config.seed,
            "prompt": self.prompt,
            "camera_motion": self.config.camera_motion,
            "object_motion": self.config.object_motion,
            "boxes": [b.to_json() for b in self.boxes],
            "degradations": [{"kind": d.kind, "amplitude": d.amplitude} for d in self.degradations],
            "note": "fundamental matrices are those of the undegraded scene",
        })
        return json.dumps(data, indent=indent)


@lru_cache(maxsize=64)
def _elastic_unit_field(seed: int, view_index: int, frame: int, height: int, width: int,
                        stream: tuple[int, ...] = (_DEGRADATION_STREAM["elastic"],), cells: int = 4) -> np.ndarray:
    """Smooth random field ``(H, W, 2) float32`` with max magnitude 1 over the pixel grid: Gaussian
    values on a coarse grid (spacing ≈ min(H, W)/``cells``) upsampled bicubically. Independent per
    view/frame (and ``stream``), independent of the amplitude."""
    rng = _rng(seed, 3, *stream, view_index, frame)
    cell = min(height, width) / float(cells)
    gh, gw = int(round(height / cell)) + 2, int(round(width / cell)) + 2
    g = rng.standard_normal((gh, gw, 2)).astype(np.float32)
    field = cv2.resize(g, (width, height), interpolation=cv2.INTER_CUBIC)
    field /= np.sqrt((field ** 2).sum(-1)).max()
    field.setflags(write=False)
    return field


def _elastic_field(seed: int, view_index: int, frame: int, height: int, width: int) -> np.ndarray:
    return _elastic_unit_field(seed, view_index, frame, height, width).copy()


DEFORM_CELLS = 10  # correlation length of a ``deform`` field: the shorter image side / 10


def _deform_fields(config: SceneConfig, degradations: Sequence[Degradation], boxes: list[Box], camera: Camera,
                   view_index: int, frame: int) -> dict[int, np.ndarray]:
    """Per moving box an independent smooth field whose largest magnitude over the box's image
    footprint (its projected bounding rectangle) is the ``deform`` amplitude, with a correlation
    length short enough (:data:`DEFORM_CELLS`) to bend an object, not only shift it."""
    amp = sum(d.amplitude for d in degradations if d.kind == "deform")
    if amp == 0:
        return {}
    H, W = config.height, config.width
    out = {}
    for k, box in enumerate(boxes):
        if not box.moving:
            continue
        field = _elastic_unit_field(config.degradation_stream_seed, view_index, frame, H, W,
                                    (_DEGRADATION_STREAM["deform"], k), DEFORM_CELLS)
        pix, depth = camera.project(box.corners(frame))
        c0, r0 = np.clip(np.floor(pix.min(0)).astype(int), 0, [W - 1, H - 1])
        c1, r1 = np.clip(np.ceil(pix.max(0)).astype(int) + 1, 1, [W, H])
        peak = float(np.sqrt((field[r0:r1, c0:c1] ** 2).sum(-1)).max()) if (depth > 0).all() and c1 > c0 and r1 > r0 else 0.0
        out[k] = field * np.float32(amp / peak) if peak > 0 else field * np.float32(amp)
    return out


def _layer_shifts(config: SceneConfig, degradations: Sequence[Degradation], boxes: list[Box],
                  cameras: dict[str, list[Camera]]) -> np.ndarray:
    """Per view, frame and box the 2-D image translation of the box layer, ``(V, T, n_boxes, 2)``."""
    names = config.view_names
    V, T, nb = len(names), config.frames, len(boxes)
    shifts = np.zeros((V, T, nb, 2))
    for deg in degradations:
        if deg.kind == "drift" and deg.amplitude > 0:
            for vi in range(V):
                for f in range(T):
                    ang = _rng(config.degradation_stream_seed, 3, _DEGRADATION_STREAM["drift"], vi, f).uniform(0, 2 * math.pi, nb)
                    shifts[vi, f] += deg.amplitude * np.stack([np.cos(ang), np.sin(ang)], 1)
        elif deg.kind == "view_shift" and deg.amplitude > 0 and V > 1:
            signs = np.where(_rng(config.degradation_stream_seed, 3, _DEGRADATION_STREAM["view_shift"]).uniform(size=nb) < 0.5, -1.0, 1.0)
            ref = names[0]
            for vi in range(1, V):
                for f in range(T):
                    F = fundamental_from_cameras(cameras[ref][f], cameras[names[vi]][f])
                    centres = np.stack([b.centers[f] for b in boxes])
                    x_ref, _ = cameras[ref][f].project(centres)
                    lines = np.concatenate([x_ref, np.ones((nb, 1))], 1) @ F.T  # epipolar lines in view vi
                    normal = lines[:, :2] / np.linalg.norm(lines[:, :2], axis=1, keepdims=True)
                    shifts[vi, f] += deg.amplitude * signs[:, None] * normal
    return shifts


def _prompt(config: SceneConfig, boxes: list[Box], cameras: dict[str, list[Camera]]) -> str:
    """A short robot-task caption that says what the clip shows (colours, motion)."""
    names = [b.color_name for b in boxes]
    if config.object_motion == "translate":
        mover = boxes[0]
        cam = cameras[config.view_names[0]][0]
        delta = cam.R @ (mover.centers[-1] - mover.centers[0])
        if abs(delta[0]) >= abs(delta[2]):
            where = "to the left" if delta[0] < 0 else "to the right"
        else:
            where = "towards the camera" if delta[2] < 0 else "away from the camera"
        others = boxes[1:]
        text = f"The robot slides the {mover.color_name} box {where}"
        if others:
            near = min(others, key=lambda b: np.linalg.norm(b.centers[0][:2] - mover.centers[-1][:2]))
            text += f", next to the {near.color_name} box"
        text += "."
    else:
        still = [b.color_name for b in boxes if not b.moving] if config.object_motion != "independent" else names
        listed = [f"a {n} box" for n in still] or ["nothing"]
        items = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
        if config.object_motion == "arm":
            text = f"The robot swings its arm over a table with {items}."
        elif config.object_motion == "independent":
            text = f"Boxes slide and turn on their own on a table with {items}."
        else:
            text = f"The robot looks over a table with {items}."
    text += " The camera slowly circles the table." if config.camera_motion == "orbit" else " The camera stays still."
    return text


def render_clip(config: SceneConfig | None = None, degradations: Sequence[Degradation | str] = ()) -> SyntheticClip:
    """Render ``config``'s scene from every view and frame, applying ``degradations`` (objects or
    ``"kind:pixels"`` strings, at most one per kind). Deterministic given the config and degradations."""
    config = config or SceneConfig()
    degr = tuple(parse_degradation(d) for d in degradations)
    kinds = [d.kind for d in degr]
    if len(set(kinds)) != len(kinds):
        raise InputError(f"each degradation kind may appear once. Got {[str(d) for d in degr]}")
    boxes = _layout(config)
    cameras = _rig_cameras(config)
    scene = _Scene(config, boxes, None)
    scene.atlas = _Atlas(config, scene.solids)
    shifts = _layer_shifts(config, degr, boxes, cameras)
    elastic = sum(d.amplitude for d in degr if d.kind == "elastic")
    views: dict[str, np.ndarray] = {}
    H, W = config.height, config.width
    for vi, name in enumerate(config.view_names):
        frames = np.empty((config.frames, H, W, 3), np.uint8)
        for f in range(config.frames):
            field = None
            if elastic > 0:
                field = _elastic_field(config.degradation_stream_seed, vi, f, H, W) * np.float32(elastic)
            frames[f] = scene.render(cameras[name][f], f, shifts[vi, f], field,
                                     _deform_fields(config, degr, boxes, cameras[name][f], vi, f))
        views[name] = frames
    return SyntheticClip(config, scene, cameras, degr, views, _prompt(config, boxes, cameras), shifts)
