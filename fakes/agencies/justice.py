"""Commune civil status: birth registration (khai sinh) and death registration (khai tử)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from sqlite3 import Connection
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from starlette.responses import Response

from fakes._env import Env
from fakes.agencies._common import (
    PROBLEMS,
    Body,
    Code5,
    Items,
    Name,
    Pid,
    Ref,
    Relation,
    Sex,
    Text,
    check_past,
    list_docs,
    one_doc,
    search_key,
)
from fakes.auth import Who, require
from fakes.idempotency import Out, Writes, idem_key
from fakes.ids import make_register_number, mask
from fakes.problems import Problem
from fakes.store import dumps
from fakes.work import ACCEPTED, add_routes, shown
from fakes.work import EXPORT as WORK_EXPORT
from fakes.work import SCHEMA as WORK_SCHEMA

__all__ = ["EXPORT", "SCHEMA", "router"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS births (register_no TEXT PRIMARY KEY, cert_id TEXT UNIQUE NOT NULL,
                                   doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deaths (register_no TEXT PRIMARY KEY, notice_id TEXT UNIQUE NOT NULL,
                                   pid TEXT UNIQUE NOT NULL, doc TEXT NOT NULL);
""" + WORK_SCHEMA
_BIRTH_SHOWN = shown("births.register_no")
_DEATH_SHOWN = shown("deaths.register_no")
EXPORT = {"births": f"SELECT doc FROM births WHERE {_BIRTH_SHOWN} ORDER BY register_no",
          "deaths": f"SELECT doc FROM deaths WHERE {_DEATH_SHOWN} ORDER BY register_no",
          "work": WORK_EXPORT}

router = APIRouter(prefix="/justice", tags=["justice"], responses=PROBLEMS)
WRITES = Writes("justice")
DeathStatus = Literal["pensioner", "insured", "social", "merit", "none"]


class BirthIn(Body):
    """A birth registration request."""

    birth_certificate_id: Ref
    child_name: Name
    unit_code: Code5
    declarant_name: Name
    declarant_relation: Relation
    father_name: Name | None = None
    ethnicity: Name | None = None
    nationality: Text = "VN"


class Birth(Body):
    """A birth record in the civil-status register."""

    register_no: str = Field(pattern=r"^KS-[0-9]{5}-[0-9]{4}-Q[0-9]{2}-[0-9]{6}$")
    printed: str
    birth_certificate_id: str
    child_name: str
    child_sex: Sex
    child_birth_date: dt.date
    mother_name: str
    mother_pid: str
    father_name: str | None
    unit_code: str
    province: str
    registered_on: dt.date


class DeathIn(Body):
    """A death registration request."""

    death_notice_id: Ref
    unit_code: Code5
    declarant_name: Name
    declarant_relation: Relation
    status: DeathStatus


class Death(Body):
    """A death record in the civil-status register."""

    register_no: str = Field(pattern=r"^KT-[0-9]{5}-[0-9]{4}-Q[0-9]{2}-[0-9]{6}$")
    printed: str
    death_notice_id: str
    deceased_pid: Pid
    deceased_name: str
    deceased_sex: Sex
    deceased_birth_date: dt.date
    death_date: dt.date
    status: DeathStatus
    unit_code: str
    registered_on: dt.date
    cause: str | None = None  # the death notice's cause, copied (decides emergency funeral support)


def _register_no(env: Env, db: Connection, kind: str, unit: str, year: int) -> tuple[str, str]:
    n = env.stores["justice"].next_serial(db, f"{kind}:{unit}:{year}")
    book, entry = (n - 1) // 999_999 + 1, (n - 1) % 999_999 + 1
    number = make_register_number(kind, unit, year, book, entry)
    return number, f"Số: {entry}, Quyển số: {book:02d}/{year}"


def _existing(db: Connection, sql: str, *args: str) -> str | None:
    row = db.execute(sql, args).fetchone()
    return None if row is None else str(row[0])


@dataclass(frozen=True, slots=True)
class _Source:
    """The health document a registration is made from, as health holds it."""

    doc: dict[str, Any]


@router.post("/births", status_code=201, response_model=Birth, responses=ACCEPTED)
async def register_birth(body: BirthIn, request: Request,
                         who: Who = Depends(require("justice:write")),
                         key: str = Depends(idem_key)) -> Response:
    """Register a birth from an e-birth certificate held by health.

    Refused beyond the schema (CONTRACT.md §14): health has no such certificate →
    `unknown_birth_certificate`; its birth after today → `future_date`; the certificate's birth
    registered already → `already_registered` (409).
    """
    return await WRITES(request, who, key, body, _certificate, _insert_birth,
                        task="register_birth")


async def _certificate(env: Env, body: BirthIn) -> _Source:
    """The birth certificate at health (422 when unknown)."""
    cert = await env.read("justice", "health", f"/health/birth-certificates/{body.birth_certificate_id}")
    if cert is None:
        raise Problem(422, "unknown_birth_certificate",
                      f"health has no birth certificate {body.birth_certificate_id!r}")
    return _Source(cert)


