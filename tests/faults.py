"""Stop a ``cosmos-bench`` command at a forced point of its work, so a test can kill it there (no timing).

:func:`start_stopped` runs the real CLI in a child process with one seam wrapped: when the seam is
reached for the ``nth`` time, the child writes a marker file and waits forever (for the test's
``kill -9``). The test waits for the marker, which depends on no clock: the child cannot do any more
work while it waits, so whatever the test counts then is exactly what a kill at that point leaves.

The seams are public functions the run goes through, wrapped where the code looks them up:

* ``video-write``: a video's temporary file is complete, not yet renamed (``data.video.atomic_path``);
* ``geometry``: one video's Sampson metrics are computed, not yet stored (``metrics.geometry.sampson_metrics``);
* ``judge``: the judge's replies for a batch are in, not yet stored (``judge.judge_videos_sync``);
* ``commit``: one output's rows are committed (``ResultStore.put_many``);
* ``claim``: a work item's lease is committed (``ResultStore.claim``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

POINTS = ("video-write", "geometry", "judge", "commit", "claim")

_CHILD = r'''
import contextlib, sys, threading
from pathlib import Path

point, nth, marker = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
lock, hits = threading.Lock(), [0]

def reached():
    with lock:
        hits[0] += 1
        if hits[0] != nth:
            return
    marker.write_text(point)
    threading.Event().wait()  # until the test kills this process

def after(owner, name, when=lambda result: True):
    original = getattr(owner, name)
    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        if when(result):
            reached()
        return result
    setattr(owner, name, wrapped)

if point == "video-write":
    import cosmos_bench.data.video as video
    original_path = video.atomic_path
    @contextlib.contextmanager
    def stopping_path(target, **kw):
        with original_path(target, **kw) as tmp:
            yield tmp
            reached()  # the temporary file is written, the rename has not happened
    video.atomic_path = stopping_path
elif point == "geometry":
    import cosmos_bench.metrics.geometry as geometry
    after(geometry, "sampson_metrics")
elif point == "judge":
    import cosmos_bench.judge as judge
    after(judge, "judge_videos_sync")
elif point == "commit":
    from cosmos_bench.results.store import ResultStore
    after(ResultStore, "put_many", when=lambda written: written > 0)
elif point == "claim":
    from cosmos_bench.results.store import ResultStore
    after(ResultStore, "claim", when=lambda holder: holder is None)
else:
    raise SystemExit(f"unknown point {point!r}")

from cosmos_bench.cli import app
app(sys.argv[4:], prog_name="cosmos-bench")
'''


@dataclass
class Stopped:
    """A child run stopped at its forced point; :meth:`kill` ends it with SIGKILL."""

    proc: subprocess.Popen
    marker: Path
    ended: threading.Event
    output: list[bytes]

    def kill(self) -> int:
        os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(timeout=60)

    def signal(self, signum: int) -> tuple[int, str]:
        """Send ``signum`` and wait for the run to end; returns (exit status, its output)."""
        os.killpg(self.proc.pid, signum)
        assert self.ended.wait(300), "the run did not end after the signal"
        return self.proc.wait(timeout=60), b"".join(self.output).decode(errors="replace")


def start_stopped(point: str, nth: int, cli_args: list[str], marker: Path, *, wait_s: float = 600) -> Stopped:
    """Start ``cosmos-bench CLI_ARGS`` and return once it waits at the ``nth`` arrival at ``point``.

    Fails the test if the run ends first (the point was never reached that often). ``wait_s`` only
    bounds a hung test; nothing depends on how fast the child gets there.
    """
    if point not in POINTS:
        raise ValueError(f"point must be one of {POINTS}, got {point!r}")
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, point, str(nth), str(marker), *cli_args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    # wait for the marker or the child's end, whichever comes first: the child's output pipe
    # closes only when it exits, so read it in a thread and wait on both
    ended = threading.Event()
    output: list[bytes] = []

    def drain() -> None:
        output.append(proc.stdout.read())
        ended.set()

    threading.Thread(target=drain, daemon=True).start()
    while not marker.exists():
        if ended.wait(0.05) and not marker.exists():
            proc.wait(timeout=60)
            raise AssertionError(f"the run ended (rc {proc.returncode}) before reaching {point} #{nth}:\n"
                                 f"{b''.join(output).decode(errors='replace')[-3000:]}")
        wait_s -= 0.05
        if wait_s <= 0:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"the run never reached {point} #{nth}")
    return Stopped(proc, marker, ended, output)
