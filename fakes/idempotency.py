"""Idempotent writes: the first successful result is stored with the register write.

A write handler validates its body, then calls :func:`replay` (a stored result for this
caller and key, or None; 409 when the key came with another body), does its upstream reads,
and finally :func:`commit` runs the register write and stores the result in one transaction,
checking the key again inside it (a concurrent duplicate may have won in between).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Header
from pydantic import BaseModel
from starlette.responses import Response

from fakes.auth import Who
from fakes.problems import Problem
from fakes.store import Store

__all__ = ["KEY_PATTERN", "Idem", "commit", "idem_key", "replay"]

KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
_KEY = re.compile(KEY_PATTERN)


async def idem_key(
    idempotency_key: str = Header(
        alias="Idempotency-Key",
        pattern=_KEY.pattern,
        min_length=1,
        max_length=128,
        description="Unique per intended write: 1-128 of A-Za-z0-9._:-",
    ),
) -> str:
    """The request's Idempotency-Key (missing or malformed: 400, see fakes.problems)."""
    return idempotency_key


@dataclass(frozen=True, slots=True)
class Idem:
    """One write's identity: the store, caller, key and body hash."""

    store: Store
    caller: str
    key: str
    hash: str


def _hash(path: str, body: BaseModel) -> str:
    return hashlib.sha256(f"{path}\n{body.model_dump_json()}".encode()).hexdigest()


def _stored(db: sqlite3.Connection, idem: Idem) -> Response | None:
    row = db.execute(
        "SELECT hash, status, headers, body FROM idempotency WHERE caller = ? AND key = ?",
        (idem.caller, idem.key),
    ).fetchone()
    if row is None:
        return None
    if row[0] != idem.hash:
        raise Problem(
            409, "idempotency_key_reused", "this Idempotency-Key was used with another request body"
        )
    headers = dict(json.loads(row[2]), **{"Idempotent-Replayed": "true"})
    return Response(row[3], int(row[1]), headers=headers, media_type="application/json")


async def replay(store: Store, who: Who, key: str, path: str,
                 body: BaseModel) -> tuple[Idem, Response | None]:
    """The write's identity and its stored (committed) response if this is a replay.

    Raises Problem 409 ``idempotency_key_reused`` when the key came with another body.
    """
    await store.settled()
    idem = Idem(store, who.name, key, _hash(path, body))
    return idem, _stored(store.db, idem)


Write = Callable[[sqlite3.Connection], tuple[int, dict[str, Any], dict[str, str]]]


async def commit(idem: Idem, write: Write) -> Response:
    """Run ``write`` (returning status, body, headers) and store its result, atomically, and
    answer once it is committed.

    A result stored meanwhile by a concurrent duplicate is returned instead. Problems raised
    by ``write`` undo it and propagate.
    """
    with idem.store.tx() as db:
        earlier = _stored(db, idem)
        if earlier is None:
            status, doc, headers = write(db)
            payload = json.dumps(doc, ensure_ascii=False).encode()
            db.execute("INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                       (idem.caller, idem.key, idem.hash, status, json.dumps(headers), payload))
    await idem.store.durable()
    if earlier is not None:
        return earlier
    return Response(payload, status, headers=headers, media_type="application/json")
