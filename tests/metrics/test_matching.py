"""Detection and matching: conventions, blank frames, and the batched matcher against brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cosmos_bench.metrics import matching


def blobs(points, H=120, W=160, sigma=3.0) -> np.ndarray:
    """Dark Gaussian blobs centred at sub-pixel ``points`` (pixel centres at integers), RGB uint8."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    img = np.full((H, W), 170.0)
    for x, y in points:
        img -= 120 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    g = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return np.repeat(g[None, :, :, None], 3, axis=3)


@pytest.mark.parametrize("backend", ["opencv", "kornia"])
def test_keypoints_follow_the_pixel_centre_convention(backend):
    """Both backends put a blob's keypoint at its centre (OpenCV's +0.25 px is corrected)."""
    truth = np.array([(40.3, 30.0), (80.0, 60.7), (120.5, 90.25)])
    f = matching.detect(blobs(truth), backend=backend, device="cpu")
    kp = f.keypoints[0][f.valid[0]].numpy()
    err = [np.min(np.linalg.norm(kp - p, axis=1)) for p in truth]
    assert max(err) < 0.1, err


@pytest.mark.parametrize("backend", ["opencv", "kornia"])
def test_blank_frames_have_no_keypoints_and_match_nothing(backend):
    frames = np.zeros((3, 64, 96, 3), np.uint8)
    frames[1] = 128
    f = matching.detect(frames, backend=backend, device="cpu")
    assert f.counts.tolist() == [0, 0, 0]
    m = matching.match(f, np.array([[0, 1], [1, 2]]))
    assert m.counts.tolist() == [0, 0]


def test_batched_matching_equals_brute_force_ratio_and_mutual_test():
    rng = np.random.default_rng(0)
    P, K1, K2, D = 3, 40, 35, 16
    d1 = rng.normal(size=(P, K1, D))
    d2 = np.concatenate([d1[:, :20] + rng.normal(0, 0.3, (P, 20, D)), rng.normal(size=(P, K2 - 20, D))], 1)
    d1 /= np.linalg.norm(d1, axis=-1, keepdims=True)
    d2 /= np.linalg.norm(d2, axis=-1, keepdims=True)
    v1 = rng.random((P, K1)) > 0.1
    v2 = rng.random((P, K2)) > 0.1
    nn, keep = matching.match_descriptors(torch.tensor(d1, dtype=torch.float32), torch.tensor(d2, dtype=torch.float32),
                                          torch.tensor(v1), torch.tensor(v2), ratio=0.8, mutual=True)
    for p in range(P):
        dist = np.linalg.norm(d1[p][:, None] - d2[p][None], axis=-1)
        dist[~v1[p]] = np.inf
        dist[:, ~v2[p]] = np.inf
        want = set()
        for i in np.nonzero(v1[p])[0]:
            j1, j2 = np.argsort(dist[i])[:2]
            if dist[i, j1] < 0.8 * dist[i, j2] and np.argmin(dist[:, j1]) == i:
                want.add((i, j1))
        got = {(i, int(nn[p, i])) for i in np.nonzero(keep[p].numpy())[0]}
        assert got == want and len(want) >= 10


def test_both_backends_match_the_same_textured_frames():
    from .conftest import ORBIT, clip

    frames = clip(ORBIT).views["left"][:2]
    counts = {}
    for backend in ("opencv", "kornia"):
        f = matching.detect(frames, backend=backend, device="cpu")
        m = matching.match(f, np.array([[0, 1]]))
        counts[backend] = int(m.counts[0])
        flow = (m.x2 - m.x1)[0][m.valid[0]].norm(dim=-1)
        assert torch.median(flow) < 20  # consecutive frames of a slow orbit
    assert min(counts.values()) > 150, counts


def test_batched_matcher_returns_exactly_the_bfmatcher_matches():
    from .conftest import ORBIT, clip

    f = matching.detect(clip(ORBIT).views["right"][:4], backend="opencv")
    pairs = np.array([[0, 1], [1, 3], [2, 0]])
    a, b = matching.match_bfmatcher(f, pairs), matching.match_batched(f, pairs)
    for p in range(len(pairs)):
        A = {tuple(r) for r in torch.cat([a.x1[p], a.x2[p]], 1)[a.valid[p]].tolist()}
        B = {tuple(r) for r in torch.cat([b.x1[p], b.x2[p]], 1)[b.valid[p]].tolist()}
        assert A == B and len(A) > 100


def test_kornia_sift_option_runs():
    truth = np.array([(40.3, 30.0), (80.0, 60.7)])
    f = matching.detect(blobs(truth, 96, 128), backend="kornia", device="cpu", features="kornia_sift")
    kp = f.keypoints[0][f.valid[0]].numpy()
    assert min(np.min(np.linalg.norm(kp - p, axis=1)) for p in truth) < 0.5
    with pytest.raises(ValueError, match="features"):
        matching.detect(blobs(truth), backend="kornia", device="cpu", features="disk")


def test_720p_frames_are_detected_in_bounded_batches_with_the_same_result(monkeypatch):
    """A 720×1280 input is cut into batches of at most MAX_BATCH_PIXELS (here forced to one frame, on
    the CPU) and gives exactly what one batch gives: so any length and resolution runs within the
    32-bit index limit of CUDA kernels (issue 18: 720×1280×128 failed in one batch)."""
    import cv2

    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 255, (90, 160, 3), dtype=np.uint8), (1280, 720), interpolation=cv2.INTER_CUBIC)
    frames = np.stack([base, np.roll(base, 3, axis=1)])
    assert matching.detect_batch_size(128, 720, 1280, torch.device("cpu")) == 2  # 2**21 px on the CPU
    whole = matching.detect_torch(frames, max_features=512, batch_size=2)
    monkeypatch.setattr(matching, "MAX_BATCH_PIXELS", 720 * 1280)
    assert matching.detect_batch_size(128, 720, 1280, torch.device("cpu")) == 1
    split = matching.detect_torch(frames, max_features=512)
    assert whole.valid.sum() > 500
    assert torch.equal(whole.valid, split.valid) and torch.allclose(whole.keypoints, split.keypoints)
