"""Synthetic scenes: exact epipolar ground truth, and degradations that really break it.

Every test renders small clips (few frames, ≤ 256x448) so the file stays well under a minute on 2 cores.
Tolerances: exact correspondences come from float64 ray casting and projection, so their √Sampson error
under the ground-truth F is pure round-off (~1e-13 px measured); 1e-6 px leaves six orders of margin
while any wrong convention (transposed F, swapped cameras, wrong K) gives errors of pixels.
"""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from cosmos_bench.data.synthetic import (
    FIRST_BOX_SURFACE,
    Camera,
    Degradation,
    SceneConfig,
    fundamental_from_cameras,
    parse_degradation,
    render_clip,
    sampson_distance,
)

SMALL = dict(height=128, width=224)
EXACT = 1e-6  # px, see module docstring


@pytest.fixture(scope="module")
def orbit_clip():
    return render_clip(SceneConfig(frames=4, seed=1, **SMALL))


@pytest.fixture(scope="module")
def static_translate_clip():
    return render_clip(SceneConfig(frames=3, seed=2, camera_motion="static", object_motion="translate", **SMALL))


@pytest.fixture(scope="module")
def full_size_clips():
    """Clean and elastic:4 renders of the same 256x448 scene, 2 frames (the SIFT end-to-end checks)."""
    cfg = SceneConfig(frames=2, seed=0)
    return render_clip(cfg), render_clip(cfg, ["elastic:4"])


# ----------------------------------------------------------------------------------- camera maths
def test_fundamental_convention_on_random_points():
    K = np.array([[300.0, 0, 111.5], [0, 300.0, 63.5], [0, 0, 1]])
    cam1 = Camera.look_at(K, np.array([0.9, -0.6, 0.8]), np.zeros(3))
    cam2 = Camera.look_at(K, np.array([0.7, -0.9, 0.9]), np.array([0.05, 0.0, 0.0]))
    X = np.random.default_rng(0).uniform(-0.3, 0.3, (200, 3))
    x1, z1 = cam1.project(X)
    x2, z2 = cam2.project(X)
    assert np.all(z1 > 0) and np.all(z2 > 0)
    F = fundamental_from_cameras(cam1, cam2)
    assert np.isclose(np.linalg.norm(F), 1.0)
    assert np.max(sampson_distance(x1, x2, F)) < EXACT
    # The transpose is the wrong convention and must not fit (guards x2ᵀ F x1 against x1ᵀ F x2).
    assert np.median(sampson_distance(x1, x2, F.T)) > 1.0
    # Moving x2 by δ perpendicular to its epipolar line gives √Sampson in (0, δ]: ≈ δ·|l2|/√(|l1|²+|l2|²).
    lines = np.c_[x1, np.ones(len(x1))] @ F.T
    normal = lines[:, :2] / np.linalg.norm(lines[:, :2], axis=1, keepdims=True)
    err = sampson_distance(x1, x2 + 2.0 * normal, F)
    assert np.all(err > 0.2) and np.all(err <= 2.0 + 1e-9)
    # A pure rotation about the same centre has no fundamental matrix.
    rotated = Camera.look_at(K, np.array([0.9, -0.6, 0.8]), np.array([0.2, 0.1, 0.0]))
    with pytest.raises(ValueError, match="share their centre"):
        fundamental_from_cameras(cam1, rotated)


def test_camera_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"Got \(3, 2\)"):
        Camera(np.eye(3), np.eye(3), np.zeros(3)).project(np.zeros((2, 3)).T)


