"""What a generation leaves on disk, typed: the :class:`Sidecar` beside each video, and the
:class:`Output` the scoring stages read.

The sidecar's on-disk format (``cosmos-bench.generation/1``) is a JSON object whose keys existing
readers (the report, ``find_outputs``, older checkouts) look up by name; :meth:`Sidecar.to_json`
writes exactly those keys in the order ``generate`` always wrote them, and keys this version does not
know (written by a newer one) are kept in :attr:`Sidecar.extra` and written back unchanged, so reading
and rewriting a sidecar never loses anything.

Both paths to an output — a fresh ``generate()`` result (``generate.output_of``) and ``find_outputs()``
over an earlier run's folder — give an :class:`Output` read by :meth:`Sidecar.read`, so ``run`` and
``rescore`` score the same thing.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

SIDECAR_FORMAT = "cosmos-bench.generation/1"


@dataclass(frozen=True)
class Sidecar:
    """The facts of one generated video (field order = the JSON key order on disk)."""

    model: str
    sample: str
    seed: int
    generation_key: str = ""
    kind: str | None = None
    input_hash: str | None = None
    suite: str | None = None
    prompt: str | None = None
    image: dict[str, Any] | None = None  # path, sha256, size of the conditioning image
    settings: dict[str, Any] | None = None
    model_identity: dict[str, Any] | None = None
    model_info: dict[str, Any] | None = None
    views: list[str] = field(default_factory=list)
    storage: dict[str, Any] | None = None
    expect: dict[str, Any] | None = None  # the frames/size the file must have (the scoring guard)
    files: dict[str, str] = field(default_factory=dict)  # view -> file name beside the sidecar
    file_sizes: dict[str, int] = field(default_factory=dict)  # file name -> bytes (what "complete" means)
    content_sha256: str | None = None
    fps: float | None = None
    seconds: float | None = None
    shard: list[int] | None = None
    versions: dict[str, Any] | None = None
    created: str | None = None
    format: str = SIDECAR_FORMAT
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys this version does not know, kept as read

    _ORDER = ("format", "model", "kind", "generation_key", "input_hash", "suite", "sample", "seed", "prompt",
              "image", "settings", "model_identity", "model_info", "views", "storage", "expect", "files",
              "file_sizes", "content_sha256", "fps", "seconds", "shard", "versions", "created")

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self._ORDER}
        data.update(self.extra)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sidecar:
        """A sidecar from its JSON object; ``ValueError`` naming the missing key if it is not one."""
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        missing = [k for k in ("model", "sample", "seed") if k not in data]
        if missing:
            raise ValueError(f"not a generation sidecar: missing {missing}")
        values = {k: v for k, v in data.items() if k in known}
        values["seed"] = int(values["seed"])
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})

    @classmethod
    def from_json(cls, text: str) -> Sidecar:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"not a generation sidecar: a JSON {type(data).__name__}")
        return cls.from_dict(data)

    @classmethod
    def read(cls, path: str | os.PathLike) -> Sidecar | None:
        """The sidecar at ``path``, or None if it is missing, unreadable or not a sidecar."""
        try:
            return cls.from_json(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError):
            return None

    def files_intact(self, directory: Path) -> bool:
        """Every file it lists exists beside it with the recorded size (and it lists at least one)."""
        return bool(self.file_sizes) and all(
            (directory / rel).is_file() and (directory / rel).stat().st_size == size for rel, size in self.file_sizes.items()
        )


@dataclass(frozen=True)
class Output:
    """One generated video as the scoring stages see it: where it is, its sidecar, or why there is none."""

    model: str
    key: str  # generation key
    sample: str
    seed: int
    directory: Path | None
    sidecar: Sidecar | None
    error: str | None = None  # set when there is nothing to score; the stages write error rows saying it

    @classmethod
    def read(cls, side_path: Path, *, model: str, key: str, sample: str, seed: int) -> Output:
        """The output whose sidecar is ``side_path`` (an error output if it cannot be read)."""
        side = Sidecar.read(side_path)
        if side is None:
            return cls(model, key, sample, seed, None, None, f"{side_path}: sidecar missing or unreadable")
        return cls(model, key, sample, seed, side_path.parent, side)

    @classmethod
    def failed(cls, *, model: str, key: str, sample: str, seed: int, error: str) -> Output:
        return cls(model, key, sample, seed, None, None, f"generation failed: {error}")

    @property
    def label(self) -> str:
        return f"{self.model}/{self.sample}/seed{self.seed}"

    def provenance(self) -> dict[str, Any]:
        side = self.sidecar
        return {
            "generation_key": self.key,
            "model_identity": side.model_identity if side else None,
            "settings": side.settings if side else None,
            "content_sha256": side.content_sha256 if side else None,
            "versions": side.versions if side else None,
            "video": None if self.directory is None else str(self.directory / f"{self.sample}.json"),
        }


__all__ = ["Output", "SIDECAR_FORMAT", "Sidecar"]
