"""Training windows and the seeded sample plan."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cosmos_bench.train.dataset import DatasetError, SamplePlan, VideoDataset

from .conftest import FRAMES, HEIGHT, WIDTH


def dataset(root, **kw):
    return VideoDataset(root, **{"num_frames": 9, "height": HEIGHT, "width": WIDTH, **kw})


def test_windows_and_captions(train_data):
    ds = dataset(train_data)
    assert len(ds) == 2 and ds.caption(0).startswith("The robot arm")
    assert ds.window_starts(0) == list(range(FRAMES - 9 + 1))
    assert dataset(train_data, window_grid=2).window_starts(0) == [0, FRAMES - 9]
    frames = ds.read_window(0, 3)
    assert frames.shape == (9, HEIGHT, WIDTH, 3) and frames.dtype == np.uint8
    px = ds.to_pixels(frames)
    assert px.shape == (3, 9, HEIGHT, WIDTH) and -1.0 <= float(px.min()) and float(px.max()) <= 1.0
    # at the training size the pipeline's preprocessing is exactly 2 * x / 255 - 1
    expected = torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 255.0 * 2 - 1
    assert torch.equal(px, expected)


def test_resize_modes(train_data):
    ds = dataset(train_data, height=16, width=48, resize="center_crop")
    assert ds.window_pixels(0, 0).shape == (3, 9, 16, 48)
    assert dataset(train_data, height=16, width=48).window_pixels(0, 0).shape == (3, 9, 16, 48)


def test_too_short_clips_are_named(train_data):
    with pytest.raises(DatasetError, match="clip0.mp4"):
        dataset(train_data, num_frames=17).check_lengths()


def test_plan_is_seeded_padded_and_fresh_each_epoch(train_data):
    ds = dataset(train_data)
    plan = SamplePlan(ds, seed=0, global_batch=3)
    assert plan.steps_per_epoch == 1
    order = plan.order(0)
    assert len(order) == 3 and sorted(order[:2]) == [0, 1] and order[2] == order[0]  # padded by wrapping
    again = SamplePlan(ds, seed=0, global_batch=3)
    assert [again.sample(e, p) for e in range(5) for p in range(3)] == [plan.sample(e, p) for e in range(5) for p in range(3)]
    starts = {plan.start(e, 0) for e in range(20)}
    assert len(starts) > 2  # a fresh random window per epoch
    assert {SamplePlan(ds, seed=0, global_batch=2, window="start").start(e, 1) for e in range(5)} == {0}


def test_shards_partition_each_global_batch(train_data):
    plan = SamplePlan(dataset(train_data), seed=1, global_batch=4)
    for step in range(3):
        parts = [s for m in range(2) for r in range(2) for s in plan.shard(step, rank=r, world=2, micro=m, micro_batch=1)]
        assert sorted(p.position for p in parts) == [p.position for p in plan.step_samples(step)]
    assert len(plan.windows(0, 3)) <= 2 * 5


def test_trainer_refuses_a_broken_train_folder(tiny_base, cache_dir, tmp_path):
    from cosmos_bench.train.trainer import Trainer

    from .conftest import tiny_recipe, write_train_set

    root = write_train_set(tmp_path / "train")
    (root / "metas" / "clip1.txt").unlink()  # a clip silently left out would change what is trained
    (root / "videos" / "extra.mp4").write_bytes(b"")
    with pytest.raises(DatasetError) as err:
        Trainer(tiny_recipe(tiny_base, cache_dir), root, tmp_path / "out", device="cpu")
    assert "clip1.mp4" in str(err.value) and "extra.mp4" in str(err.value)
