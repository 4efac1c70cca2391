"""SQLite stores: one WAL database file per agency, written through one connection.

The server runs on one event loop and a store is only touched between awaits, so writes are
serialised per store by construction; each write is one ``BEGIN IMMEDIATE`` transaction.
``synchronous=NORMAL`` in WAL mode keeps every committed transaction through a process crash
(SIGKILL); only an OS crash or power loss may lose the last ones.
"""

from __future__ import annotations

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

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on exit, rolled back on any exception."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        row: sqlite3.Row | None = self.db.execute(sql, args).fetchone()
        return row

    def doc(self, sql: str, *args: Any) -> dict[str, Any] | None:
        """The JSON document in the first column of the first row, or None."""
        row = self.db.execute(sql, args).fetchone()
        return None if row is None else dict(json.loads(row[0]))

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
        """Close the connection (checkpointing the WAL)."""
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
