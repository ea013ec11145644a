"""The GR1 data layout (the seed project's format) and a checker for it.

Train folder::

    train/videos/<stem>.mp4     training clips
    train/metas/<stem>.txt      one caption per clip, same stem
    train/metadata.csv          one row per clip (a column naming the video file)

Test folder::

    test/<name>.txt             the prompt (instruction) of test pair <name>
    test/<name>.png             its conditioning first frame
    test/suite.yaml             optional: views, storage, fps... (see ``suite.py``)

A broken pair discovered after hours of generation wastes a GPU day, so ``check_layout`` finds
every problem up front and reports all of them at once instead of stopping at the first.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import cv2
import numpy as np

from .suite import SUITE_FILE, SuiteError, load_suite
from .video import VideoError, read_video

LayoutKind = Literal["train", "test", "root"]
VIDEO_COLUMNS = ("video", "path", "video_path", "filename", "file_name", "file", "name")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a data folder."""

    path: str
    kind: str
    message: str
    severity: Literal["error", "warning"] = "error"


@dataclass(frozen=True)
class TestPair:
    """One evaluation input: an instruction and the first frame to condition on."""

    name: str
    prompt_path: Path
    image_path: Path

    def prompt(self) -> str:
        return read_nonempty_text(self.prompt_path, "prompt")

    def image(self) -> np.ndarray:
        """The conditioning frame as ``uint8 (H, W, 3)`` RGB."""
        return read_image(self.image_path)


@dataclass(frozen=True)
class TrainClip:
    """One training clip and its caption file."""

    stem: str
    video_path: Path
    caption_path: Path

    def caption(self) -> str:
        return read_nonempty_text(self.caption_path, "caption")


def read_nonempty_text(path: Path, what: str) -> str:
    """A prompt or caption file's text; an empty one is an error naming the file (never an empty prompt)."""
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise ValueError(f"{path}: empty {what}")
    return text


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB uint8, with an error that names the file."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{p}: file not found")
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{p}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an RGB uint8 image (PNG keeps the conditioning frame lossless)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(p), cv2.cvtColor(np.asarray(image, dtype=np.uint8), cv2.COLOR_RGB2BGR)):
        raise ValueError(f"{p}: could not write image")
    return p


def detect_layout(root: str | os.PathLike) -> LayoutKind:
    """Tell a train folder, a test folder and a dataset root holding ``train/`` and/or ``test/``."""
    r = Path(root)
    if not r.is_dir():
        raise FileNotFoundError(f"{r}: folder not found")
    if (r / "videos").is_dir() and ((r / "metas").is_dir() or (r / "metadata.csv").exists()):
        return "train"
    if (r / "train").is_dir() or (r / "test").is_dir():
        return "root"
    return "test"


def list_test_pairs(root: str | os.PathLike) -> list[TestPair]:
    """Complete test pairs (prompt + image), sorted by name; incomplete ones are left to the checker."""
    r = Path(root)
    pairs = []
    for txt in sorted(r.glob("*.txt")):
        png = txt.with_suffix(".png")
        if png.exists():
            pairs.append(TestPair(txt.stem, txt, png))
    return pairs


def list_train_clips(root: str | os.PathLike) -> list[TrainClip]:
    """Training clips that have a caption file, sorted by stem."""
    r = Path(root)
    clips = []
    for video in sorted((r / "videos").glob("*.mp4")):
        caption = r / "metas" / f"{video.stem}.txt"
        if caption.exists():
            clips.append(TrainClip(video.stem, video, caption))
    return clips


def _probe_video(path: Path, decode: bool) -> str | None:
    """None when the video is usable, else the reason."""
    try:
        if decode:
            read_video(path)
        else:
            if path.stat().st_size == 0:
                return "empty file (0 bytes)"
            with av.open(str(path)) as container:
                if not container.streams.video:
                    return "contains no video stream"
    except VideoError as exc:
        return exc.problem
    except (av.error.FFmpegError, OSError) as exc:
        return f"not a readable video ({exc})"
    return None


def _check_text(path: Path, what: str) -> Problem | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return Problem(str(path), f"unreadable {what}", f"{what} is not UTF-8 text")
    except OSError as exc:
        return Problem(str(path), f"unreadable {what}", str(exc))
    if not text.strip():
        return Problem(str(path), f"empty {what}", f"{what} file is empty")
    return None


def _video_column(header: list[str]) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    for name in VIDEO_COLUMNS:
        if name in lowered:
            return lowered[name]
    return None


def _check_metadata_csv(root: Path, video_stems: set[str]) -> list[Problem]:
    csv_path = root / "metadata.csv"
    if not csv_path.exists():
        return [Problem(str(csv_path), "missing metadata.csv", "train folder has no metadata.csv", "warning")]
    problems: list[Problem] = []
    try:
        with csv_path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            column = _video_column(header)
            if column is None:
                return [Problem(str(csv_path), "bad metadata.csv", f"no column naming the video; expected one of {list(VIDEO_COLUMNS)}, got {header}")]
            listed: set[str] = set()
            for line_no, row in enumerate(reader, start=2):
                value = (row.get(column) or "").strip()
                if not value:
                    problems.append(Problem(f"{csv_path}:{line_no}", "csv row points nowhere", f"empty {column!r}"))
                    continue
                stem = Path(value).stem
                listed.add(stem)
                if stem not in video_stems:
                    problems.append(Problem(f"{csv_path}:{line_no}", "csv row points nowhere", f"{value!r} is not in videos/"))
    except (UnicodeDecodeError, csv.Error) as exc:
        return [Problem(str(csv_path), "bad metadata.csv", f"not a readable CSV ({exc})")]
    for stem in sorted(video_stems - listed):
        problems.append(Problem(str(root / "videos" / f"{stem}.mp4"), "video not in metadata.csv", "no metadata.csv row for this video", "warning"))
    return problems


