"""Training data: GR1 clips, their captions, training windows and the seeded sample plan.

``VideoDataset`` reads a GR1 train folder (``videos/*.mp4`` + ``metas/*.txt``) through
``cosmos_bench.data``; a *window* is ``num_frames`` frames (every ``stride``-th) starting at some frame
of a clip, resized to the training size with the pipeline's own ``VideoProcessor`` (``squash``, as
the pipeline resizes the conditioning image at inference) or first centre-cropped to the training
aspect (``center_crop``). Pixels come out as the pipeline's VAE input: float ``(3, T, H, W)`` in [-1, 1].

``SamplePlan`` decides, from the seed alone, which clip and window every (epoch, position) uses:

- epoch ``e`` visits the clips in a permutation drawn from ``(seed, e)``; when the clip count is not a
  multiple of the global batch, the last batch is completed with the first clips of the same
  permutation (as ``torch.utils.data.DistributedSampler`` pads), so every optimiser step sees a full
  global batch on every process;
- clip ``c`` in epoch ``e`` uses the window start drawn from ``(seed, e, c)``: a fresh random window each
  epoch (``window: random``) or frame 0 (``window: start``); ``window_grid: N`` snaps the starts to N
  evenly spaced positions, which bounds the latent cache to N windows per clip.

Because the plan is known up front, the cache can encode exactly the windows the run will use
(``SamplePlan.windows``) before training starts, and a resumed run replays the same samples.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
from ..errors import CosmosBenchError

# cosmos_bench.data (PyAV, OpenCV) is imported where clips are read, so that the pixel and plan
# helpers work on machines without them (the GPU benchmark image).

_ORDER_STREAM = 1
_WINDOW_STREAM = 2


class DatasetError(CosmosBenchError, ValueError):
    """A training folder that cannot be trained on, naming the clips at fault."""


def count_frames(path: str | os.PathLike) -> int:
    """Frames in a video: the container's count when it has one, else by decoding."""
    import av

    from ..data.video import VideoError, read_video

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise VideoError(path, "contains no video stream")
        n = int(container.streams.video[0].frames or 0)
    return n if n > 0 else read_video(path).num_frames


@dataclass(frozen=True)
class Window:
    """One training window: clip index and first frame in the file."""

    clip: int
    start: int


class VideoDataset:
    """Captions and ``num_frames``-frame windows of a GR1 train folder."""

    def __init__(self, root: str | os.PathLike, *, num_frames: int, height: int, width: int, stride: int = 1,
                 resize: str = "squash", window_grid: int | None = None, check: bool = False):
        from ..data.layout import check_train, list_train_clips

        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: training folder not found")
        if check:
            errors = [p for p in check_train(self.root, decode=False) if p.severity == "error"]
            if errors:
                raise DatasetError(f"{self.root}: " + "; ".join(f"{p.path}: {p.message}" for p in errors))
        self.clips = list_train_clips(self.root)  # list[cosmos_bench.data.layout.TrainClip]
        if not self.clips:
            raise DatasetError(f"{self.root}: no training clips (videos/<stem>.mp4 with metas/<stem>.txt)")
        self.num_frames, self.height, self.width, self.stride = num_frames, height, width, stride
        if resize not in ("squash", "center_crop"):
            raise ValueError(f"resize must be squash or center_crop, got {resize!r}")
        self.resize, self.window_grid = resize, window_grid
        self._frames: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def span(self) -> int:
        """Frames of the file one window covers."""
        return (self.num_frames - 1) * self.stride + 1

    def caption(self, i: int) -> str:
        return self.clips[i].caption()

    @cached_property
    def captions(self) -> list[str]:
        return [c.caption() for c in self.clips]

    def frame_count(self, i: int) -> int:
        if i not in self._frames:
            self._frames[i] = count_frames(self.clips[i].video_path)
        return self._frames[i]

    def window_starts(self, i: int) -> list[int]:
        """Valid window starts of clip ``i`` (snapped to ``window_grid`` positions when set)."""
        last = self.frame_count(i) - self.span
        if last < 0:
            raise DatasetError(
                f"{self.clips[i].video_path}: {self.frame_count(i)} frames, but a window needs {self.span} "
                f"({self.num_frames} frames at stride {self.stride})"
            )
        if self.window_grid is None or self.window_grid > last:
            return list(range(last + 1))
        return sorted({int(round(x)) for x in np.linspace(0, last, self.window_grid)})

    def check_lengths(self) -> None:
        """Raise once, naming every clip too short for a window."""
        short = []
        for i in range(len(self)):
            if self.frame_count(i) < self.span:
                short.append(f"{self.clips[i].video_path.name} ({self.frame_count(i)} frames)")
        if short:
            raise DatasetError(
                f"{self.root}: {len(short)} clip(s) shorter than one window of {self.span} frames "
                f"({self.num_frames} at stride {self.stride}): {', '.join(short)}"
            )

    def read_window(self, i: int, start: int) -> np.ndarray:
        """``uint8 (num_frames, h, w, 3)`` RGB frames of clip ``i`` from file frame ``start``."""
        from ..data.video import read_video

        video = read_video(self.clips[i].video_path, stride=self.stride, start=start, max_frames=self.num_frames)
        if video.num_frames != self.num_frames:
            raise DatasetError(f"{self.clips[i].video_path}: window at {start} has {video.num_frames} frames, need {self.num_frames}")
        return video.frames

    def to_pixels(self, frames: np.ndarray):
        """uint8 ``(T, h, w, 3)`` -> float32 ``(3, T, H, W)`` in [-1, 1], resized like the pipeline's input."""
        return frames_to_pixels(frames, self.height, self.width, resize=self.resize)

    def window_pixels(self, i: int, start: int):
        return self.to_pixels(self.read_window(i, start))