# ------------------------------------------------------------------------------ exact ground truth
def test_orbit_consecutive_frames_satisfy_ground_truth_F(orbit_clip):
    for view in orbit_clip.view_names:
        Fs = orbit_clip.temporal_fundamentals(view)
        assert len(Fs) == orbit_clip.num_frames - 1 and all(F is not None for F in Fs)
        for j, F in enumerate(Fs):
            c = orbit_clip.correspondences(view, j, view, j + 1, n=400)
            assert len(c) >= 300
            err = sampson_distance(c.x1, c.x2, F)
            assert np.median(err) < EXACT and err.max() < 10 * EXACT
            # Not a trivial pass: real motion (≈ 1.9 px median at this half size, ≈ 3.7 px at 256x448),
            # and the same F rejects mismatched points.
            assert np.median(np.linalg.norm(c.x2 - c.x1, axis=1)) > 1.0
            assert np.median(sampson_distance(c.x1, np.roll(c.x2, 7, axis=0), F)) > 1.0
            # Depth variation: no homography explains the motion, so F is well defined (not a rotation).
            H, _ = cv2.findHomography(c.x1, c.x2, 0)
            warped = cv2.perspectiveTransform(c.x1.reshape(-1, 1, 2), H).reshape(-1, 2)
            assert np.percentile(np.linalg.norm(warped - c.x2, axis=1), 90) > 0.3


def test_simultaneous_views_satisfy_ground_truth_F(orbit_clip):
    a, b = orbit_clip.view_names
    Fs = orbit_clip.cross_view_fundamentals(a, b)
    assert len(Fs) == orbit_clip.num_frames
    for j, F in enumerate(Fs):
        c = orbit_clip.correspondences(a, j, b, j, n=400)
        assert len(c) >= 300
        err = sampson_distance(c.x1, c.x2, F)
        assert np.median(err) < EXACT and err.max() < 10 * EXACT
        assert np.median(sampson_distance(c.x1, np.roll(c.x2, 7, axis=0), F)) > 1.0
    # The rig is rigid, so its cross-view F is the same at every frame while the rig orbits.
    for F in Fs[1:]:
        assert np.allclose(F, Fs[0], atol=1e-9)


def test_everything_seen_is_in_front_of_every_camera():
    # Default orbit over a 93-frame clip (the longest GR1 setting): rendered tiny, geometry is size-free.
    clip = render_clip(SceneConfig(frames=93, height=32, width=48))
    lo, hi = np.array([-2.2, -2.2, -0.75]), np.array([2.2, 2.2, 1.65])
    for view in clip.view_names:
        for j in range(clip.num_frames):
            cam = clip.camera(view, j)
            assert np.all(cam.center > lo) and np.all(cam.center < hi)
            for box in clip.boxes:
                _, depth = cam.project(box.corners(j))
                assert depth.min() > 0.2


def test_static_camera_with_translating_object(static_translate_clip):
    clip = static_translate_clip
    view = clip.view_names[0]
    # Static camera: consecutive frames share the centre, so no temporal F exists.
    assert clip.temporal_fundamentals(view) == [None, None]
    with pytest.raises(ValueError, match="share their centre"):
        clip.fundamental(view, 0, view, 1)
    bg = clip.correspondences(view, 0, view, 1, n=400, subset="static")
    obj = clip.correspondences(view, 0, view, 1, n=200, subset="moving")
    assert len(bg) >= 300 and len(obj) >= 50
    assert set(np.unique(obj.surface)) == {FIRST_BOX_SURFACE} and not np.any(bg.surface == FIRST_BOX_SURFACE)
    # Background: identity map. Object: moves, along lines through its focus of expansion e ~ K R T.
    assert np.abs(bg.x2 - bg.x1).max() < 1e-9
    assert np.median(np.linalg.norm(obj.x2 - obj.x1, axis=1)) > 0.5
    F = clip.object_fundamental(view, 0, view, 1)
    assert np.abs(F + F.T).max() < 1e-12  # skew-symmetric, F = [e]x
    cam = clip.camera(view, 0)
    e = cam.K @ cam.R @ (clip.boxes[0].centers[1] - clip.boxes[0].centers[0])
    e_from_F = np.array([F[2, 1], F[0, 2], F[1, 0]])
    assert abs(abs(e @ e_from_F) / (np.linalg.norm(e) * np.linalg.norm(e_from_F)) - 1) < 1e-9
    assert np.median(sampson_distance(obj.x1, obj.x2, F)) < EXACT
    # The background's identity map satisfies every [e]x, this one included.
    assert np.max(sampson_distance(bg.x1, bg.x2, F)) < EXACT


