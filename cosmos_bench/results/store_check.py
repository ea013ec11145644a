"""Is this path usable as a results store? Asked before any work, so a bad ``--store`` costs seconds.

Without this check a read-only store, a directory or some other file given as ``--store`` was found
only when the first score was written: after generating and scoring, hours on a GPU.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import CosmosBenchError, MachineError

_SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(CosmosBenchError):
    """The results store path cannot be used (names the path and the problem)."""


class StoreDiskError(MachineError, StoreError):
    """The disk under the store refused (full, or failing): exit 4 like a full disk during the run."""


# What SQLite says when the disk, not the file, is the problem (sqlite3 result codes SQLITE_IOERR, SQLITE_FULL)
_DISK_MESSAGES = ("disk i/o error", "database or disk is full")


def _refuse(p: Path, exc: sqlite3.Error, what: str) -> StoreError:
    if any(m in str(exc).lower() for m in _DISK_MESSAGES):
        return StoreDiskError(f"{p}: the disk refused the results store ({exc}): free space on it (or check the disk) "
                              "and run again", option="store")
    return StoreError(f"{p}: {what} ({exc})")


def check_store(path: str | os.PathLike, *, write: bool = True) -> Path:
    """Raise :class:`StoreError` unless ``path`` is (or can become) a cosmos-bench results store.

    ``write``: it must also be writable (the store and its folder: SQLite's WAL files live beside it).
    A missing store is fine when writing (it is created), an error when only reading.
    """
    p = Path(path)
    if p.is_dir():
        raise StoreError(f"{p}: is a directory, not a results store (pass the .sqlite file, e.g. {p / 'results.sqlite'})")
    if not p.exists():
        if not write:
            raise StoreError(f"{p}: results store not found (run `cosmos-bench run` first, or name another store)", option="store")
        _check_folder_writable(p)
        return p
    with open(p, "rb") as fh:
        head = fh.read(len(_SQLITE_MAGIC))
    if head and head != _SQLITE_MAGIC:
        raise StoreError(f"{p}: not a SQLite file, so not a results store (the wrong file?)", option="store")
    if head:
        _check_tables(p)
    if write:
        _check_writable(p)
    return p


def _check_folder_writable(p: Path) -> None:
    folder = p.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise StoreError(f"{p}: cannot create the results store: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"{p}: cannot create the results store: {folder} is not writable")


def _check_tables(p: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=5)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise _refuse(p, exc, "unreadable SQLite file") from None
    if tables and "results" not in tables:
        raise StoreError(f"{p}: a SQLite database but not a cosmos-bench results store (tables: {', '.join(sorted(tables))})")


def _check_writable(p: Path) -> None:
    if not os.access(p, os.W_OK) or not os.access(p.parent, os.W_OK | os.X_OK):
        raise StoreError(f"{p}: results store is read-only (it and its folder must be writable)")
    try:  # permissions can lie (a read-only mount): take the write lock once and let it go
        conn = sqlite3.connect(str(p), timeout=30)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        raise _refuse(p, exc, "results store is not writable") from None
