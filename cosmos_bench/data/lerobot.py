"""LeRobot datasets as suites: episodes' first frames and task texts become test pairs.

Robot-learning data is kept as LeRobot datasets (``meta/info.json``, episode metadata, ``data/*.parquet``
and one MP4 stream per camera), not in the GR1 layout. :func:`import_lerobot` writes a suite from one:

- each chosen episode is a test pair ``episode_<index>``: its task text is the prompt and its first frame
  the conditioning image; its first ``frames`` frames are the reference video;
- the camera keys (``observation.images.<name>``) are the suite's views, tiled side by side in one grid
  file (``1xN``), as a world model that sees the whole rig generates them;
- episodes are chosen by index (``"0,3,10-12"``) or by a split of ``info.json`` (``"train"``, ``"test"``).

Both published layouts are read. **v2.1**: ``meta/episodes.jsonl`` (``episode_index``, ``tasks``,
``length``) and one file per episode and camera at ``info["video_path"]`` formatted with
``episode_chunk``, ``episode_index`` and ``video_key``. **v3.0**: ``meta/episodes/chunk-*/file-*.parquet``
with per camera ``videos/<key>/chunk_index``, ``file_index`` and ``from_timestamp``: several episodes share
one MP4, and an episode starts ``from_timestamp`` seconds into it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InputError
from .layout import write_image
from .suite import Storage, Suite
from .video import read_video, tile_grid, write_video

IMAGE_PREFIX = "observation.images."
VIDEOS_DIR = "videos"


class LeRobotError(InputError):
    """A LeRobot dataset that cannot be read as a suite; the message names the file and the problem."""


@dataclass(frozen=True)
class Episode:
    """One episode: its index, task text, length in frames and, per camera key, (video file, first frame)."""

    index: int
    task: str
    length: int
    videos: dict[str, tuple[Path, int]] = field(default_factory=dict)


@dataclass
class LeRobotDataset:
    """What a suite needs of a LeRobot dataset: version, frame rate, cameras, episodes, splits."""

    root: Path
    version: str
    fps: float
    cameras: list[str]  # feature keys of dtype video, in info.json's order
    episodes: dict[int, Episode]
    splits: dict[str, str]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LeRobotError(f"{path}: not found (a LeRobot dataset has meta/info.json)") from None
    except (OSError, ValueError) as exc:
        raise LeRobotError(f"{path}: not valid JSON ({exc})") from None


def _tasks(raw: Any, where: str) -> str:
    tasks = list(raw) if isinstance(raw, (list, tuple, np.ndarray)) else [raw]
    text = "; ".join(str(t).strip() for t in tasks if str(t).strip())
    if not text:
        raise LeRobotError(f"{where}: episode has no task text")
    return text


def _v21_episodes(root: Path, info: dict[str, Any], cameras: list[str]) -> dict[int, Episode]:
    path = root / "meta" / "episodes.jsonl"
    template = str(info.get("video_path") or "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4")
    chunk = int(info.get("chunks_size") or 1000)
    out: dict[int, Episode] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LeRobotError(f"{path}: not found (v2.1 datasets list their episodes there)") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            index = int(rec["episode_index"])
        except (ValueError, KeyError) as exc:
            raise LeRobotError(f"{path}:{n}: not an episode record ({exc})") from None
        videos = {key: (root / template.format(episode_chunk=index // chunk, episode_index=index, video_key=key), 0)
                  for key in cameras}
        out[index] = Episode(index, _tasks(rec.get("tasks"), f"{path}:{n}"), int(rec.get("length", 0)), videos)
    return out


def _v3_episodes(root: Path, info: dict[str, Any], cameras: list[str], fps: float) -> dict[int, Episode]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise LeRobotError("reading a LeRobot v3 dataset needs pyarrow: pip install 'cosmos-bench[lerobot]'") from None

    files = sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    if not files:
        raise LeRobotError(f"{root / 'meta' / 'episodes'}: no chunk-*/file-*.parquet (v3.0 datasets list their episodes there)")
    template = str(info.get("video_path") or "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4")
    out: dict[int, Episode] = {}
    for f in files:
        table = pq.read_table(f).to_pylist()
        for rec in table:
            try:
                index = int(rec["episode_index"])
                videos = {}
                for key in cameras:
                    path = root / template.format(video_key=key, chunk_index=int(rec[f"videos/{key}/chunk_index"]),
                                                  file_index=int(rec[f"videos/{key}/file_index"]))
                    videos[key] = (path, int(round(float(rec[f"videos/{key}/from_timestamp"]) * fps)))
            except KeyError as exc:
                raise LeRobotError(f"{f}: episode record lacks {exc}") from None
            out[index] = Episode(index, _tasks(rec.get("tasks"), f"{f}: episode {index}"), int(rec.get("length", 0)), videos)
    return out


def read_lerobot(root: str | os.PathLike) -> LeRobotDataset:
    """Read a LeRobot v2.x or v3.x dataset's metadata (no video is decoded)."""
    root = Path(root)
    info_path = root / "meta" / "info.json"
    info = _read_json(info_path)
    version = str(info.get("codebase_version", ""))
    features = info.get("features") or {}
    cameras = [k for k, v in features.items() if isinstance(v, dict) and v.get("dtype") == "video"]
    if not cameras:
        raise LeRobotError(f"{info_path}: no video features (cameras stored as dtype 'video')")
    fps = float(info.get("fps") or 0)
    if fps <= 0:
        raise LeRobotError(f"{info_path}: fps must be a positive number, got {info.get('fps')!r}")
    if version.startswith("v2"):
        episodes = _v21_episodes(root, info, cameras)
    elif version.startswith("v3"):
        episodes = _v3_episodes(root, info, cameras, fps)
    else:
        raise LeRobotError(f"{info_path}: codebase_version {version!r} is not one this reads (v2.x, v3.x)")
    return LeRobotDataset(root, version, fps, cameras, episodes, dict(info.get("splits") or {}))


