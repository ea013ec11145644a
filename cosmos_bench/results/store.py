"""Results store: one SQLite row per (suite, model, generation key, sample, seed, metric, version).

Why SQLite in WAL mode: every row is committed on its own, so a run killed at any moment (even
``kill -9``) keeps everything it finished; two processes writing the same store at once wait on
each other instead of corrupting it; and the key makes re-running the same work a no-op. The
leaderboard is always rebuilt from this store, never from in-memory state.

Rows are never edited once they hold a result (``ok`` or ``degenerate``: a degenerate video is a
real, repeatable outcome). Only ``error`` rows — a judge endpoint that was down, a crash — are
replaced by a later attempt, which is what ``rescore`` relies on.

The store also holds *claims*: leases that concurrent runs take on work items so that they split
the work instead of doing it twice (``results/claims.py`` says how they are used).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal

from ..errors import MachineError
from ..serialize import json_safe

Status = Literal["ok", "degenerate", "static", "error"]
STATUSES = ("ok", "degenerate", "static", "error")  # static: nothing moves (metrics.base), never averaged
KEY_FIELDS = ("suite", "model", "generation_key", "sample", "seed", "metric", "metric_version")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    suite TEXT NOT NULL,
    model TEXT NOT NULL,
    generation_key TEXT NOT NULL,
    sample TEXT NOT NULL,
    seed INTEGER NOT NULL,
    metric TEXT NOT NULL,
    metric_version TEXT NOT NULL,
    direction TEXT NOT NULL,
    value REAL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'degenerate', 'static', 'error')),
    reason TEXT,
    details TEXT NOT NULL DEFAULT '{}',
    provenance TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    PRIMARY KEY (suite, model, generation_key, sample, seed, metric, metric_version)
);
CREATE INDEX IF NOT EXISTS results_by_metric ON results (suite, metric, metric_version);
"""
# Leases of concurrent runs on work items (see results/claims.py). Created apart from the results:
# a store from before claims existed must still open read-only, for leaderboards.
_CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    item TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""


class StoreWriteError(MachineError, sqlite3.OperationalError):
    """SQLite could not write a row (a full disk, a read-only file): the message names the store.

    SQLite's own message ("database or disk is full") does not say which file; with several stores
    and a run folder on another disk, the user needs that. Still a ``sqlite3.OperationalError`` so
    code that handles SQLite errors keeps working; exit code 4, since it is the machine, not the input.
    """


