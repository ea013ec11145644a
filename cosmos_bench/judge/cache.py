"""On-disk cache of **valid** judge scores, one JSON line per (video, judge version, instruction, sample).

Only scores that passed extraction are stored, so a rerun asks again for every failed or missing
sample and never for one it has. Each record is appended with a single ``write`` on a file opened
with ``O_APPEND`` under an exclusive ``flock``, so concurrent writers (threads or processes) never
interleave lines; a torn last line (a crash mid-write) is skipped on load.

Records hold no credentials and no server address: only hashes, the judge version, the score, the
raw reply and how many calls it took.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from ..cachedir import user_cache_dir

try:  # POSIX only; elsewhere appends are still single writes
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = ["ScoreCache", "CacheKey", "default_cache_path"]

CACHE_FILE = "judge_scores.jsonl"

CacheKey = tuple[str, str, str, int]
"""(video sha256, judge version, instruction sha256 or "", sample index)."""


def default_cache_path() -> Path:
    """``judge_scores.jsonl`` under the user cache root: ``$COSMOS_BENCH_CACHE``, else
    ``$XDG_CACHE_HOME/cosmos-bench``, else ``~/.cache/cosmos-bench`` (:mod:`cosmos_bench.cachedir`).
    Never the current directory, so the cache does not depend on where a command runs."""
    return user_cache_dir() / CACHE_FILE


class ScoreCache:
    """Append-only JSONL store of valid judge samples.

    >>> cache = ScoreCache("judge_scores.jsonl")          # doctest: +SKIP
    >>> cache.get(("<sha>", "<judge version>", "", 0))    # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_cache_path()
        self._lock = threading.Lock()
        self._records: dict[CacheKey, dict] = {}
        self.skipped_lines = 0
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                    key = _key_of(rec)
                    score = rec["score"]
                except (ValueError, KeyError, TypeError):
                    self.skipped_lines += 1  # torn or foreign line: ignore, never guess
                    continue
                if isinstance(score, int) and not isinstance(score, bool):
                    self._records[key] = rec

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: CacheKey) -> bool:
        return key in self._records

    def get(self, key: CacheKey) -> dict | None:
        return self._records.get(key)

    def put(self, key: CacheKey, record: dict) -> None:
        """Append one valid sample. ``record`` must carry an integer ``score``; anything else is refused."""
        score = record.get("score")
        if not isinstance(score, int) or isinstance(score, bool):
            raise ValueError(f"only valid integer scores are cached, got score={score!r}")
        video_sha, version, instr_sha, index = key
        rec = {
            "video_sha256": video_sha,
            "judge_version": version,
            "instruction_sha256": instr_sha,
            "sample_index": int(index),
            **{k: v for k, v in record.items() if k not in ("video_sha256", "judge_version", "instruction_sha256", "sample_index")},
            "cached_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        line = (json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    _write_all(fd, line)
                    os.fsync(fd)
                finally:
                    if fcntl is not None:
                        fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
            self._records[key] = rec


def _key_of(rec: dict) -> CacheKey:
    return (
        str(rec["video_sha256"]),
        str(rec["judge_version"]),
        str(rec.get("instruction_sha256", "")),
        int(rec["sample_index"]),
    )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
