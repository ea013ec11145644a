"""Adding a trained adapter to the models YAML: the one path ``models register`` and ``train`` share.

Both commands turn an adapter folder into an entry (``{extends: BASE, adapter: DIR}`` or a full
``kind: cosmos`` entry), refuse to overwrite another model of the same name, check the entry builds
before the file changes, and write it with :func:`~cosmos_bench.models.base.register_model` (comments
survive). Keeping that here means the two commands cannot drift apart on how an adapter path is
written or what counts as "already registered". Nothing here imports torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .base import ModelConfigError, ModelsConfig, build_model, parse_models, register_model


class ModelExistsError(ModelConfigError):
    """The models YAML already has a model of that name (with another adapter, or replacing was not asked)."""

    def __init__(self, path: Path | None, name: str, same_adapter: bool):
        self.name, self.same_adapter = name, same_adapter
        detail = "" if same_adapter else " with another adapter"
        super().__init__(f"{path}: model {name!r} already exists{detail}")


@dataclass(frozen=True)
class Registration:
    """What :func:`register_adapter` did: ``added`` is False when the same adapter was already there."""

    name: str
    path: Path
    entry: dict[str, Any]
    added: bool


def adapter_option(adapter: str | os.PathLike, models_path: str | os.PathLike) -> str:
    """How the YAML names ``adapter``: relative to the YAML's folder when it lies below it (the file
    moves with its project), else absolute (a relative ``../..`` path breaks when either moves)."""
    target = Path(adapter).resolve()
    try:
        relative = os.path.relpath(target, Path(models_path).resolve().parent)
    except ValueError:  # another drive
        return str(target)
    return relative if not relative.startswith("..") else str(target)


def adapter_entry(adapter: Path, models_path: str | os.PathLike, *, base: str, fuse: bool = False,
                  lora_scale: float | None = None) -> dict[str, Any]:
    """``{extends: base, adapter: ...}`` for an existing adapter folder or file (plus ``fuse``/``lora_scale``)."""
    if not Path(adapter).exists():
        raise ModelConfigError(f"{adapter}: adapter not found")
    entry: dict[str, Any] = {"extends": base, "adapter": adapter_option(adapter, models_path)}
    if fuse:
        entry["fuse"] = True
    if lora_scale is not None:
        entry["lora_scale"] = lora_scale
    return entry


def register_adapter(name: str, entry: Mapping[str, Any], config: ModelsConfig, *, overwrite: bool = False,
                     keep_same: bool = False) -> Registration:
    """Add ``name: entry`` to the models YAML that ``config`` was read from, after checking it builds.

    ``keep_same``: a model of that name with the same adapter is already registered, so nothing is
    written (``added=False``) instead of refusing; another adapter under the name is always refused
    unless ``overwrite``.
    """
    if config.path is None:
        raise ModelConfigError("no models YAML to register into")
    entry = dict(entry)
    existing = config.entries.get(name)
    if existing is not None and not overwrite:
        same = existing.get("adapter") == entry.get("adapter")
        if same and keep_same:
            return Registration(name, config.path, entry, added=False)
        raise ModelExistsError(config.path, name, same)
    trial = {**config.entries, name: entry}
    build_model(parse_models({"models": trial}, config.path).spec(name))  # validate before writing
    path = register_model(name, entry, config.path, overwrite=overwrite, config=config)
    return Registration(name, path, entry, added=True)


__all__ = ["ModelExistsError", "Registration", "adapter_entry", "adapter_option", "register_adapter"]
