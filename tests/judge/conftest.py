"""Fixtures: a scripted OpenAI-compatible server on 127.0.0.1 and tiny video files."""

from __future__ import annotations

import threading
from collections import defaultdict
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from cosmos_bench.judge import JudgeConfig
from cosmos_bench.judge.fake_server import Action, FakeJudgeServer, FakeRequest, Reply

API_KEY = "sk-cosmos-bench-TEST-KEY-5f3a9c"


class Script:
    """Replies per video: ``plan[video bytes]`` is a list of actions used one per call; the last
    one repeats. Videos without a plan get ``default``."""

    def __init__(self, default: Action = Reply("<think>fine</think>\nScore: 4")):
        self.default = default
        self.plan: dict[bytes, list[Action]] = {}
        self.by_seed: dict[tuple[bytes, int], Action] = {}
        self.count: dict[bytes, int] = defaultdict(int)
        self._lock = threading.Lock()

    def __call__(self, req: FakeRequest) -> Action:
        video = req.video_bytes or b""
        with self._lock:
            n = self.count[video]
            self.count[video] += 1
        if (video, req.seed) in self.by_seed:
            return self.by_seed[(video, req.seed)]
        actions = self.plan.get(video)
        if not actions:
            return self.default
        return actions[min(n, len(actions) - 1)]


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def server(script: Script):
    with FakeJudgeServer(script, lifetime_s=60) as srv:
        yield srv


@pytest.fixture
def make_videos(tmp_path: Path) -> Callable[..., list[Path]]:
    """``make_videos("a", "b")`` writes files whose bytes are ``b"video-a"``, ``b"video-b"``: video
    mode only base64s the bytes, so the script can route on them."""

    def make(*names: str) -> list[Path]:
        out = []
        for n in names:
            p = tmp_path / f"{n}.mp4"
            p.write_bytes(f"video-{n}".encode())
            out.append(p)
        return out

    return make


@pytest.fixture
def real_mp4(tmp_path: Path) -> Path:
    """16 frames, 64x48, 8 fps; frame t is uniformly gray with level 10 + 15 t (time order is visible)."""
    from cosmos_bench.data.video import write_video

    frames = np.stack([np.full((48, 64, 3), 10 + 15 * t, np.uint8) for t in range(16)])
    return write_video(tmp_path / "real.mp4", frames, fps=8)


@pytest.fixture(scope="session")
def hf_serve(tmp_path_factory):
    """A real third-party server (``transformers serve``) with tiny local Qwen3-VL checkpoints,
    started once per test session (about 20-40 s on 2 CPU cores, most of it importing)."""
    from tests.judge.hf_serve import start_hf_serve

    server = start_hf_serve(tmp_path_factory.mktemp("hf-serve"))
    try:
        yield server
    finally:
        server.stop()


def fast_config(fake: FakeJudgeServer | None = None, **kw) -> JudgeConfig:
    """Tiny backoff and timeouts so failure paths take milliseconds; the generic request form
    (what the scripted server is) unless ``server=`` says otherwise, in video mode (the test videos
    are bytes the script routes on, not decodable files) unless ``video_mode=`` says otherwise."""
    base = dict(
        base_url=fake.base_url if fake is not None else None,
        server="generic",
        video_mode="video",
        api_key=API_KEY,
        timeout_s=5.0,
        backoff_s=0.005,
        backoff_max_s=0.05,
        retries=3,
        reasks=2,
        concurrency=4,
    )
    base.update(kw)
    return JudgeConfig(**base)
