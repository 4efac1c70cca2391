"""Police: the population database (PIDs, deaths) and permanent residence (thường trú)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from sqlite3 import Connection, Row
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from starlette.responses import Response

from fakes._env import Env
from fakes.agencies._common import (
    PROBLEMS,
    Blocks,
    Body,
    Code5,
    Items,
    Pid,
    RecordId,
    RegisterNo,
    Sex,
    Text,
    check_pid_born,
    env_of,
    json_response,
    list_docs,
    not_found,
    one_doc,
    search_key,
)
from fakes.auth import Who, require
from fakes.faults import Hook
from fakes.idempotency import Out, Writes, idem_key
from fakes.ids import make_pid, mask, newborn_allocator, pid_key
from fakes.problems import Problem
from fakes.store import Store, dumps
from fakes.work import ACCEPTED, WorkView, add_routes, shown
from fakes.work import EXPORT as WORK_EXPORT
from fakes.work import SCHEMA as WORK_SCHEMA

__all__ = ["EXPORT", "HOOKS", "SCHEMA", "router", "startup"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS people (pid TEXT PRIMARY KEY, birth_register_no TEXT UNIQUE,
                                   doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pid_requests (request_id TEXT PRIMARY KEY,
  birth_register_no TEXT UNIQUE NOT NULL, available_at REAL NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS residences (residence_id TEXT PRIMARY KEY, pid TEXT NOT NULL,
  active INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS residences_pid ON residences(pid, active);
CREATE TABLE IF NOT EXISTS removals (removal_id TEXT PRIMARY KEY, pid TEXT UNIQUE NOT NULL,
  doc TEXT NOT NULL);
""" + WORK_SCHEMA
_PERSON_SHOWN = shown("people.pid")
_REQUEST_SHOWN = shown("pid_requests.request_id")
_RESIDENCE_SHOWN = shown("residences.residence_id")
_REMOVAL_SHOWN = shown("removals.removal_id")
EXPORT = {"people": f"SELECT doc FROM people WHERE {_PERSON_SHOWN} ORDER BY pid",
          "pid_requests": f"SELECT doc FROM pid_requests WHERE {_REQUEST_SHOWN} ORDER BY request_id",
          "residences": f"SELECT doc FROM residences WHERE {_RESIDENCE_SHOWN} ORDER BY residence_id",
          "removals": f"SELECT doc FROM removals WHERE {_REMOVAL_SHOWN} ORDER BY removal_id",
          "work": WORK_EXPORT}

router = APIRouter(prefix="/police", tags=["police"], responses=PROBLEMS)


#: The linked dossier a police write belongs to (sent by the portal; optional for others).
DossierCode = Annotated[str | None, Field(default=None, pattern=r"^[A-Za-z0-9.-]{1,40}$",
                                          examples=["G1-001-20260309-000001"])]


@dataclass(frozen=True, slots=True)
class _Linked:
    """The dossier code a residence or removal write records (the portal's, see HOOKS)."""

    dossier_code: str | None


@dataclass(frozen=True, slots=True)
class _PidDraft:
    """A PID request about to be stored: the birth record, the dossier code it records and
    the scenario minutes until the PID is issued (see HOOKS)."""

    birth: dict[str, Any]
    dossier_code: str | None
    delay: float = 0.0


def _mps_code(draft: _Linked | _PidDraft, _: object) -> str | None:
    """The dossier code as the MPS side numbers it (incident F3): not the portal's code."""
    code = draft.dossier_code
    return None if code is None else "BCA-" + "".join(ch for ch in code if ch.isdigit())


#: slow_pid: the PID is issued a draw of minutes later (202); code_mismatch: police records
#: the dossier under its own code.
HOOKS = {"slow_pid": Hook("delay", lambda _, minutes: float(minutes)),
         "code_mismatch": Hook("dossier_code", _mps_code)}
WRITES = Writes("police", HOOKS)


class PidIn(Body):
    """A request for a newborn's PID."""

    birth_register_no: RegisterNo
    dossier_code: DossierCode = None


