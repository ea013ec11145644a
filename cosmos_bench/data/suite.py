"""Suite manifest (``suite.yaml``): the one place that says how a sample's views are stored.

Generated robot videos come as one view, as several views tiled in a grid (GR1's head cameras are
often side by side), or as one file per view. If each stage guessed, a metric could silently
compare the wrong tiles. So every stage asks the suite: :meth:`Suite.read_views` turns a sample's
file(s) into ``{view_name: frames}`` (:meth:`Suite.iter_views`: window by window), and nothing else
splits videos.

A GR1 test folder without ``suite.yaml`` is a valid single-view suite named after the folder.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

import numpy as np
import yaml

from ..atomic import atomic_write_text
from ..bounds import check_video_size
from ..errors import CosmosBenchError, InputError
from ..names import NAME_RULE, is_safe_name
from ..provenance import file_sha256
from .judge_view import tiled_views_video
from .video import (VideoError, check_video_shape, iter_file_views, iter_view_file_windows, parse_grid, probe_video,
                    read_grid_views, read_video, read_view_files)

SUITE_FILE = "suite.yaml"
StorageKind = Literal["single", "grid", "files"]
DEFAULT_FILE_PATTERN = "{sample}_{view}.mp4"


class SuiteError(CosmosBenchError, ValueError):
    """An invalid suite manifest, naming the file and the problem."""


@dataclass
class Storage:
    """How the views of one sample sit on disk.

    ``single``: one file ``<sample>.mp4`` with one view. ``grid``: one file ``<sample>.mp4`` whose
    frames tile ``rows x cols`` views row-major. ``files``: one file per view, named by ``pattern``
    (placeholders ``{sample}`` and ``{view}``).
    """

    kind: StorageKind = "single"
    rows: int = 1
    cols: int = 1
    pattern: str = DEFAULT_FILE_PATTERN

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "grid":
            return {"kind": "grid", "grid": f"{self.rows}x{self.cols}"}
        if self.kind == "files":
            return {"kind": "files", "pattern": self.pattern}
        return {"kind": "single"}


@dataclass
class Suite:
    """A benchmark suite: test pairs plus what is needed to read every sample's views.

    ``size`` is ``(height, width)`` of one view. ``videos`` is the folder (relative to the suite
    folder) holding reference videos, if any; ``cameras`` the folder of per-sample camera JSON
    files when geometry is known (synthetic suites, calibrated rigs).
    """

    name: str
    root: Path
    views: list[str] = field(default_factory=lambda: ["view0"])
    storage: Storage = field(default_factory=Storage)
    fps: float | None = None
    frames: int | None = None
    size: tuple[int, int] | None = None
    videos: str | None = None
    cameras: str | None = None
    description: str = ""

    # ----------------------------------------------------------------- files of a sample
    def sample_files(self, directory: str | os.PathLike, sample: str) -> dict[str, Path]:
        """The file(s) that hold ``sample``'s views in ``directory``: view name → path.

        For ``single`` and ``grid`` every view maps to the same file.
        """
        d = Path(directory)
        if self.storage.kind == "files":
            names = {v: render_pattern(self.storage.pattern, sample, v) for v in self.views}
        else:
            names = {v: f"{sample}.mp4" for v in self.views}
        for name in set(names.values()):
            _check_inside(name, f"suite {self.name!r}: sample {sample!r}")
        return {v: d / name for v, name in names.items()}

    def judge_video(self, directory: str | os.PathLike, sample: str) -> Path:
        """The one video that shows the judge ``sample``: its stored file (one view, or a grid of them), or
        for a ``files`` suite its views tiled into one grid video, cached beside them (``data.judge_view``)."""
        files = self.sample_files(directory, sample)
        if self.storage.kind == "files" and len(files) > 1:
            return tiled_views_video(files, Path(directory), sample)
        return next(iter(files.values()))

    def read_views(
        self,
        directory: str | os.PathLike,
        sample: str,
        *,
        stride: int = 1,
        max_frames: int | None = None,
    ) -> tuple[dict[str, np.ndarray], float]:
        """Read a sample's views from ``directory`` as the manifest says; returns (views, fps)."""
        files = self.sample_files(directory, sample)
        if self.storage.kind == "files":
            return read_view_files(files, stride=stride, max_frames=max_frames)
        path = next(iter(files.values()))
        if self.storage.kind == "grid":
            return read_grid_views(path, self.storage.rows, self.storage.cols, self.views, stride=stride, max_frames=max_frames)
        video = read_video(path, stride=stride, max_frames=max_frames)
        return {self.views[0]: video.frames}, video.fps

    def iter_views(self, directory: str | os.PathLike, sample: str, *, window: int | None = None
                   ) -> Iterator[dict[str, np.ndarray]]:
        """:meth:`read_views` window by window: ``{view: frames}`` of the next ``window`` frames
        (default: :data:`~cosmos_bench.data.video.WINDOW_PIXELS` worth of the stored frames), so a
        long video is never in memory at once."""
        files = self.sample_files(directory, sample)
        if self.storage.kind == "files":
            yield from iter_view_file_windows(files, window=window)
            return
        rows, cols = (self.storage.rows, self.storage.cols) if self.storage.kind == "grid" else (1, 1)
        yield from iter_file_views(next(iter(files.values())), rows, cols, self.views, window=window)

    def file_size(self) -> tuple[int, int] | None:
        """(height, width) of one stored file as ``suite.yaml`` declares it: the whole grid for grids."""
        if self.size is None:
            return None
        h, w = self.size
        return (h * self.storage.rows, w * self.storage.cols) if self.storage.kind == "grid" else (h, w)

    def check_sample(self, directory: str | os.PathLike, sample: str, expect: dict[str, Any] | None = None) -> None:
        """Probe every file of a sample before it is scored or sent to the judge; raise a ``VideoError``.

        ``expect`` (``{"frames", "size", "source"}``, as a generation sidecar records it) says what the
        files must hold; without it the suite's declared ``frames`` and ``size`` do.
        """
        if expect is None:
            expect = {"frames": self.frames, "size": self.file_size(), "source": "suite.yaml says"}
        size = expect.get("size")
        hashes = expect.get("sha256") or {}
        for path in sorted(set(self.sample_files(directory, sample).values())):
            check_video_shape(probe_video(path), frames=expect.get("frames"), size=None if size is None else tuple(size),
                              source=str(expect.get("source", "expected")))
            recorded = hashes.get(path.name)
            if recorded is not None and file_sha256(path, use_cache=False) != recorded:
                raise VideoError(path, "changed since it was written: its SHA-256 is not the one its sidecar recorded")

    def camera_file(self, sample: str) -> Path | None:
        if not self.cameras:
            return None
        return self.root / self.cameras / f"{sample}.json"

    @property
    def videos_dir(self) -> Path | None:
        return None if self.videos is None else self.root / self.videos

    # ----------------------------------------------------------------- (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "views": list(self.views),
            "storage": self.storage.to_dict(),
            "fps": self.fps,
            "frames": self.frames,
            "size": None if self.size is None else f"{self.size[0]}x{self.size[1]}",
            "videos": self.videos,
            "cameras": self.cameras,
        }
        return {k: v for k, v in data.items() if v not in (None, "")}

    def save(self) -> Path:
        return atomic_write_text(self.root / SUITE_FILE, yaml.safe_dump(self.to_dict(), sort_keys=False))


