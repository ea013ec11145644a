"""Work claims: concurrent runs on one results store split the work instead of doing it twice.

Before a run generates a video or scores one, it leases that work item in the store
(:meth:`ResultStore.claim`). Another run that reaches the same item finds the lease and leaves the
item to its holder (reporting it as "left to another run"); when the holder finishes, its video and
rows are what every later run reuses. A lease ends when the holder releases it, when it expires
(``ttl_s``; a running holder renews its leases as it works), or at once when the holder was a
process on this machine that no longer runs: a run killed with ``kill -9`` never blocks its rerun.

An owner is ``host:pid:start:boot:token``: the process's start time (clock ticks since boot, from
``/proc/<pid>/stat``) and the kernel's boot id say whether the process now holding that PID is still
the run that took the lease. A PID that another process reuses (after a container restart with the
same host name, or a long uptime) therefore does not keep a dead run's leases alive. ``token`` is a
random part kept by the live run, so two runs never share an owner. A run sweeps the leases of
owners that are gone (and expired ones) when it starts, so they do not stay in the table.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

from .store import ResultStore

DEFAULT_LEASE_S = 3600.0  # a lease outlives any single video or judge batch; a killed run on this host lapses at once


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:12] or "-"
    except OSError:
        return "-"


def _process_state(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks since boot) of ``pid``, or None where /proc cannot say."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[0], fields[19]  # fields 3 and 22 of proc(5), counted after the command name


def new_owner() -> str:
    """``host:pid:start:boot:token``: unique per run; says which process to check and how to know it."""
    state = _process_state(os.getpid())
    return f"{socket.gethostname()}:{os.getpid()}:{state[1] if state else '-'}:{_boot_id()}:{uuid.uuid4().hex[:8]}"


def owner_is_gone(owner: str) -> bool:
    """True when ``owner`` was a process on this host that has exited, is a zombie, or whose PID is now
    another process's (a different start time, or a different boot).

    Owners on other hosts cannot be checked here: their leases end only when they expire.
    """
    parts = owner.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    started, boot = (parts[2], parts[3]) if len(parts) >= 5 else (None, None)  # host:pid:token from before
    if boot not in (None, "-") and boot != _boot_id():
        return True  # the machine restarted since: that process is gone, whatever has its PID now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's (its start time below still tells a reused PID)
        pass
    state = _process_state(pid)
    if state is None:
        return False
    if state[0] == "Z":  # a killed child not yet reaped still answers kill(0)
        return True
    return started not in (None, "-") and state[1] != started


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
        self.swept = store.sweep_claims(owner_is_gone)  # dead runs' leases do not stay in the table

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