@dataclass
class ResultRow:
    """One scored (video, metric) pair with everything needed to reproduce it.

    ``value`` is None unless ``status`` is ``ok``: a failed or degenerate sample never carries a
    number that an average could pick up by accident.
    """

    suite: str
    model: str
    generation_key: str
    sample: str
    seed: int
    metric: str
    metric_version: str
    direction: Literal["lower", "higher"]
    value: float | None
    status: Status
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.direction not in ("lower", "higher"):
            raise ValueError(f"direction must be 'lower' or 'higher', got {self.direction!r}")
        check_value(self)

    @property
    def key(self) -> tuple:
        return tuple(getattr(self, f) for f in KEY_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_value(row: ResultRow) -> None:
    """An ``ok`` row carries a finite number; other rows carry none (NaN is "no number", inf is refused).

    An infinite value would pass every comparison as the worst possible score and, in a baseline, set
    the gate's relative margin to infinity or its mean to nonsense, so it is rejected with a reason.
    """
    if row.status != "ok":
        row.value = None
        return
    value = row.value
    if value is not None and isinstance(value, float) and math.isnan(value):
        value = row.value = None
    if value is None:
        raise ValueError(f"{row.metric} on {row.sample} (seed {row.seed}): status ok needs a finite value")
    if not math.isfinite(float(value)):
        raise ValueError(f"{row.metric} on {row.sample} (seed {row.seed}): value {value} is not finite; "
                         "store it as status 'degenerate' with a reason instead")


def _json(value: Any) -> str:
    """Strict JSON: NaN/inf become null, so no reader ever parses a NaN as a number."""
    return json.dumps(json_safe(value, fallback=str), sort_keys=True, allow_nan=False)


class ResultStore:
    """Append-only SQLite results store, safe for concurrent writers and for interruption."""

    def __init__(self, path: str | os.PathLike, *, timeout: float = 60.0):
        self.path = Path(path)
        self.written = 0  # rows this connection committed (what an interrupted run says it kept)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        self._conn.executescript(_SCHEMA)
        self._allow_static()
        try:
            self._conn.executescript(_CLAIMS_SCHEMA)
        except sqlite3.OperationalError:  # a read-only store: only writers claim work, and they fail on writing
            pass

    def _allow_static(self) -> None:
        """A store made before the ``static`` status (issue 27) checks for the three older ones; copy its
        rows once into a table that allows all four (one transaction; a read-only store stays as it is)."""
        ddl = self._conn.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='results'").fetchone()
        if ddl is None or "'static'" in ddl[0]:
            return
        new = _SCHEMA.split(";")[0].replace("CREATE TABLE IF NOT EXISTS results", "CREATE TABLE results_static")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(new)
            self._conn.execute("INSERT INTO results_static SELECT * FROM results")
            self._conn.execute("DROP TABLE results")
            self._conn.execute("ALTER TABLE results_static RENAME TO results")
            self._conn.execute("CREATE INDEX IF NOT EXISTS results_by_metric ON results (suite, metric, metric_version)")
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError:  # read-only, or another process migrated it first
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    def put(self, row: ResultRow) -> bool:
        """Store one row atomically; returns False when a finished row with that key exists.

        An existing ``error`` row is replaced (a retry); an ``ok``/``degenerate`` row never is. The
        value is checked again here, since a row's fields may have changed since it was made.
        """
        check_value(row)
        values = (
            row.suite, row.model, row.generation_key, row.sample, int(row.seed), row.metric,
            row.metric_version, row.direction, row.value, row.status, row.reason,
            _json(row.details), _json(row.provenance), row.created_at,
        )
        with self._writing():
            cur = self._conn.execute(
                """
                INSERT INTO results (suite, model, generation_key, sample, seed, metric, metric_version,
                                     direction, value, status, reason, details, provenance, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (suite, model, generation_key, sample, seed, metric, metric_version)
                DO UPDATE SET direction=excluded.direction, value=excluded.value, status=excluded.status,
                              reason=excluded.reason, details=excluded.details,
                              provenance=excluded.provenance, created_at=excluded.created_at
                WHERE results.status = 'error'
                """,
                values,
            )
        self.written += cur.rowcount > 0
        return cur.rowcount > 0

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Every write of the store (rows and claims): an error SQLite gives on writing names the store."""
        try:
            yield
        except StoreWriteError:
            raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):  # busy past the timeout: not a disk problem, keep SQLite's own error
                raise
            raise StoreWriteError(f"cannot write to the results store {self.path}: {exc}") from exc

    def put_many(self, rows: Iterable[ResultRow]) -> int:
        return sum(self.put(r) for r in rows)

    # ------------------------------------------------------------------ claims (leases on work items)
    def claim(self, item: str, owner: str, ttl_s: float, *, lapsed: Callable[[str], bool] = lambda owner: False,
              now: float | None = None) -> str | None:
        """Lease ``item`` to ``owner`` for ``ttl_s`` seconds; returns None when granted, else the holder.

        A lease held by another owner is honoured until it expires or ``lapsed(holder)`` says its run
        is gone (a killed process). The check and the write happen under SQLite's write lock
        (``BEGIN IMMEDIATE``), so two processes never both get one item.
        """
        now = time.time() if now is None else now
        with self._writing():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                held = self._conn.execute("SELECT owner, expires_at FROM claims WHERE item = ?", (item,)).fetchone()
                if held is not None and held["owner"] != owner and held["expires_at"] > now and not lapsed(held["owner"]):
                    self._conn.execute("COMMIT")
                    return str(held["owner"])
                self._conn.execute(
                    "INSERT INTO claims (item, owner, expires_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (item) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at",
                    (item, owner, now + ttl_s),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # a failed COMMIT (a full disk) has rolled back already
                    self._conn.execute("ROLLBACK")
                raise
        return None

    def release(self, owner: str, item: str | None = None) -> None:
        """Give back ``owner``'s lease on ``item`` (every lease of ``owner`` when ``item`` is None)."""
        with self._writing():
            if item is None:
                self._conn.execute("DELETE FROM claims WHERE owner = ?", (owner,))
            else:
                self._conn.execute("DELETE FROM claims WHERE item = ? AND owner = ?", (item, owner))

    def sweep_claims(self, lapsed: Callable[[str], bool], *, now: float | None = None) -> int:
        """Delete every expired lease and every lease whose owner ``lapsed`` says is gone; returns how many."""
        now = time.time() if now is None else now
        try:
            held = list(self._conn.execute("SELECT item, owner, expires_at FROM claims"))
        except sqlite3.OperationalError:  # a read-only store from before claims: nothing to sweep
            return 0
        verdict: dict[str, bool] = {}

        def gone(owner: str) -> bool:
            if owner not in verdict:
                verdict[owner] = lapsed(owner)
            return verdict[owner]

        # by item and owner, and an expired lease only while still expired: a lease renewed or taken
        # by another run since the look stays
        stale = [(r["item"], r["owner"], int(gone(r["owner"])), now) for r in held
                 if r["expires_at"] <= now or gone(r["owner"])]
        if stale:
            with self._writing():
                self._conn.executemany("DELETE FROM claims WHERE item = ? AND owner = ? AND (? OR expires_at <= ?)", stale)
        return len(stale)

    def renew(self, owner: str, ttl_s: float, *, now: float | None = None) -> None:
        """Extend every lease ``owner`` holds to ``ttl_s`` from now (a heartbeat of long work)."""
        now = time.time() if now is None else now
        with self._writing():
            self._conn.execute("UPDATE claims SET expires_at = ? WHERE owner = ?", (now + ttl_s, owner))

    def claims(self) -> dict[str, tuple[str, float]]:
        """Every lease in the store: item -> (owner, expiry time)."""
        return {r["item"]: (r["owner"], float(r["expires_at"])) for r in self._conn.execute("SELECT * FROM claims")}

    def is_finished(self, key: tuple) -> bool:
        """True when ``key`` (in :data:`KEY_FIELDS` order) has a final (ok or degenerate) row."""
        where = " AND ".join(f"{f} = ?" for f in KEY_FIELDS)
        sql = f"SELECT 1 FROM results WHERE {where} AND status != 'error'"
        return self._conn.execute(sql, key).fetchone() is not None

    # ------------------------------------------------------------------ reading
    def finished_keys(self, suite: str, *, metric: str | None = None, metric_version: str | None = None) -> set[tuple]:
        """Keys with a final result (ok or degenerate): the work a resumed run must not repeat."""
        # key columns only: details/provenance JSON can be large and is not needed to skip work
        sql = f"SELECT {', '.join(KEY_FIELDS)} FROM results WHERE suite = ? AND status != 'error'"
        params: list[Any] = [suite]
        if metric is not None:
            sql += " AND metric = ?"
            params.append(metric)
        if metric_version is not None:
            sql += " AND metric_version = ?"
            params.append(metric_version)
        return {tuple(r) for r in self._conn.execute(sql, params)}

    def rows(
        self,
        *,
        suite: str | None = None,
        model: str | None = None,
        metric: str | None = None,
        metric_version: str | None = None,
        status: Status | None = None,
    ) -> list[ResultRow]:
        sql = "SELECT * FROM results WHERE 1=1"
        params: list[Any] = []
        for name, value in (("suite", suite), ("model", model), ("metric", metric),
                            ("metric_version", metric_version), ("status", status)):
            if value is not None:
                sql += f" AND {name} = ?"
                params.append(value)
        sql += " ORDER BY suite, metric, model, sample, seed, metric_version"
        return [self._to_row(r) for r in self._conn.execute(sql, params)]

    def __iter__(self) -> Iterator[ResultRow]:
        return iter(self.rows())

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def suites(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT DISTINCT suite FROM results ORDER BY suite")]

    def current_versions(self, suite: str) -> dict[str, str]:
        """For each metric, the version written most recently: the one a leaderboard shows.

        Older versions stay in the store (for reproducing old tables) but are never averaged
        together with the current one.
        """
        out: dict[str, str] = {}
        for r in self._conn.execute(
            "SELECT metric, metric_version, MAX(created_at) AS t FROM results WHERE suite = ? "
            "GROUP BY metric, metric_version ORDER BY metric, t",
            (suite,),
        ):
            out[r["metric"]] = r["metric_version"]
        return out

    @staticmethod
    def _to_row(r: sqlite3.Row) -> ResultRow:
        return ResultRow(
            suite=r["suite"], model=r["model"], generation_key=r["generation_key"], sample=r["sample"],
            seed=int(r["seed"]), metric=r["metric"], metric_version=r["metric_version"],
            direction=r["direction"], value=r["value"], status=r["status"], reason=r["reason"],
            details=json.loads(r["details"]), provenance=json.loads(r["provenance"]),
            created_at=float(r["created_at"]),
        )
