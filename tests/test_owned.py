"""Output folders are owned (issue 30, 1): a command replaces or removes only files it wrote itself,
and refuses a non-empty folder that holds no earlier output of its kind (exit 2, nothing written)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.owned import MANIFEST, FolderNotOursError, OwnedFolder


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def test_a_rewrite_removes_only_its_own_stale_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = OwnedFolder.adopt(out, "report")
    for name in ("index.html", "rows/00000.js", "rows/00001.js"):
        first.target(name).parent.mkdir(parents=True, exist_ok=True)
        first.target(name).write_text("1")
    assert first.finish() == [] and first.describe([]) is None
    (out / "rows" / "app.js").write_text("user")  # not the report's: must survive every rewrite
    second = OwnedFolder.adopt(out, "report")
    for name in ("index.html", "rows/00000.js"):
        second.target(name).write_text("2")
    stale = second.finish()
    assert stale == ["rows/00001.js"] and files(out) == ["index.html", "rows/00000.js", "rows/app.js"]
    assert second.describe(stale) == f"{out}: replaced 2 file(s) of the earlier report output, removed 1 of its files that are no longer part of it"


def test_scopes_of_one_folder_are_replaced_apart(tmp_path: Path) -> None:
    a = OwnedFolder.adopt(tmp_path / "b", "leaderboards", "suite-a")
    a.target("suite-a.md").write_text("a")
    a.finish()
    b = OwnedFolder.adopt(tmp_path / "b", "leaderboards", "suite-b")
    b.target("suite-b.md").write_text("b")
    assert b.finish() == [] and files(tmp_path / "b") == ["suite-a.md", "suite-b.md"]


@pytest.mark.parametrize("kind, recognise, ok", [("report", None, False), ("leaderboards", None, False),
                                                 ("report", lambda f: True, True)])
def test_a_foreign_folder_is_refused_unless_recognised(tmp_path: Path, kind, recognise, ok) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"x")
    kw = {"recognise": recognise} if recognise else {}
    if ok:
        OwnedFolder.adopt(tmp_path, kind, **kw).finish()
        assert (tmp_path / MANIFEST).is_file()
    else:
        with pytest.raises(FolderNotOursError, match=f"holds no earlier {kind} output"):
            OwnedFolder.adopt(tmp_path, kind, **kw)
        assert not (tmp_path / MANIFEST).exists()


def test_another_kinds_folder_is_refused(tmp_path: Path) -> None:
    OwnedFolder.adopt(tmp_path, "videos").finish()
    with pytest.raises(FolderNotOursError, match="holds videos output, not report"):
        OwnedFolder.adopt(tmp_path, "report")


def foreign(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "tiny.md").write_text("my notes")  # even a name a leaderboard would write is not overwritten
    return folder


def test_leaderboard_refuses_a_foreign_folder_before_computing(tmp_path: Path) -> None:
    from cosmos_bench.results.store import ResultStore

    ResultStore(tmp_path / "s.sqlite").close()
    res = CliRunner().invoke(app, ["leaderboard", "--store", str(tmp_path / "s.sqlite"), "--out", str(foreign(tmp_path))])
    assert res.exit_code == 2 and "holds no earlier leaderboards output" in " ".join(res.output.split()), res.output
    assert (tmp_path / "mine" / "tiny.md").read_text() == "my notes" and files(tmp_path / "mine") == ["tiny.md"]


def test_generate_and_run_refuse_a_foreign_out_folder(tmp_path: Path) -> None:
    from cosmos_bench.data.synthetic import SceneConfig
    from cosmos_bench.data.synthetic_suite import write_synthetic_suite

    write_synthetic_suite(tmp_path / "suite", SceneConfig(frames=5, height=48, width=80, seed=1), samples=1, name="tiny")
    (tmp_path / "models.yaml").write_text("models:\n  base: {kind: synthetic}\n")
    common = ["--models", "base", "--suite", str(tmp_path / "suite"), "--models-file", str(tmp_path / "models.yaml"),
              "--seeds", "1"]
    gen = CliRunner().invoke(app, ["generate", *common, "--out", str(foreign(tmp_path))])
    assert gen.exit_code == 2 and "--out:" in gen.output and "holds no earlier videos output" in " ".join(gen.output.split())
    run = CliRunner().invoke(app, ["run", *common, "--metrics", "tse", "--out", str(tmp_path / "v"), "--store",
                                   str(tmp_path / "s.sqlite"), "--leaderboards", str(tmp_path / "mine")])
    assert run.exit_code == 2 and "--leaderboards:" in run.output, run.output
    assert not (tmp_path / "v").exists() and not (tmp_path / "s.sqlite").exists()  # refused before any work
    assert files(tmp_path / "mine") == ["tiny.md"]


def test_demo_refuses_a_foreign_folder(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["demo", "--out", str(foreign(tmp_path)), "--no-tiny-cosmos"])
    assert res.exit_code == 2 and "holds no earlier demo output" in " ".join(res.output.split()), res.output
    assert files(tmp_path / "mine") == ["tiny.md"]


def test_run_refuses_a_foreign_report_folder_before_any_work(tmp_path: Path) -> None:
    from cosmos_bench.data.synthetic import SceneConfig
    from cosmos_bench.data.synthetic_suite import write_synthetic_suite

    write_synthetic_suite(tmp_path / "suite", SceneConfig(frames=5, height=48, width=80, seed=1), samples=1, name="tiny")
    (tmp_path / "models.yaml").write_text("models:\n  base: {kind: synthetic}\n")
    OwnedFolder.adopt(tmp_path / "boards", "leaderboards").finish()  # the leaderboards' own folder...
    (tmp_path / "boards" / "tiny.report").mkdir(parents=True)  # ...holding a report folder that is not a report's
    (tmp_path / "boards" / "tiny.report" / "notes.txt").write_text("mine")
    res = CliRunner().invoke(app, ["run", "--models", "base", "--suite", str(tmp_path / "suite"), "--models-file",
                                   str(tmp_path / "models.yaml"), "--seeds", "1", "--metrics", "tse", "--out",
                                   str(tmp_path / "v"), "--store", str(tmp_path / "s.sqlite"), "--leaderboards",
                                   str(tmp_path / "boards")], env={"COLUMNS": "250"})
    assert res.exit_code == 2 and "tiny.report: not empty and holds no earlier report output" in res.output, res.output
    assert not (tmp_path / "v").exists() and files(tmp_path / "boards") == ["tiny.report/notes.txt"]