class PidRequest(Body):
    """A PID request and, once issued, the PID."""

    request_id: RecordId
    status: Literal["pending", "issued"]
    pid: str | None
    birth_register_no: str
    full_name: str
    sex: Sex
    birth_date: dt.date
    available_at: str
    issued_at: str | None
    dossier_code: str | None = None


class Person(Body):
    """A person in the population database."""

    pid: str
    full_name: str
    sex: Sex
    birth_date: dt.date
    alive: bool
    death_register_no: str | None
    household_id: str | None
    residence_status: Literal["none", "registered", "removed"]
    legacy: bool


class ResidenceIn(Body):
    """Permanent residence registration into a household."""

    pid: Pid
    household_id: str = Field(pattern=r"^HK[0-9]{10}$", examples=["HK0000012345"])
    relation_to_head: Literal["head", "spouse", "child", "grandchild", "parent", "sibling", "other"]
    address: Text
    commune_code: Code5
    dossier_code: DossierCode = None


class Residence(ResidenceIn):
    """A permanent residence entry."""

    residence_id: RecordId
    active: bool
    registered_on: dt.date


class DeathIn(Body):
    """Mark a person deceased from a registered death."""

    death_register_no: RegisterNo


class RemovalIn(Body):
    """Remove the permanent residence of a deceased person."""

    pid: Pid
    death_register_no: RegisterNo
    dossier_code: DossierCode = None


class Removal(Body):
    """A residence removal."""

    removal_id: RecordId
    pid: str
    household_id: str | None
    death_register_no: str
    removed_on: dt.date
    dossier_code: str | None = None


def startup(env: Env) -> None:
    """Restore the PID allocator from the persisted per-key counters."""
    # The second half of the population's permutation: never a population member's PID.
    alloc = newborn_allocator(env.scenario.meta.seed)
    for key, used in env.stores["police"].counters("pid:").items():
        _, province, digit, yy = key.split(":")
        alloc.allocate((province, int(digit), int(yy)), used)
    env.extras["pid_alloc"] = Blocks(alloc)


def _person(store: Store | Connection, pid: str) -> dict[str, Any] | None:
    db = store.db if isinstance(store, Store) else store
    row = db.execute("SELECT doc FROM people WHERE pid = ?", (pid,)).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def _issue(env: Env, db: Connection, req: dict[str, Any]) -> dict[str, Any]:
    """Allocate the PID of a pending request and add the person (inside a transaction)."""
    alloc: Blocks = env.extras["pid_alloc"]
    birth_date = dt.date.fromisoformat(req["birth_date"])
    key = pid_key(req["province"], req["sex"], birth_date.year)
    serial = alloc.next(key)
    db.execute("INSERT OR REPLACE INTO counters VALUES (?, ?)",
               ("pid:{}:{}:{}".format(*key), alloc.used(key)))
    pid = make_pid(req["province"], req["sex"], birth_date.year, serial)
    person = Person(pid=pid, full_name=req["full_name"], sex=req["sex"], birth_date=birth_date,
                    alive=True, death_register_no=None, household_id=None,
                    residence_status="none", legacy=False).model_dump(mode="json")
    db.execute("INSERT INTO people VALUES (?, ?, ?)", (pid, req["birth_register_no"], dumps(person)))
    done = dict(req, status="issued", pid=pid, issued_at=env.clock.now().isoformat())
    db.execute("UPDATE pid_requests SET doc = ? WHERE request_id = ?",
               (dumps(done), req["request_id"]))
    return done


def _public(req: dict[str, Any]) -> dict[str, Any]:
    return PidRequest(**{k: v for k, v in req.items() if k != "province"}).model_dump(mode="json")


@router.post("/pids", status_code=201, response_model=PidRequest,
             responses={202: {"model": PidRequest | WorkView,
                              "description": "Issuance pending (slow_pid: the PID request, "
                              "Location /police/pid-requests/{id}), or booked at the desks "
                              "(agencies in time: the work, Location /police/work/{id})"}})