def test_moving_object_breaks_the_static_F_but_fits_its_own():
    clip = render_clip(SceneConfig(frames=3, seed=4, object_motion="translate", **SMALL))
    view = clip.view_names[0]
    obj = clip.correspondences(view, 0, view, 1, n=200, subset="moving")
    assert len(obj) >= 50
    assert np.median(sampson_distance(obj.x1, obj.x2, clip.fundamental(view, 0, view, 1))) > 0.3
    assert np.median(sampson_distance(obj.x1, obj.x2, clip.object_fundamental(view, 0, view, 1))) < EXACT


# -------------------------------------------------------------------------------------- degradations
def _degraded_errors(kind: str, amplitude: float) -> np.ndarray:
    """√Sampson of exact correspondences moved by the clip's own degradation map, under the clean F.
    elastic: all points of a consecutive-frame pair; drift: box points of that pair; view_shift: box
    points of a simultaneous view pair."""
    clip = render_clip(SceneConfig(frames=3, seed=5, height=96, width=160), [f"{kind}:{amplitude}"])
    a, b = clip.view_names
    if kind == "view_shift":
        pair = (a, 1, b, 1)
    else:
        pair = (a, 1, a, 2)
    c = clip.correspondences(*pair, n=3000, subset="all", degraded=True)
    keep = np.ones(len(c), bool) if kind == "elastic" else c.on_box
    assert keep.sum() >= 40
    return sampson_distance(c.x1[keep], c.x2[keep], clip.fundamental(*pair))


@pytest.mark.parametrize("kind", ["elastic", "drift", "view_shift"])
def test_degradation_error_grows_with_amplitude(kind):
    stats = [np.median(_degraded_errors(kind, a)) for a in (0, 1, 2, 4)]
    assert stats[0] < EXACT
    assert stats[1] > 0.05 and stats[1] < stats[2] < stats[3], stats
    # The same random pattern is scaled by the amplitude, so the error scales (nearly) linearly ...
    assert stats[3] == pytest.approx(4 * stats[1], rel=0.2), stats
    # ... and a displacement of at most a px cannot create more than a px of error.
    assert stats[3] <= 4.0 + 1e-9


def test_degradation_amplitudes_are_in_pixels():
    clip = render_clip(SceneConfig(frames=2, seed=8, height=64, width=112), ["elastic:2.5", "drift:1.5"])
    for view in clip.view_names:
        for j in range(clip.num_frames):
            # elastic: the maximum displacement over the pixel grid is the amplitude.
            assert np.sqrt((clip.elastic_field(view, j) ** 2).sum(-1)).max() == pytest.approx(2.5, rel=1e-5)
            # drift: every box moves by exactly the amplitude, independently per frame.
            assert np.allclose(np.linalg.norm(clip.object_shifts(view, j), axis=1), 1.5)
    a = clip.view_names[0]
    assert not np.allclose(clip.object_shifts(a, 0), clip.object_shifts(a, 1))
    assert not np.allclose(clip.elastic_field(a, 0), clip.elastic_field(a, 1))
    clean = render_clip(SceneConfig(frames=2, seed=8, height=64, width=112))
    assert clean.elastic_field(a, 0) is None and not clean.object_shifts(a, 0).any()


def test_view_shift_is_perpendicular_to_epipolar_lines():
    clip = render_clip(SceneConfig(frames=2, seed=6, **SMALL), ["view_shift:3"])
    ref, other = clip.view_names
    c = clip.correspondences(ref, 1, other, 1, n=3000, subset="all")
    box = c.on_box
    assert box.sum() >= 40
    # The reference view is untouched; in the other view box points move by exactly 3 px ...
    assert np.abs(clip.displace(ref, 1, c.x1, c.surface) - c.x1).max() == 0
    moved = clip.displace(other, 1, c.x2, c.surface) - c.x2
    assert np.allclose(np.linalg.norm(moved[box], axis=1), 3.0) and np.abs(moved[~box]).max() == 0
    # ... perpendicular to the epipolar line of their reference-view point.
    lines = np.c_[c.x1[box], np.ones(box.sum())] @ clip.fundamental(ref, 1, other, 1).T
    direction = np.stack([-lines[:, 1], lines[:, 0]], 1) / np.linalg.norm(lines[:, :2], axis=1, keepdims=True)
    cos = np.abs(np.sum(direction * moved[box], axis=1)) / 3.0
    assert cos.max() < 0.05
    err = sampson_distance(c.x1[box], c.x2[box] + moved[box], clip.fundamental(ref, 1, other, 1))
    assert 0.3 * 3 < np.median(err) <= 3.0


