"""Video I/O for every stage: mp4 files in, ``uint8 (T, H, W, 3)`` RGB arrays out, and back.

Everything downstream (metrics, judge, trainer) sees frames only through this module, so the
rules that make numbers comparable live here once: frames are RGB ``uint8``, views of one
sample always have the same length and size, and a multi-view video stored as a grid is split
only by :func:`split_grid`. Errors are :class:`VideoError` and always name the file, because the
user of a benchmark over hundreds of generated videos needs to know *which* one is broken.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import av
import av.logging
import numpy as np

from ..atomic import atomic_path
from ..errors import CosmosBenchError, InputError

# Pixels per window when a video is read in windows (:func:`read_video_windows`): 2**26 px is
# 192 MiB of RGB frames, 202 frames of 432x768, 72 of 720x1280, 33 of a 2x3 grid of 432x768 views.
WINDOW_PIXELS = 1 << 26


class VideoError(CosmosBenchError, ValueError):
    """A video that cannot be used, with the offending file and the reason."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{problem}")


@dataclass
class Video:
    """Decoded frames with the rate they play at.

    ``frames`` is ``(T, H, W, 3)`` uint8 RGB. ``fps`` is the rate of the returned frames, so it is
    already divided by the stride used when reading.
    """

    frames: np.ndarray
    fps: float
    path: str | None = None

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])


def _check_frames(frames: np.ndarray, path: str | os.PathLike | None = None) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise VideoError(path, f"frames must have shape (T, H, W, 3), got {arr.shape}")
    if arr.shape[0] == 0:
        raise VideoError(path, "zero frames")
    if arr.dtype != np.uint8:
        raise VideoError(path, f"frames must be uint8, got {arr.dtype}")
    return arr


def _decode(p: Path, stride: int, start: int, max_frames: int | None, meta: dict[str, float]) -> Iterator[np.ndarray]:
    """Yield the kept RGB frames of ``p`` one at a time (``meta["fps"]`` is set before the first);
    raise a :class:`VideoError` for a stream that stops decoding half-way or is empty."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    with open_video_file(p) as container:
        if not container.streams.video:
            raise VideoError(p, "contains no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        meta["fps"] = float(rate) if rate else 0.0
        expected = stream.frames or 0
        kept = decoded = 0
        shape = None
        try:
            for frame in container.decode(stream):
                if decoded >= start and (decoded - start) % stride == 0:
                    img = frame.to_ndarray(format="rgb24")
                    if shape is not None and img.shape != shape:
                        raise VideoError(p, f"frame size changes inside the video: {sorted({shape, img.shape})}")
                    shape = img.shape
                    kept += 1
                    yield img
                    if max_frames is not None and kept >= max_frames:
                        decoded += 1
                        break
                decoded += 1
        except av.error.FFmpegError as exc:
            raise VideoError(p, f"truncated or corrupt after {decoded} frames ({exc})") from exc
    if decoded == 0:
        raise VideoError(p, "zero frames decoded (empty or truncated video)")
    stopped_early = max_frames is not None and kept >= max_frames
    if expected and decoded < expected and not stopped_early:
        raise VideoError(p, f"truncated: header says {expected} frames, only {decoded} decoded")
    if not kept:
        raise VideoError(p, f"no frames left after start={start}, stride={stride} ({decoded} frames in file)")


def read_video(
    path: str | os.PathLike,
    *,
    stride: int = 1,
    start: int = 0,
    max_frames: int | None = None,
) -> Video:
    """Decode an mp4 (any container/codec FFmpeg reads) into RGB frames.

    ``stride`` keeps every n-th frame starting at ``start`` (temporal sub-sampling, e.g. to compare
    a 30 fps real video with a 16 fps generated one); ``max_frames`` caps the frames returned.
    A stream that stops decoding half-way raises: silently scoring the first half of a truncated
    video would make it look better than it is.
    """
    meta: dict[str, float] = {}
    frames = list(_decode(Path(path), stride, start, max_frames, meta))
    fps = meta["fps"]
    return Video(frames=np.stack(frames), fps=fps / stride if fps else 0.0, path=str(path))


def read_video_windows(
    path: str | os.PathLike,
    window: int,
    *,
    stride: int = 1,
    max_frames: int | None = None,
) -> Iterator[np.ndarray]:
    """The frames of :func:`read_video`, as consecutive ``(≤ window, H, W, 3)`` arrays.

    Why: a long or large video need not fit in memory to be scored; a consumer that keeps what it
    needs of each window (features, matches) holds at most one window of pixels. The checks are
    :func:`read_video`'s; a truncated file raises after its last good window.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1 frame, got {window}")
    buf: list[np.ndarray] = []
    for img in _decode(Path(path), stride, 0, max_frames, {}):
        buf.append(img)
        if len(buf) == window:
            out = np.stack(buf)
            buf.clear()
            yield out
            del out  # decode the next window without holding this one
    if buf:
        yield np.stack(buf)


