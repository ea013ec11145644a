"""torch.compile artifacts shared between processes, so a new worker skips most of the warm-up.

A compiled ``base-fast`` worker pays about four minutes of ``torch.compile`` before its first fast
video (measured through ``cosmos-bench run`` on an H200: 239 s, 88 s, then 43 s per video). Every
worker of a cluster, and every new run, would pay it again. PyTorch can serialise what it compiled
(``torch.compiler.save_cache_artifacts``: inductor's generated kernels and the AOT-autograd graphs)
and hot-load it into another process (``load_cache_artifacts``), which then finds its graphs in
inductor's cache instead of generating and compiling them.

The artifacts are only valid for the software and hardware that made them, so the file is keyed by
everything that changes the generated code: torch, triton and CUDA versions, the GPU's name and
compute capability (or "cpu"), Python, and the identities of the models and generation settings
(which include the compile options). A change of any of them selects a new file; stale artifacts are
never loaded. Files are written atomically, so workers saving at once leave one whole file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from pathlib import Path
from typing import Any, Sequence

from ..atomic import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

FORMAT = 1


def environment_fingerprint() -> dict[str, Any]:
    """What the compiled code depends on besides the models: libraries and the device."""
    import torch

    info: dict[str, Any] = {"format": FORMAT, "python": platform.python_version(), "torch": torch.__version__,
                            "cuda": torch.version.cuda}
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    if torch.cuda.is_available():
        index = torch.cuda.current_device()
        info["device"] = torch.cuda.get_device_name(index)
        info["capability"] = list(torch.cuda.get_device_capability(index))
    else:
        info["device"] = f"cpu:{platform.machine()}"
    return info


class CompileCache:
    """One folder of compile artifacts; :meth:`path` is the file for this process's key."""

    def __init__(self, folder: str | Path, models: Sequence[Any] = (), settings: Any = None):
        self.folder = Path(folder)
        identities = [getattr(m, "identity", lambda: repr(m))() for m in models]
        settings_dict = settings.to_dict() if hasattr(settings, "to_dict") else settings
        self.key_data = {"environment": environment_fingerprint(), "models": identities, "settings": settings_dict}
        canonical = json.dumps(self.key_data, sort_keys=True, default=str)
        self.key = hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def path(self) -> Path:
        return self.folder / f"torch-compile-{self.key}.bin"

    def load(self) -> bool:
        """Hot-load this key's artifacts, if any; True if something was loaded. A damaged file is
        reported and ignored: the worker then compiles as if there were no cache."""
        import torch

        if not self.path.is_file():
            return False
        try:
            info = torch.compiler.load_cache_artifacts(self.path.read_bytes())
        except Exception as exc:  # a truncated or foreign file must not stop a worker
            log.warning("%s: compile cache not loaded (%s: %s); compiling from scratch", self.path, type(exc).__name__, exc)
            return False
        return info is not None

    def save(self) -> Path | None:
        """Write everything compiled in this process so far (None when nothing was compiled)."""
        import torch

        saved = torch.compiler.save_cache_artifacts()
        if not saved or not saved[0]:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            tmp.write_bytes(saved[0])
        # what the key stands for, for whoever wonders which file belongs to which worker
        atomic_write_text(self.folder / f"torch-compile-{self.key}.json", json.dumps(self.key_data, indent=2, sort_keys=True, default=str) + "\n")
        return self.path


__all__ = ["CompileCache", "environment_fingerprint"]
