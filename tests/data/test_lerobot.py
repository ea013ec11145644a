"""LeRobot datasets as suites: a small v2.1 and v3.0 dataset written here, imported, then run as a suite.

The datasets follow the published layout (meta/info.json, episode metadata, data/*.parquet written with
pyarrow, videos per camera); their camera streams are rendered synthetic scenes, so the imported suite's
first frames can be checked against the frames that went in, and a run scores real geometry.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.data.layout import list_test_pairs, read_image
from cosmos_bench.data.lerobot import LeRobotError, import_lerobot, parse_episodes, read_lerobot
from cosmos_bench.data.suite import load_suite
from cosmos_bench.data.synthetic import SceneConfig, render_clip
from cosmos_bench.data.video import split_grid, write_video

FPS, FRAMES = 16, 9
CAMERAS = ("observation.images.left", "observation.images.right")
TASKS = {0: "pick up the red cube", 1: "open the drawer", 2: "push the cup"}
runner = CliRunner(env={"COLUMNS": "220"})


def _clips() -> dict[int, dict[str, np.ndarray]]:
    """Per episode, per camera key: its frames (a synthetic two-camera scene, one seed per episode)."""
    out = {}
    for ep in TASKS:
        clip = render_clip(SceneConfig(views=("left", "right"), frames=FRAMES, height=96, width=160, seed=10 + ep))
        out[ep] = {key: clip.views[key.rsplit(".", 1)[1]] for key in CAMERAS}
    return out


def _info(version: str, data_path: str, video_path: str) -> dict:
    features = {key: {"dtype": "video", "shape": [96, 160, 3], "names": ["height", "width", "channels"]} for key in CAMERAS}
    features.update({"action": {"dtype": "float32", "shape": [2]}, "episode_index": {"dtype": "int64", "shape": [1]}})
    return {"codebase_version": version, "robot_type": "test", "fps": FPS, "total_episodes": len(TASKS),
            "chunks_size": 1000, "data_path": data_path, "video_path": video_path, "features": features,
            "splits": {"train": "0:2", "test": "2:3"}}


def _data_table(episodes: list[int]) -> pa.Table:
    rows = [{"episode_index": ep, "frame_index": i, "timestamp": i / FPS, "task_index": ep, "action": [0.0, 0.0]}
            for ep in episodes for i in range(FRAMES)]
    return pa.Table.from_pylist(rows)


def write_v21(root: Path, clips) -> Path:
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(_info(
        "v2.1", "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4")))
    (root / "meta" / "episodes.jsonl").write_text("".join(
        json.dumps({"episode_index": ep, "tasks": [task], "length": FRAMES}) + "\n" for ep, task in TASKS.items()))
    (root / "meta" / "tasks.jsonl").write_text("".join(json.dumps({"task_index": ep, "task": t}) + "\n" for ep, t in TASKS.items()))
    for ep in TASKS:
        (root / "data" / "chunk-000").mkdir(parents=True, exist_ok=True)
        pq.write_table(_data_table([ep]), root / "data" / "chunk-000" / f"episode_{ep:06d}.parquet")
        for key in CAMERAS:
            write_video(root / "videos" / "chunk-000" / key / f"episode_{ep:06d}.mp4", clips[ep][key], FPS)
    return root


def write_v3(root: Path, clips) -> Path:
    """All episodes in one file per camera; each episode starts at its from_timestamp."""
    (root / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(_info(
        "v3.0", "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4")))
    records = []
    for ep, task in TASKS.items():
        rec = {"episode_index": ep, "tasks": [task], "length": FRAMES, "data/chunk_index": 0, "data/file_index": 0,
               "dataset_from_index": ep * FRAMES, "dataset_to_index": (ep + 1) * FRAMES}
        for key in CAMERAS:
            rec.update({f"videos/{key}/chunk_index": 0, f"videos/{key}/file_index": 0,
                        f"videos/{key}/from_timestamp": ep * FRAMES / FPS, f"videos/{key}/to_timestamp": (ep + 1) * FRAMES / FPS})
        records.append(rec)
    pq.write_table(pa.Table.from_pylist(records), root / "meta" / "episodes" / "chunk-000" / "file-000.parquet")
    pq.write_table(pa.table({"task_index": list(TASKS)}, ), root / "meta" / "tasks.parquet")
    (root / "data" / "chunk-000").mkdir(parents=True)
    pq.write_table(_data_table(list(TASKS)), root / "data" / "chunk-000" / "file-000.parquet")
    for key in CAMERAS:
        stream = np.concatenate([clips[ep][key] for ep in TASKS])
        write_video(root / "videos" / key / "chunk-000" / "file-000.mp4", stream, FPS)
    return root


@pytest.fixture(scope="module")
def clips():
    return _clips()


@pytest.mark.parametrize("writer", [write_v21, write_v3], ids=["v2.1", "v3.0"])
def test_episodes_become_test_pairs_with_their_task_first_frame_and_cameras(tmp_path: Path, clips, writer) -> None:
    ds = writer(tmp_path / "ds", clips)
    suite = import_lerobot(ds, tmp_path / "suite", episodes="1-2")
    loaded = load_suite(tmp_path / "suite")
    assert loaded.views == ["left", "right"] and loaded.storage.kind == "grid" and (loaded.storage.rows, loaded.storage.cols) == (1, 2)
    assert loaded.frames == FRAMES and loaded.fps == FPS and loaded.size == (96, 160)
    pairs = {p.name: p for p in list_test_pairs(suite.root)}
    assert sorted(pairs) == ["episode_000001", "episode_000002"]
    for ep in (1, 2):
        pair = pairs[f"episode_{ep:06d}"]
        assert pair.prompt() == TASKS[ep]
        views = split_grid(read_image(pair.image_path)[None], 1, 2, ["left", "right"])
        for view, key in zip(("left", "right"), CAMERAS):
            mine = np.abs(views[view][0].astype(int) - clips[ep][key][0].astype(int)).mean()
            other = np.abs(views[view][0].astype(int) - clips[0][key][0].astype(int)).mean()
            assert mine < 6 < other, (ep, view, mine, other)  # this episode's first frame (up to H.264), not another's
        refs, _ = loaded.read_views(loaded.videos_dir, pair.name)
        assert refs["left"].shape == (FRAMES, 96, 160, 3)


def test_split_cameras_and_bad_choices(tmp_path: Path, clips) -> None:
    ds = write_v3(tmp_path / "ds", clips)
    suite = import_lerobot(ds, tmp_path / "s1", split="test", cameras=["right"], frames=5)
    assert [p.name for p in list_test_pairs(suite.root)] == ["episode_000002"]
    assert suite.views == ["right"] and suite.storage.kind == "single" and suite.frames == 5
    assert read_lerobot(ds).version == "v3.0"
    with pytest.raises(LeRobotError, match="no split 'val'"):
        import_lerobot(ds, tmp_path / "s2", split="val")
    with pytest.raises(LeRobotError, match=r"no episode\(s\) \[7\]"):
        import_lerobot(ds, tmp_path / "s3", episodes="7")
    with pytest.raises(LeRobotError, match="not in the dataset's cameras"):
        import_lerobot(ds, tmp_path / "s4", cameras=["wrist"])
    with pytest.raises(LeRobotError, match="not an episode index"):
        parse_episodes("1-x")
    with pytest.raises(LeRobotError, match="meta/info.json: not found"):
        read_lerobot(tmp_path)
    with pytest.raises(ValueError, match="a LeRobot dataset, not a suite; .*import-lerobot"):
        load_suite(ds)


def test_an_imported_dataset_runs_as_a_suite(tmp_path: Path, clips) -> None:
    """CLI import, then `run` scores the dataset's own videos (a folder model over the suite's references)."""
    ds = write_v21(tmp_path / "ds", clips)
    result = runner.invoke(app, ["data", "import-lerobot", str(ds), "--out", str(tmp_path / "suite"), "--split", "train"])
    assert result.exit_code == 0, result.output
    (tmp_path / "models.yaml").write_text(f"models:\n  recorded: {{kind: folder, path: {tmp_path / 'suite' / 'videos'}, layout: ''}}\n")
    result = runner.invoke(app, ["run", "--models", "recorded", "--suite", str(tmp_path / "suite"), "--models-file",
                                 str(tmp_path / "models.yaml"), "--metrics", "tse,cse", "--seeds", "1", "--out",
                                 str(tmp_path / "out"), "--store", str(tmp_path / "s.sqlite"), "--leaderboards",
                                 str(tmp_path / "boards")])
    assert result.exit_code == 0, result.output
    from cosmos_bench.results.store import ResultStore

    with ResultStore(tmp_path / "s.sqlite") as store:
        rows = store.rows(model="recorded", metric="tse") + store.rows(model="recorded", metric="cse")
    assert len(rows) == 4 and all(r.status == "ok" for r in rows), [(r.status, r.reason) for r in rows]
    assert {r.sample for r in rows} == {"episode_000000", "episode_000001"}
