"""TSE on real clips nobody on the project made (tests/assets/real, manifest.json), as ratios to the clean clip.

Issue 27: on real still-camera footage a local warp used to *lower* the headline (the per-pair 95th
percentile over the few matches that moved was set by mismatches), noise raised it, a frozen video won
and a cut was scored. Each test here would fail on that metric (``tse/2``); the figures are in README,
"Geometric metrics", with the clips where a property does not hold yet.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from cosmos_bench.data import perturb
from cosmos_bench.metrics import geometry, matching, temporal_sampson

REAL = Path(__file__).resolve().parents[1] / "assets" / "real"
MANIFEST = json.loads((REAL / "manifest.json").read_text())["clips"]
STILL, MOVING = "umi_robot_a", "sam2_bedroom"  # a robot arm behind a still camera; a hand-held camera


@lru_cache(maxsize=None)
def clip(name: str, frames: int | None = None) -> np.ndarray:
    with av.open(str(REAL / MANIFEST[name]["file"])) as c:
        a = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    return a[:frames] if frames else a


@lru_cache(maxsize=None)
def tse(name: str, variant: str, backend: str = "opencv", frames: int | None = None):
    a = clip(name, frames)
    kind, _, arg = variant.partition(":")
    v = {"clean": lambda: a, "warp": lambda: perturb.elastic_warp(a, float(arg)),
         "bright": lambda: perturb.brightness(a, float(arg)), "crf": lambda: perturb.reencode(a, int(arg)),
         "blur": lambda: perturb.blur(a, float(arg)), "noise": lambda: perturb.noise(a, float(arg)),
         "frozen": lambda: perturb.freeze(a)}[kind]()
    return temporal_sampson(v, backend=backend, device="cpu" if backend == "kornia" else None)


def ratio(name: str, variant: str) -> float:
    return tse(name, variant).value / tse(name, "clean").value


def test_the_suite_is_what_its_manifest_says():
    assert len(MANIFEST) >= 6 and {"still", "moving"} <= {c["camera"] for c in MANIFEST.values()}
    assert sum((REAL / c["file"]).stat().st_size for c in MANIFEST.values()) < 15 * 2**20
    for name, c in MANIFEST.items():
        assert hashlib.sha256((REAL / c["file"]).read_bytes()).hexdigest() == c["sha256"], name
        assert c["licence"] and len(c["commit"]) == 40 and c["source"].startswith("https://github.com/")


@pytest.mark.parametrize("name", [STILL, MOVING])
def test_a_local_time_varying_warp_raises_tse_monotonically(name):
    # The old headline read x0.12-0.30 of the clean value under such a warp behind a still camera.
    r = [ratio(name, f"warp:{a}") for a in (2, 4, 6)]
    assert r[0] >= 1.25 and r[0] < r[1] < r[2], r


@pytest.mark.parametrize("name", [STILL, MOVING])
def test_brightness_and_an_h264_re_encode_leave_tse_within_a_third(name):
    for variant in ("bright:1.12", "bright:0.88", "crf:30"):
        assert 0.75 <= ratio(name, variant) <= 1.33, (variant, ratio(name, variant))


def test_blur_and_sensor_noise_leave_tse_of_a_moving_camera_within_bounds():
    # Behind a still camera they do not hold yet (README: blur x1.4-1.5 and noise x1.8-1.9 on the robot clips).
    assert 0.75 <= ratio(MOVING, "blur:1") <= 1.33
    assert 0.75 <= ratio(MOVING, "noise:3") <= 1.5


def test_the_camera_state_is_one_per_video():
    still = tse(STILL, "clean").details["pairs"]
    moving = tse(MOVING, "clean").details["pairs"]
    assert {p["mode"] for p in still if p["status"] == "ok"} <= {"static_camera", "static_scene"}
    assert {p["mode"] for p in moving if p["status"] == "ok"} == {"moving"}
    assert tse(MOVING, "clean").details["motion"] > 5 * tse(STILL, "clean").details["motion"] > 0


@pytest.mark.parametrize("backend", ["opencv", "kornia"])
def test_a_frozen_clip_is_static_never_a_best_score(backend):
    r = tse(STILL, "frozen", backend, 8)
    assert r.status == "static" and not np.isfinite(r.value) and "static" in r.reason
    assert r.details["motion"] == 0.0


@pytest.mark.parametrize("backend", ["opencv", "kornia"])
def test_a_hard_cut_is_found_and_only_there(backend):
    n = 10
    video = perturb.cut(clip(STILL, n), clip("sam2_cups", n), 5)
    r = temporal_sampson(video, backend=backend, device="cpu" if backend == "kornia" else None)
    bad = [(p["frame"], p["reason"]) for p in r.details["pairs"] if p["status"] != "ok"]
    assert [f for f, _ in bad] == [4] and bad[0][1].startswith("shot_cut"), bad
    assert r.ok and r.details["degenerate_reasons"] == {"shot_cut": 1}


def _with_gross_mismatches(monkeypatch, fraction: float, seed: int = 0) -> None:
    """Replace ``fraction`` of every pair's matches by a random point of the second frame, *after* the
    cycle check (they count as verified), so only the statistic can keep them out of the headline."""
    real = geometry.verify_tracks
    rng = np.random.default_rng(seed)

    def corrupt(m, keys, skip, skip_keys, stride):
        verified = real(m, keys, skip, skip_keys, stride)
        for p in range(m.valid.shape[0]):
            rows = torch.nonzero(verified[p])[:, 0].numpy()
            k = max(1, int(round(fraction * len(rows))))
            pick = rng.choice(rows, size=min(k, len(rows)), replace=False)
            hi = m.x2[p][m.valid[p]].amax(0).numpy()
            m.x2[p, pick] = torch.from_numpy(rng.uniform(0, hi, size=(len(pick), 2)))
        return verified

    monkeypatch.setattr(geometry, "verify_tracks", corrupt)


@pytest.mark.parametrize("name", ["sam2_cups", MOVING])
def test_one_percent_gross_mismatches_move_the_headline_by_at_most_ten_percent(monkeypatch, name):
    # Not on the near-still robot clip: there the headline is 0.0125 px and moved by 11 % (README, Limits).
    clean = tse(name, "clean")
    _with_gross_mismatches(monkeypatch, 0.01)
    dirty = temporal_sampson(clip(name), backend="opencv")
    assert abs(dirty.value / clean.value - 1) <= 0.10, (clean.value, dirty.value)
    assert dirty.details["gross_rate"] > clean.details["gross_rate"]  # reported as its own number


def test_matches_carry_the_keypoint_they_matched():
    f = matching.detect(clip(STILL, 3), backend="opencv")
    m = matching.match(f, np.array([[0, 1]]))
    rows = torch.nonzero(m.valid[0])[:, 0]
    assert torch.equal(m.x2[0, rows], f.keypoints[1, m.index[0, rows]]) and bool((m.index[0][~m.valid[0]] == -1).all())
