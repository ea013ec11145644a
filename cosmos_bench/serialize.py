"""JSON-safe conversion shared by metric results and the results store (no heavy imports)."""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np


def json_safe(obj: Any, fallback: Callable[[Any], Any] | None = None) -> Any:
    """``obj`` with NaN/inf → ``None``, numpy scalars/arrays → Python numbers/lists, tuples → lists.

    Any other type raises, unless ``fallback`` converts it (the results store passes ``str`` for
    provenance such as paths; metric results stay strict).
    """
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v, fallback) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v, fallback) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist(), fallback)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or isinstance(obj, str):
        return obj
    if fallback is not None:
        return fallback(obj)
    raise TypeError(f"not JSON-serialisable in a metric result: {type(obj).__name__} ({obj!r})")
