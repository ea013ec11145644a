"""Work claims: concurrent runs on one results store split the work instead of doing it twice.

Before a run generates a video or scores one, it leases that work item in the store
(:meth:`ResultStore.claim`). Another run that reaches the same item finds the lease and leaves the
item to its holder (reporting it as "left to another run"); when the holder finishes, its video and
rows are what every later run reuses. A lease ends when the holder releases it, when it expires
(``ttl_s``; a running holder renews its leases as it works), or at once when the holder was a
process on this machine that no longer runs: a run killed with ``kill -9`` never blocks its rerun.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

from .store import ResultStore

DEFAULT_LEASE_S = 3600.0  # a lease outlives any single video or judge batch; a killed run on this host lapses at once


def new_owner() -> str:
    """``host:pid:random``: unique per run, and says which process to check for liveness."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_gone(owner: str) -> bool:
    """True when ``owner`` was a process on this host that has exited (or is a zombie).

    Owners on other hosts cannot be checked here: their leases end only when they expire.
    """
    host, _, rest = owner.partition(":")
    pid_s = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_s.isdigit():
        return False
    pid = int(pid_s)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    try:  # a killed child not yet reaped still answers kill(0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


class WorkClaims:
    """The leases of one run in one store: ``acquire(item)`` before doing it, ``release(item)`` after.

    Also counts what it left to other runs, for the run's summary. Use from the thread that opened
    ``store`` (SQLite connections are per thread).
    """

    def __init__(self, store: ResultStore, *, ttl_s: float = DEFAULT_LEASE_S, owner: str | None = None):
        if ttl_s <= 0:
            raise ValueError(f"lease must be positive seconds, got {ttl_s}")
        self.store = store
        self.ttl_s = float(ttl_s)
        self.owner = owner or new_owner()
        self._renewed = time.monotonic()

    def acquire(self, item: str) -> str | None:
        """Lease ``item``; returns None when it is ours now, else the owner holding it."""
        self.heartbeat()
        return self.store.claim(item, self.owner, self.ttl_s, lapsed=owner_is_gone)

    def release(self, item: str) -> None:
        self.store.release(self.owner, item)

    def heartbeat(self) -> None:
        """Renew every lease of this run, at most every tenth of the lease time."""
        if time.monotonic() - self._renewed >= self.ttl_s / 10:
            self.store.renew(self.owner, self.ttl_s)
            self._renewed = time.monotonic()

    def close(self) -> None:
        """Release every lease this run still holds (an interrupted stage leaves none behind)."""
        self.store.release(self.owner)
