"""Rebuild the real-video validation clips from their sources (how the clips in this folder were made).

Usage: ``python tests/assets/real/build_clips.py SOURCE_DIR`` where ``SOURCE_DIR`` holds the source files
named as in ``SOURCES`` (each extracted from its repository at the commit given, e.g.
``git --git-dir=REPO show COMMIT:PATH > SOURCE_DIR/NAME``). Each clip is ``frames`` frames taken every
``step`` from ``start``, downscaled to 320 px wide (area filter) and written as H.264 (CRF 18, yuv420p);
``manifest.json`` records source, licence, commit, frames and the sha256 of source and clip.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import av
import numpy as np
from PIL import Image

WIDTH = 320
HERE = Path(__file__).resolve().parent

SAM2 = {"repo": "https://github.com/facebookresearch/sam2", "commit": "2b90b9f5ceec907a1c18123530e92e794ad901a4",
        "licence": "Apache-2.0 (the repository's LICENSE)"}
UMI = {"repo": "https://github.com/real-stanford/universal_manipulation_interface",
       "commit": "d095ba9590df789df5189eea5ee7e431689038a6", "licence": "MIT (the repository's LICENSE)"}

# name: (source file, source info, path in the repository, start, step, frames, camera, content)
SOURCES = {
    "umi_robot_a": ("umi_cup.gif", UMI, "assets/umi_cup.gif", 20, 1, 32, "still",
                    "UR5 arm with a gripper placing a cup on a saucer, outdoor table"),
    "umi_robot_b": ("umi_cup.gif", UMI, "assets/umi_cup.gif", 62, 1, 32, "still",
                    "the same arm and table, a later part of the task"),
    "sam2_cups": ("02_cups.mp4", SAM2, "demo/data/gallery/02_cups.mp4", 10, 2, 32, "still",
                  "hands shuffling three cups on a table"),
    "sam2_blocks": ("03_blocks.mp4", SAM2, "demo/data/gallery/03_blocks.mp4", 0, 2, 32, "still",
                    "hands moving letter blocks on a cutting mat, top view"),
    "sam2_coffee": ("04_coffee.mp4", SAM2, "demo/data/gallery/04_coffee.mp4", 0, 2, 32, "still",
                    "pouring coffee from a kettle into a mug on a table"),
    "sam2_dog": ("01_dog.mp4", SAM2, "demo/data/gallery/01_dog.mp4", 0, 2, 32, "still",
                 "a person playing with a dog in a courtyard"),
    "sam2_bedroom": ("bedroom.mp4", SAM2, "notebooks/videos/bedroom.mp4", 0, 2, 32, "moving",
                     "children jumping on a bed, hand-held camera"),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_frames(path: Path, start: int, step: int, n: int) -> np.ndarray:
    with av.open(str(path)) as c:
        frames = []
        for i, f in enumerate(c.decode(video=0)):
            if i >= start and (i - start) % step == 0:
                frames.append(f.to_ndarray(format="rgb24"))
            if len(frames) == n:
                break
    if len(frames) < n:
        raise ValueError(f"{path}: only {len(frames)} frames from {start} every {step}, {n} wanted")
    return np.stack(frames)


def downscale(frames: np.ndarray) -> np.ndarray:
    h, w = frames.shape[1:3]
    H = int(round(h * WIDTH / w / 2)) * 2
    return np.stack([np.asarray(Image.fromarray(f).resize((WIDTH, H), Image.Resampling.BOX)) for f in frames])


def write_mp4(path: Path, frames: np.ndarray, fps: int = 15) -> None:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"crf": "18", "preset": "medium"}
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


def main(src_dir: Path) -> None:
    manifest = {"about": "Real clips nobody on the project made, for the geometric metrics' validation tests "
                         "(tests/metrics/test_real_video.py). Rebuild: build_clips.py.", "clips": {}}
    for name, (fname, info, rpath, start, step, n, camera, content) in SOURCES.items():
        src = src_dir / fname
        frames = downscale(read_frames(src, start, step, n))
        out = HERE / f"{name}.mp4"
        write_mp4(out, frames)
        manifest["clips"][name] = {
            "file": out.name, "source": f"{info['repo']}/blob/{info['commit']}/{rpath}", "repository": info["repo"],
            "commit": info["commit"], "path": rpath, "licence": info["licence"], "source_sha256": sha256(src),
            "frames": f"{n} frames from {start} every {step}", "size": f"{frames.shape[2]}x{frames.shape[1]}",
            "camera": camera, "content": content, "sha256": sha256(out),
        }
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
