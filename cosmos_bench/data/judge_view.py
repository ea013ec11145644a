"""What a multi-view sample shows the VLM judge: one video.

A judge request carries one video file. A ``single`` or ``grid`` suite already stores each sample as
one file (a grid tiles its views row-major), and that file is what the judge sees. A ``files`` suite
stores one file per view; showing the judge only the first would score a fraction of the sample, so
its views are tiled into one grid video the same way a grid suite stores them (row-major,
``cols = ceil(sqrt(n))``, a black tile filling a last row that is not full). The tiled video is a
cache file in ``.judge/`` beside the outputs, named by the sha256 of the view files it was made from,
written atomically: a regenerated view gets a new tile, a rerun reuses the old one, and a crash
never leaves a half-written file where the judge would read it.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Mapping

import numpy as np

from ..provenance import file_sha256
from .video import read_view_files, tile_grid, write_video

JUDGE_VIEWS_DIR = ".judge"


def grid_shape(n_views: int) -> tuple[int, int]:
    """(rows, cols) of the tile grid for ``n_views`` views: as square as it gets, filled row-major."""
    cols = math.ceil(math.sqrt(n_views))
    return math.ceil(n_views / cols), cols


def tiled_views_video(files: Mapping[str, Path], directory: Path, sample: str) -> Path:
    """One video tiling the views in ``files`` (view name → file, in the suite's view order), cached by content."""
    digest = hashlib.sha256("\n".join(f"{view}\0{file_sha256(p, use_cache=False)}" for view, p in files.items()).encode())
    target = directory / JUDGE_VIEWS_DIR / f"{sample}-{digest.hexdigest()[:16]}.mp4"
    if target.is_file():
        return target
    views, fps = read_view_files(files)
    rows, cols = grid_shape(len(views))
    blank = np.zeros_like(next(iter(views.values())))
    tiles = {**views, **{f"_blank{i}": blank for i in range(rows * cols - len(views))}}
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_video(target, tile_grid(tiles, rows, cols), fps)


__all__ = ["JUDGE_VIEWS_DIR", "grid_shape", "tiled_views_video"]