def _sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    m = pts.astype(np.float32).reshape(-1, 1, 2)
    return cv2.remap(img, m[..., 0], m[..., 1], cv2.INTER_LINEAR).reshape(-1, 3).astype(np.float64)


@pytest.mark.parametrize("spec", ["elastic:3", "drift:3", "view_shift:3"])
def test_rendered_pixels_follow_the_exposed_displacement(spec):
    """The frames really contain the displacement that displace() reports: the degraded frame sampled at
    the displaced position matches the clean frame at the original one far better than unmoved."""
    cfg = SceneConfig(frames=2, seed=7, **SMALL)
    clean, bad = render_clip(cfg), render_clip(cfg, [spec])
    view = clean.view_names[-1]  # view_shift leaves the first view alone
    c = clean.correspondences(view, 1, view, 1, n=3000, subset="all")
    if not spec.startswith("elastic"):
        c_keep = c.on_box
    else:
        c_keep = np.ones(len(c), bool)
    x, surf = c.x1[c_keep], c.surface[c_keep]
    y = bad.displace(view, 1, x, surf)
    inside = np.all((y > 3) & (y < np.array([cfg.width - 4, cfg.height - 4])), axis=1) & np.all(x > 3, axis=1)
    x, y = x[inside], y[inside]
    ref = _sample(clean.views[view][1], x)
    followed = np.abs(_sample(bad.views[view][1], y) - ref).mean()
    unmoved = np.abs(_sample(bad.views[view][1], x) - ref).mean()
    assert followed < 0.35 * unmoved, (followed, unmoved)


def test_parse_degradation():
    assert parse_degradation("elastic:2") == Degradation("elastic", 2.0)
    assert parse_degradation(" view_shift:1.5 ") == Degradation("view_shift", 1.5)
    for bad in ("elastic", "elastic:x", "shake:2", "drift:-1"):
        with pytest.raises(ValueError, match="degradation|amplitude"):
            parse_degradation(bad)
    with pytest.raises(ValueError, match="once"):
        render_clip(SceneConfig(frames=1, height=32, width=48), ["drift:1", "drift:2"])


def test_config_validation():
    with pytest.raises(ValueError, match="camera_motion"):
        SceneConfig(camera_motion="pan")
    with pytest.raises(ValueError, match="frames"):
        SceneConfig(frames=0)
    assert SceneConfig(views=3).view_names == ("left", "center", "right")


# ------------------------------------------------------------------------------ pixels and metadata
def test_rendering_is_deterministic_per_seed():
    cfg = SceneConfig(frames=2, seed=11, height=64, width=112)
    a, b = render_clip(cfg), render_clip(cfg)
    other = render_clip(SceneConfig(frames=2, seed=12, height=64, width=112))
    for view in a.view_names:
        assert a.views[view].dtype == np.uint8 and a.views[view].shape == (2, 64, 112, 3)
        assert np.array_equal(a.views[view], b.views[view])
        diff = np.abs(a.views[view].astype(int) - other.views[view].astype(int)).mean()
        assert diff > 10
    assert a.prompt == b.prompt


def test_frames_are_textured_enough_for_sift(full_size_clips):
    clean, _ = full_size_clips
    sift = cv2.SIFT_create()
    for view, frames in clean.views.items():
        assert frames.shape[1:] == (256, 448, 3)
        for frame in frames:
            assert len(sift.detect(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), None)) > 200


