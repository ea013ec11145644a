"""cosmos-bench: measure robot-video world models and the adapters fine-tuned on them.

``from cosmos_bench import run, RunConfig, rescore`` is the library entry point (what ``cosmos-bench run``
calls). They are loaded on first use, so importing the package (or any lower layer) stays light and no
module below the runner depends on the root package.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {"run": "runner", "rescore": "runner", "RunConfig": "runner", "RunSummary": "runner"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["RunConfig", "RunSummary", "__version__", "rescore", "run"]
