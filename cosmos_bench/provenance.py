"""Content hashes and library versions: what every number, video and adapter is traced back to.

One place for the SHA-256 of files, folders, text and canonical JSON, and for the versions of the
libraries that shaped a result, so a generation key, a judge cache entry and a training record all
identify the same thing the same way. Ground floor: imports nothing from the package but
:mod:`cosmos_bench.cachedir`, and no heavy library (``importlib.metadata`` reads versions without
importing torch).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .cachedir import user_cache_dir

# Libraries whose version can change a generated video or a trained adapter.
TRACKED_DISTRIBUTIONS = ("cosmos-bench", "torch", "diffusers", "transformers", "peft", "accelerate", "numpy")
# Files below this size are hashed every time; larger ones (weights) are remembered by stat stamp.
HASH_CACHE_MIN_BYTES = 64 << 20
HASH_CACHE_FILE = "file_hashes.json"


def sha256_hex(data: bytes | str) -> str:
    """SHA-256 hex digest of bytes, or of text encoded as UTF-8."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def canonical_json(obj: Any) -> str:
    """Compact JSON with sorted keys (non-JSON values as ``str``): equal content, equal text, equal hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def hash_cache_path() -> Path:
    return user_cache_dir() / HASH_CACHE_FILE


def file_sha256(path: str | os.PathLike, *, use_cache: bool = True) -> str:
    """SHA-256 of a file's bytes.

    Large files (model weights) are hashed once and remembered by (absolute path, size,
    modification time, inode), like git's index; any rewrite of the file changes one of those.
    """
    p = Path(path).resolve()
    st = p.stat()
    stamp = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
    cache_file = hash_cache_path()
    known: dict[str, Any] = {}
    remembered = use_cache and st.st_size >= HASH_CACHE_MIN_BYTES
    if remembered:
        try:
            known = json.loads(cache_file.read_text())
            hit = known.get(str(p))
            if hit and hit.get("stamp") == stamp:
                return str(hit["sha256"])
        except (OSError, ValueError):
            known = {}
    h = hashlib.sha256()
    with p.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    digest = h.hexdigest()
    if remembered:
        known[str(p)] = {"stamp": stamp, "sha256": digest}
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".file_hashes.", dir=cache_file.parent)
            with os.fdopen(fd, "w") as fh:
                json.dump(known, fh)
            os.replace(tmp, cache_file)
        except OSError:
            pass  # the remembered hash is a speed-up only
    return digest


def folder_fingerprint(path: str | os.PathLike) -> str:
    """SHA-256 over the relative names and content hashes of every file under ``path``.

    Identifies a local model folder by content, so moving it keeps its videos and retraining or
    replacing any weight file gives a new generation key.
    """
    root = Path(path).resolve()
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(f"{f.relative_to(root).as_posix()}\0{file_sha256(f)}\n".encode())
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Installed versions of :data:`TRACKED_DISTRIBUTIONS` (missing ones left out)."""
    out = {}
    for dist in TRACKED_DISTRIBUTIONS:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


@cache
def runtime_versions() -> dict[str, str]:
    """Python's version and :func:`library_versions`, read once per process (what a sidecar records)."""
    return {"python": platform.python_version(), **library_versions()}


def minor_version(dist: str) -> tuple[int, int] | None:
    """``(major, minor)`` of an installed distribution, None when it is missing or not numeric."""
    try:
        major, minor = (int(x) for x in version(dist).split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return None
    return major, minor


def git_commit(path: str | os.PathLike = ".") -> dict[str, Any] | None:
    """The git commit of the checkout holding ``path`` and whether it has uncommitted changes; None
    outside a checkout or without git. A results file records it so a number can be traced to code."""
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip()) if dirty.returncode == 0 else None}


__all__ = [
    "TRACKED_DISTRIBUTIONS",
    "canonical_json",
    "file_sha256",
    "folder_fingerprint",
    "git_commit",
    "hash_cache_path",
    "library_versions",
    "minor_version",
    "runtime_versions",
    "sha256_hex",
]
