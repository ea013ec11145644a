from __future__ import annotations

import math
import multiprocessing as mp
from pathlib import Path

import pytest

from cosmos_bench.results.store import ResultRow, ResultStore


def row(sample="s0", seed=0, value=1.0, status="ok", model="base", metric="tse", version="v1", **kw) -> ResultRow:
    return ResultRow(
        suite="demo", model=model, generation_key="g1", sample=sample, seed=seed, metric=metric,
        metric_version=version, direction="lower", value=value if status == "ok" else None, status=status, **kw,
    )


def test_put_is_idempotent_and_final_rows_are_never_overwritten(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    assert store.put(row(value=1.0)) is True
    assert store.put(row(value=2.0)) is False  # same key: a no-op
    assert [r.value for r in store.rows()] == [1.0]
    assert len(store) == 1


def test_error_rows_are_replaced_by_a_retry(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    store.put(row(status="error", reason="judge endpoint down"))
    assert store.finished_keys("demo") == set()
    assert store.put(row(value=3.0)) is True
    (r,) = store.rows()
    assert (r.status, r.value, r.reason) == ("ok", 3.0, None)
    assert len(store.finished_keys("demo")) == 1


def test_values_never_leak_from_failed_rows_and_nan_is_cleaned(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="finite value"):
        row(value=math.nan)
    r = ResultRow("demo", "m", "g", "s", 0, "tse", "v", "lower", 5.0, "degenerate", reason="too few matches",
                  details={"per_pair": [1.0, math.nan]})
    assert r.value is None
    store = ResultStore(tmp_path / "r.sqlite")
    store.put(r)
    (back,) = store.rows()
    assert back.value is None and back.details == {"per_pair": [1.0, None]}


def test_versions_are_kept_apart(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "r.sqlite")
    store.put(row(version="v1", value=1.0, created_at=1.0))
    store.put(row(version="v2", value=9.0, created_at=2.0))
    assert store.current_versions("demo") == {"tse": "v2"}
    assert [r.value for r in store.rows(metric_version="v1")] == [1.0]


def _writer(path: str, start: int) -> None:
    store = ResultStore(path)
    for i in range(start, start + 50):
        store.put(row(sample=f"s{i:03d}", value=float(i)))
    store.close()


def test_two_processes_writing_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "r.sqlite")
    ResultStore(path).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, s)) for s in (0, 25)]  # overlapping keys 25..49
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = ResultStore(path)
    samples = sorted(r.sample for r in store.rows())
    assert samples == [f"s{i:03d}" for i in range(75)]


def test_a_full_disk_names_the_store_and_keeps_the_rows_written_before(tmp_path: Path) -> None:
    """SQLite's "database or disk is full" names no file; the store's error must, and exit with 4.

    The disk is made to fill up for real, without timing: ``max_page_count`` caps the file's size.
    """
    import sqlite3

    from cosmos_bench.errors import CosmosBenchError
    from cosmos_bench.results.store import StoreWriteError

    path = tmp_path / "full.sqlite"
    store = ResultStore(path)
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    written = 0
    with pytest.raises(StoreWriteError) as info:
        for i in range(10_000):
            store.put(row(sample=f"s{i}", details={"pad": "x" * 500}))
            written += 1
    err = info.value
    assert str(path) in str(err) and "full" in str(err)
    assert isinstance(err, CosmosBenchError) and err.exit_code == 4
    assert isinstance(err, sqlite3.OperationalError)  # callers that handle SQLite errors still catch it
    assert written > 0 and len(store) == written  # nothing already stored was lost
    with pytest.raises(StoreWriteError, match="full"):  # claims are writes too, and name the store the same way
        for i in range(10_000):
            store.claim(f"item-{i}-" + "x" * 200, "run-a", 60.0)
    assert len(store) == written