def parse_episodes(spec: str, where: str = "--episodes") -> list[int]:
    """``"0,3,10-12"`` → ``[0, 3, 10, 11, 12]``."""
    out: list[int] = []
    for part in (p.strip() for p in spec.split(",")):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise LeRobotError(f"{where}: {part!r} is not an episode index or range (e.g. 0,3,10-12)")
        out += list(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    return sorted(set(out))


def choose_episodes(ds: LeRobotDataset, episodes: str | Sequence[int] | None = None, split: str | None = None) -> list[Episode]:
    """The episodes to import: by index, by a split of ``info.json`` (``"a:b"`` ranges), or all."""
    if episodes is not None and split is not None:
        raise LeRobotError("choose episodes by index or by split, not both")
    if split is not None:
        if split not in ds.splits:
            raise LeRobotError(f"{ds.root / 'meta' / 'info.json'}: no split {split!r}; splits: {sorted(ds.splits)}")
        wanted: list[int] = []
        for part in str(ds.splits[split]).split(","):
            lo, _, hi = part.partition(":")
            wanted += list(range(int(lo), int(hi)))
    elif episodes is not None:
        wanted = parse_episodes(episodes) if isinstance(episodes, str) else sorted({int(e) for e in episodes})
    else:
        wanted = sorted(ds.episodes)
    missing = [e for e in wanted if e not in ds.episodes]
    if missing:
        raise LeRobotError(f"{ds.root}: no episode(s) {missing[:10]} (the dataset has {len(ds.episodes)})")
    if not wanted:
        raise LeRobotError(f"{ds.root}: no episodes chosen")
    return [ds.episodes[e] for e in wanted]


def view_name(key: str) -> str:
    """``observation.images.cam_high`` → ``cam_high`` (a suite view name)."""
    name = key[len(IMAGE_PREFIX):] if key.startswith(IMAGE_PREFIX) else key
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def import_lerobot(
    dataset: str | os.PathLike,
    out: str | os.PathLike,
    *,
    episodes: str | Sequence[int] | None = None,
    split: str | None = None,
    cameras: Sequence[str] | None = None,
    frames: int | None = None,
    name: str | None = None,
) -> Suite:
    """Write a suite (GR1 test layout, grid reference videos, ``suite.yaml`` last) from a LeRobot dataset.

    ``cameras`` picks camera keys (full or short names; default: all); every chosen camera must have one
    frame size, since the views share one grid file. ``frames`` caps each reference video; the suite's
    frame count is the shortest chosen episode's (or ``frames``), so every reference holds the same number.
    """
    ds = read_lerobot(dataset)
    chosen = choose_episodes(ds, episodes, split)
    keys = list(ds.cameras)
    if cameras:
        by_short = {view_name(k): k for k in ds.cameras}
        unknown = [c for c in cameras if c not in ds.cameras and c not in by_short]
        if unknown:
            raise LeRobotError(f"--cameras: {unknown} not in the dataset's cameras {[view_name(k) for k in ds.cameras]}")
        keys = [c if c in ds.cameras else by_short[c] for c in cameras]
    views = [view_name(k) for k in keys]
    if len(set(views)) != len(views):
        raise LeRobotError(f"cameras {keys} give repeated view names {views}")
    lengths = [e.length for e in chosen if e.length > 0]
    n = min([*lengths, *( [frames] if frames else [])]) if lengths or frames else None
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    storage = Storage("grid", 1, len(views)) if len(views) > 1 else Storage("single")
    size: tuple[int, int] | None = None
    for ep in chosen:
        clip = {}
        for key, view in zip(keys, views):
            path, start = ep.videos[key]
            if not path.is_file():
                raise LeRobotError(f"{path}: video of camera {key!r} for episode {ep.index} not found")
            clip[view] = read_video(path, start=start, max_frames=n).frames
        shapes = {v: f.shape[1:3] for v, f in clip.items()}
        if len(set(shapes.values())) > 1:
            raise LeRobotError(f"episode {ep.index}: cameras differ in size {shapes}; pick cameras of one size with --cameras")
        count = min(len(f) for f in clip.values())
        if n is not None and count < n:
            raise LeRobotError(f"episode {ep.index}: {count} decoded frames, fewer than the {n} its metadata promises")
        n = count if n is None else n
        size = size or next(iter(shapes.values()))
        sample = f"episode_{ep.index:06d}"
        stream = tile_grid({v: f[:n] for v, f in clip.items()}, storage.rows, storage.cols)
        write_video(root / VIDEOS_DIR / f"{sample}.mp4", stream, ds.fps)
        write_image(root / f"{sample}.png", stream[0])
        (root / f"{sample}.txt").write_text(ep.task + "\n", encoding="utf-8")
    suite = Suite(name=name or root.resolve().name, root=root, views=views, storage=storage, fps=ds.fps, frames=n,
                  size=size, videos=VIDEOS_DIR,
                  description=f"LeRobot {ds.version} dataset {ds.root.resolve().name}: {len(chosen)} episode(s), cameras {keys}")
    suite.save()
    return suite


__all__ = ["Episode", "LeRobotDataset", "LeRobotError", "choose_episodes", "import_lerobot", "parse_episodes",
           "read_lerobot", "view_name"]
