"""Loading diffusers components and saying where their weights came from, for every diffusers kind.

``cosmos`` (:mod:`.cosmos`), ``diffusers-i2v`` (:mod:`.external`) and the trainer
(:mod:`cosmos_bench.train.trainer`) load weights the same way: ``from_pretrained`` on a hub id
(+ revision) or on a local ``save_pretrained`` folder, in a named dtype, quietly, then moved to a
device. And they identify those weights the same way in a generation key (:class:`ModelSource`):
a hub id by id and revision, a local folder by its content, so moving a folder keeps its videos and
replacing a weight file does not.
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..provenance import folder_fingerprint, minor_version
from .base import ModelConfigError, ModelSpec

DTYPES = ("bfloat16", "float16", "float32")
HUB_ID_RE = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def torch_dtype(name: str):
    import torch

    if name not in DTYPES:
        raise ModelConfigError(f"dtype must be one of {list(DTYPES)}, got {name!r}")
    return getattr(torch, name)


def dtype_kwarg() -> str:
    """``from_pretrained``'s dtype argument name: ``dtype`` from diffusers 0.42 on, ``torch_dtype`` before."""
    release = minor_version("diffusers")
    return "dtype" if release is not None and release >= (0, 42) else "torch_dtype"


class _DropMessage(logging.Filter):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


@contextmanager
def stand_in_warning_hidden():
    """Hide diffusers' "Expected types for safety_checker" warning: a stand-in checker is deliberate
    (the choice is logged once by cosmos-bench)."""
    logger = logging.getLogger("diffusers.pipelines.pipeline_utils")
    flt = _DropMessage("Expected types for safety_checker")
    logger.addFilter(flt)
    try:
        yield
    finally:
        logger.removeFilter(flt)


@contextmanager
def quiet_loading():
    """Load without per-file progress bars, and without the safety-checker stand-in warning."""
    from diffusers.utils import logging as d_logging
    from transformers.utils import logging as t_logging

    d_on = d_logging.is_progress_bar_enabled()
    t_on = t_logging.is_progress_bar_enabled()
    d_logging.disable_progress_bar()
    t_logging.disable_progress_bar()
    try:
        with stand_in_warning_hidden():
            yield
    finally:
        if d_on:
            d_logging.enable_progress_bar()
        if t_on:
            t_logging.enable_progress_bar()


def resolve_device(device: str | None = "auto") -> str:
    """``auto`` -> ``cuda:<LOCAL_RANK>`` when CUDA is available (one GPU per shard), else ``cpu``."""
    import torch

    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return f"cuda:{int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count()}"
        return "cpu"
    return str(device)


def pretrained_kwargs(dtype: str, *, revision: str | None = None, local_files_only: bool = False, **extra: Any) -> dict[str, Any]:
    """``from_pretrained`` keyword arguments: the dtype under this diffusers' name for it, the revision
    and ``local_files_only`` only when set, and any ``extra`` whose value is not None."""
    kwargs: dict[str, Any] = {dtype_kwarg(): torch_dtype(dtype)}
    if revision:
        kwargs["revision"] = revision
    if local_files_only:
        kwargs["local_files_only"] = True
    kwargs.update({k: v for k, v in extra.items() if v is not None})
    return kwargs


def load_pretrained(cls, model: str, *, device: str, failure: str, **kwargs: Any):
    """``cls.from_pretrained(model, **kwargs)`` without progress bars, moved to ``device``, progress bar
    off. A missing or unreadable model raises :class:`ModelConfigError` with ``failure`` (which names
    the model entry) followed by the library's reason."""
    try:
        with quiet_loading():
            pipe = cls.from_pretrained(model, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelConfigError(f"{failure}: {exc}") from exc
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@dataclass
class ModelSource:
    """Where a model's weights come from: a local ``save_pretrained`` folder, or a hub id + revision.

    ``model`` is what ``from_pretrained`` gets: the folder's absolute path, or the hub id.
    """

    model: str
    revision: str | None
    local_path: Path | None
    _fingerprint: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_spec(cls, spec: ModelSpec, model: str, *, default_revision: str | None = None) -> "ModelSource":
        """The source named by ``model`` (the entry's ``model`` option, resolved against the YAML's folder).
        ``default_revision`` applies to a hub id when the entry sets no ``revision``."""
        local = spec.path_option("model", model)
        local_path = local.resolve() if local is not None and local.is_dir() else None
        revision = spec.options.get("revision", default_revision if local_path is None else None)
        return cls(model=str(local_path) if local_path else model, revision=revision, local_path=local_path)

    def identity(self) -> dict[str, Any]:
        """The weights' part of a generation key (a local folder's fingerprint is computed once)."""
        if self.local_path is None:
            return {"hub_id": self.model, "revision": self.revision}
        if self._fingerprint is None:
            self._fingerprint = folder_fingerprint(self.local_path)
        return {"local_fingerprint": self._fingerprint}

    def describe(self) -> str:
        return self.model + (f"@{self.revision}" if self.revision else "")


def hub_commit(pipe) -> str | None:
    """The commit of a hub snapshot the pipeline was loaded from, when its path tells it."""
    path = str(getattr(pipe, "name_or_path", "") or pipe.config.get("_name_or_path", ""))
    parts = Path(path).parts
    if "snapshots" in parts:
        i = parts.index("snapshots")
        if i + 1 < len(parts):
            return parts[i + 1]
    return None


__all__ = [
    "DTYPES",
    "HUB_ID_RE",
    "ModelSource",
    "dtype_kwarg",
    "hub_commit",
    "load_pretrained",
    "pretrained_kwargs",
    "quiet_loading",
    "resolve_device",
    "stand_in_warning_hidden",
    "torch_dtype",
]
