"""Write rendered synthetic scenes as a benchmark suite, and read their ground truth back.

A synthetic suite is an ordinary GR1 test folder (``<sample>.txt`` prompt + ``<sample>.png`` first
frame) plus what only a synthetic suite can have: the full reference videos and, per sample, the
cameras, the ground-truth fundamental matrices and the exact :class:`SceneConfig` that rendered it
(``cameras/<sample>.json``). Keeping the scene config means any stage can re-render the exact scene —
the ``synthetic`` world model of the offline demo does just that — and the geometric metrics can be
checked against a known answer.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Sequence

from ..atomic import atomic_write_text
from ..bounds import check_video_size
from .layout import write_image
from .suite import Storage, Suite
from .synthetic import Degradation, SceneConfig, SyntheticClip, parse_degradation, render_clip
from .video import tile_grid, write_video
from ..errors import InputError

CAMERAS_DIR = "cameras"
VIDEOS_DIR = "videos"


def sample_name(index: int) -> str:
    return f"scene_{index:03d}"


def scene_config_dict(config: SceneConfig) -> dict[str, Any]:
    data = asdict(config)
    data["views"] = list(config.view_names)
    return data


def sample_frames(clip: SyntheticClip, storage: Storage) -> dict[str, Any]:
    """The clip's views laid out as ``storage`` says: {relative file name suffix: frames}."""
    if storage.kind == "grid":
        return {"": tile_grid(clip.views, storage.rows, storage.cols)}
    if storage.kind == "single":
        (frames,) = clip.views.values()
        return {"": frames}
    return {view: frames for view, frames in clip.views.items()}


def write_sample(
    suite: Suite,
    name: str,
    clip: SyntheticClip,
    config: SceneConfig,
) -> None:
    """Write one sample: prompt, conditioning image, reference video(s) and ground truth."""
    root = suite.root
    (root / f"{name}.txt").write_text(clip.prompt + "\n", encoding="utf-8")
    files = suite.sample_files(root / VIDEOS_DIR, name)
    laid_out = sample_frames(clip, suite.storage)
    if suite.storage.kind == "files":
        for view, frames in laid_out.items():
            write_video(files[view], frames, clip.fps)
        # one conditioning image for the whole rig: the views side by side, as a grid model sees them
        first = tile_grid({v: f[:1] for v, f in clip.views.items()}, 1, len(clip.views))[0]
    else:
        (frames,) = laid_out.values()
        write_video(next(iter(files.values())), frames, clip.fps)
        first = frames[0]
    write_image(root / f"{name}.png", first)
    gt = json.loads(clip.to_json())
    gt["scene_config"] = scene_config_dict(config)
    atomic_write_text(root / CAMERAS_DIR / f"{name}.json", json.dumps(gt))


def write_synthetic_suite(
    out: str | os.PathLike,
    config: SceneConfig,
    *,
    samples: int = 4,
    degradations: Sequence[Degradation | str] = (),
    storage: str = "grid",
    name: str | None = None,
    console: Any = None,
) -> Suite:
    """Render ``samples`` scenes (seeds ``config.seed + i``) into a suite folder and save ``suite.yaml``.

    The manifest is written last, so a folder with a ``suite.yaml`` is a complete suite.
    """
    root = Path(out)
    check_video_size(config.frames, config.height, config.width, len(config.view_names), option="size")  # before the folder
    for d in degradations:
        parse_degradation(d)  # a bad one is refused before the folder exists, too
    root.mkdir(parents=True, exist_ok=True)
    views = list(config.view_names)
    if storage == "grid":
        store = Storage("grid", 1, len(views)) if len(views) > 1 else Storage("single")
    elif storage == "files":
        store = Storage("files")
    else:
        raise InputError(f"storage must be 'grid' or 'files', got {storage!r}")
    suite = Suite(
        name=name or root.resolve().name, root=root, views=views, storage=store, fps=config.fps,
        frames=config.frames, size=(config.height, config.width), videos=VIDEOS_DIR, cameras=CAMERAS_DIR,
        description="synthetic table-top scenes with known cameras (cosmos-bench data synth)",
    )
    progress = None
    if console is not None:
        from rich.progress import Progress

        progress = Progress(console=console, transient=True)
        progress.start()
        task = progress.add_task("rendering scenes", total=samples)
    try:
        for i in range(samples):
            cfg = replace(config, seed=config.seed + i)
            clip = render_clip(cfg, degradations)
            write_sample(suite, sample_name(i), clip, cfg)
            if progress is not None:
                progress.advance(task)
    finally:
        if progress is not None:
            progress.stop()
    suite.save()
    return suite


def load_ground_truth(suite: Suite, sample: str) -> dict[str, Any]:
    """The camera/F ground truth of a sample, with a clear error when the suite has none."""
    path = suite.camera_file(sample)
    if path is None:
        raise ValueError(f"suite {suite.name!r} ({suite.root}) has no cameras: geometry is unknown")
    if not path.exists():
        raise ValueError(f"{path}: camera file of sample {sample!r} not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None


def scene_config_of(suite: Suite, sample: str) -> SceneConfig:
    """Rebuild the exact :class:`SceneConfig` that rendered ``sample``."""
    gt = load_ground_truth(suite, sample)
    if "scene_config" not in gt:
        raise ValueError(f"{suite.camera_file(sample)}: no scene_config (not written by `cosmos-bench data synth`)")
    data = dict(gt["scene_config"])
    data["views"] = tuple(data["views"])
    return SceneConfig(**data)
