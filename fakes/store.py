"""SQLite stores: one WAL database file per agency, written through one connection.

The server runs on one event loop and a store is only touched between awaits, so writes are
serialised per store by construction. Writes use *group commit*: each write runs in its own
SAVEPOINT inside a transaction that is committed once per event-loop turn, so writes that
arrive together share one COMMIT (SQLite's cost is the commit, not the statements). A handler
answers only after ``await store.durable()`` (its write is committed), and reads first
``await store.settled()``, so nobody acts on a write a crash could still lose.
``synchronous=NORMAL`` in WAL mode keeps every committed transaction through a process crash
(SIGKILL); only an OS crash or power loss may lose the last ones.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["Store"]


class Store:
    """One agency's database: ``schema`` is run at open; rows hold JSON documents."""

    def __init__(self, path: str | Path, schema: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000",
                       "foreign_keys=ON"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.executescript(_COMMON + schema)
        self._open = False
        self._waiters: list[asyncio.Future[None]] = []

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write (no await inside): undone on any exception, else committed with the
        group at the end of this event-loop turn (at once when no loop runs)."""
        now = False
        if not self._open:
            self.db.execute("BEGIN IMMEDIATE")
            self._open = True
            try:
                asyncio.get_running_loop().call_soon(self._flush)
            except RuntimeError:
                now = True
        self.db.execute("SAVEPOINT w")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK TO w")
            self.db.execute("RELEASE w")
            raise
        else:
            self.db.execute("RELEASE w")
        finally:
            if now:
                self._flush()

    def _flush(self) -> None:
        waiters, self._waiters = self._waiters, []
        error: BaseException | None = None
        if self._open:
            self._open = False
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                error = exc
                self.db.execute("ROLLBACK")
        for future in waiters:
            if not future.done():
                future.set_result(None) if error is None else future.set_exception(error)

    async def durable(self) -> None:
        """Wait until every write made so far is committed."""
        if self._open:
            future = asyncio.get_running_loop().create_future()
            self._waiters.append(future)
            await future

    settled = durable  # before a read: nothing seen may be lost by a crash

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        row: sqlite3.Row | None = self.db.execute(sql, args).fetchone()
        return row

    def doc(self, sql: str, *args: Any) -> dict[str, Any] | None:
        """The JSON document in the first column of the first row, or None."""
        row = self.db.execute(sql, args).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def raw(self, sql: str, *args: Any) -> str | None:
        """The JSON text in the first column of the first row, or None."""
        row = self.db.execute(sql, args).fetchone()
        return None if row is None else str(row[0])

    def docs(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """The JSON documents in the first column of every row."""
        return [json.loads(r[0]) for r in self.db.execute(sql, args)]

    def next_serial(self, db: sqlite3.Connection, key: str) -> int:
        """Increment and return the counter ``key`` (1, 2, …) inside a transaction."""
        row = db.execute("INSERT INTO counters(key, n) VALUES (?, 1) "
                         "ON CONFLICT(key) DO UPDATE SET n = n + 1 RETURNING n", (key,)).fetchone()
        return int(row[0])

    def counters(self, prefix: str) -> dict[str, int]:
        """Every counter whose key starts with ``prefix``."""
        rows = self.db.execute("SELECT key, n FROM counters WHERE key >= ? AND key < ?",
                               (prefix, prefix + "\uffff"))
        return {r[0]: int(r[1]) for r in rows}

    def close(self) -> None:
        """Commit what is pending and close the connection (checkpointing the WAL)."""
        self._flush()
        self.db.close()


def dumps(doc: Any) -> str:
    """Compact JSON for stored documents."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


_COMMON = """
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  caller TEXT NOT NULL, key TEXT NOT NULL, hash TEXT NOT NULL,
  status INTEGER NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL,
  PRIMARY KEY (caller, key));
"""
