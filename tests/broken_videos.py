"""Files that end in ``.mp4`` but must never get a score (issue 15, 6), made from one real video."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np


def faststart_mp4(path: Path, frames: np.ndarray, fps: int = 8) -> Path:
    """An H.264 mp4 with its index (moov) at the front, so a cut copy still opens."""
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for img in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def broken_videos(folder: Path, frames: np.ndarray, good: Path) -> dict[str, Path]:
    """``{kind: path}`` of broken "videos" in ``folder``; ``good`` is a real mp4 of ``frames``.

    Kinds: a PNG and a JPEG renamed ``.mp4``, a 0-byte file, a text file, the real mp4 cut in half
    (its index is at the end, so it no longer opens), and a faststart mp4 missing only its last
    few hundred bytes (it opens, and its header still promises every frame).
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for kind, ext in (("png", ".png"), ("jpeg", ".jpg")):
        ok, buf = cv2.imencode(ext, frames[0][:, :, ::-1])
        assert ok
        out[kind] = folder / f"{kind}.mp4"
        out[kind].write_bytes(buf.tobytes())
    out["empty"] = folder / "empty.mp4"
    out["empty"].write_bytes(b"")
    out["text"] = folder / "text.mp4"
    out["text"].write_text("this is a caption, not a video\n" * 20)
    data = good.read_bytes()
    out["cut"] = folder / "cut.mp4"
    out["cut"].write_bytes(data[: len(data) // 2])
    fast = faststart_mp4(folder / "faststart_full.tmp", frames).read_bytes()
    (folder / "faststart_full.tmp").unlink()
    out["cut_tail"] = folder / "cut_tail.mp4"
    out["cut_tail"].write_bytes(fast[: len(fast) - 300])
    return out
