"""Leases on work items in the results store: one holder at a time, expiry, and dead holders (issue 15, 8)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cosmos_bench.results.claims import WorkClaims, owner_is_gone
from cosmos_bench.results.store import ResultStore


def test_one_holder_at_a_time_until_release_or_expiry(tmp_path: Path) -> None:
    a, b = ResultStore(tmp_path / "r.sqlite"), ResultStore(tmp_path / "r.sqlite")  # two connections, as two runs
    assert a.claim("item", "A", 10, now=100.0) is None
    assert b.claim("item", "B", 10, now=105.0) == "A"  # held
    assert a.claim("item", "A", 10, now=106.0) is None  # the holder may renew
    assert b.claim("other", "B", 10, now=106.0) is None  # other items are free
    a.release("A", "item")
    assert b.claim("item", "B", 10, now=107.0) is None  # released
    assert a.claim("item", "A", 10, now=116.9) == "B"
    assert a.claim("item", "A", 10, now=117.1) is None  # B's lease (107 + 10) has expired
    b.renew("B", 50, now=120.0)
    assert b.claims()["other"] == ("B", 170.0)
    b.release("B")  # every lease of B
    assert set(b.claims()) == {"item"}


def test_a_lease_of_a_process_that_is_gone_lapses_at_once(tmp_path: Path) -> None:
    """A run killed with kill -9 leaves leases behind; a rerun on the same host takes them over at once."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = f"{socket.gethostname()}:{int(proc.stdout)}:deadbeef"
    alive = f"{socket.gethostname()}:{__import__('os').getpid()}:cafe0001"
    elsewhere = f"another-host-{socket.gethostname()}:1:cafe0002"
    assert owner_is_gone(dead) and not owner_is_gone(alive) and not owner_is_gone(elsewhere)
    with ResultStore(tmp_path / "r.sqlite") as store:
        for owner, item in ((dead, "d"), (alive, "a"), (elsewhere, "e")):
            assert store.claim(item, owner, 3600) is None
        mine = WorkClaims(store)
        assert mine.acquire("d") is None  # the dead run's lease lapsed
        assert mine.acquire("a") == alive and mine.acquire("e") == elsewhere  # live or unknown holders keep theirs
        mine.close()
        assert set(store.claims()) == {"a", "e"}


def test_a_lease_must_last(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "r.sqlite") as store, pytest.raises(ValueError, match="lease must be positive"):
        WorkClaims(store, ttl_s=0)
