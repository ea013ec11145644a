"""Output folders a command owns: it deletes or overwrites only files it wrote there itself.

A command that writes a folder (the report, leaderboards, ``generate --out``, the demo) keeps a
manifest in it, ``.cosmos-bench-output.json``: which kind of output the folder holds and, per scope
(a suite's leaderboard, one report), the files written last time. So a rewrite can remove the files
that went stale (a report's rows that are gone, an earlier ``--bundle``'s media) and nothing else: a
user's ``media/holiday.jpg`` is never in the manifest, so it stays. A folder that is not empty and
holds no earlier output of the kind (no manifest, and nothing a ``recognise`` check knows as that
output from before manifests existed) is refused before anything is written (exit 2): pointing
``--out`` at ``~`` must not write or delete anything there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import atomic_write_text
from .errors import InputError

MANIFEST = ".cosmos-bench-output.json"


class FolderNotOursError(InputError):
    """The folder holds files no cosmos-bench command of this kind wrote: nothing is written there."""


def _read_manifest(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise FolderNotOursError(f"{folder / MANIFEST}: unreadable output manifest ({exc}); remove it to start afresh")
    if not isinstance(data, dict) or not isinstance(data.get("scopes"), dict):
        raise FolderNotOursError(f"{folder / MANIFEST}: not a cosmos-bench output manifest; remove it to start afresh")
    return data


def _manifest_in_writing(entry: Path) -> bool:
    """The temporary file of a manifest another process is writing now (a concurrent first run)."""
    return entry.name.startswith(f".{Path(MANIFEST).stem[:32]}.") and ".tmp" in entry.name


def check_target_folder(folder: str | os.PathLike, option: str | None = None) -> Path:
    """``folder`` as a folder a command may create or write: not a file, nor under one (exit 2)."""
    path = Path(folder)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                what = "is a file" if p == path else f"is under {p}, which is a file"
                raise InputError(f"{path}: {what}; give a folder", option=option)
            break
    return path


def check_owned(folder: str | os.PathLike, kind: str, *, recognise: Callable[[Path], bool] = lambda folder: False,
                option: str | None = None) -> dict | None:
    """Refuse ``folder`` (exit 2) unless it is new, empty, or ``kind``'s output; writes nothing.

    Returns its manifest (None when it has none yet). Commands call it before any work.
    """
    path = check_target_folder(folder, option)
    manifest = _read_manifest(path) if path.is_dir() else None
    if manifest is not None:
        if manifest.get("kind") != kind:
            raise FolderNotOursError(f"{path}: holds {manifest.get('kind')} output, not {kind}; give another folder",
                                     option=option)
    elif path.is_dir() and any(not _manifest_in_writing(p) for p in path.iterdir()) and not recognise(path):
        raise FolderNotOursError(f"{path}: not empty and holds no earlier {kind} output written by cosmos-bench "
                                 f"(no {MANIFEST}); give an empty or new folder", option=option)
    return manifest


@dataclass
class OwnedFolder:
    """One scope of a folder a command writes: ``adopt`` it, ``write`` its files, then ``finish``.

    ``kind`` names the output ("report", "leaderboards", "videos", "demo"); ``scope`` one unit of it
    whose files are replaced together (a suite's leaderboard; ``""`` when the folder is one unit).
    """

    path: Path
    kind: str
    scope: str = ""
    previous: set[str] = field(default_factory=set)
    written: set[str] = field(default_factory=set)
    replaced: set[str] = field(default_factory=set)

    @classmethod
    def adopt(cls, folder: str | os.PathLike, kind: str, scope: str = "", *,
              recognise: Callable[[Path], bool] = lambda folder: False, option: str | None = None) -> OwnedFolder:
        """Check that ``folder`` is empty, new or already this kind's output, and mark it as such.

        ``recognise(folder)`` says whether a folder without a manifest holds this kind's output
        from an earlier version (its files are then kept, never deleted, as nothing says they are ours).
        """
        path = Path(folder)
        manifest = check_owned(path, kind, recognise=recognise, option=option)
        files = (manifest or {}).get("scopes", {}).get(scope, [])
        owned = cls(path, kind, scope, previous={f for f in files if isinstance(f, str)})
        path.mkdir(parents=True, exist_ok=True)
        owned._save(manifest, owned.previous)  # marked before the first file, so an interrupted write stays ours
        return owned

    def target(self, relative: str) -> Path:
        """The path to write ``relative`` at; recorded as this scope's file (and as replaced if it existed)."""
        dest = self.path / relative
        if dest.exists() and relative not in self.written:
            self.replaced.add(relative)
        self.written.add(relative)
        return dest

    def owns(self, relative: str) -> bool:
        return relative in self.previous or relative in self.written

    def finish(self) -> list[str]:
        """Remove this scope's files of the last time that were not written now; returns them."""
        stale = sorted(self.previous - self.written)
        for relative in stale:
            p = self.path / relative
            if p.is_file() or p.is_symlink():
                p.unlink()
            parent = p.parent
            while parent != self.path and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()  # a folder only this scope's files were in
                parent = parent.parent
        self._save(_read_manifest(self.path), self.written)
        return stale

    def describe(self, stale: list[str]) -> str | None:
        """One line saying what this write replaced, or None when it replaced nothing."""
        if not self.replaced and not stale:
            return None
        return (f"{self.path}: replaced {len(self.replaced)} file(s) of the earlier {self.kind} output"
                + (f", removed {len(stale)} of its files that are no longer part of it" if stale else ""))

    def _save(self, manifest: dict | None, files: set[str]) -> None:
        data = manifest or {"kind": self.kind, "scopes": {}}
        data["kind"] = self.kind
        data["scopes"][self.scope] = sorted(files)
        atomic_write_text(self.path / MANIFEST, json.dumps(data, indent=1, sort_keys=True) + "\n")


__all__ = ["MANIFEST", "FolderNotOursError", "OwnedFolder", "check_owned", "check_target_folder"]