SPATIAL = 8


@lru_cache(maxsize=1)
def _processor():
    from diffusers.video_processor import VideoProcessor

    # Cosmos2_5_PredictBasePipeline.__init__ builds exactly this processor.
    return VideoProcessor(vae_scale_factor=SPATIAL, resample="bilinear")


def frames_to_pixels(frames: np.ndarray, height: int, width: int, *, resize: str = "squash"):
    """uint8 ``(T, h, w, 3)`` RGB -> float32 ``(3, T, height, width)`` in [-1, 1], as the pipeline prepares its input.

    The frames go through the pipeline's own ``VideoProcessor.preprocess_video`` as a [0, 1] tensor,
    exactly as ``__call__`` passes the conditioning image (``to_tensor``), so a training window and an
    inference conditioning frame of the same pixels give the same VAE input. ``center_crop`` first
    crops to the target aspect ratio (no distortion); ``squash`` resizes directly, as the pipeline does.
    """
    import torch

    if resize == "center_crop":
        frames = center_crop_to_aspect(frames, height / width)
    elif resize != "squash":
        raise ValueError(f"resize must be squash or center_crop, got {resize!r}")
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0  # (T, 3, h, w)
    return _processor().preprocess_video(video.unsqueeze(0), height, width)[0]  # (3, T, H, W)


def center_crop_to_aspect(frames: np.ndarray, aspect: float) -> np.ndarray:
    """Crop ``(T, h, w, 3)`` frames around the centre to height/width ratio ``aspect``."""
    _, h, w, _ = frames.shape
    if h / w > aspect:
        nh = max(1, int(round(w * aspect)))
        top = (h - nh) // 2
        return frames[:, top : top + nh]
    nw = max(1, int(round(h / aspect)))
    left = (w - nw) // 2
    return frames[:, :, left : left + nw]


@dataclass(frozen=True)
class PlannedSample:
    epoch: int
    position: int
    clip: int
    start: int


class SamplePlan:
    """The seeded order of clips and windows, per epoch and position (see the module docstring)."""

    def __init__(self, dataset: VideoDataset, *, seed: int, global_batch: int, window: str = "random"):
        if window not in ("random", "start"):
            raise ValueError(f"window must be random or start, got {window!r}")
        self.dataset, self.seed, self.global_batch, self.window = dataset, int(seed), int(global_batch), window
        self.n = len(dataset)
        self.steps_per_epoch = -(-self.n // self.global_batch)
        self._orders: dict[int, np.ndarray] = {}

    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, *key])))

    def order(self, epoch: int) -> np.ndarray:
        """Clip indices of epoch ``epoch``, padded to ``steps_per_epoch * global_batch``."""
        order = self._orders.get(epoch)
        if order is None:
            perm = self._rng(_ORDER_STREAM, epoch).permutation(self.n)
            order = np.resize(perm, self.steps_per_epoch * self.global_batch)
            if len(self._orders) >= 4:
                self._orders.pop(next(iter(self._orders)))
            self._orders[epoch] = order
        return order

    def start(self, epoch: int, clip: int) -> int:
        if self.window == "start":
            return 0
        starts = self.dataset.window_starts(clip)
        return starts[int(self._rng(_WINDOW_STREAM, epoch, clip).integers(len(starts)))]

    def sample(self, epoch: int, position: int) -> PlannedSample:
        clip = int(self.order(epoch)[position])
        return PlannedSample(epoch, position, clip, self.start(epoch, clip))

    def step_samples(self, step: int) -> list[PlannedSample]:
        """The ``global_batch`` samples of optimiser step ``step`` (0-based), in position order."""
        epoch, k = divmod(step, self.steps_per_epoch)
        return [self.sample(epoch, k * self.global_batch + j) for j in range(self.global_batch)]

    def shard(self, step: int, *, rank: int, world: int, micro: int, micro_batch: int) -> list[PlannedSample]:
        """The samples process ``rank`` feeds at micro-step ``micro`` of step ``step``."""
        samples = self.step_samples(step)
        lo = (micro * world + rank) * micro_batch
        return samples[lo : lo + micro_batch]

    def windows(self, first_step: int, last_step: int) -> list[Window]:
        """Distinct windows used by steps ``first_step`` .. ``last_step - 1``, sorted."""
        seen = set()
        for step in range(first_step, last_step):
            for s in self.step_samples(step):
                seen.add(Window(s.clip, s.start))
        return sorted(seen, key=lambda w: (w.clip, w.start))


__all__ = [
    "DatasetError",
    "PlannedSample",
    "SamplePlan",
    "VideoDataset",
    "Window",
    "center_crop_to_aspect",
    "count_frames",
    "frames_to_pixels",
]
