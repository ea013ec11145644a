"""The typed sidecar reads and writes the on-disk format ``cosmos-bench.generation/1`` unchanged."""

from __future__ import annotations

import json

import pytest

from cosmos_bench.models.outputs import SIDECAR_FORMAT, Output, Sidecar

# A sidecar as generate() wrote it before the typed form existed (key order included).
LEGACY = {
    "format": SIDECAR_FORMAT, "model": "base", "kind": "cosmos", "generation_key": "k1", "input_hash": "h",
    "suite": "s", "sample": "a", "seed": 3, "prompt": "pick", "image": {"path": "a.png", "sha256": "x", "size": [8, 8]},
    "settings": {"num_frames": 5}, "model_identity": {"name": "base"}, "model_info": {}, "views": ["left", "right"],
    "storage": {"kind": "files"}, "expect": {"frames": 5, "size": None, "source": "suite.yaml says"},
    "files": {"left": "a_left.mp4", "right": "a_right.mp4"}, "file_sizes": {"a_left.mp4": 4, "a_right.mp4": 4},
    "content_sha256": "c", "fps": 16.0, "seconds": 1.5, "shard": [0, 1], "versions": {"torch": "2"},
    "created": "2026-12-02T00:00:00+00:00",
}


def test_legacy_sidecar_round_trips_byte_for_byte():
    text = json.dumps(LEGACY, indent=2, default=str) + "\n"  # exactly how generate() wrote it
    side = Sidecar.from_json(text)
    assert (side.model, side.seed, side.files["right"]) == ("base", 3, "a_right.mp4")
    assert side.to_json() == text


def test_unknown_keys_are_kept_and_written_back():
    side = Sidecar.from_dict({**LEGACY, "written_by_a_newer_version": [1, 2]})
    assert side.extra == {"written_by_a_newer_version": [1, 2]}
    assert json.loads(side.to_json())["written_by_a_newer_version"] == [1, 2]


def test_not_a_sidecar_is_none_from_read_and_an_error_output(tmp_path):
    bad = tmp_path / "a.json"
    bad.write_text(json.dumps({"model": "base"}))
    with pytest.raises(ValueError, match="missing"):
        Sidecar.from_json(bad.read_text())
    assert Sidecar.read(bad) is None and Sidecar.read(tmp_path / "none.json") is None
    out = Output.read(bad, model="base", key="k1", sample="a", seed=3)
    assert out.sidecar is None and out.directory is None and "sidecar missing or unreadable" in out.error


def test_files_intact_checks_every_listed_size(tmp_path):
    side = Sidecar.from_dict(LEGACY)
    for name in LEGACY["file_sizes"]:
        (tmp_path / name).write_bytes(b"1234")
    assert side.files_intact(tmp_path)
    (tmp_path / "a_right.mp4").write_bytes(b"12")
    assert not side.files_intact(tmp_path)
