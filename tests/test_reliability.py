"""Issue 15 (part A) through the real CLI: what enables the judge, exit codes, one-line errors, checks
before any work, escaped markup, file permissions. Suites are tiny synthetic ones (5 frames, 48x80)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.data.synthetic import SceneConfig
from cosmos_bench.data.synthetic_suite import write_synthetic_suite
from cosmos_bench.judge.fake_server import FakeJudgeServer, Reply
from cosmos_bench.results.store import ResultStore

SECRET = "sk-generic-openai-key-must-not-leave"
JUDGE_ENV = ("COSMOS_BENCH_JUDGE_URL", "COSMOS_BENCH_JUDGE_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY")


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rel")
    write_synthetic_suite(root / "suite", SceneConfig(frames=5, height=48, width=80, seed=1), samples=1, name="rel")
    return root / "suite"


@pytest.fixture
def bench(tmp_path: Path, suite: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in JUDGE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "empty").mkdir()
    (tmp_path / "models.yaml").write_text(
        "models:\n  base: {kind: synthetic}\n"
        f"  gone: {{kind: folder, path: {tmp_path / 'empty'}}}\n"  # every generation fails: no videos there
    )
    return tmp_path


@pytest.fixture
def server():
    with FakeJudgeServer(lambda req: Reply("<think>ok</think>\nScore: 4"), lifetime_s=120) as srv:
        yield srv


def run_cli(bench: Path, suite: Path, *args: str, models: str = "base", store: str = "s.sqlite"):
    cmd = ["run", "--models", models, "--suite", str(suite), "--models-file", str(bench / "models.yaml"), "--seeds", "1",
           "--out", str(bench / "videos"), "--store", str(bench / store), "--leaderboards", str(bench / "boards"), *args]
    return CliRunner().invoke(app, cmd)


# ------------------------------------------------------------------------------ 2: what enables the judge
def test_generic_openai_variables_do_not_enable_the_judge_in_run(bench, suite, server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    res = run_cli(bench, suite, "--metrics", "physics,if")
    assert res.exit_code == 0, res.output
    assert "judge: not run" in res.output
    assert server.seen == []  # not even GET /v1/models


def test_run_with_judge_url_sends_only_cosmos_bench_keys(bench, suite, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    res = run_cli(bench, suite, "--metrics", "physics", "--judge-url", server.base_url)
    assert res.exit_code == 0, res.output
    assert server.seen and all(auth != f"Bearer {SECRET}" for _, _, auth in server.seen)
    monkeypatch.setenv("COSMOS_BENCH_JUDGE_API_KEY", "k-own")
    monkeypatch.setenv("COSMOS_BENCH_JUDGE_URL", server.base_url)  # the own variable does enable it
    server.reset()
    res = run_cli(bench, suite, "--metrics", "physics", store="s2.sqlite")
    assert res.exit_code == 0, res.output
    assert server.seen and {auth for _, _, auth in server.seen} == {"Bearer k-own"}


def test_demo_gets_no_judge_from_generic_variables(bench, monkeypatch):
    """The demo builds its judge with the same rule; what it is handed is what it would contact."""
    import cosmos_bench.demo as demo

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    seen = {}

    def fake_run_demo(out, **kw):
        seen["judge"] = kw["judge"]
        raise SystemExit(0)

    monkeypatch.setattr(demo, "run_demo", fake_run_demo)
    CliRunner().invoke(app, ["demo", "--out", str(bench / "demo"), "--no-tiny-cosmos"])
    assert seen == {"judge": None}


def test_explicit_judge_command_honours_generic_variables_with_a_note(bench, server, monkeypatch, tmp_path):
    from cosmos_bench.data.video import write_video
    from tests.conftest import textured_clip

    video = write_video(tmp_path / "a.mp4", textured_clip(frames=5), fps=8)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    res = CliRunner().invoke(app, ["judge", str(video), "--no-cache"])
    assert res.exit_code == 0, res.output
    assert "using $OPENAI_BASE_URL" in res.output and "using $OPENAI_API_KEY" in res.output
    assert server.calls == 1 and server.requests[0].headers["authorization"] == f"Bearer {SECRET}"


# ------------------------------------------------------------------------------ 4: exit codes
def test_run_exits_1_when_every_generation_failed(bench, suite):
    res = run_cli(bench, suite, "--metrics", "tse", models="gone")
    assert res.exit_code == 1, res.output
    assert "1 failed" in res.output and "problem(s) in this run" in res.output
    assert "Traceback" not in res.output


def test_run_exits_1_when_the_given_judge_is_down_and_keeps_the_other_rows(bench, suite):
    res = run_cli(bench, suite, "--metrics", "tse,physics", "--judge-url", "http://127.0.0.1:9/v1")
    assert res.exit_code == 1, res.output
    assert "judge endpoint unavailable" in res.output
    with ResultStore(bench / "s.sqlite") as store:
        rows = store.rows()
    assert {r.metric: r.status for r in rows if r.metric == "tse"} == {"tse": "ok"}  # partial results kept
    assert [r.status for r in rows if r.metric == "physics"] == ["error"]


def test_run_exits_0_on_success(bench, suite):
    res = run_cli(bench, suite, "--metrics", "tse")
    assert res.exit_code == 0, res.output


# ------------------------------------------------------------------------------ 5: checks before any work
@pytest.mark.parametrize("args, message", [
    (["--frames", "0"], "--frames"),
    (["--steps", "0"], "--steps"),
    (["--backend", "cuda"], "'cuda' is not one of opencv, kornia"),
])
def test_bad_run_options_exit_2_before_any_work(bench, suite, args, message):
    res = run_cli(bench, suite, "--metrics", "tse", *args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert not (bench / "videos").exists()


def _not_sqlite(p: Path) -> None:
    p.write_text("just text\n")


def _other_sqlite(p: Path) -> None:
    with sqlite3.connect(p) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")


@pytest.mark.parametrize("make, message", [
    (Path.mkdir, "is a directory, not a results store"),
    (_not_sqlite, "not a SQLite file"),
    (_other_sqlite, "not a cosmos-bench results store (tables: photos)"),
])
def test_unusable_store_exits_2_with_one_line_before_any_work(bench, suite, make, message):
    make(bench / "store.sqlite")
    res = run_cli(bench, suite, "--metrics", "tse", store="store.sqlite")
    assert res.exit_code == 2, res.output
    assert message in res.output and str(bench / "store.sqlite") in " ".join(res.output.split())
    assert "Traceback" not in res.output
    assert not (bench / "videos").exists()  # found before generating


def test_store_under_a_file_exits_2(bench, suite):
    (bench / "plain").write_text("x")
    res = run_cli(bench, suite, "--metrics", "tse", store="plain/results.sqlite")
    assert res.exit_code == 2, res.output
    assert "is a file, not a folder" in res.output


def test_read_only_store_is_refused_before_work(bench, suite, monkeypatch):
    """Root ignores file modes, so the read-only store is simulated at the permission check itself."""
    from cosmos_bench.results import store_check

    ResultStore(bench / "ro.sqlite").close()
    real_access = os.access
    monkeypatch.setattr(store_check.os, "access",
                        lambda p, mode: False if Path(p) == bench / "ro.sqlite" and mode & os.W_OK else real_access(p, mode))
    res = run_cli(bench, suite, "--metrics", "tse", store="ro.sqlite")
    assert res.exit_code == 2, res.output
    assert "results store is read-only" in res.output
    assert not (bench / "videos").exists()


@pytest.mark.parametrize("args, message", [
    (["--camera-motion", "spin"], "'spin' is not one of orbit, static"),
    (["--object-motion", "fly"], "'fly' is not one of none, translate"),
    (["--storage", "zip"], "'zip' is not one of grid, files"),
    (["--fps", "0"], "must be greater than 0"),
])
def test_data_synth_checks_its_options(tmp_path, args, message):
    res = CliRunner().invoke(app, ["data", "synth", "--out", str(tmp_path / "s"), "--frames", "3", *args])
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split())
    assert not (tmp_path / "s").exists()


def test_metrics_json_target_is_checked_before_measuring(tmp_path):
    res = CliRunner().invoke(app, ["metrics", str(tmp_path / "missing.mp4"), "--json", str(tmp_path)])
    assert res.exit_code == 2, res.output
    assert "is a folder" in " ".join(res.output.split())


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(bench, suite, monkeypatch):
    import cosmos_bench.runner as runner

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runner, "load_suite", boom)
    res = run_cli(bench, suite, "--metrics", "tse")
    assert res.exit_code == 4, res.output
    assert "RuntimeError: disk on fire" in res.output and "--debug" in res.output and "Traceback" not in res.output
    debug = CliRunner().invoke(app, ["--debug", "run", "--models", "base", "--suite", str(suite), "--models-file",
                                     str(bench / "models.yaml"), "--store", str(bench / "d.sqlite")])
    assert isinstance(debug.exception, RuntimeError)  # re-raised: python prints the full traceback


def test_failed_generation_logs_one_line_not_a_traceback(bench, suite, caplog):
    with caplog.at_level("DEBUG", logger="cosmos_bench"):
        run_cli(bench, suite, "--metrics", "tse", models="gone")
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and all("\n" not in r.getMessage() for r in errors)
    assert any("Traceback" in r.getMessage() for r in caplog.records if r.levelname == "DEBUG")  # for --debug


# ------------------------------------------------------------------------------ 7: markup escaped
def test_user_supplied_names_are_printed_verbatim(tmp_path):
    res = CliRunner().invoke(app, ["metrics", str(tmp_path / "clip[red].mp4")])
    assert res.exit_code == 1
    assert "clip[red].mp4" in res.output


def test_yaml_parse_errors_keep_their_text(bench, suite):
    (bench / "models.yaml").write_text("models: {a: [b] c}\n")  # rich used to eat the quoted "[b]"
    res = run_cli(bench, suite, "--metrics", "tse")
    assert res.exit_code == 2, res.output
    assert "models: {a: [b] c}" in res.output
    assert str(bench / "models.yaml") in " ".join(res.output.split())


# ------------------------------------------------------------------------------ 9: permissions follow the umask
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_atomic_files_get_the_umask_permissions(tmp_path, umask, mode):
    from cosmos_bench.atomic import atomic_write_text

    old = os.umask(umask)
    try:
        path = atomic_write_text(tmp_path / "out.txt", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


# ------------------------------------------------------------------------------ 9: progress off a terminal
def test_progress_is_printed_as_plain_lines_when_not_a_terminal(bench, suite):
    res = run_cli(bench, suite, "--metrics", "tse")  # CliRunner's output is not a terminal
    assert res.exit_code == 0, res.output
    assert "generate: 1 to do" in res.output and "generate: 1/1 (generated 1)" in res.output
    assert "metrics: 1/1 (ok 1)" in res.output


# ------------------------------------------------------------------------------ 9: messages that name the right thing
def test_non_utf8_samples_csv_names_the_file(tmp_path):
    bad = tmp_path / "base.samples.csv"
    bad.write_bytes(b"suite,model\n\xff\xfe broken\n")
    res = CliRunner().invoke(app, ["check", "--baseline", str(bad), "--candidate", "base"])
    assert res.exit_code == 2, res.output
    assert str(bad) in " ".join(res.output.split()) and "not UTF-8" in res.output


def test_check_with_an_unknown_candidate_talks_about_the_candidate(bench, suite):
    assert run_cli(bench, suite, "--metrics", "tse").exit_code == 0
    res = CliRunner().invoke(app, ["check", "--baseline", str(bench / "boards" / "rel.samples.csv"), "--candidate", "nosuch",
                                   "--store", str(bench / "s.sqlite")])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "no rows for candidate 'nosuch'" in text and "models there: ['base']" in text and "baseline" not in text


@pytest.mark.parametrize("entry, problem", [
    ("{kind: cosmoss}", "unknown world-model kind 'cosmoss'"),
    ("{kind: cosmos, model: nvidia/x, adapter: no_such_adapter}", "adapter not found"),
])
def test_model_errors_name_the_yaml_and_the_model(bench, suite, entry, problem):
    (bench / "models.yaml").write_text(f"models:\n  mine: {entry}\n")
    res = run_cli(bench, suite, "--metrics", "tse", models="mine")
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert f"{bench / 'models.yaml'}: model 'mine'" in text and problem in text


def test_data_check_of_a_file_says_it_is_a_file(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("prompt")
    res = CliRunner().invoke(app, ["data", "check", str(f)])
    assert res.exit_code == 2 and "is a file" in res.output and "not found" not in res.output


def test_metrics_plot_prints_the_path_it_wrote(bench, suite, monkeypatch):
    monkeypatch.chdir(bench)
    assert run_cli(bench, suite, "--metrics", "tse").exit_code == 0
    (video,) = (bench / "videos" / "base").glob("*/seed0/*.mp4")
    res = CliRunner().invoke(app, ["metrics", str(video), "--grid", "1x2", "--plot", "perframe"])
    assert res.exit_code == 0, res.output
    assert (bench / "perframe.png").is_file() and "wrote perframe.png" in res.output


def test_no_chart_for_a_metric_nothing_was_scored_on(bench, suite):
    res = run_cli(bench, suite, "--metrics", "tse,physics", "--judge-url", "http://127.0.0.1:9/v1")
    assert res.exit_code == 1  # the judge is down: every physics row is an error
    assert (bench / "boards" / "rel.tse.png").is_file()
    assert not (bench / "boards" / "rel.physics.png").exists()


def test_leaderboard_refuses_a_store_that_is_not_one(tmp_path):
    (tmp_path / "notes.sqlite").write_text("hello")
    res = CliRunner().invoke(app, ["leaderboard", "--store", str(tmp_path / "notes.sqlite"), "--out", str(tmp_path / "b")])
    assert res.exit_code == 2, res.output
    assert "not a SQLite file" in res.output and not (tmp_path / "b").exists()
    res = CliRunner().invoke(app, ["leaderboard", "--store", str(tmp_path / "none.sqlite")])
    assert res.exit_code == 2 and "results store not found" in res.output


def test_saving_the_tiny_pipeline_prints_no_progress_bar(tmp_path, capfd, one_torch_thread):
    from transformers.utils import logging as transformers_logging

    from cosmos_bench.models.tiny import save_tiny_cosmos_pipeline

    save_tiny_cosmos_pipeline(tmp_path / "tiny")
    captured = capfd.readouterr()
    assert "Writing model shards" not in captured.err + captured.out
    assert transformers_logging.is_progress_bar_enabled()  # the caller's setting is restored


# ------------------------------------------------------------------------------ issue 30, 6: checks up front
def test_a_judge_url_that_is_not_a_url_is_exit_2_before_any_work(bench, suite):
    res = run_cli(bench, suite, "--metrics", "tse,physics", "--judge-url", "notaurl")
    assert res.exit_code == 2, res.output
    assert "--judge-url: 'notaurl' is not an http(s)://host[:port]/... URL" in " ".join(res.output.split())
    assert not (bench / "videos").exists() and not (bench / "s.sqlite").exists()  # nothing generated or stored
    res = run_cli(bench, suite, "--metrics", "physics", "--judge-url", "http://127.0.0.1:99999/v1")
    assert res.exit_code == 2 and "is not a URL" in res.output, res.output


def test_metrics_json_under_an_uncreatable_folder_is_exit_2_before_measuring(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    res = CliRunner().invoke(app, ["metrics", str(tmp_path / "missing.mp4"), "--json", "/proc/nope/x.json"])
    assert res.exit_code == 2, res.output
    assert "cannot create files under /proc" in " ".join(res.output.split())


@pytest.mark.parametrize("message", ["disk I/O error", "database or disk is full"])
def test_a_store_on_a_refusing_disk_is_named_as_such_with_exit_4(bench, suite, monkeypatch, message):
    import sqlite3

    from cosmos_bench.results import store_check

    store = bench / "s.sqlite"
    sqlite3.connect(store).close()  # an existing (empty) SQLite file
    store.write_bytes(store.read_bytes() or b"SQLite format 3\x00" + bytes(84))

    def refusing(*args, **kwargs):  # what sqlite3 raises when the disk under the file fails or is full
        raise sqlite3.OperationalError(message)

    monkeypatch.setattr(store_check.sqlite3, "connect", refusing)
    res = run_cli(bench, suite, "--metrics", "tse")
    assert res.exit_code == 4, res.output
    assert f"the disk refused the results store ({message})" in " ".join(res.output.split())
    assert not (bench / "videos").exists()


# ------------------------------------------------------------------------------ issue 30, 7: smaller
def test_a_folder_layout_leaving_its_path_is_refused(bench, suite):
    (bench / "models.yaml").write_text(f"models:\n  up: {{kind: folder, path: {bench / 'empty'}, layout: '../../{{seed}}'}}\n")
    res = run_cli(bench, suite, "--metrics", "tse", models="up")
    assert res.exit_code == 2, res.output
    assert "layout '../../{seed}' must be a relative folder inside 'path'" in " ".join(res.output.split())


def test_data_check_reports_links_that_leave_the_suite(tmp_path):
    write_synthetic_suite(tmp_path / "s", SceneConfig(frames=5, height=48, width=80, seed=1), samples=1, name="s")
    (tmp_path / "secret.txt").write_text("outside")
    (tmp_path / "s" / "scene_000.txt").unlink()
    (tmp_path / "s" / "scene_000.txt").symlink_to(tmp_path / "secret.txt")
    res = CliRunner().invoke(app, ["data", "check", str(tmp_path / "s")], env={"COLUMNS": "250"})
    assert res.exit_code == 1, res.output
    assert "link leaves the suite" in res.output and "secret.txt" in res.output


def test_samples_csv_neutralises_formulas_and_reads_them_back(tmp_path):
    import csv

    from cosmos_bench.results.leaderboard import read_samples_csv, samples_csv
    from cosmos_bench.results.store import ResultRow

    names = ['=HYPERLINK("http://evil.example","x")', "+1", "-cmd", "@SUM(A1)", "'quoted", "plain"]
    rows = [ResultRow(suite="s", model="m", generation_key="k", sample=n, seed=0, metric="tse", metric_version="v",
                      direction="lower", value=-0.5, status="ok", reason=None, details={}, provenance={})
            for n in names]
    path = tmp_path / "s.samples.csv"
    path.write_text(samples_csv(rows))
    cells = [c for rec in csv.reader(path.open()) for c in rec]
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c.startswith("-") and c != "-0.5")], cells
    back = read_samples_csv(path)
    assert sorted(r.sample for r in back) == sorted(names) and all(r.value == -0.5 for r in back)