async def issue_pid(body: PidIn, request: Request, who: Who = Depends(require("police:write")),
                    key: str = Depends(idem_key)) -> Response:
    """Issue a newborn's PID from a registered birth.

    Refused beyond the schema (CONTRACT.md §14): justice has no such birth record →
    `unknown_birth_record`; a PID requested for it already → `already_issued` (409).
    """
    return await WRITES(request, who, key, body, _birth_record, _request_pid, task="issue_pid",
                        untimed=_slow)


def _slow(draft: _PidDraft) -> bool:
    """A slow PID (fault slow_pid) is answered 202 with its PID request, not booked."""
    return bool(draft.delay)


async def _birth_record(env: Env, body: PidIn) -> _PidDraft:
    """The birth record at justice (422 when unknown)."""
    birth = await env.read("police", "justice", f"/justice/births/{body.birth_register_no}")
    if birth is None:
        raise Problem(422, "unknown_birth_record", "justice has no such birth record")
    return _PidDraft(birth, body.dossier_code)


def _request_pid(env: Env, db: Connection, body: PidIn, draft: _PidDraft) -> Out:
    """Store the PID request and issue the PID now, or pending ``draft.delay`` minutes (202)."""
    old = db.execute("SELECT request_id FROM pid_requests WHERE birth_register_no = ?",
                     (body.birth_register_no,)).fetchone()
    if old is not None:
        raise Problem(409, "already_issued", "a PID was requested for this birth", existing=old[0])
    birth, delay = draft.birth, draft.delay
    rid = f"PR{env.stores['police'].next_serial(db, 'pid_request'):010d}"
    now = env.clock.now()
    ready = env.clock.minute() + delay
    req = {"request_id": rid, "status": "pending", "pid": None,
           "birth_register_no": body.birth_register_no, "full_name": birth["child_name"],
           "sex": birth["child_sex"], "birth_date": birth["child_birth_date"],
           "province": birth["province"], "issued_at": None, "dossier_code": draft.dossier_code,
           "available_at": (now + dt.timedelta(minutes=delay)).isoformat()}
    db.execute("INSERT INTO pid_requests VALUES (?, ?, ?, ?)",
               (rid, body.birth_register_no, ready, dumps(req)))
    if delay:
        return 202, _public(req), {"Location": f"/police/pid-requests/{rid}"}
    return 201, _public(_issue(env, db, req)), {"Location": f"/police/pid-requests/{rid}"}


async def _current(env: Env, rows: Iterable[Row]) -> list[dict[str, Any]]:
    """The public docs of the PID requests in ``rows`` (doc, available_at, read after pending
    writes settled); a pending one is issued once its time has come."""
    store = env.stores["police"]
    reqs = [(json.loads(doc), at) for doc, at in rows]
    minute = env.clock.minute()
    due = [req["request_id"] for req, at in reqs if req["status"] == "pending" and minute >= at]
    if not due:
        return [_public(req) for req, _ in reqs]
    issued: dict[str, dict[str, Any]] = {}
    with store.tx() as db:
        for rid in due:
            fresh = json.loads(db.execute("SELECT doc FROM pid_requests WHERE request_id = ?",
                                          (rid,)).fetchone()[0])
            issued[rid] = _issue(env, db, fresh) if fresh["status"] == "pending" else fresh
    await store.durable()
    return [_public(issued.get(req["request_id"], req)) for req, _ in reqs]


@router.get("/pid-requests", response_model=Items[PidRequest])
async def find_pid_requests(request: Request, who: Who = Depends(require("police:read")),
                            birth_register_no: str = Depends(search_key(
                                "birth_register_no", "KS-00070-2026-Q01-000012"))) -> Response:
    """The PID requests for a birth record (CONTRACT.md §10), issued as the single GET does."""
    env = env_of(request)
    store = env.stores["police"]
    await store.settled()
    rows = store.db.execute("SELECT doc, available_at FROM pid_requests "
                            f"WHERE birth_register_no = ? AND {_REQUEST_SHOWN} ORDER BY request_id",
                            (birth_register_no,)).fetchall()
    return json_response({"items": await _current(env, rows)})