def window_frames(pixels_per_frame: int, max_pixels: int | None = None) -> int:
    """Frames per window so that a window holds at most ``max_pixels`` (default :data:`WINDOW_PIXELS`)
    pixels, at least one frame."""
    budget = WINDOW_PIXELS if max_pixels is None else max_pixels
    return max(1, budget // max(1, pixels_per_frame))


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: float,
    *,
    crf: int = 18,
    preset: str = "medium",
    threads: int = 1,
) -> Path:
    """Write RGB frames as H.264 (yuv420p) mp4, atomically and deterministically.

    A benchmark must score the same frames the same way, so encoding is made reproducible: x264's
    macroblock-tree rate control is off and one encoder thread is used by default (with either on,
    identical frames were measured here to encode to different bytes and decoded pixels, hence
    different metric values, from one call to the next). ``threads=0`` lets x264 choose.

    yuv420p is what every player and FFmpeg-based reader accepts, but it needs even sizes, so odd
    sizes are padded by repeating the last row/column (never resized: resizing would change the
    geometry the metrics measure). The file appears under its final name only when complete, so
    an interrupted writer never leaves a truncated video that a resumed run would trust.
    """
    arr = _check_frames(frames, path)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    _, h, w, _ = arr.shape
    pad_h, pad_w = h % 2, w % 2
    if pad_h or pad_w:
        arr = np.pad(arr, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    out = Path(path)
    with atomic_path(out, suffix=".tmp.mp4") as tmp_name:
        with av.open(str(tmp_name), mode="w", format="mp4") as container:
            rate = Fraction(fps).limit_denominator(1001)
            stream = container.add_stream("libx264", rate=rate)
            stream.width = arr.shape[2]
            stream.height = arr.shape[1]
            stream.pix_fmt = "yuv420p"
            # mbtree off: with it, x264 was measured here to encode identical frames into different
            # bytes (and pixels) from one call to the next, even single-threaded.
            stream.options = {"crf": str(crf), "preset": preset, "threads": str(threads), "x264-params": "mbtree=0"}
            if threads:
                stream.thread_count = threads
                stream.thread_type = "NONE" if threads == 1 else "AUTO"
            for index, img in enumerate(arr):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                frame.pts = index  # explicit timestamps: left unset, the encoder's output is not reproducible
                frame.time_base = Fraction(1, 1) / rate
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return out


def subsample(frames: np.ndarray, stride: int = 1, max_frames: int | None = None) -> np.ndarray:
    """Keep every ``stride``-th frame (and at most ``max_frames``) of an in-memory clip."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    out = frames[::stride]
    return out if max_frames is None else out[:max_frames]


def parse_grid(spec: str) -> tuple[int, int]:
    """Parse ``"RxC"`` (e.g. ``"2x3"``) into (rows, cols)."""
    try:
        rows_s, cols_s = spec.lower().split("x")
        rows, cols = int(rows_s), int(cols_s)
    except ValueError:
        raise InputError(f"grid must look like RxC, e.g. 1x2 or 2x3; got {spec!r}") from None
    if rows < 1 or cols < 1:
        raise InputError(f"grid needs at least one row and column; got {spec!r}")
    return rows, cols


def default_view_names(n: int) -> list[str]:
    return [f"view{i}" for i in range(n)]


def _unpadded(size: int, tiles: int) -> int:
    """``size`` without :func:`write_video`'s even-size padding when that padding is what keeps it
    from dividing into ``tiles`` (an odd tile count times an odd tile size, plus one)."""
    if size % tiles and size % 2 == 0 and (size - 1) % tiles == 0:
        return size - 1
    return size


def split_grid(
    frames: np.ndarray,
    rows: int,
    cols: int,
    names: Sequence[str] | None = None,
    *,
    path: str | os.PathLike | None = None,
) -> dict[str, np.ndarray]:
    """Split a tiled multi-view video into views, row-major (left to right, top to bottom).

    The tiles must divide the frame exactly: a remainder means the grid spec is wrong for this
    video, and guessing would shift every view by a few pixels and corrupt cross-view geometry.
    The one exception is the row/column that :func:`write_video` adds to an odd frame size (yuv420p
    needs even sizes): an even size one more than a multiple of the grid is that padding, dropped.
    """
    arr = _check_frames(frames, path)
    n = rows * cols
    names = list(names) if names is not None else default_view_names(n)
    if len(names) != n:
        raise VideoError(path, f"grid {rows}x{cols} has {n} tiles but {len(names)} view names were given: {names}")
    if len(set(names)) != n:
        raise VideoError(path, f"view names must be unique, got {names}")
    _, h, w, _ = arr.shape
    h, w = _unpadded(h, rows), _unpadded(w, cols)
    if h % rows or w % cols:
        raise VideoError(path, f"frame size {h}x{w} does not divide into a {rows}x{cols} grid")
    th, tw = h // rows, w // cols
    views: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        r, c = divmod(i, cols)
        views[name] = np.ascontiguousarray(arr[:, r * th : (r + 1) * th, c * tw : (c + 1) * tw])
    return views


def tile_grid(views: Mapping[str, np.ndarray], rows: int, cols: int) -> np.ndarray:
    """Inverse of :func:`split_grid`: tile same-sized views row-major into one clip."""
    arrays = check_views(views)
    if len(arrays) != rows * cols:
        raise ValueError(f"{len(arrays)} views do not fill a {rows}x{cols} grid")
    clips = list(arrays.values())
    grid_rows = [np.concatenate(clips[r * cols : (r + 1) * cols], axis=2) for r in range(rows)]
    return np.concatenate(grid_rows, axis=1)


def check_views(views: Mapping[str, np.ndarray], paths: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    """Check that all views of one sample have the same length and size.

    Cross-view metrics pair frame t of one view with frame t of another; views of different
    lengths or sizes mean the sample is broken, not that the shorter one should be padded.
    """
    if not views:
        raise VideoError(None, "no views given")
    paths = dict(paths or {})
    out = {name: _check_frames(v, paths.get(name)) for name, v in views.items()}
    ref_name, ref = next(iter(out.items()))
    for name, arr in out.items():
        if arr.shape[0] != ref.shape[0]:
            raise VideoError(
                paths.get(name),
                f"view {name!r} has {arr.shape[0]} frames but view {ref_name!r} has {ref.shape[0]}",
            )
        if arr.shape[1:3] != ref.shape[1:3]:
            raise VideoError(
                paths.get(name),
                f"view {name!r} is {arr.shape[1]}x{arr.shape[2]} but view {ref_name!r} is {ref.shape[1]}x{ref.shape[2]}",
            )
    return out


def read_grid_views(
    path: str | os.PathLike,
    rows: int,
    cols: int,
    names: Sequence[str] | None = None,
    *,
    stride: int = 1,
    max_frames: int | None = None,
) -> tuple[dict[str, np.ndarray], float]:
    """Read one grid-tiled video and return its views and fps."""
    video = read_video(path, stride=stride, max_frames=max_frames)
    return split_grid(video.frames, rows, cols, names, path=path), video.fps


def read_view_files(
    paths: Mapping[str, str | os.PathLike],
    *,
    stride: int = 1,
    max_frames: int | None = None,
) -> tuple[dict[str, np.ndarray], float]:
    """Read one file per view (name → path) and return the checked views and their fps."""
    videos = {name: read_video(p, stride=stride, max_frames=max_frames) for name, p in paths.items()}
    fps_values = {name: v.fps for name, v in videos.items()}
    ref_name = next(iter(videos))
    for name, fps in fps_values.items():
        if abs(fps - fps_values[ref_name]) > 1e-3:
            raise VideoError(paths[name], f"view {name!r} plays at {fps:g} fps but {ref_name!r} at {fps_values[ref_name]:g} fps")
    views = check_views({n: v.frames for n, v in videos.items()}, {n: str(p) for n, p in paths.items()})
    return views, fps_values[ref_name]


def view_names(names: str | None, rows: int, cols: int) -> list[str] | None:
    """Comma-separated view names for an ``rows x cols`` grid (``None``: the default names), one per tile."""
    if not names:
        return None
    out = [v.strip() for v in names.split(",")]
    if len(out) != rows * cols:
        raise VideoError(None, f"{len(out)} view name(s) given but the grid {rows}x{cols} has {rows * cols}")
    return out


def iter_file_views(path: str | os.PathLike, rows: int = 1, cols: int = 1, names: Sequence[str] | None = None,
                    *, window: int | None = None) -> Iterator[dict[str, np.ndarray]]:
    """One video file as named views, window by window (a long 720p file never sits in memory whole):
    ``{view: frames}`` of its ``rows x cols`` tiles, ``window`` frames each.

    Without ``window``, the file is probed before anything is decoded (a still image renamed ``.mp4``
    would decode as a one-frame video and get a score) and a window is :data:`WINDOW_PIXELS` worth.
    """
    if rows * cols > 1:
        yield from iter_grid_windows(path, rows, cols, names, window=window)
        return
    if window is None:
        info = probe_video(path, decode=False)  # its windows are decoded next (scoring checks the file first)
        window = window_frames(info.height * info.width)
    name = names[0] if names else default_view_names(1)[0]
    for frames in read_video_windows(path, window):
        yield {name: frames}


def iter_grid_windows(
    path: str | os.PathLike,
    rows: int,
    cols: int,
    names: Sequence[str] | None = None,
    *,
    window: int | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """:func:`read_grid_views` window by window: ``{view: (≤ window, h, w, 3)}`` per window.
    ``window`` default: :data:`WINDOW_PIXELS` worth of frames of the whole grid."""
    if window is None:
        info = probe_video(path, decode=False)  # its windows are decoded next (scoring checks the file first)
        window = window_frames(info.height * info.width)
    for frames in read_video_windows(path, window):
        yield split_grid(frames, rows, cols, names, path=path)


def iter_view_file_windows(
    paths: Mapping[str, str | os.PathLike],
    *,
    window: int | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """:func:`read_view_files` window by window: the files are decoded in step, each window checked
    like the whole views (same length and size; same fps, from the probe). ``window`` default:
    :data:`WINDOW_PIXELS` worth of frames of all views together."""
    infos = {name: probe_video(p, decode=False) for name, p in paths.items()}  # as above
    ref = next(iter(infos))
    for name, info in infos.items():
        if abs(info.fps - infos[ref].fps) > 1e-3:
            raise VideoError(paths[name], f"view {name!r} plays at {info.fps:g} fps but {ref!r} at {infos[ref].fps:g} fps")
    if window is None:
        window = window_frames(sum(i.height * i.width for i in infos.values()))
    readers = {name: read_video_windows(p, window) for name, p in paths.items()}
    str_paths = {n: str(p) for n, p in paths.items()}
    seen = 0
    while True:
        parts = {name: next(r, None) for name, r in readers.items()}
        if all(part is None for part in parts.values()):
            return
        counts = {name: 0 if part is None else part.shape[0] for name, part in parts.items()}
        short, long = min(counts, key=counts.__getitem__), max(counts, key=counts.__getitem__)
        if counts[short] != counts[long]:
            raise VideoError(paths[short], f"view {short!r} has {seen + counts[short]} frames but view {long!r} has more")
        views = check_views(parts, str_paths)
        seen += next(iter(views.values())).shape[0]
        del parts
        yield views


# --------------------------------------------------------------------------------------- probing
@dataclass(frozen=True)
class VideoInfo:
    """What a file holds, read from its container without decoding: enough to refuse it early."""

    path: str
    container: str
    codec: str
    frames: int
    height: int
    width: int
    fps: float
    pix_fmt: str | None = None
    duration_s: float | None = None

    @property
    def browser_playable(self) -> bool:
        """H.264 in yuv420p: what every browser's <video> decodes (yuv444p or 10-bit H.264 is not)."""
        return self.codec == "h264" and self.pix_fmt == "yuv420p"


def open_video_file(p: Path) -> av.container.InputContainer:
    """Open ``p`` with FFmpeg, or raise a :class:`VideoError`: missing, a folder, 0 bytes, unreadable."""
    if not p.exists():
        raise VideoError(p, "file not found")
    if p.is_dir():
        raise VideoError(p, "is a directory, not a video file")
    if p.stat().st_size == 0:
        raise VideoError(p, "empty file (0 bytes)")
    try:
        return av.open(str(p))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoError(p, f"not a readable video ({exc.__class__.__name__}: {exc})") from exc


def _is_still_image(container: av.container.InputContainer) -> bool:
    """FFmpeg opens a PNG or JPEG through an image demuxer (``png_pipe``, ``image2``...) as one frame."""
    name = container.format.name
    return name.endswith("_pipe") or name in ("image2", "image2pipe")


class _DecodeCheck:
    """Decodes a stream's packets one by one and says whether the decoder saw a damaged bitstream.

    Three signals, each seen to catch cases the others miss on H.264 files with 400 zeroed bytes:
    the decoder raising (``explode``), a frame flagged corrupt, and an error the decoder logs
    ("error while decoding MB ...") after concealing it. The log is FFmpeg's, captured for this
    thread only, so decoding is single-threaded here (a worker thread's messages would be missed).
    """

    def __init__(self, stream: av.video.stream.VideoStream):
        self.ctx = stream.codec_context
        self.ctx.options = {"err_detect": "crccheck+bitstream+buffer+explode"}
        self.ctx.thread_type = "NONE"
        self.ctx.thread_count = 1
        self.frames = self.corrupt = 0
        self.raised: str | None = None
        self._level = None
        self._capture: av.logging.Capture | None = None

    def __enter__(self) -> _DecodeCheck:
        self._level = av.logging.get_level()
        av.logging.set_level(av.logging.ERROR)
        self._capture = av.logging.Capture(local=True)
        self._capture.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._capture is not None
        self._capture.__exit__(*exc)
        av.logging.set_level(self._level)

    def feed(self, packet: av.Packet | None) -> None:
        if self.raised is not None:
            return
        try:
            for frame in self.ctx.decode(packet):
                self.frames += 1
                self.corrupt += bool(frame.is_corrupt)
        except av.error.FFmpegError as exc:  # explode: the decoder refused a damaged packet
            self.raised = f"{type(exc).__name__}: {exc}"

    @property
    def problem(self) -> str | None:
        logged = [msg.strip() for level, _, msg in (self._capture.logs if self._capture else []) if level <= av.logging.ERROR]
        if self.raised is None and not self.corrupt and not logged:
            return None
        first = self.raised or (logged[0] if logged else f"{self.corrupt} frame(s) flagged corrupt")
        return (f"corrupt bitstream: the decoder found errors after {self.frames} decoded frame(s) "
                f"({len(logged)} logged, {self.corrupt} corrupt frame(s); first: {first})")


def probe_video(path: str | os.PathLike, *, decode: bool = True) -> VideoInfo:
    """Container, codec, frame count and size of a video file, or a :class:`VideoError` saying why not.

    Called before a video is scored or uploaded to the judge: a PNG renamed ``.mp4`` decodes as a
    one-frame "video" and a cut file may still decode most of its frames, and either would get a
    score. The probe demuxes every packet, so it counts the frames really present and sees a packet
    cut short, which the container's header alone hides. With ``decode`` (the default) it also
    decodes every frame with the decoder's error detection on (:func:`_decoder_errors`): a file whose
    bitstream is damaged inside its packets (bytes overwritten, sizes intact) decodes into garbage
    that H.264's error concealment hides from the reader, and would be scored and judged as a video.
    ``decode=False`` is for callers that need the metadata only (the report's file list).
    """
    p = Path(path)
    with open_video_file(p) as container:
        if _is_still_image(container):
            raise VideoError(p, f"a still image ({container.format.name}), not a video")
        if not container.streams.video:
            raise VideoError(p, f"contains no video stream (container {container.format.name})")
        stream = container.streams.video[0]
        promised = stream.frames or 0
        packets = 0
        decoder = _DecodeCheck(stream) if decode else None
        try:
            with decoder or contextlib.nullcontext():
                for packet in container.demux(stream):
                    if not packet.size:  # the demuxer's end-of-stream marker
                        continue
                    packets += 1
                    if packet.is_corrupt:
                        total = max(promised, packets)
                        raise VideoError(p, f"truncated: frame {packets} of {total} is incomplete")
                    if decoder is not None:
                        decoder.feed(packet)
                if decoder is not None:
                    decoder.feed(None)
        except av.error.FFmpegError as exc:
            raise VideoError(p, f"truncated or corrupt after {packets} frames ({exc})") from exc
        if decoder is not None and decoder.problem is not None:
            raise VideoError(p, decoder.problem)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        ctx = stream.codec_context
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        info = VideoInfo(
            path=str(p), container=container.format.name, codec=ctx.name, frames=packets,
            height=int(ctx.height), width=int(ctx.width), fps=float(rate) if rate else 0.0,
            pix_fmt=ctx.format.name if ctx.format else None, duration_s=duration,
        )
    if packets == 0:
        raise VideoError(p, "zero frames (empty or truncated video)")
    if promised and packets < promised:
        raise VideoError(p, f"truncated: header says {promised} frames, only {packets} present")
    return info


def check_video_shape(
    info: VideoInfo,
    *,
    frames: int | None = None,
    size: tuple[int, int] | None = None,
    source: str = "expected",
) -> None:
    """Raise a :class:`VideoError` when a probed file does not have the declared frames or size.

    ``size`` is the file's (height, width) (for a grid, the whole grid). Odd sizes are also met by
    the size padded to even, which is what :func:`write_video` (H.264 yuv420p) writes. ``source``
    says where the expectation comes from, e.g. ``"suite.yaml says"``, for the message.
    """
    if frames is not None and info.frames != frames:
        raise VideoError(info.path, f"has {info.frames} frames but {source} {frames}")
    if size is not None:
        h, w = size
        if (info.height, info.width) not in ((h, w), (h + h % 2, w + w % 2)):
            raise VideoError(info.path, f"is {info.height}x{info.width} but {source} {h}x{w}")