def check_train(root: str | os.PathLike, *, decode: bool = True) -> list[Problem]:
    """Every problem of a GR1 train folder (captions, videos, metadata.csv)."""
    r = Path(root)
    problems: list[Problem] = []
    videos_dir, metas_dir = r / "videos", r / "metas"
    if not videos_dir.is_dir():
        return [Problem(str(videos_dir), "missing folder", "train folder has no videos/")]
    if not metas_dir.is_dir():
        problems.append(Problem(str(metas_dir), "missing folder", "train folder has no metas/ (captions)"))
    videos = {p.stem: p for p in sorted(videos_dir.glob("*.mp4"))}
    captions = {p.stem: p for p in sorted(metas_dir.glob("*.txt"))} if metas_dir.is_dir() else {}
    if not videos:
        problems.append(Problem(str(videos_dir), "no videos", "videos/ holds no .mp4 files"))
    for stem, path in videos.items():
        if stem not in captions:
            problems.append(Problem(str(path), "video without caption", f"expected metas/{stem}.txt"))
        reason = _probe_video(path, decode)
        if reason:
            problems.append(Problem(str(path), "unreadable video", reason))
    for stem, path in captions.items():
        if stem not in videos:
            problems.append(Problem(str(path), "caption without video", f"expected videos/{stem}.mp4"))
        bad = _check_text(path, "caption")
        if bad:
            problems.append(bad)
    problems.extend(_check_metadata_csv(r, set(videos)))
    return problems


def check_test(root: str | os.PathLike, *, decode: bool = True) -> list[Problem]:
    """Every problem of a GR1 test folder (prompt/image pairs, suite.yaml, reference videos)."""
    r = Path(root)
    problems: list[Problem] = []
    prompts = {p.stem: p for p in sorted(r.glob("*.txt"))}
    images = {p.stem: p for p in sorted(r.glob("*.png"))}
    if not prompts and not images:
        return [Problem(str(r), "no test pairs", "folder holds no <name>.txt + <name>.png pairs")]
    for stem, path in prompts.items():
        if stem not in images:
            problems.append(Problem(str(path), "prompt without image", f"expected {stem}.png"))
        bad = _check_text(path, "prompt")
        if bad:
            problems.append(bad)
    for stem, path in images.items():
        if stem not in prompts:
            problems.append(Problem(str(path), "image without prompt", f"expected {stem}.txt"))
        if cv2.imread(str(path), cv2.IMREAD_COLOR) is None:
            problems.append(Problem(str(path), "unreadable image", "not a readable PNG"))
    try:
        suite = load_suite(r)
    except SuiteError as exc:
        problems.append(Problem(str(r / SUITE_FILE), "bad suite.yaml", str(exc)))
        return problems
    if suite.videos_dir is not None:
        for stem in sorted(set(prompts) & set(images)):
            files = suite.sample_files(suite.videos_dir, stem)
            missing = sorted({str(p) for p in files.values() if not p.exists()})
            for m in missing:
                problems.append(Problem(m, "missing reference video", f"suite.yaml names videos/ but {Path(m).name} is absent", "warning"))
            if missing or not decode:
                continue
            try:
                suite.read_views(suite.videos_dir, stem)
            except VideoError as exc:
                problems.append(Problem(exc.path or str(r), "unreadable video", exc.problem))
    return problems


def links_leaving(root: str | os.PathLike) -> list[Problem]:
    """Symbolic links under ``root`` whose target is outside it (or dangling): a suite that reads
    elsewhere is not the suite that was checked, copied or committed."""
    top = Path(root).resolve()
    problems = []
    for folder, dirs, files in os.walk(top, followlinks=False):
        for name in sorted(dirs + files):
            path = Path(folder) / name
            if not path.is_symlink():
                continue
            target = path.resolve()
            if not target.exists():
                problems.append(Problem(str(path), "dangling link", f"points to {os.readlink(path)}, which does not exist"))
            elif not target.is_relative_to(top):
                problems.append(Problem(str(path), "link leaves the suite", f"points to {target}, outside {top}"))
    return problems


def check_layout(root: str | os.PathLike, *, decode: bool = True) -> list[Problem]:
    """Check a train folder, a test folder, or a root holding both."""
    r = Path(root)
    kind = detect_layout(r)
    if kind == "train":
        return check_train(r, decode=decode) + links_leaving(r)
    if kind == "test":
        return check_test(r, decode=decode) + links_leaving(r)
    problems: list[Problem] = links_leaving(r)
    for sub, checker in (("train", check_train), ("test", check_test)):
        if (r / sub).is_dir():
            problems.extend(checker(r / sub, decode=decode))
    return problems
