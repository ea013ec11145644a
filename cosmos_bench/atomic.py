"""Atomic file writes, shared by every stage.

Resuming an interrupted benchmark is only safe if a file that exists under its final name is
complete. So every writer here produces a temporary file in the destination folder (same file
system, so the rename is atomic) and renames it over the target only once it is fully written; on
any failure — including KeyboardInterrupt — the temporary file is removed. The finished file gets the
permissions the umask gives any new file (``mkstemp`` alone would leave it 0600).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where Linux shows it (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:  # elsewhere the only way to read it is to set it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; it replaces ``target`` when the block succeeds."""
    dst = Path(target)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.stem[:32]}.", suffix=suffix, dir=dst.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; a finished file gets what open() would give
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(target: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically; returns the target path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def atomic_copy(src: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy ``src`` to ``target`` atomically (keeps the suffix, so tools that sniff it still work)."""
    with atomic_path(target, suffix=".tmp" + Path(target).suffix) as tmp:
        shutil.copyfile(src, tmp)
    return Path(target)