_KNOWN_KEYS = {"name", "description", "views", "storage", "fps", "frames", "size", "videos", "cameras"}
_STORAGE_KEYS = {"kind", "grid", "pattern"}


def parse_size(value: Any, *, where: str = "size") -> tuple[int, int]:
    """Parse ``"HxW"`` or ``[H, W]`` into (height, width)."""
    try:
        if isinstance(value, str):
            h_s, w_s = value.lower().split("x")
            h, w = int(h_s), int(w_s)
        else:
            h, w = (int(x) for x in value)
    except (ValueError, TypeError):
        raise SuiteError(f"{where} must be HEIGHTxWIDTH (e.g. 432x768), got {value!r}") from None
    if h <= 0 or w <= 0:
        raise SuiteError(f"{where} must be positive, got {value!r}")
    return h, w


def render_pattern(pattern: str, sample: str, view: str) -> str:
    """A checked ``files`` pattern with its two placeholders filled in.

    Plain text replacement, not ``str.format``: a pattern is data from a YAML file, and format
    fields such as ``{sample.__class__}`` would read attributes of Python objects.
    """
    return pattern.replace("{sample}", sample).replace("{view}", view)


def _check_inside(relative: str, where: str) -> None:
    """Raise unless ``relative`` names a file strictly inside its folder (no ``..``, not absolute)."""
    parts = relative.replace("\\", "/").split("/")
    if os.path.isabs(relative) or relative.startswith(("/", "\\")) or any(p in ("", ".", "..") for p in parts):
        raise SuiteError(f"{where}: file {relative!r} must be a relative path inside the folder (no '..', no absolute path)")


