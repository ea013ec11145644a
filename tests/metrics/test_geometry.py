"""TSE / CSE validated against ground truth on the project's synthetic scenes (issue 4's list).

Each degradation moves content by a known number of pixels that no fundamental matrix explains, so the
error must grow with it; clean rigid scenes must read well under half a pixel; the two backends must
agree (within 5 % or 0.05 px) on the headline medians.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cosmos_bench.metrics import cross_view_sampson, sampson_metrics, temporal_sampson

from .conftest import FROZEN, ORBIT, RIG_BOXES, STATIC, agree, clip, metrics, strictly_increasing

BACKENDS = ["opencv", "kornia"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_rigid_orbit_reads_well_under_half_a_pixel(backend):
    r = metrics(ORBIT, backend=backend)
    tse, cse = r["tse"], r["cse"]
    assert tse.ok and cse.ok
    assert tse.value < 0.5 and cse.value < 0.5
    assert tse.value < 0.3 and cse.value < 0.4  # per-pair 95th percentiles; medians ≈ 0.03 / 0.05
    assert tse.details["mean_of_medians"] < 0.1 and cse.details["mean_of_medians"] < 0.1
    d = tse.details
    assert d["n_pairs"] == 2 * (ORBIT.frames - 1) and d["n_degenerate"] == 0
    assert set(d["views"]) == {"left", "right"} and d["views"]["left"]["n_pairs"] == ORBIT.frames - 1
    p = d["pairs"][0]
    assert {"view", "frame", "frame2", "median", "mean", "n_matches", "n_inliers", "status"} <= set(p)
    assert p["mode"] == "moving" and p["n_matches"] >= p["n_inliers"] > 50
    # pooled over pairs, weighted by each pair's measured matches (issue 27: no pair decides alone)
    w = np.array([q["n_used"] for q in d["pairs"]])
    assert math.isclose(tse.value, np.sum(w * np.array([q["value"] for q in d["pairs"]])) / w.sum())
    assert math.isclose(d["mean_of_medians"], np.mean([q["median"] for q in d["pairs"]]))
    assert all(q["q95"] >= q["median"] for q in d["pairs"])
    assert math.isclose(d["mean_of_means"], np.mean([q["mean"] for q in d["pairs"]]))
    assert cse.details["n_pairs"] == ORBIT.frames and len(cse.details["fundamental"]["left|right"]) == 9
    json.dumps(tse.to_dict(), allow_nan=False)
    for key in ("backend=" + backend, "ratio0.8", "select=all", "keep=1", "stride=1"):
        assert key in tse.version
    assert "mode=pooled" in cse.version


def test_elastic_warp_raises_tse_strictly():
    values = [metrics(ORBIT, (f"elastic:{a}",) if a else ())["tse"].value for a in (0, 1, 2, 4)]
    assert strictly_increasing(values), values
    assert values[-1] > 0.3  # 4 px warps read as several tenths of a pixel (NOTES: ≈ 0.6)


def test_inconsistent_cross_view_shift_raises_cse_strictly():
    values = [metrics(RIG_BOXES, (f"view_shift:{a}",) if a else ())["cse"].value for a in (0, 2, 4, 8)]
    assert strictly_increasing(values), values
    # the reference view is untouched: temporal consistency hardly moves
    tse = [metrics(RIG_BOXES, (f"view_shift:{a}",) if a else ())["tse"].value for a in (0, 8)]
    assert tse[1] - tse[0] < 0.1


def test_shifted_objects_show_in_the_headline_and_the_mean_where_the_median_hides_them():
    """On the default scene the boxes are a minority of the matches: the median barely moves, the
    headline (per-pair 95th percentile) and the mean of per-pair means grow with the shift."""
    results = [metrics(ORBIT, (f"view_shift:{a}",) if a else ())["cse"] for a in (0, 4, 8)]
    assert strictly_increasing([r.value for r in results]), [r.value for r in results]
    assert strictly_increasing([r.details["mean_of_means"] for r in results])


@pytest.mark.parametrize("backend", BACKENDS)
def test_calibrated_and_estimated_f_agree_on_clean_scenes(backend):
    pooled = metrics(ORBIT, backend=backend)["cse"]
    calibrated = metrics(ORBIT, backend=backend, mode="calibrated")["cse"]
    assert calibrated.ok and calibrated.details["pairs"][0]["mode"] == "calibrated"
    assert abs(calibrated.value - pooled.value) < 0.1
    assert calibrated.details["mean_of_medians"] < 0.2  # the keypoints sit where the cameras project them
    assert calibrated.value < 0.5
    if backend == "opencv":  # one F per frame (a moving rig) agrees too
        per_frame = metrics(ORBIT, backend=backend, mode="per_frame")["cse"]
        assert "mode=per_frame" in per_frame.version and abs(calibrated.value - per_frame.value) < 0.1


@pytest.mark.parametrize("backend", BACKENDS)
def test_static_camera_with_a_rigidly_translating_box_is_consistent(backend):
    rigid = metrics(STATIC, backend=backend)["tse"]
    assert rigid.ok and rigid.value < 0.5
    modes = {p["mode"] for p in rigid.details["pairs"]}
    assert modes == {"static_camera"}, modes  # the box's matches were measured, not the background
    assert all(p["n_used"] >= 16 for p in rigid.details["pairs"]) and rigid.details["moved_fraction"] > 0
    warped = metrics(STATIC, ("elastic:2",), backend=backend)["tse"]
    assert warped.ok and warped.value > rigid.value + 0.1


def test_a_frozen_video_is_static_never_a_best_score():
    r = metrics(FROZEN)["tse"]
    assert r.status == "static" and not r.ok and r.details["motion"] == 0.0  # tse/2 read 0.000, the best
    assert {p["mode"] for p in r.details["pairs"]} == {"static_scene"}
    assert r.details["n_static_scene_pairs"] == FROZEN.frames - 1


@pytest.mark.parametrize("degradation", [(), ("elastic:2",), ("elastic:4",)])
def test_backends_agree_on_headline_medians(degradation):
    a, b = metrics(ORBIT, degradation, backend="opencv"), metrics(ORBIT, degradation, backend="kornia")
    for name in ("tse", "cse"):
        assert agree(a[name].value, b[name].value), (name, a[name].value, b[name].value)


def test_backends_agree_on_shifted_boxes():
    """On the per-pair medians. The 95th-percentile headline lies between the consistent and the
    shifted matches here, so it follows each detector's share of box matches: measured 6.75 (opencv)
    vs 5.51 px (kornia) at view_shift:4, both far above the clean ≈ 0.3 px (README: why)."""
    a = metrics(RIG_BOXES, ("view_shift:4",), backend="opencv")["cse"]
    b = metrics(RIG_BOXES, ("view_shift:4",), backend="kornia")["cse"]
    assert agree(a.details["mean_of_medians"], b.details["mean_of_medians"]), (a.details, b.details)
    clean = metrics(RIG_BOXES, backend="opencv")["cse"]
    assert min(a.value, b.value) > 5 * clean.value


# ------------------------------------------------------------------------------------------ degenerate


@pytest.mark.parametrize("backend", BACKENDS)
def test_blank_video_is_degenerate_with_a_reason_never_a_crash(backend):
    views = {"a": np.zeros((4, 64, 96, 3), np.uint8), "b": np.full((4, 64, 96, 3), 200, np.uint8)}
    tse = temporal_sampson(views, backend=backend, device="cpu" if backend == "kornia" else None)
    cse = cross_view_sampson(views, backend=backend, device="cpu" if backend == "kornia" else None)
    for r in (tse, cse):
        assert r.status == "degenerate" and math.isnan(r.value)
        assert "no keypoints" in r.reason and r.details["n_degenerate"] == r.details["n_pairs"] > 0
        assert r.details["degenerate_reasons"] == {"no_keypoints": r.details["n_pairs"]}
        json.dumps(r.to_dict(), allow_nan=False)


def test_a_blank_frame_degenerates_only_its_pairs():
    frames = clip(ORBIT).views["left"].copy()
    frames[4] = 0
    r = temporal_sampson(frames)
    assert r.ok and r.details["n_degenerate"] == 2 and r.details["n_ok"] == ORBIT.frames - 3
    bad = [p for p in r.details["pairs"] if p["status"] == "degenerate"]
    assert [(p["frame"], p["frame2"]) for p in bad] == [(3, 4), (4, 5)]
    assert all(p["reason"].startswith("no_keypoints") for p in bad)
    ok = [(p["value"], p["n_used"]) for p in r.details["pairs"] if p["status"] == "ok"]
    assert all(p["mode"] == "degenerate" for p in bad)  # not labelled "moving"
    v, w = np.array(ok).T
    assert math.isclose(r.value, float(np.sum(v * w) / np.sum(w)))  # degenerate pairs are not pooled in


def test_fewer_than_eight_matches_is_degenerate():
    frames = np.full((3, 96, 128, 3), 120, np.uint8)
    rng = np.random.default_rng(1)
    # a 16x16 patch of 4x4 random blocks on a flat frame: a few keypoints, 4 matches
    frames[:, 40:56, 50:66] = np.kron(rng.integers(0, 255, (4, 4, 1)), np.ones((4, 4, 3))).astype(np.uint8)
    r = temporal_sampson(frames)
    assert r.status == "degenerate" and "matches < 8" in r.reason
    assert r.details["degenerate_reasons"] == {"few_matches": 2}
    assert all(0 < p["n_matches"] < 8 for p in r.details["pairs"])


# ------------------------------------------------------------------------------------------------ API


def test_match_selection_and_stride_change_the_number_and_the_version():
    c = clip(ORBIT)
    base = metrics(ORBIT)["tse"]
    kept = temporal_sampson(c, keep=0.5)
    inliers = temporal_sampson(c, select="inliers")
    strided = temporal_sampson(c, stride=2)
    assert kept.value < base.value and inliers.value <= base.value + 1e-9
    assert len({base.version, kept.version, inliers.version, strided.version}) == 4
    assert "keep=0.5" in kept.version and "select=inliers" in inliers.version and "stride=2" in strided.version
    assert strided.details["n_pairs"] == 2 * (ORBIT.frames - 2)
    assert strided.details["pairs"][0]["frame2"] - strided.details["pairs"][0]["frame"] == 2


def test_single_array_and_an_object_with_views():
    frames = clip(ORBIT).views["right"]
    r = temporal_sampson(frames)
    assert r.ok and list(r.details["views"]) == ["view0"]
    assert sampson_metrics(frames, mode=None)["tse"].value == r.value
    both = sampson_metrics(clip(ORBIT), stride=None)
    assert list(both) == ["cse"] and both["cse"].ok and both["cse"].direction == "lower"


def test_bad_inputs_raise_at_the_boundary():
    good = np.zeros((3, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        temporal_sampson(good.astype(np.float32))
    with pytest.raises(ValueError, match="same number of frames"):
        temporal_sampson({"a": good, "b": good[:2]})
    with pytest.raises(ValueError, match="at least 2 views"):
        cross_view_sampson({"a": good})
    with pytest.raises(ValueError, match="mode"):
        cross_view_sampson({"a": good, "b": good}, mode="rig")
    with pytest.raises(ValueError, match="needs cameras"):
        cross_view_sampson({"a": good, "b": good}, mode="calibrated")
    with pytest.raises(TypeError, match="unknown Sampson option"):
        temporal_sampson(good, ratios=0.7)
    with pytest.raises(ValueError, match="keep"):
        temporal_sampson(good, keep=0)
    with pytest.raises(ValueError, match="stride"):
        temporal_sampson(good, stride=0)


# ------------------------------------------------------------------------------------------ windows


def test_a_video_read_in_windows_reads_the_same_and_keeps_no_window():
    """The orbit clip (9 frames, 2 views) fed as windows of 2 frames (so every temporal pair of
    stride 2 spans two windows) gives exactly the values and per-pair details of the whole clip at
    once, and no window is alive when the next one is asked for: the metric keeps features and
    matches, never frames."""
    import gc
    import weakref

    views = dict(clip(ORBIT).views)
    whole = metrics(ORBIT, backend="kornia", stride=2)
    handed: list = []

    def windows(size: int):
        T = next(iter(views.values())).shape[0]
        for s in range(0, T, size):
            gc.collect()
            assert all(r() is None for r in handed), "an earlier window is still referenced"
            window = {name: v[s : s + size].copy() for name, v in views.items()}
            handed.extend(weakref.ref(a) for a in window.values())
            yield window
            del window

    parts = sampson_metrics(windows(2), backend="kornia", device="cpu", stride=2)
    assert len(handed) == 2 * 5
    for name in ("tse", "cse"):
        a, b = whole[name], parts[name]
        assert a.version == b.version and a.value == b.value, (name, a.value, b.value)
        strip = lambda d: {k: v for k, v in d.items() if k not in ("timings", "seconds_all_metrics")}  # noqa: E731
        assert strip(a.details) == strip(b.details)
    assert parts["tse"].details["frames"] == 9 and len(parts["tse"].details["pairs"]) == 2 * 7
