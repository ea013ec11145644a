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
from glob import escape as glob_escape
from typing import Iterable, Iterator


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


def _temp_prefix(target: Path) -> str:
    return f".{target.stem[:32]}."


def sweep_temporaries(targets: Iterable[str | os.PathLike], older_than: float) -> list[Path]:
    """Remove the temporary files :func:`atomic_path` left beside ``targets`` before ``older_than``.

    A process killed with ``kill -9`` while writing leaves its hidden ``.<name>.<random>.tmp*`` file
    for good (no ``except`` runs). The caller must be the only writer of ``targets`` now (a run that
    holds the claim on them), so whatever temporary file predates it belongs to a writer that is gone.
    """
    removed = []
    for target in map(Path, targets):
        if not target.parent.is_dir():
            continue
        for tmp in target.parent.glob(f"{glob_escape(_temp_prefix(target))}*.tmp*"):
            try:
                if tmp.is_file() and tmp.stat().st_mtime < older_than:
                    tmp.unlink()
                    removed.append(tmp)
            except FileNotFoundError:  # removed meanwhile
                pass
    return removed


@contextmanager
def atomic_path(target: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; it replaces ``target`` when the block succeeds."""
    dst = Path(target)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(dst), suffix=suffix, dir=dst.parent)
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
