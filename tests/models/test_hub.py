"""Adapters by Hub id, resolved offline from a Hugging Face cache the test lays out itself.

The cache is what ``huggingface_hub`` writes: ``models--org--name/refs/<branch>`` holds a commit,
``snapshots/<commit>/<path>`` links to ``blobs/<sha256>``. With ``HF_HUB_OFFLINE=1`` nothing is
downloaded, so the test shows the real lookup (refs → snapshot) and that the commit and the file's
hash reach the generation key.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from cosmos_bench.models.base import AdapterNotTrainedError, ModelConfigError, build_model, parse_models
from cosmos_bench.models.generate import GenerationSettings, generation_key
from cosmos_bench.models.hub import parse_hub_ref

COMMIT_MAIN = "1f" * 20
COMMIT_V2 = "2e" * 20
SETTINGS = GenerationSettings(num_frames=9, height=32, width=48, steps=2)


def _put(cache: Path, repo: str, commit: str, rel: str, data: bytes) -> None:
    root = cache / ("models--" + repo.replace("/", "--"))
    sha = hashlib.sha256(data).hexdigest()
    blob = root / "blobs" / sha
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    link = root / "snapshots" / commit / rel
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))


def _ref(cache: Path, repo: str, branch: str, commit: str) -> None:
    ref = cache / ("models--" + repo.replace("/", "--")) / "refs" / branch
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit)


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch) -> Path:
    import huggingface_hub.constants as hf

    cache = tmp_path / "hf"
    _put(cache, "org/adapters", COMMIT_MAIN, "lora8/pytorch_lora_weights.safetensors", b"main weights")
    _put(cache, "org/adapters", COMMIT_V2, "lora8/pytorch_lora_weights.safetensors", b"v2 weights")
    _ref(cache, "org/adapters", "main", COMMIT_MAIN)
    _ref(cache, "org/adapters", "v2", COMMIT_V2)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)  # huggingface_hub reads both at import time
    monkeypatch.setattr(hf, "HF_HUB_CACHE", str(cache))
    return cache


def _model(tmp_path: Path, adapter: str, **extra):
    entries = {"base": {"kind": "cosmos", "model": "nvidia/Cosmos-Predict2.5-2B", "safety_checker": "none"},
               "cand": {"extends": "base", "adapter": adapter, **extra}}
    return build_model(parse_models({"models": entries}, tmp_path / "models.yaml").spec("cand"))


def test_a_hub_adapter_loads_from_the_offline_cache_with_its_commit_in_the_key(tmp_path: Path, hub_cache: Path) -> None:
    main = _model(tmp_path, "hf://org/adapters/lora8")
    assert main.adapter.file.read_bytes() == b"main weights"
    assert main.adapter.sha256 == hashlib.sha256(b"main weights").hexdigest()
    hub = main.identity()["adapter"]["hub"]
    assert hub == {"repo_id": "org/adapters", "revision": None, "commit": COMMIT_MAIN, "subfolder": "lora8",
                   "filename": "pytorch_lora_weights.safetensors"}
    v2 = _model(tmp_path, "hf://org/adapters@v2/lora8")
    assert v2.adapter.file.read_bytes() == b"v2 weights" and v2.identity()["adapter"]["hub"]["commit"] == COMMIT_V2
    pinned = _model(tmp_path, f"hf://org/adapters@{COMMIT_V2}/lora8/pytorch_lora_weights.safetensors")
    assert pinned.adapter.sha256 == v2.adapter.sha256
    keys = {generation_key(m, SETTINGS) for m in (main, v2)}
    assert len(keys) == 2, "another revision's adapter is another generation key"
    # the branch moves to the v2 commit: same URL, new commit and file hash, new key
    (hub_cache / "models--org--adapters" / "refs" / "main").write_text(COMMIT_V2)
    moved = _model(tmp_path, "hf://org/adapters/lora8")
    assert moved.identity()["adapter"]["hub"]["commit"] == COMMIT_V2
    assert generation_key(moved, SETTINGS) != generation_key(main, SETTINGS)


def test_hub_adapter_failures_name_the_adapter(tmp_path: Path, hub_cache: Path) -> None:
    with pytest.raises(ModelConfigError, match=r"hf://org/missing/lora8: pytorch_lora_weights.safetensors could not be fetched"):
        _model(tmp_path, "hf://org/missing/lora8")
    with pytest.raises(ModelConfigError, match="could not be fetched"):
        _model(tmp_path, "hf://org/adapters@nope/lora8")
    with pytest.raises(ModelConfigError, match="hf://org/name"):
        parse_hub_ref("hf://justone")
    # a bare repo id is a local path, and its error says how a Hub adapter is written
    with pytest.raises(AdapterNotTrainedError, match=r"adapter not found \(a Hugging Face Hub adapter is written adapter: hf://user/repo\)"):
        _model(tmp_path, "user/repo")


def test_parse_hub_ref_forms() -> None:
    assert parse_hub_ref("runs/train/lora8") is None
    ref = parse_hub_ref("hf://org/name@refs-pr-1/a/b")
    assert (ref.repo_id, ref.revision, ref.subfolder, ref.filename) == ("org/name", "refs-pr-1", "a/b", None)
    ref = parse_hub_ref("hf://org/name/x.safetensors", revision="refs/pr/1")
    assert (ref.revision, ref.subfolder, ref.filename) == ("refs/pr/1", None, "x.safetensors")


def test_a_hub_adapter_generates_what_the_same_local_adapter_does(tmp_path: Path, hub_cache: Path, tiny_zoo: Path) -> None:
    """The cached file really loads: the tiny pipeline with the Hub copy of an adapter makes the local one's video."""
    import yaml

    from cosmos_bench.data.video import read_video
    from cosmos_bench.models.generate import generate

    from .conftest import TINY, make_suite

    local = tiny_zoo.parent / "adapters" / "lora4" / "pytorch_lora_weights.safetensors"
    _put(hub_cache, "org/tiny", COMMIT_MAIN, "lora4/pytorch_lora_weights.safetensors", local.read_bytes())
    _ref(hub_cache, "org/tiny", "main", COMMIT_MAIN)
    zoo = yaml.safe_load(tiny_zoo.read_text())["models"]
    entries = {"base": {**zoo["base"], "model": str(tiny_zoo.parent / "base")},
               "local": {"extends": "base", "adapter": str(local)},
               "hub": {"extends": "base", "adapter": "hf://org/tiny/lora4"}}
    config = parse_models({"models": entries}, tmp_path / "models.yaml")
    models = [build_model(config.spec(n)) for n in ("local", "hub")]
    assert models[1].identity()["adapter"]["sha256"] == models[0].identity()["adapter"]["sha256"]
    suite = make_suite(tmp_path / "suite", names=("a",))
    report = generate(models, suite, tmp_path / "out", seeds=1, settings=GenerationSettings(**TINY))
    assert report.count("generated") == 2, [r.error for r in report.results]
    local_video, hub_video = (read_video(r.sidecar.with_suffix(".mp4")).frames for r in report.results)
    assert np.array_equal(local_video, hub_video)
