"""What the report reads besides the store: the generator's sidecars, the videos' headers, training logs.

Every store row's provenance names its output's sidecar (``provenance["video"]``, a path as the run
wrote it: relative paths are relative to the folder the run was started in, so ``root`` defaults to
the current directory, like every other cosmos-bench path). A missing sidecar or an unreadable
video is a problem the report lists, never a crash: a report of 1,250 videos must still open when
one of them was deleted.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Mapping, Sequence

from ..data.video import VideoError, probe_video
from ..models.outputs import Sidecar
from ..results.store import ResultRow
from .model import OutputFacts, TrainingLog, VideoFile

LOSS_FILE = "loss.csv"
TRAIN_INFO_FILE = "train_info.json"


def _resolve(path: str | os.PathLike, root: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p


def _video_file(path: Path, views: tuple[str, ...]) -> VideoFile:
    try:
        info = probe_video(path, decode=False)  # the page needs the metadata only
    except VideoError as exc:
        return VideoFile(path, views, None, exc.problem)
    problem = None
    if not info.browser_playable:
        problem = f"{info.codec}/{info.pix_fmt} will not play in most browsers (re-encode as H.264 yuv420p)"
    return VideoFile(path, views, info, problem)


def output_facts(model: str, sample: str, seed: int, sidecar_path: Path | None, root: Path) -> OutputFacts:
    """One output's prompt, conditioning image, video files (probed) and adapter, from its sidecar."""
    side = Sidecar.read(sidecar_path) if sidecar_path is not None else None
    if side is None:
        problem = "no generated video (generation failed)" if sidecar_path is None else f"{sidecar_path}: sidecar missing or unreadable"
        return OutputFacts(model, sample, seed, None, None, (), problem=problem)
    directory = sidecar_path.parent
    views_of: dict[str, list[str]] = {}
    for view, name in side.files.items():
        views_of.setdefault(name, []).append(view)
    files = tuple(_video_file(directory / name, tuple(views)) for name, views in views_of.items())
    image = (side.image or {}).get("path")
    adapter = (side.model_info or {}).get("adapter") or {}
    return OutputFacts(
        model, sample, seed, side.prompt, _resolve(image, root) if image else None, files,
        adapter_file=_resolve(adapter["file"], root) if adapter.get("file") else None, adapter_sha256=adapter.get("sha256"),
    )


def collect_outputs(rows: Sequence[ResultRow], *, root: str | os.PathLike | None = None) -> dict[tuple[str, str, int], OutputFacts]:
    """(model, sample, seed) → :class:`OutputFacts` for every video the rows scored (newest generation)."""
    base = Path(root) if root is not None else Path.cwd()
    newest: dict[tuple[str, str, int], ResultRow] = {}
    for r in rows:
        k = (r.model, r.sample, r.seed)
        if k not in newest or r.created_at > newest[k].created_at:
            newest[k] = r
    out = {}
    for (model, sample, seed), r in sorted(newest.items()):
        side = r.provenance.get("video")
        out[(model, sample, seed)] = output_facts(model, sample, seed, _resolve(side, base) if side else None, base)
    return out


def read_loss_log(path: Path) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """(steps, losses) of a trainer's ``loss.csv``."""
    steps, losses = [], []
    with path.open(newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            try:
                steps.append(int(rec["step"]))
                losses.append(float(rec["loss"]))
            except (KeyError, TypeError, ValueError):
                continue
    return tuple(steps), tuple(losses)


def training_logs(outputs: Mapping[tuple[str, str, int], OutputFacts], models: Sequence[str]) -> list[TrainingLog]:
    """The loss curve of every candidate whose adapter folder holds a ``cosmos-bench train`` log.

    The log is shown only if its ``train_info.json`` names the same adapter file hash the videos
    were generated with; otherwise (the folder was retrained since) the report says so.
    """
    logs = []
    for model in models:
        facts = next((f for (m, _, _), f in sorted(outputs.items()) if m == model and f.adapter_file is not None), None)
        if facts is None:
            continue
        folder = facts.adapter_file.parent
        loss = folder / LOSS_FILE
        if not loss.is_file():
            continue
        steps, losses = read_loss_log(loss)
        note = None
        try:
            info = json.loads((folder / TRAIN_INFO_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = {}
        trained = info.get("adapter_sha256")
        if trained and facts.adapter_sha256 and trained != facts.adapter_sha256:
            note = f"{folder}: retrained since these videos were generated (adapter hash differs); this is the newer run's log"
        logs.append(TrainingLog(model, loss, steps, losses, note))
    return logs
