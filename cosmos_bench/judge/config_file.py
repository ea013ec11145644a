"""A judge config file: the judge's settings in YAML, shared by ``judge``, ``run``, ``rescore`` and ``demo``.

The keys are :class:`~cosmos_bench.judge.client.JudgeConfig`'s field names, so a file means the same
thing to every command and to the library::

    base_url: http://localhost:8000/v1
    model: nvidia/Cosmos-Reason2-8B
    server: vllm
    video_mode: auto        # auto | video | frames
    fps: 4
    samples: 3
    timeout_s: 120
    concurrency: 4

A command's own options win over the file; the file wins over the environment. The API key is never read
from a file (it would end up in repositories): it comes from ``COSMOS_BENCH_JUDGE_API_KEY``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError

__all__ = ["read_judge_config"]


def read_judge_config(path: str | os.PathLike) -> dict[str, Any]:
    """The file's settings as ``JudgeConfig`` keyword arguments; bad input raises :class:`InputError`
    naming the file and the key (one line)."""
    from .client import JudgeConfig

    path = Path(path)
    where = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{where}: cannot read it ({exc.strerror or exc})", option="judge_config") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{where}: not valid YAML ({' '.join(str(exc).split())})", option="judge_config") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{where}: must be a mapping of JudgeConfig fields, got {type(data).__name__}",
                         option="judge_config")
    fields = {f.name for f in dataclasses.fields(JudgeConfig)}
    if "api_key" in data:
        raise InputError(f"{where}: api_key is not read from files; set COSMOS_BENCH_JUDGE_API_KEY",
                         option="judge_config")
    unknown = sorted(str(k) for k in data if k not in fields)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(fields - {'api_key'}))}",
                         option="judge_config")
    try:
        JudgeConfig(**data)  # every value checked here, with the file named
    except (InputError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: {exc}", option="judge_config") from None
    return dict(data)
