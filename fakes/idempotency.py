"""Idempotent writes: the first successful result is stored with the register write.

Each agency has one :class:`Writes`; a write handler checks its body and hands the rest to it:
``await WRITES(request, who, key, body, prepare, write)``. Before anything else it answers a
replay with the stored result for this caller and key (:func:`replay`; 409 when the key came
with another body), then awaits ``prepare`` (the upstream reads and the checks on them) for the
write's draft, lets the fault layer change the draft (``fakes.faults.apply_hooks``), and
:func:`commit` runs ``write`` on it and stores the result in one transaction, checking the key
again inside it (a concurrent duplicate may have won in between). Refusals raised on the way
store nothing.

A write naming its ``task`` is a step of the scenario: with agencies in time
(``fakes.work``) :func:`commit` books it on the agency's desks, runs ``write`` dated at the
booked completion and answers 202 with the work resource, all in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Header, Request
from pydantic import BaseModel
from starlette.responses import Response

from fakes._env import Env
from fakes.auth import Who
from fakes.faults import Hook, apply_hooks
from fakes.problems import Problem
from fakes.store import Store
from fakes.work import Desks, desks_of

__all__ = ["KEY_PATTERN", "Idem", "Out", "Write", "Writes", "commit", "idem_key", "replay"]

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
    idem = Idem(store, who.principal, key, _hash(path, body))
    return idem, _stored(store.db, idem)


Out = tuple[int, dict[str, Any], dict[str, str]]  # what a write returns: status, body, headers
Write = Callable[[Env, sqlite3.Connection], Out]


async def commit(idem: Idem, env: Env, write: Write,
                 timed: tuple[Desks, Any] | None = None) -> Response:
    """Run ``write(env, db)`` (returning status, body, headers) and store its result,
    atomically, and answer once it is committed. ``timed`` (an agency's desks and the step):
    the write is booked on the desks and dated at its completion, the answer is the work's
    202 (``fakes.work.Desks.accept``).

    A result stored meanwhile by a concurrent duplicate is returned instead. Problems raised
    by ``write`` undo it (and its booking) and propagate.
    """
    with idem.store.tx() as db:
        earlier = _stored(db, idem)
        if earlier is None:
            if timed is None:
                status, doc, headers = write(env, db)
            else:
                status, doc, headers = timed[0].accept(env, db, timed[1], write)
            payload = json.dumps(doc, ensure_ascii=False).encode()
            # built before the commit: a response that cannot be produced (a header that does not
            # encode) raises here and undoes the write, so nothing is stored that cannot answer
            answer = Response(payload, status, headers=headers, media_type="application/json")
            db.execute("INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                       (idem.caller, idem.key, idem.hash, status, json.dumps(headers), payload))
    await idem.store.durable()
    return earlier if earlier is not None else answer


B = TypeVar("B", bound=BaseModel)
D = TypeVar("D")


class Writes:
    """The idempotent writes of ``agency`` (CONTRACT.md §3), changed by the semantic faults
    of ``hooks`` (the agency's ``HOOKS``, see ``fakes.faults``)."""

    def __init__(self, agency: str, hooks: Mapping[str, Hook] | None = None) -> None:
        self.agency, self.hooks = agency, dict(hooks or {})

    async def __call__(self, request: Request, who: Who, key: str, body: B,
                       prepare: Callable[[Env, B], Awaitable[D]],
                       write: Callable[[Env, sqlite3.Connection, B, D], Out],
                       committed: Callable[[Response], None] | None = None, *,
                       task: str | None = None,
                       untimed: Callable[[D], bool] | None = None) -> Response:
        """The stored answer of a replay, else the answer of ``write(env, db, body, draft)``
        once committed, ``draft`` being what ``prepare(env, body)`` gives, changed by the hooks
        of the faults marked on ``request``. ``committed`` is called with the answer of a
        commit (this request's, or a concurrent duplicate's), not with a replay's.

        ``task``: the scenario task this write completes; with agencies in time and a step of
        that task at this agency, the write is booked on its desks (202 and a work resource)
        unless ``untimed(draft)`` (e.g. a slow PID, answered 202 its own way).

        Raises Problem 409 ``idempotency_key_reused`` when the key came with another body, and
        whatever ``prepare`` and ``write`` raise (nothing is stored then).
        """
        env: Env = request.app.state.env
        idem, earlier = await replay(env.stores[self.agency], who, key, request.scope["path"], body)
        if earlier is not None:
            return earlier
        draft = apply_hooks(self.hooks, request.scope, await prepare(env, body))
        timed = None
        if task is not None and (desks := desks_of(env, self.agency)) is not None \
                and (step := desks.step(task)) is not None \
                and (untimed is None or not untimed(draft)):
            timed = (desks, step)
        response = await commit(idem, env, lambda e, db: write(e, db, body, draft), timed)
        if committed is not None:
            committed(response)
        return response
