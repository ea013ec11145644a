"""The compile cache: artifacts saved by one process make another process's compile a cache hit, and a
key change (settings, models) never loads them.

Each process gets its own empty inductor cache folder, so a hit in the second process can only come
from the artifacts file, not from inductor's usual on-disk cache of this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cosmos_bench.models.compile_cache import CompileCache
from cosmos_bench.models.generate import GenerationSettings

SCRIPT = r"""
import json, sys
import torch
from torch._dynamo.utils import counters
from cosmos_bench.models.compile_cache import CompileCache
from cosmos_bench.models.generate import GenerationSettings

folder, action, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
cache = CompileCache(folder, [], GenerationSettings(num_frames=9, height=64, width=64, steps=steps))
loaded = cache.load() if action == "load" else False

@torch.compile
def step(x, w):
    return torch.nn.functional.gelu(x @ w) * 2.0 + 1.0

step(torch.ones(4, 4), torch.ones(4, 4))
saved = str(cache.save()) if action == "save" else None
print(json.dumps({"loaded": loaded, "saved": saved, "hits": counters["inductor"]["fxgraph_cache_hit"],
                  "misses": counters["inductor"]["fxgraph_cache_miss"]}))
"""


def _run(tmp: Path, tag: str, folder: Path, action: str, steps: int) -> dict:
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(tmp / f"inductor_{tag}"), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(folder), action, str(steps)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_artifacts_saved_by_one_process_are_a_cache_hit_in_another_and_a_new_key_is_not(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    first = _run(tmp_path, "a", folder, "save", steps=36)
    assert first["misses"] >= 1 and first["hits"] == 0 and first["saved"] and Path(first["saved"]).is_file()
    second = _run(tmp_path, "b", folder, "load", steps=36)
    assert second["loaded"] is True and second["hits"] >= 1 and second["misses"] == 0
    other = CompileCache(folder, [], GenerationSettings(num_frames=9, height=64, width=64, steps=12))
    assert other.load() is False and not other.path.exists()  # other settings: another key, nothing loaded


def test_the_key_covers_settings_and_models_and_a_damaged_file_is_ignored(tmp_path: Path) -> None:
    s36 = GenerationSettings(num_frames=9, height=64, width=64, steps=36)
    s12 = GenerationSettings(num_frames=9, height=64, width=64, steps=12)

    class Model:
        def __init__(self, compile_mode: str):
            self.compile_mode = compile_mode

        def identity(self) -> dict:
            return {"kind": "cosmos", "compile": self.compile_mode}

    a = CompileCache(tmp_path, [Model("default")], s36)
    assert a.path == CompileCache(tmp_path, [Model("default")], s36).path
    assert a.path != CompileCache(tmp_path, [Model("default")], s12).path
    assert a.path != CompileCache(tmp_path, [Model("max-autotune")], s36).path
    assert a.key_data["environment"]["torch"]
    a.path.write_bytes(b"not a cache file")
    assert a.load() is False  # reported, then compiled from scratch
    json.dumps(a.key_data, default=str)
