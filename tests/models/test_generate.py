"""The generation loop: layout, sidecars, keys, resume, atomicity, multi-view storage, sharding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cosmos_bench.data.suite import load_suite
from cosmos_bench.data.video import read_video
from cosmos_bench.models import generate as gen
from cosmos_bench.models.base import load_models, parse_models, build_model
from cosmos_bench.models.generate import GenerationSettings, find_outputs, generate, parse_shard, plan, settings_for_suite

from .conftest import TINY, make_suite

SMALL = GenerationSettings(num_frames=5, height=16, width=32, steps=1, fps=4.0)


def pattern(tmp_path: Path, name: str = "pat", **options):
    config = parse_models({"models": {name: {"kind": "pattern", **options}}}, tmp_path / "models.yaml")
    return build_model(config.spec(name))


def test_layout_sidecar_and_reading_back(tmp_path: Path, tiny_suite: Path, pattern_kind) -> None:
    model = pattern(tmp_path)
    report = generate([model], tiny_suite, tmp_path / "out", seeds=2, settings=SMALL)
    key = report.keys["pat"]
    assert len(key) == 16 and report.count("generated") == 4
    folder = tmp_path / "out" / "pat" / key
    assert json.loads((folder / "generation.json").read_text())["definition"]["settings"]["num_frames"] == 5
    side = json.loads((folder / "seed1" / "open_drawer.json").read_text())
    assert side["generation_key"] == key and side["model"] == "pat" and side["seed"] == 1 and side["sample"] == "open_drawer"
    assert side["prompt"] == "The robot arm performs the task: open drawer."
    assert side["settings"] == SMALL.to_dict() and side["files"] == {"view0": "open_drawer.mp4"}
    assert side["file_sizes"]["open_drawer.mp4"] == (folder / "seed1" / "open_drawer.mp4").stat().st_size
    assert set(side["versions"]) >= {"python", "torch", "diffusers", "numpy"} and side["model_info"] == {"level": 0}
    views, fps = load_suite(tiny_suite).read_views(folder / "seed1", "open_drawer")
    assert views["view0"].shape == (5, 16, 32, 3) and fps == pytest.approx(4.0)
    assert len(find_outputs(tmp_path / "out", "pat")) == 4


def test_resume_skips_done_work_and_redoes_only_what_changed(tmp_path: Path, tiny_suite: Path, pattern_kind) -> None:
    out = tmp_path / "out"
    model = pattern(tmp_path)
    first = generate([model], tiny_suite, out, seeds=2, settings=SMALL)
    assert model.calls == 4
    again = generate([model], tiny_suite, out, seeds=2, settings=SMALL)
    assert again.count("skipped") == 4 and model.calls == 4

    folder = out / "pat" / first.keys["pat"]
    (folder / "seed0" / "pick_cup.mp4").unlink()  # lost file
    with open(folder / "seed1" / "pick_cup.mp4", "r+b") as fh:  # truncated file
        fh.truncate(100)
    (tiny_suite / "open_drawer.txt").write_text("A new instruction.\n")  # edited test pair: both seeds
    third = generate([model], tiny_suite, out, seeds=2, settings=SMALL)
    redone = sorted((r.item.sample, r.item.seed) for r in third.results if r.status == "generated")
    assert redone == [("open_drawer", 0), ("open_drawer", 1), ("pick_cup", 0), ("pick_cup", 1)]
    assert third.keys == first.keys, "a changed input regenerates in place; the key is the model and settings"
    assert generate([model], tiny_suite, out, seeds=2, settings=SMALL, overwrite=True).count("generated") == 4


def test_changed_model_or_settings_get_a_new_key_and_old_videos_stay(tmp_path: Path, tiny_suite: Path, pattern_kind) -> None:
    out = tmp_path / "out"
    a = generate([pattern(tmp_path)], tiny_suite, out, seeds=1, settings=SMALL).keys["pat"]
    b = generate([pattern(tmp_path)], tiny_suite, out, seeds=1, settings=GenerationSettings(**{**SMALL.to_dict(), "steps": 2})).keys["pat"]
    c = generate([pattern(tmp_path, level=1)], tiny_suite, out, seeds=1, settings=SMALL).keys["pat"]
    assert len({a, b, c}) == 3
    for key in (a, b, c):
        assert len(list((out / "pat" / key / "seed0").glob("*.mp4"))) == 2


def test_an_interrupted_write_leaves_nothing_that_counts(tmp_path: Path, tiny_suite: Path, pattern_kind, monkeypatch) -> None:
    out = tmp_path / "out"
    model = pattern(tmp_path)
    real = gen.atomic_write_text

    def crash(path, text):
        if path.suffix == ".json" and path.name != "generation.json":
            raise KeyboardInterrupt  # killed between the video and its sidecar
        real(path, text)

    monkeypatch.setattr(gen, "atomic_write_text", crash)
    with pytest.raises(KeyboardInterrupt):
        generate([model], tiny_suite, out, seeds=1, settings=SMALL)
    monkeypatch.setattr(gen, "atomic_write_text", real)
    from cosmos_bench.owned import MANIFEST

    assert not [p for p in out.rglob("*") if p.name.startswith(".") and p.name != MANIFEST], "no temporary files may remain"
    report = generate([model], tiny_suite, out, seeds=1, settings=SMALL)
    assert report.count("generated") == 2, "a video without its sidecar is not a finished output"


def test_grid_suite_gets_one_grid_video(tmp_path: Path, pattern_kind) -> None:
    suite_dir = make_suite(tmp_path / "grid", names=("a",), manifest="views: [left, right]\nstorage: {kind: grid, grid: 1x2}\nsize: 16x16\nframes: 5\nfps: 4\n")
    suite = load_suite(suite_dir)
    settings = settings_for_suite(suite, steps=1)
    assert (settings.height, settings.width, settings.num_frames) == (16, 32, 5)
    report = generate([pattern(tmp_path, per_view=True)], suite, tmp_path / "out", seeds=1, settings=settings)
    side = json.loads(report.results[0].sidecar.read_text())
    assert side["files"] == {"left": "a.mp4", "right": "a.mp4"} and side["storage"] == {"kind": "grid", "grid": "1x2"}
    assert read_video(report.results[0].sidecar.with_suffix(".mp4")).frames.shape == (5, 16, 32, 3)
    views, _ = suite.read_views(report.results[0].sidecar.parent, "a")
    assert set(views) == {"left", "right"} and views["left"].shape == (5, 16, 16, 3)


def test_files_suite_gets_one_file_per_view_and_rejects_one_stream(tmp_path: Path, pattern_kind) -> None:
    suite_dir = make_suite(tmp_path / "files", names=("a",), manifest="views: [left, right]\nstorage: {kind: files}\n")
    settings = GenerationSettings(num_frames=5, height=16, width=32, steps=1, fps=4.0)
    ok = generate([pattern(tmp_path, per_view=True)], suite_dir, tmp_path / "out", seeds=1, settings=settings)
    assert sorted(p.name for p in ok.results[0].sidecar.parent.glob("*.mp4")) == ["a_left.mp4", "a_right.mp4"]
    bad = generate([pattern(tmp_path, name="one")], suite_dir, tmp_path / "out", seeds=1, settings=settings)
    assert bad.count("failed") == 1 and "must return {view: frames}" in bad.failed[0].error


def test_failures_are_recorded_and_the_rest_goes_on(tmp_path: Path, tiny_suite: Path, pattern_kind) -> None:
    model = pattern(tmp_path, fail_on="open_drawer")
    report = generate([model], tiny_suite, tmp_path / "out", seeds=2, settings=SMALL)
    assert report.count("generated") == 2 and report.count("failed") == 2
    assert report.failed[0].error == "RuntimeError: cannot generate open_drawer"
    with pytest.raises(RuntimeError):
        generate([model], tiny_suite, tmp_path / "out", seeds=2, settings=SMALL, raise_errors=True)


def test_limit_and_explicit_seeds(tmp_path: Path, tiny_suite: Path, pattern_kind) -> None:
    report = generate([pattern(tmp_path)], tiny_suite, tmp_path / "out", seeds=[3, 1], limit=1, settings=SMALL)
    assert [(r.item.sample, r.item.seed) for r in report.results] == [("open_drawer", 1), ("open_drawer", 3)]


def test_shards_partition_the_work(monkeypatch) -> None:
    full = plan(["base", "lora8"], ["b", "a", "c"], [0, 1, 2])
    assert [(i.model, i.sample, i.seed) for i in full[:4]] == [("base", "a", 0), ("base", "a", 1), ("base", "a", 2), ("base", "b", 0)]
    shards = [plan(["base", "lora8"], ["b", "a", "c"], [0, 1, 2], (i, 4)) for i in range(4)]
    indices = sorted(item.index for shard in shards for item in shard)
    assert indices == list(range(len(full))) and max(map(len, shards)) - min(map(len, shards)) <= 1
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "1", "a/b", "-1/2"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert parse_shard(None) == (1, 2)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert parse_shard(None) == (0, 1)


def _hashes(out: Path) -> dict[tuple, str]:
    return {(o.model, o.sample, o.seed): o.sidecar.content_sha256 for o in find_outputs(out)}


def test_two_processes_write_what_one_process_writes(tmp_path: Path, tiny_zoo: Path, tiny_suite: Path) -> None:
    """--shard 0/2 and a torchrun-style RANK=1/WORLD_SIZE=2 process together equal one process."""
    settings = GenerationSettings(**TINY)
    models = load_models("base,lora4", tiny_zoo)
    single = generate(models, tiny_suite, tmp_path / "single", seeds=2, settings=settings)
    assert single.count("generated") == 8

    cmd = [
        sys.executable, "-m", "cosmos_bench.cli", "generate", "--models", "base,lora4", "--suite", str(tiny_suite),
        "--out", str(tmp_path / "sharded"), "--seeds", "2", "--frames", "9", "--size", "32x48", "--steps", "2",
        "--fps", "8", "--models-file", str(tiny_zoo),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    procs = [
        subprocess.Popen(cmd + ["--shard", "0/2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
        subprocess.Popen(cmd, env={**env, "RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
    ]
    logs = [p.communicate(timeout=240)[0] for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log
    assert "shard 0/2" in logs[0] and "shard 1/2" in logs[1]
    assert "4 generated" in logs[0] and "4 generated" in logs[1]
    assert _hashes(tmp_path / "sharded") == _hashes(tmp_path / "single")
    assert len(set(_hashes(tmp_path / "single").values())) == 8


def test_a_retrained_adapter_regenerates_in_a_new_folder(tmp_path: Path, tiny_zoo: Path, tiny_suite: Path) -> None:
    import shutil

    from cosmos_bench.models.tiny import save_random_adapter

    adapter = tmp_path / "lora"
    shutil.copytree(tiny_zoo.parent / "adapters" / "lora4", adapter)
    yaml_path = tmp_path / "models.yaml"
    yaml_path.write_text(
        f"models:\n  base: {{kind: cosmos, model: {tiny_zoo.parent / 'base'}, safety_checker: none, dtype: float32, device: cpu}}\n"
        f"  mine: {{extends: base, adapter: lora}}\n"
    )
    settings = GenerationSettings(**TINY)
    first = generate(load_models("mine", yaml_path), tiny_suite, tmp_path / "out", seeds=1, limit=1, settings=settings)
    again = generate(load_models("mine", yaml_path), tiny_suite, tmp_path / "out", seeds=1, limit=1, settings=settings)
    assert again.count("skipped") == 1
    save_random_adapter(adapter, seed=77)  # the trainer wrote a new adapter under the same path
    third = generate(load_models("mine", yaml_path), tiny_suite, tmp_path / "out", seeds=1, limit=1, settings=settings)
    assert third.count("generated") == 1 and third.keys["mine"] != first.keys["mine"]
    old, new = (json.loads(r.sidecar.read_text()) for r in (first.results[0], third.results[0]))
    assert old["model_identity"]["adapter"]["sha256"] != new["model_identity"]["adapter"]["sha256"]
    assert old["content_sha256"] != new["content_sha256"] and first.results[0].sidecar.exists()


def _gate_first_write(monkeypatch, wait_seconds: float):
    """Make the first output's write wait until the second video starts generating; returns what the
    write saw (True: generation went on while it was writing)."""
    import threading

    second_started = threading.Event()
    seen: list[bool] = []
    real_write = gen.write_output

    def write(suite, directory, sample, video):
        if not seen:
            seen.append(second_started.wait(wait_seconds))
        return real_write(suite, directory, sample, video)

    monkeypatch.setattr(gen, "write_output", write)
    return second_started, seen


def test_videos_are_written_while_the_next_one_generates(tmp_path: Path, tiny_suite: Path, pattern_kind, monkeypatch) -> None:
    model = pattern(tmp_path)
    second_started, seen = _gate_first_write(monkeypatch, wait_seconds=30)
    real_generate = model.generate

    def generate_and_signal(request):
        if model.calls == 1:
            second_started.set()
        return real_generate(request)

    model.generate = generate_and_signal
    order = []
    report = generate([model], tiny_suite, tmp_path / "out", seeds=2, settings=SMALL, on_item=lambda r: order.append(r.item.index))
    assert seen == [True], "the first write must overlap the second generation"
    assert report.count("generated") == 4 and order == sorted(order) == [r.item.index for r in report.results]


def test_sequential_writes_give_the_same_files(tmp_path: Path, tiny_suite: Path, pattern_kind, monkeypatch) -> None:
    background = generate([pattern(tmp_path)], tiny_suite, tmp_path / "a", seeds=2, settings=SMALL)
    second_started, seen = _gate_first_write(monkeypatch, wait_seconds=0.2)
    sequential = generate([pattern(tmp_path)], tiny_suite, tmp_path / "b", seeds=2, settings=SMALL, background_writes=False)
    assert seen == [False], "without background writes the loop waits for each write"
    for a, b in zip(background.results, sequential.results):
        assert a.item == b.item and a.status == b.status == "generated"
        assert a.sidecar.with_suffix(".mp4").read_bytes() == b.sidecar.with_suffix(".mp4").read_bytes()


def test_a_failed_background_write_fails_only_its_item(tmp_path: Path, tiny_suite: Path, pattern_kind, monkeypatch) -> None:
    real_write = gen.write_output

    def write(suite, directory, sample, video):
        if sample == "open_drawer" and directory.name == "seed0":
            raise OSError("disk full")
        return real_write(suite, directory, sample, video)

    monkeypatch.setattr(gen, "write_output", write)
    report = generate([pattern(tmp_path)], tiny_suite, tmp_path / "out", seeds=2, settings=SMALL)
    assert [r.status for r in report.results] == ["failed", "generated", "generated", "generated"]  # open_drawer/0 is first
    assert report.failed[0].error == "OSError: disk full" and report.failed[0].item.seed == 0
    with pytest.raises(OSError, match="disk full"):
        generate([pattern(tmp_path)], tiny_suite, tmp_path / "again", seeds=2, settings=SMALL, raise_errors=True)


def test_an_interrupt_still_finishes_the_video_being_written(tmp_path: Path, tiny_suite: Path, pattern_kind) -> None:
    model = pattern(tmp_path)
    real_generate = model.generate

    def interrupted(request):
        if model.calls == 1:
            raise KeyboardInterrupt  # Ctrl-C while the second video generates
        return real_generate(request)

    model.generate = interrupted
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        generate([model], tiny_suite, out, seeds=2, settings=SMALL)
    assert len(find_outputs(out, "pat")) == 1, "the first video, generated before the interrupt, is kept"


def test_a_model_lock_is_held_around_each_call_and_its_wait_is_not_generation_time(tmp_path: Path, tiny_suite: Path,
                                                                                   pattern_kind, monkeypatch) -> None:
    """A Ray worker runs two generate() calls at once and serialises model calls with a lock; a sidecar's
    ``seconds`` (GPU time, summed for cost reports) must not include the wait for that lock."""
    clock = {"now": 0.0}
    monkeypatch.setattr(gen.time, "perf_counter", lambda: clock["now"])
    inside: list[bool] = []

    class SlowToGet:
        held = False

        def __enter__(self):
            clock["now"] += 100.0  # waiting for the other thread's video
            self.held = True

        def __exit__(self, *exc):
            self.held = False

    lock = SlowToGet()
    model = pattern(tmp_path)
    inner = model.generate

    def generate_and_look(request):
        inside.append(lock.held)
        clock["now"] += 2.0  # the model call itself
        return inner(request)

    model.generate = generate_and_look
    report = generate([model], tiny_suite, tmp_path / "out", seeds=1, settings=SMALL, model_lock=lock)
    assert inside and all(inside)  # every model call ran with the lock held
    assert [r.seconds for r in report.results] == [2.0] * len(report.results)
    sides = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("pat/*/seed0/*.json")]
    assert sides and {s["seconds"] for s in sides} == {2.0}