def _estimated_sampson_median(img1: np.ndarray, img2: np.ndarray) -> float:
    """SIFT + ratio test 0.8 + USAC_MAGSAC F; median √Sampson of all ratio-test matches under that F."""
    sift = cv2.SIFT_create()
    k1, d1 = sift.detectAndCompute(cv2.cvtColor(img1, cv2.COLOR_RGB2GRAY), None)
    k2, d2 = sift.detectAndCompute(cv2.cvtColor(img2, cv2.COLOR_RGB2GRAY), None)
    good = [m for m, n in cv2.BFMatcher().knnMatch(d1, d2, k=2) if m.distance < 0.8 * n.distance]
    assert len(good) > 100
    x1 = np.float64([k1[m.queryIdx].pt for m in good])
    x2 = np.float64([k2[m.trainIdx].pt for m in good])
    F, _ = cv2.findFundamentalMat(x1, x2, cv2.USAC_MAGSAC, 1.0, 0.999, 10000)
    return float(np.median(sampson_distance(x1, x2, F[:3])))


def test_opencv_estimated_F_is_tight_on_clean_and_loose_on_elastic(full_size_clips):
    clean, elastic = full_size_clips
    view = clean.view_names[0]
    e_clean = _estimated_sampson_median(clean.views[view][0], clean.views[view][1])
    e_elastic = _estimated_sampson_median(elastic.views[view][0], elastic.views[view][1])
    assert e_clean < 0.5
    assert e_elastic > 0.3 and e_elastic > 3 * e_clean, (e_clean, e_elastic)


def test_json_carries_cameras_and_fundamentals(orbit_clip, static_translate_clip):
    data = json.loads(orbit_clip.to_json())
    a, b = orbit_clip.view_names
    assert data["views"] == [a, b] and data["prompt"] == orbit_clip.prompt
    assert len(data["cameras"][a]) == orbit_clip.num_frames
    assert len(data["temporal_fundamentals"][a]) == orbit_clip.num_frames - 1
    assert len(data["cross_view_fundamentals"][f"{a}|{b}"]) == orbit_clip.num_frames
    # The serialised cameras and F are the real ones: they explain exact correspondences.
    cam0 = data["cameras"][a][1]
    cam1 = data["cameras"][b][1]
    F_from_cams = fundamental_from_cameras(Camera(**cam0), Camera(**cam1))
    F_json = np.array(data["cross_view_fundamentals"][f"{a}|{b}"][1])
    c = orbit_clip.correspondences(a, 1, b, 1, n=200)
    assert np.median(sampson_distance(c.x1, c.x2, F_json)) < EXACT
    assert np.allclose(F_from_cams, F_json)
    c = orbit_clip.correspondences(a, 0, a, 1, n=200)
    assert np.median(sampson_distance(c.x1, c.x2, np.array(data["temporal_fundamentals"][a][0]))) < EXACT
    static = json.loads(static_translate_clip.to_json())
    assert all(F is None for F in static["temporal_fundamentals"][static["views"][0]])


def test_prompt_describes_the_scene(static_translate_clip, orbit_clip):
    mover = static_translate_clip.boxes[0]
    assert mover.moving and f"slides the {mover.color_name} box" in static_translate_clip.prompt
    assert "stays still" in static_translate_clip.prompt
    for box in orbit_clip.boxes:
        assert f"{box.color_name} box" in orbit_clip.prompt
    assert "circles" in orbit_clip.prompt


def test_degradation_seed_varies_the_damage_not_the_scene() -> None:
    base = SceneConfig(frames=2, height=64, width=112, seed=3)
    clean = render_clip(base)
    a = render_clip(replace(base, degradation_seed=1), ["elastic:3"])
    b = render_clip(replace(base, degradation_seed=2), ["elastic:3"])
    assert np.array_equal(render_clip(replace(base, degradation_seed=1)).views["left"], clean.views["left"])
    assert not np.array_equal(a.views["left"], b.views["left"])
    assert a.elastic_field("left", 1) is not None
    assert not np.allclose(a.elastic_field("left", 1), b.elastic_field("left", 1))