@router.get("/pid-requests/{request_id}", response_model=PidRequest)
async def get_pid_request(request_id: str, request: Request,
                          who: Who = Depends(require("police:read"))) -> Response:
    """A PID request; a pending one is issued once its time has come."""
    env = env_of(request)
    store = env.stores["police"]
    await store.settled()
    row = store.one("SELECT doc, available_at FROM pid_requests WHERE request_id = ? "
                    f"AND {_REQUEST_SHOWN}", request_id)
    if row is None:
        raise not_found("PID request", request_id)
    [req] = await _current(env, [row])
    return json_response(req)


@router.get("/people/{pid}", response_model=Person)
async def get_person(pid: str, request: Request,
                     who: Who = Depends(require("police:read"))) -> Response:
    """One person of the population database."""
    return await one_doc(request, "police", f"SELECT doc FROM people WHERE pid = ? AND {_PERSON_SHOWN}",
                         pid, "person", "unknown_person")


@router.get("/residences", response_model=Items[Residence])
async def find_residences(request: Request, who: Who = Depends(require("police:read")),
                          pid: str = Depends(search_key("pid", "001226000042"))) -> Response:
    """A person's residences, active and removed (CONTRACT.md §10)."""
    return await list_docs(request, "police", "SELECT doc FROM residences WHERE pid = ? "
                           f"AND {_RESIDENCE_SHOWN} ORDER BY residence_id", pid)


@router.post("/residences", status_code=201, response_model=Residence, responses=ACCEPTED)
async def register_residence(body: ResidenceIn, request: Request,
                             who: Who = Depends(require("police:write")),
                             key: str = Depends(idem_key)) -> Response:
    """Register a person's permanent residence in a household.

    Refused beyond the schema (CONTRACT.md §14): `pid` born after today's year → `invalid_pid`;
    police holds no such person → `unknown_person` (404); the person registered dead →
    `person_deceased`; an active residence already → `already_resident` (409).
    """
    check_pid_born(env_of(request), "pid", body.pid)
    return await WRITES(request, who, key, body, _linked, _insert_residence,
                        task="register_residence")


async def _linked(env: Env, body: ResidenceIn | RemovalIn) -> _Linked:
    return _Linked(body.dossier_code)


def _living(db: Connection, pid: str) -> dict[str, Any]:
    """The person of ``pid`` (404 ``unknown_person``), alive (422 ``person_deceased``)."""
    person = _person(db, pid)
    if person is None:
        raise not_found("person", pid, "unknown_person")
    if not person["alive"]:
        raise Problem(422, "person_deceased", f"{mask(pid)} is registered dead")
    return person


def _insert_residence(env: Env, db: Connection, body: ResidenceIn, linked: _Linked) -> Out:
    person = _living(db, body.pid)
    old = db.execute("SELECT residence_id FROM residences WHERE pid = ? AND active = 1",
                     (body.pid,)).fetchone()
    if old is not None:
        raise Problem(409, "already_resident", f"{mask(body.pid)} has a permanent residence",
                      existing=old[0])
    rid = f"TT{env.stores['police'].next_serial(db, 'residence'):010d}"
    doc = Residence(**dict(body.model_dump(), dossier_code=linked.dossier_code),
                    residence_id=rid, active=True,
                    registered_on=env.clock.today()).model_dump(mode="json")
    db.execute("INSERT INTO residences VALUES (?, ?, 1, ?)", (rid, body.pid, dumps(doc)))
    person.update(household_id=body.household_id, residence_status="registered")
    db.execute("UPDATE people SET doc = ? WHERE pid = ?", (dumps(person), body.pid))
    return 201, doc, {}


@router.post("/deaths", status_code=201, response_model=Person)
async def record_death(body: DeathIn, request: Request,
                       who: Who = Depends(require("police:write")),
                       key: str = Depends(idem_key)) -> Response:
    """Mark a person deceased from a death registered by justice.

    Refused beyond the schema (CONTRACT.md §14): justice has no such death record →
    `unknown_death_record`; the person registered dead already → `already_deceased` (409).
    """
    return await WRITES(request, who, key, body, _death_record, _mark_dead)


async def _death_record(env: Env, body: DeathIn) -> dict[str, Any]:
    """The death record at justice (422 when unknown)."""
    death = await env.read("police", "justice", f"/justice/deaths/{body.death_register_no}")
    if death is None:
        raise Problem(422, "unknown_death_record", "justice has no such death record")
    return death


