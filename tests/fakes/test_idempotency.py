"""Writes: replay before the upstream reads, refusals not stored, hooks change the draft."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from sqlite3 import Connection
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.responses import Response

from fakes.auth import Who
from fakes.faults import Hook
from fakes.idempotency import Out, Writes
from fakes.problems import Problem
from fakes.store import Store

WHO = Who("hospital", "agency", "health")


class Note(BaseModel):
    text: str


@dataclass(frozen=True)
class Draft:
    n: int


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "notes.db", "CREATE TABLE notes (n INTEGER, text TEXT);")
    yield s
    s.close()


def request(store: Store, **marks: Any) -> Any:
    env = SimpleNamespace(stores={"notes": store})
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(env=env)),
                           scope={"path": "/notes", "state": {"faults": marks}})


class Log:
    """prepare and write of a note, logging their calls."""

    def __init__(self, refuse: bool = False) -> None:
        self.calls: list[str] = []
        self.refuse = refuse

    async def prepare(self, env: Any, body: Note) -> Draft:
        self.calls.append("prepare")
        if self.refuse:
            raise Problem(422, "no", "refused")
        return Draft(1)

    def write(self, env: Any, db: Connection, body: Note, draft: Draft) -> Out:
        self.calls.append(f"write {draft.n}")
        db.execute("INSERT INTO notes VALUES (?, ?)", (draft.n, body.text))
        return 201, {"n": draft.n, "text": body.text}, {"Location": f"/notes/{draft.n}"}


def call(writes: Writes, req: Any, key: str, body: Note, log: Log, **opts: Any) -> Any:
    return asyncio.run(writes(req, WHO, key, body, log.prepare, log.write, **opts))


def test_a_replay_answers_before_prepare(store: Store) -> None:
    writes, log = Writes("notes"), Log()
    committed: list[Response] = []
    first = call(writes, request(store), "k1", Note(text="a"), log, committed=committed.append)
    again = call(writes, request(store), "k1", Note(text="a"), log, committed=committed.append)
    assert log.calls == ["prepare", "write 1"]
    assert (first.status_code, again.status_code) == (201, 201)
    assert json.loads(again.body) == json.loads(first.body) == {"n": 1, "text": "a"}
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert committed == [first]


def test_the_key_with_another_body_is_409(store: Store) -> None:
    writes, log = Writes("notes"), Log()
    call(writes, request(store), "k1", Note(text="a"), log)
    with pytest.raises(Problem) as caught:
        call(writes, request(store), "k1", Note(text="b"), log)
    assert (caught.value.status, caught.value.code) == (409, "idempotency_key_reused")
    assert log.calls == ["prepare", "write 1"]


def test_a_refusal_stores_nothing(store: Store) -> None:
    writes, log = Writes("notes"), Log(refuse=True)
    for _ in range(2):
        with pytest.raises(Problem):
            call(writes, request(store), "k1", Note(text="a"), log)
    assert log.calls == ["prepare", "prepare"]
    assert store.db.execute("SELECT count(*) FROM idempotency").fetchone()[0] == 0


def test_hooks_of_the_marked_faults_change_the_draft(store: Store) -> None:
    writes = Writes("notes", {"more": Hook("n", lambda draft, by: draft.n + by)})
    log = Log()
    r = call(writes, request(store, more=41), "k1", Note(text="a"), log)
    assert json.loads(r.body)["n"] == 42
    call(writes, request(store), "k2", Note(text="b"), log)
    assert log.calls == ["prepare", "write 42", "prepare", "write 1"]


def test_a_write_whose_answer_cannot_be_produced_stores_nothing(store: Store) -> None:
    """A Location that does not encode as an HTTP header (CONTRACT: no write commits unless its
    response can be produced): the write raises, its record and its idempotency entry are
    undone, and the same key tried again is a fresh write, not a stored failure."""

    class Bad(Log):
        def write(self, env: Any, db: Connection, body: Note, draft: Draft) -> Out:
            status, doc, _ = super().write(env, db, body, draft)
            return status, doc, {"Location": "/notes/\uff11"}  # fullwidth digit: not latin-1

    writes = Writes("notes")
    for _ in range(2):
        with pytest.raises(UnicodeEncodeError):
            call(writes, request(store), "k1", Note(text="a"), Bad())
    assert store.db.execute("SELECT count(*) FROM notes").fetchone()[0] == 0
    assert store.db.execute("SELECT count(*) FROM idempotency").fetchone()[0] == 0
    ok = call(writes, request(store), "k1", Note(text="a"), Log())
    assert ok.status_code == 201 and store.db.execute("SELECT count(*) FROM notes").fetchone()[0] == 1
