"""Where cosmos-bench keeps what it can recompute: one root under the user cache directory.

The root is ``$COSMOS_BENCH_CACHE`` when set, else ``$XDG_CACHE_HOME/cosmos-bench``, else
``~/.cache/cosmos-bench`` (the XDG base-directory convention that pip, Hugging Face and torch follow),
so a cache never depends on the directory a command runs in and never litters a checkout. Below it:
``judge_scores.jsonl`` (valid judge scores), ``file_hashes.json`` (SHA-256 of large weight files) and
``train/`` (prompt embeddings and VAE latents). ``cosmos-bench run`` keeps its judge cache beside its
outputs under ``runs/`` instead, so a run folder carries everything it scored.

``$COSMOS_BENCH_CACHE_DIR`` is the older name of the same variable (it set the judge cache's folder);
it still works, with a deprecation warning, when ``$COSMOS_BENCH_CACHE`` is not set.
Ground floor: imports nothing from the package.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

CACHE_ENV = "COSMOS_BENCH_CACHE"
DEPRECATED_CACHE_ENV = "COSMOS_BENCH_CACHE_DIR"
APP_DIR = "cosmos-bench"


def user_cache_dir() -> Path:
    """The root folder of cosmos-bench's caches (see the module docstring for the order)."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        root = os.environ.get(DEPRECATED_CACHE_ENV)
        if root:
            warnings.warn(
                f"${DEPRECATED_CACHE_ENV} is deprecated: set ${CACHE_ENV} instead (same meaning)",
                DeprecationWarning,
                stacklevel=2,
            )
    if root:
        return Path(os.path.expanduser(root))
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative value is invalid and ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / APP_DIR


__all__ = ["APP_DIR", "CACHE_ENV", "DEPRECATED_CACHE_ENV", "user_cache_dir"]