def _check_pattern(pattern: str, views: list[str], where: str) -> None:
    """A ``files`` pattern holds only ``{sample}`` and ``{view}`` and stays inside its folder for every view."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(pattern) if name is not None]
    except ValueError as exc:
        raise SuiteError(f"{where}: files pattern {pattern!r} is not a valid pattern ({exc})") from None
    bad = [name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "")
           for name, spec, conv in fields if name not in ("sample", "view") or spec or conv]
    if bad:
        raise SuiteError(f"{where}: files pattern {pattern!r} may hold only {{sample}} and {{view}}, got {{{bad[0]}}}")
    if "{sample}" not in pattern or "{view}" not in pattern:
        raise SuiteError(f"{where}: files pattern must contain {{sample}} and {{view}}, got {pattern!r}")
    _check_inside(render_pattern(pattern, "sample", "view"), f"{where}: files pattern {pattern!r}")
    for view in views:
        _check_inside(render_pattern(pattern, "sample", view), f"{where}: view {view!r} in files pattern {pattern!r}")


def _parse_storage(raw: Any, views: list[str], where: str) -> Storage:
    n_views = len(views)
    if raw is None:
        return Storage("single") if n_views == 1 else Storage("grid", 1, n_views)
    if isinstance(raw, str):
        raw = {"kind": "grid", "grid": raw} if "x" in raw.lower() else {"kind": raw}
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: storage must be a mapping, got {raw!r}")
    unknown = set(raw) - _STORAGE_KEYS
    if unknown:
        raise SuiteError(f"{where}: unknown storage key(s) {sorted(unknown)}; allowed: {sorted(_STORAGE_KEYS)}")
    kind = raw.get("kind", "grid" if "grid" in raw else "single")
    if kind == "single":
        if n_views != 1:
            raise SuiteError(f"{where}: storage 'single' holds one view, but {n_views} views are listed")
        return Storage("single")
    if kind == "grid":
        try:
            rows, cols = parse_grid(str(raw.get("grid", "")))
        except ValueError as exc:
            raise SuiteError(f"{where}: {exc}") from None
        if rows * cols != n_views:
            raise SuiteError(f"{where}: grid {rows}x{cols} has {rows * cols} tiles but {n_views} views are listed")
        return Storage("grid", rows, cols)
    if kind == "files":
        pattern = str(raw.get("pattern", DEFAULT_FILE_PATTERN))
        _check_pattern(pattern, views, where)
        return Storage("files", pattern=pattern)
    raise SuiteError(f"{where}: storage kind must be single, grid or files; got {kind!r}")


def suite_from_dict(data: dict[str, Any], root: str | os.PathLike, *, where: str | None = None) -> Suite:
    """Validate a manifest mapping; unknown keys are errors so that typos never pass silently."""
    root = Path(root)
    where = where or str(root / SUITE_FILE)
    if not isinstance(data, dict):
        raise SuiteError(f"{where}: expected a mapping at the top level, got {type(data).__name__}")
    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        raise SuiteError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KNOWN_KEYS)}")
    views = data.get("views", ["view0"])
    if isinstance(views, int):
        views = [f"view{i}" for i in range(views)]
    if not isinstance(views, list) or not views or not all(isinstance(v, str) and v for v in views):
        raise SuiteError(f"{where}: views must be a non-empty list of names, got {views!r}")
    if len(set(views)) != len(views):
        raise SuiteError(f"{where}: view names must be unique, got {views}")
    fps = data.get("fps")
    if fps is not None and (not isinstance(fps, (int, float)) or fps <= 0):
        raise SuiteError(f"{where}: fps must be a positive number, got {fps!r}")
    frames = data.get("frames")
    if frames is not None and (not isinstance(frames, int) or frames <= 0):
        raise SuiteError(f"{where}: frames must be a positive integer, got {frames!r}")
    size = data.get("size")
    size_hw = None if size is None else parse_size(size, where=f"{where}: size")
    if frames is not None:  # a bound before any work: 1e20 frames would be found out by the kernel
        try:
            check_video_size(frames, *(size_hw or (1, 1)), len(views))
        except InputError as exc:
            raise SuiteError(f"{where}: frames {frames}: {exc}") from None
    name = "" if data.get("name") is None else str(data["name"])
    if name and not is_safe_name(name):
        raise SuiteError(f"{where}: suite name {name!r} must be {NAME_RULE}")
    return Suite(
        name=name or root.resolve().name,
        root=root,
        views=list(views),
        storage=_parse_storage(data.get("storage"), list(views), where),
        fps=None if fps is None else float(fps),
        frames=frames,
        size=size_hw,
        videos=data.get("videos"),
        cameras=data.get("cameras"),
        description=str(data.get("description", "")),
    )


def load_suite(path: str | os.PathLike) -> Suite:
    """Load ``suite.yaml`` from a suite folder (or the file itself); defaults when it is absent."""
    p = Path(path)
    if p.is_file() and p.name.endswith((".yaml", ".yml")):
        manifest, root = p, p.parent
    else:
        if not p.is_dir():
            raise SuiteError(f"{p}: suite folder not found")
        manifest, root = p / SUITE_FILE, p
    if not manifest.exists():
        if (root / "meta" / "info.json").is_file():
            raise SuiteError(f"{root}: a LeRobot dataset, not a suite; write one from it with "
                             f"`cosmos-bench data import-lerobot {root} --out SUITE_DIR`")
        return suite_from_dict({}, root)
    try:
        data = yaml.safe_load(manifest.read_text())
    except yaml.YAMLError as exc:
        raise SuiteError(f"{manifest}: not valid YAML ({exc})") from None
    if data is None:  # an empty file (or only comments) is a mistake, not a request for the defaults
        raise SuiteError(f"{manifest}: empty suite manifest; give at least `views:`, or remove the file to use the defaults")
    return suite_from_dict(data, root, where=str(manifest))


__all__ = [
    "SUITE_FILE",
    "Storage",
    "Suite",
    "SuiteError",
    "VideoError",
    "load_suite",
    "parse_size",
    "suite_from_dict",
]
