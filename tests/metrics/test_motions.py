"""Several rigid motions under a still camera (issue 18): boxes with their own motions and an
articulated arm must read as consistent; bending the moving parts must raise the error.

Scenes: one view, 256x448, still camera 0.6 m from the table, hfov 50°, 6 frames at 16 fps
(5 temporal pairs), seeds 0–2 (:data:`CLOSE`); opencv backend on the CPU. The close camera gives each
moving box or link 30–130 matches per pair, enough for a motion group (``group_min=16``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from cosmos_bench.data.synthetic import FIRST_BOX_SURFACE, SceneConfig
from cosmos_bench.metrics import motions, temporal_sampson

from .conftest import ORBIT, clip, metrics, strictly_increasing

CLOSE = SceneConfig(frames=6, views=1, camera_motion="static", camera_distance=0.6, hfov_deg=50)
INDEPENDENT = replace(CLOSE, object_motion="independent")
ARM = replace(CLOSE, object_motion="arm")
SEEDS = (0, 1, 2)


def tse(config, degradations=(), **kw):
    return metrics(config, tuple(degradations), mode=None, **kw)["tse"]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scene", [INDEPENDENT, ARM], ids=["independent", "arm"])
def test_still_camera_with_several_rigid_motions_reads_under_half_a_pixel(scene, seed):
    cfg = replace(scene, seed=seed)
    r = tse(cfg)
    assert r.ok and r.value < 0.5, r.value
    pairs = r.details["pairs"]
    assert {p["mode"] for p in pairs} <= {"static_camera", "static_scene"}
    assert r.details["n_motion_group_pairs"] >= 1  # some pair needed more than the background
    # One F per pair cannot explain several rigid bodies: the same video reads much higher.
    single = tse(cfg, max_motions=0)
    # tse/3 pools every verified match (most are still background): one F per pair reads several times more
    assert single.value > 3 * r.value, (single.value, r.value)


@pytest.mark.parametrize("scene", [INDEPENDENT, ARM], ids=["independent", "arm"])
def test_bending_the_moving_parts_raises_tse_strictly(scene):
    values = [tse(scene, (f"deform:{a}",) if a else ()).value for a in (0, 2, 4)]
    assert strictly_increasing(values), values
    assert values[-1] > 2.5 * values[0], values


def test_motion_groups_explain_exact_correspondences_of_independent_boxes():
    """Exact matches (ray-cast, no detector) of the background and three independently moving boxes:
    each box gets its own group and every match reads ≈ 0; one model per pair does not."""
    c = clip(INDEPENDENT)
    corr = c.correspondences("center", 0, "center", 5, n=3000, subset="all", seed=1)
    x1, x2 = torch.tensor(corr.x1)[None], torch.tensor(corr.x2)[None]
    valid = torch.ones(1, len(corr), dtype=torch.bool)
    from cosmos_bench.metrics.epipolar import ransac_fundamental

    def estimate(a, b, m):  # exact data: a tight threshold keeps two boxes from sharing one F
        return ransac_fundamental(a, b, m, threshold=0.05)

    kw = dict(threshold=0.05, static_px=1.0, static_fraction=0.5, min_moving=16, group_min=16)
    fit = motions.fit_motions(x1, x2, valid, estimate, max_motions=4, **kw)
    on_box = corr.surface >= FIRST_BOX_SURFACE
    assert fit.still[0] and fit.exists[0].sum() >= 3
    assert float(fit.error[0].quantile(0.98)) < 0.05  # a few points of boxes too small for a group
    for k in c.moving_boxes():  # one group per box, the background's for static content
        groups = fit.group[0][torch.tensor(corr.surface == FIRST_BOX_SURFACE + k)]
        if len(groups) >= 16:
            assert (groups == groups.mode().values).float().mean() > 0.95 and int(groups.mode().values) > 0
    assert (fit.group[0][torch.tensor(~on_box)] == 0).all()
    one = motions.fit_motions(x1, x2, valid, estimate, max_motions=0, **kw)
    assert float(np.median(one.error[0][torch.tensor(on_box)].numpy())) > 1.0


def test_behind_a_moving_camera_only_pairs_that_can_gain_a_group_are_fitted():
    """Two pairs of the orbit scene (exact correspondences, 300 each): one with σ = 0.5 px noise, many
    matches left over by the background F but none of them 2 px off; one exact with 60 matches moved
    6 px across the epipolar lines (a distinct motion). The group search fits only the second (a
    group's inliers must lie ≥ group_separation px off the background, which the first cannot
    offer), and finds its group there."""
    from cosmos_bench.metrics.epipolar import ransac_fundamental

    c = clip(ORBIT)
    rng = np.random.default_rng(0)
    a = c.correspondences("left", 0, "left", 2, n=300, seed=0)
    b = c.correspondences("left", 3, "left", 5, n=300, seed=1)
    n = min(len(a), len(b))
    x1 = torch.tensor(np.stack([a.x1[:n] + rng.normal(0, 0.5, (n, 2)), b.x1[:n]]))
    x2 = np.stack([a.x2[:n] + rng.normal(0, 0.5, (n, 2)), b.x2[:n]])
    x2[1, :60, 1] += 6.0  # vertical: the orbit's epipolar lines run across the frame
    x2 = torch.tensor(x2)
    valid = torch.ones(2, n, dtype=torch.bool)
    rows: list[int] = []

    def group_estimate(p, q, m):
        rows.append(len(p))
        return ransac_fundamental(p, q, m, threshold=0.5)

    fit = motions.fit_motions(x1, x2, valid, lambda p, q, m: ransac_fundamental(p, q, m, threshold=1.0),
                              threshold=1.0, static_px=1.0, static_fraction=0.5, min_moving=16, max_motions=4,
                              group_min=16, group_estimate=group_estimate, group_threshold=0.5, group_separation=2.0)
    left_over = (fit.error[0] >= 0.5).sum()
    assert not fit.still.any() and left_over >= 16  # the noisy pair has plenty left over ...
    assert rows and rows[0] == 1  # ... and only the shifted pair is fitted for a motion group
    assert bool(fit.exists[1, 1]) and not bool(fit.exists[0, 1:].any())
    assert (fit.group[1, :60] == 1).float().mean() > 0.9


def test_motion_groups_are_bounded_so_a_warp_is_not_explained_away():
    """An elastic warp of a moving-camera scene keeps most of its error: the bound on groups and
    their minimum support leave the warp unexplained (compare one model per pair)."""
    grouped = metrics(ORBIT, ("elastic:4",), stride=1, mode=None)["tse"]
    single = metrics(ORBIT, ("elastic:4",), stride=1, mode=None, max_motions=0)["tse"]
    assert grouped.value > 0.8 * single.value and grouped.value > 0.3, (grouped.value, single.value)
    assert all(len(p.get("motion_groups", [0])) <= 5 for p in grouped.details["pairs"])


def test_options_are_checked_and_versioned():
    frames = clip(INDEPENDENT).views["center"][:2]
    with pytest.raises(ValueError, match="group_min"):
        temporal_sampson(frames, group_min=5)
    with pytest.raises(ValueError, match="quantile"):
        temporal_sampson(frames, quantile=0)
    r = tse(INDEPENDENT)
    assert r.version.startswith("tse/3;") and "motions=4/16@0.5/sep2" in r.version and "stat=excess0.25" in r.version


@pytest.mark.parametrize("seed", [0, 1])
def test_view_shift_on_the_default_synth_scene_raises_cse_strictly(seed):
    """The scene `cosmos-bench data synth` renders by default (2 views, 256x448, orbit, 4 boxes; 9
    frames here instead of 33 to stay cheap): boxes cover a minority of the matches, which the old
    median headline hid (0.085/0.094/0.091/0.092 px at 33 frames); the per-pair 95th percentile sees them."""
    cfg = SceneConfig(frames=9, seed=seed)
    values = [metrics(cfg, (f"view_shift:{a}",) if a else (), stride=None)["cse"].value for a in (0, 2, 4, 8)]
    assert strictly_increasing(values), values
    medians = [metrics(cfg, (f"view_shift:{a}",) if a else (), stride=None)["cse"].details["mean_of_medians"]
               for a in (0, 8)]
    assert values[-1] - values[0] > 5 * abs(medians[1] - medians[0]), (values, medians)