def _insert_birth(env: Env, db: Connection, body: BirthIn, source: _Source) -> Out:
    """The birth record, dated today (422 when the certificate's birth is after today)."""
    cert, today = source.doc, env.clock.today()
    check_past(env, "child_birth_date", dt.date.fromisoformat(cert["child_birth_date"]))
    if (old := _existing(db, "SELECT register_no FROM births WHERE cert_id = ?",
                         body.birth_certificate_id)) is not None:
        raise Problem(409, "already_registered", "this certificate's birth is registered",
                      existing=old)
    number, printed = _register_no(env, db, "KS", body.unit_code, today.year)
    doc = Birth(register_no=number, printed=printed,
                birth_certificate_id=body.birth_certificate_id, child_name=body.child_name,
                child_sex=cert["child_sex"], child_birth_date=cert["child_birth_date"],
                mother_name=cert["mother_name"], mother_pid=cert["mother_pid"],
                father_name=body.father_name or cert.get("father_name"),
                unit_code=body.unit_code, province=env.scenario.region.id_code,
                registered_on=today).model_dump(mode="json")
    db.execute("INSERT INTO births VALUES (?, ?, ?)", (number, body.birth_certificate_id, dumps(doc)))
    return 201, doc, {"Location": f"/justice/births/{number}"}


@router.get("/births", response_model=Items[Birth])
async def find_births(request: Request, who: Who = Depends(require("justice:read")),
                      cert_id: str = Depends(search_key("birth_certificate_id",
                                                        "GCS-01001-2026-000001"))) -> Response:
    """The birth records made from a birth certificate (CONTRACT.md §10)."""
    return await list_docs(request, "justice", "SELECT doc FROM births WHERE cert_id = ? "
                           f"AND {_BIRTH_SHOWN} ORDER BY register_no", cert_id)


@router.get("/births/{register_no}", response_model=Birth)
async def get_birth(register_no: str, request: Request,
                    who: Who = Depends(require("justice:read"))) -> Response:
    """One birth record."""
    return await one_doc(request, "justice", "SELECT doc FROM births WHERE register_no = ? "
                         f"AND {_BIRTH_SHOWN}", register_no, "birth record")


@router.post("/deaths", status_code=201, response_model=Death, responses=ACCEPTED)
async def register_death(body: DeathIn, request: Request,
                         who: Who = Depends(require("justice:write")),
                         key: str = Depends(idem_key)) -> Response:
    """Register a death from a death notice held by health.

    Refused beyond the schema (CONTRACT.md §14): health has no such notice →
    `unknown_death_notice`; its death before the birth → `death_before_birth` or after today →
    `future_date`; that notice's or person's death registered already → `already_registered` (409).
    """
    return await WRITES(request, who, key, body, _notice, _insert_death, task="register_death")


async def _notice(env: Env, body: DeathIn) -> _Source:
    """The death notice at health (422 when unknown or dated before the birth)."""
    notice = await env.read("justice", "health", f"/health/death-notices/{body.death_notice_id}")
    if notice is None:
        raise Problem(422, "unknown_death_notice",
                      f"health has no death notice {body.death_notice_id!r}")
    death_date = dt.date.fromisoformat(notice["death_date"])
    birth_date = dt.date.fromisoformat(notice["deceased_birth_date"])
    if death_date < birth_date:
        raise Problem(422, "death_before_birth", "the death date is before the birth date")
    return _Source(notice)


def _insert_death(env: Env, db: Connection, body: DeathIn, source: _Source) -> Out:
    """The death record, dated today (422 when the death is after today)."""
    notice, today = source.doc, env.clock.today()
    check_past(env, "death_date", dt.date.fromisoformat(notice["death_date"]))
    pid = notice["deceased_pid"]
    old = _existing(db, "SELECT register_no FROM deaths WHERE notice_id = ? OR pid = ?",
                    body.death_notice_id, pid)
    if old is not None:
        raise Problem(409, "already_registered", f"the death of {mask(pid)} is registered",
                      existing=old)
    number, printed = _register_no(env, db, "KT", body.unit_code, today.year)
    doc = Death(register_no=number, printed=printed, death_notice_id=body.death_notice_id,
                deceased_pid=pid, deceased_name=notice["deceased_name"],
                deceased_sex=notice["deceased_sex"],
                deceased_birth_date=dt.date.fromisoformat(notice["deceased_birth_date"]),
                death_date=dt.date.fromisoformat(notice["death_date"]), status=body.status,
                unit_code=body.unit_code, registered_on=today,
                cause=notice.get("cause")).model_dump(mode="json")
    db.execute("INSERT INTO deaths VALUES (?, ?, ?, ?)",
               (number, body.death_notice_id, pid, dumps(doc)))
    return 201, doc, {"Location": f"/justice/deaths/{number}"}


@router.get("/deaths", response_model=Items[Death])
async def find_deaths(request: Request, who: Who = Depends(require("justice:read")),
                      notice_id: str = Depends(search_key("death_notice_id",
                                                          "GBT-01001-2026-000001"))) -> Response:
    """The death records made from a death notice (CONTRACT.md §10)."""
    return await list_docs(request, "justice", "SELECT doc FROM deaths WHERE notice_id = ? "
                           f"AND {_DEATH_SHOWN} ORDER BY register_no", notice_id)


@router.get("/deaths/{register_no}", response_model=Death)
async def get_death(register_no: str, request: Request,
                    who: Who = Depends(require("justice:read"))) -> Response:
    """One death record."""
    return await one_doc(request, "justice", "SELECT doc FROM deaths WHERE register_no = ? "
                         f"AND {_DEATH_SHOWN}", register_no, "death record")


add_routes(router, "justice")