def _mark_dead(env: Env, db: Connection, body: DeathIn, death: dict[str, Any]) -> Out:
    pid = death["deceased_pid"]
    person = _person(db, pid)
    if person is None:  # born before the run: learn the person from the death record
        person = Person(pid=pid, full_name=death["deceased_name"], sex=death["deceased_sex"],
                        birth_date=death["deceased_birth_date"], alive=True,
                        death_register_no=None, household_id=None, residence_status="none",
                        legacy=True).model_dump(mode="json")
        db.execute("INSERT INTO people VALUES (?, NULL, ?)", (pid, dumps(person)))
    if not person["alive"]:
        raise Problem(409, "already_deceased", f"{mask(pid)} is already registered dead",
                      existing=person["death_register_no"])
    person.update(alive=False, death_register_no=body.death_register_no)
    db.execute("UPDATE people SET doc = ? WHERE pid = ?", (dumps(person), pid))
    return 201, person, {}


@router.get("/residence-removals", response_model=Items[Removal])
async def find_removals(request: Request, who: Who = Depends(require("police:read")),
                        pid: str = Depends(search_key("pid", "001052012345"))) -> Response:
    """A person's residence removals (CONTRACT.md §10)."""
    return await list_docs(request, "police", "SELECT doc FROM removals WHERE pid = ? "
                           f"AND {_REMOVAL_SHOWN} ORDER BY removal_id", pid)


@router.post("/residence-removals", status_code=201, response_model=Removal, responses=ACCEPTED)
async def remove_residence(body: RemovalIn, request: Request,
                           who: Who = Depends(require("police:write")),
                           key: str = Depends(idem_key)) -> Response:
    """Remove the permanent residence of a person registered dead.

    Refused beyond the schema (CONTRACT.md §14): `pid` born after today's year → `invalid_pid`;
    police holds no such person → `unknown_person` (404); the person not registered dead →
    `person_alive`, or dead under another number → `death_not_registered`; removed already →
    `already_registered` (409).
    """
    check_pid_born(env_of(request), "pid", body.pid)
    return await WRITES(request, who, key, body, _linked, _insert_removal,
                        task="remove_residence")


def _dead(db: Connection, pid: str, death_register_no: str) -> dict[str, Any]:
    """The person of ``pid`` (404), registered dead under ``death_register_no`` (422)."""
    person = _person(db, pid)
    if person is None:
        raise not_found("person", pid, "unknown_person")
    if person["alive"]:
        raise Problem(422, "person_alive", f"{mask(pid)} is not registered dead")
    if person["death_register_no"] != death_register_no:
        raise Problem(422, "death_not_registered",
                      "the person's death is registered under another number")
    return person


def _insert_removal(env: Env, db: Connection, body: RemovalIn, linked: _Linked) -> Out:
    person = _dead(db, body.pid, body.death_register_no)
    old = db.execute("SELECT removal_id FROM removals WHERE pid = ?", (body.pid,)).fetchone()
    if old is not None:
        raise Problem(409, "already_registered", "the residence is already removed",
                      existing=old[0])
    rid = f"XTT{env.stores['police'].next_serial(db, 'removal'):010d}"
    for rid_old, rdoc in db.execute("SELECT residence_id, doc FROM residences "
                                    "WHERE pid = ? AND active = 1", (body.pid,)).fetchall():
        db.execute("UPDATE residences SET active = 0, doc = ? WHERE residence_id = ?",
                   (dumps(dict(json.loads(rdoc), active=False)), rid_old))
    doc = Removal(removal_id=rid, pid=body.pid, household_id=person["household_id"],
                  death_register_no=body.death_register_no, removed_on=env.clock.today(),
                  dossier_code=linked.dossier_code).model_dump(mode="json")
    db.execute("INSERT INTO removals VALUES (?, ?, ?)", (rid, body.pid, dumps(doc)))
    person.update(residence_status="removed")
    db.execute("UPDATE people SET doc = ? WHERE pid = ?", (dumps(person), body.pid))
    return 201, doc, {}


add_routes(router, "police")
