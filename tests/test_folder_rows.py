"""A ``kind: folder`` video whose content changed gets new rows: the issue's two replacements, end to end.

The folder's videos are part of its generation key, so a warped or a shortened replacement is scored
anew by ``run`` (and ``rescore`` over the same outputs keeps the new rows), while the leaderboard shows
the new numbers, never the old score beside the new video.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cosmos_bench.data.synthetic import SceneConfig
from cosmos_bench.data.synthetic_suite import write_synthetic_suite
from cosmos_bench.results.store import ResultStore
from cosmos_bench.runner import RunConfig, rescore, run

SCENE = SceneConfig(views=1, frames=9, height=96, width=160, seed=5)


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    write_synthetic_suite(tmp_path / "suite", SCENE, samples=1, name="one")
    write_synthetic_suite(tmp_path / "warped", SCENE, samples=1, degradations=["elastic:4"], name="warped")
    write_synthetic_suite(tmp_path / "short", SceneConfig(views=1, frames=5, height=96, width=160, seed=5), samples=1, name="short")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    shutil.copy2(tmp_path / "suite" / "videos" / "scene_000.mp4", theirs / "scene_000.mp4")
    (tmp_path / "models.yaml").write_text(f"models:\n  ext: {{kind: folder, path: {theirs}, layout: ''}}\n")
    return tmp_path


def _cfg(root: Path) -> RunConfig:
    return RunConfig(models=["ext"], suite=root / "suite", models_file=root / "models.yaml", metrics=["tse"], seeds=1,
                     out=root / "out", store=root / "s.sqlite", leaderboards=root / "boards", report=False)


def _tse(root: Path) -> list:
    with ResultStore(root / "s.sqlite") as store:
        return sorted(store.rows(model="ext", metric="tse"), key=lambda r: r.created_at)


def test_a_replaced_folder_video_gets_new_rows_and_the_board_shows_them(bench: Path) -> None:
    first = run(_cfg(bench))
    (original,) = _tse(bench)
    assert original.status == "ok" and first.rows_written >= 1

    shutil.copy2(bench / "warped" / "videos" / "scene_000.mp4", bench / "theirs" / "scene_000.mp4")
    second = run(_cfg(bench))
    assert second.generation["generated"] == 1 and second.rows_written >= 1
    old, new = _tse(bench)
    assert old == original, "the earlier row is kept"
    assert new.generation_key != old.generation_key and new.status == "ok"
    assert new.provenance["content_sha256"] != old.provenance["content_sha256"]
    assert new.value > old.value  # a 4 px elastic warp raises the temporal Sampson error
    assert second.leaderboard.summaries[("ext", "tse")].mean == pytest.approx(new.value)
    again = rescore(_cfg(bench))
    assert again.rows_written == 0 and again.leaderboard.summaries[("ext", "tse")].mean == pytest.approx(new.value)

    shutil.copy2(bench / "short" / "videos" / "scene_000.mp4", bench / "theirs" / "scene_000.mp4")  # 5 frames, suite says 9
    third = run(_cfg(bench))
    latest = _tse(bench)[-1]
    assert len(_tse(bench)) == 3 and latest.status == "error" and "frames" in latest.reason
    assert third.leaderboard.summaries[("ext", "tse")].n_error == 1


class PromptShade:
    """A world model whose frames depend on the prompt: an edited prompt regenerates the video in place."""

    kind = "prompt-shade"
    uses_settings = True

    def __init__(self, spec):
        self.name = spec.name

    def identity(self):
        return {"kind": self.kind}

    def generate(self, request):
        import numpy as np

        from cosmos_bench.models.base import GeneratedVideo

        rng = np.random.default_rng([len(request.prompt), request.seed])
        frames = rng.integers(0, 256, size=(request.num_frames, request.height, request.width, 3), dtype=np.uint8)
        return GeneratedVideo(frames=frames, fps=request.fps)


def test_a_video_regenerated_under_its_key_is_reported_not_passed_off(bench: Path) -> None:
    from cosmos_bench.models.base import register_kind, unregister_kind

    register_kind("prompt-shade", PromptShade)
    try:
        (bench / "models.yaml").write_text("models:\n  shade: {kind: prompt-shade}\n")
        cfg = RunConfig(models=["shade"], suite=bench / "suite", models_file=bench / "models.yaml", metrics=["tse"],
                        seeds=1, out=bench / "out", store=bench / "s.sqlite", leaderboards=None)
        first = run(cfg)
        assert not first.errors
        prompt = bench / "suite" / "scene_000.txt"
        prompt.write_text(prompt.read_text() + " Slowly.\n")  # new input: the video is regenerated in place
        second = run(cfg)
        assert second.generation["generated"] == 1
        assert any("shade/scene_000/seed0: the video changed after it was scored" in e for e in second.errors), second.errors
        again = rescore(cfg)
        assert any("the video changed after it was scored" in e for e in again.errors)
    finally:
        unregister_kind("prompt-shade")
