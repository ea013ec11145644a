"""Interruptions at forced points (issue 30, items 3 and 8): kill -9, SIGTERM and SIGINT, reused PIDs.

Every interrupted run is stopped at a named point of its work (``tests/faults.py``: the child waits
there until the test acts), so what each test sees does not depend on timing. The suite is tiny
(2 test pairs x 2 seeds, 5 frames of 48x80 per view, 2 views) and the judge a scripted local server.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_bench.cli import app
from cosmos_bench.data.synthetic import SceneConfig
from cosmos_bench.data.synthetic_suite import write_synthetic_suite
from cosmos_bench.judge.fake_server import FakeJudgeServer, Reply
from cosmos_bench.owned import MANIFEST
from cosmos_bench.results.claims import new_owner, owner_is_gone
from cosmos_bench.results.store import ResultStore
from tests.faults import start_stopped

ROWS = 2 * 2 * (5 + 1)  # videos x (tse, cse, their companions incl. motion, physics)


@pytest.fixture(scope="module")
def judge():
    with FakeJudgeServer(lambda req: Reply("<think>fine</think>\nScore: 4"), lifetime_s=900) as server:
        yield server


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faults")
    write_synthetic_suite(root / "suite", SceneConfig(frames=5, height=48, width=80, seed=2), samples=2, name="faults")
    (root / "models.yaml").write_text("models:\n  base: {kind: synthetic}\n")
    return root


def cli_args(suite: Path, root: Path, judge: FakeJudgeServer) -> list[str]:
    return ["run", "--models", "base", "--suite", str(suite / "suite"), "--models-file", str(suite / "models.yaml"),
            "--metrics", "tse,cse,physics", "--seeds", "2", "--out", str(root / "videos"), "--store", str(root / "s.sqlite"),
            "--leaderboards", str(root / "boards"), "--judge-url", judge.base_url]


@pytest.fixture(scope="module")
def reference(suite: Path, judge, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("uninterrupted")
    res = CliRunner().invoke(app, cli_args(suite, root, judge))
    assert res.exit_code == 0, res.output
    return root


def stored(root: Path) -> tuple[dict, dict]:
    with ResultStore(root / "s.sqlite") as store:
        return {r.key: (r.status, r.value) for r in store.rows()}, store.claims()


def videos(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root / "videos").as_posix(): p.read_bytes() for p in (root / "videos").rglob("*.mp4")}


def leftovers(root: Path) -> list[str]:
    return [p.name for p in root.rglob(".*") if p.name != MANIFEST]


@pytest.mark.parametrize("point, nth", [("claim", 3), ("video-write", 2), ("geometry", 3), ("commit", 2), ("judge", 1)])
def test_kill_9_at_every_stage_then_resume_equals_an_uninterrupted_run(suite, judge, reference, tmp_path, point, nth):
    stopped = start_stopped(point, nth, cli_args(suite, tmp_path, judge), tmp_path / "stopped")
    assert stopped.kill() == -signal.SIGKILL
    resumed = CliRunner().invoke(app, cli_args(suite, tmp_path, judge))
    assert resumed.exit_code == 0, resumed.output
    rows, claims = stored(tmp_path)
    assert rows == stored(reference)[0] and len(rows) == ROWS  # same keys, statuses and values: none lost or twice
    assert claims == {}  # the killed run's leases were swept, the rerun released its own
    assert videos(tmp_path) == videos(reference)  # byte for byte
    assert leftovers(tmp_path) == []  # no temporary file of the killed writer stays


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_releases_the_claims_and_says_how_to_resume(suite, judge, reference, tmp_path, signum):
    stopped = start_stopped("commit", 2, cli_args(suite, tmp_path, judge), tmp_path / "stopped")
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] > 0  # it holds work when stopped
    rc, out = stopped.signal(signum)
    assert rc == 128 + signum, out
    name = signal.Signals(signum).name
    assert f"interrupted ({name}); 10 rows kept; the same command resumes" in " ".join(out.split()), out
    rows, claims = stored(tmp_path)
    assert len(rows) == 10 and claims == {}  # two outputs' rows committed (5 each); no lease left to block another host
    resumed = CliRunner().invoke(app, cli_args(suite, tmp_path, judge))
    assert resumed.exit_code == 0 and stored(tmp_path)[0] == stored(reference)[0], resumed.output


def test_owner_identity_survives_pid_reuse(tmp_path: Path) -> None:
    me = new_owner()
    host, pid, started, boot, token = me.split(":")
    assert (host, int(pid)) == (socket.gethostname(), os.getpid()) and started.isdigit() and len(token) == 8
    assert not owner_is_gone(me)
    assert owner_is_gone(f"{host}:{pid}:{int(started) + 1}:{boot}:{token}")  # this PID, another process's start
    assert owner_is_gone(f"{host}:{pid}:{started}:{'0' * 12}:{token}")  # another boot
    assert not owner_is_gone(f"elsewhere-{host}:{pid}:{int(started) + 1}:{boot}:{token}")  # another host: expiry only


def test_a_dead_runs_claim_on_a_reused_pid_neither_blocks_nor_stays(suite, judge, reference, tmp_path):
    stopped = start_stopped("claim", 1, cli_args(suite, tmp_path, judge), tmp_path / "stopped")
    assert stopped.kill() == -signal.SIGKILL
    ((_, (owner, _)),) = stored(tmp_path)[1].items()
    host, _, started, boot, token = owner.split(":")
    reused = f"{host}:{os.getpid()}:{started}:{boot}:{token}"  # the dead run's PID now belongs to a live process
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        conn.execute("UPDATE claims SET owner = ?", (reused,))
        conn.execute("INSERT INTO claims (item, owner, expires_at) VALUES ('elsewhere', ?, 1e12)", (reused,))
    res = CliRunner().invoke(app, cli_args(suite, tmp_path, judge))
    assert res.exit_code == 0 and "left to another run" not in res.output, res.output
    rows, claims = stored(tmp_path)
    assert rows == stored(reference)[0] and claims == {}  # the dead owner's unrelated lease is swept too


def test_a_run_that_leaves_work_to_a_live_run_does_not_exit_0(suite, judge, reference, tmp_path):
    stopped = start_stopped("claim", 1, cli_args(suite, tmp_path, judge), tmp_path / "stopped")
    assert stopped.kill() == -signal.SIGKILL
    live = new_owner()  # this test process: alive, so its lease is honoured
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        conn.execute("UPDATE claims SET owner = ?", (live,))
    res = CliRunner().invoke(app, cli_args(suite, tmp_path, judge))
    assert res.exit_code == 5, res.output
    text = " ".join(res.output.split())
    assert "left to another run on this store: 1 video(s) to generate" in text
    assert "6 requested row(s) are not in the store yet" in text, text
    rows, claims = stored(tmp_path)
    assert len(rows) == ROWS - 6 and set(claims.values()) == {(live, claims[next(iter(claims))][1])}
