"""Health facilities: e-birth certificates (giấy chứng sinh, XML9) and death notices
(giấy báo tử)."""

from __future__ import annotations

from datetime import datetime
from sqlite3 import Connection

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from starlette.responses import Response

from fakes._env import Env
from fakes.agencies._common import (
    PROBLEMS,
    Body,
    Code5,
    Day,
    Flag,
    Name,
    Pid,
    Province,
    Sex,
    Text,
    WholeNumber,
    check_past,
    check_pid_born,
    env_of,
    one_doc,
)
from fakes.auth import Who, require
from fakes.idempotency import Out, Writes, idem_key
from fakes.problems import Problem
from fakes.store import dumps

__all__ = ["EXPORT", "SCHEMA", "router"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS birth_certificates (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS death_notices (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
"""

router = APIRouter(prefix="/health", tags=["health"], responses=PROBLEMS)
WRITES = Writes("health")


class BirthCertificateIn(Body):
    """An e-birth certificate (XML9 fields in brackets in CONTRACT.md)."""

    facility_code: Code5
    mother_name: Name
    mother_birth_date: Day = Field(description="before child_birth_date (else invalid_date)")
    mother_pid: Pid = Field(description="a PID (CONTRACT.md §3) whose birth year is not after "
                            "today's (else invalid_pid)")
    mother_bhxh: str | None = Field(default=None, pattern=r"^[0-9]{10}$")
    father_name: Name | None = None
    residence_province: Province
    residence_commune: Code5
    child_name: Name | None = None
    child_sex: Sex
    child_birth_date: Day = Field(description="not after today (else future_date)")
    weight_grams: WholeNumber = Field(ge=300, le=8000)
    birth_order: WholeNumber = Field(default=1, ge=1, le=20, description="the child's rank among its "
                                     "mother's children (not XML9 SO_CON, the children of the delivery)")
    place_of_birth: Text
    under_32_weeks: Flag = False
    caesarean: Flag = False


class BirthCertificate(BirthCertificateIn):
    """A stored e-birth certificate."""

    id: str
    so: int
    quyen_so: str
    issued_at: str


class DeathNoticeIn(Body):
    """A death notice issued by a health facility."""

    facility_code: Code5
    deceased_pid: Pid = Field(description="a PID (CONTRACT.md §3) whose birth year is not after "
                              "today's (else invalid_pid)")
    deceased_name: Name
    deceased_sex: Sex
    deceased_birth_date: Day = Field(description="not after today (else future_date)")
    death_date: Day = Field(description="not after today (else future_date), not before "
                            "deceased_birth_date (else death_before_birth)")
    place_of_death: Text
    cause: Text | None = None


class DeathNotice(DeathNoticeIn):
    """A stored death notice."""

    id: str
    issued_at: str


def _serial(env: Env, db: Connection, kind: str, facility: str, year: int) -> tuple[str, int]:
    n = env.stores["health"].next_serial(db, f"{kind}:{facility}:{year}")
    return f"{kind}-{facility}-{year}-{n:06d}", n


@router.post("/birth-certificates", status_code=201, response_model=BirthCertificate)
async def issue_birth_certificate(body: BirthCertificateIn, request: Request,
                                  who: Who = Depends(require("health:write")),
                                  key: str = Depends(idem_key)) -> Response:
    """Issue an e-birth certificate.

    Refused beyond the schema (CONTRACT.md §14): `mother_pid` born after today's year →
    `invalid_pid`; `child_birth_date` after today → `future_date`; the mother not born before
    the child → `invalid_date`.
    """
    check_pid_born(env_of(request), "mother_pid", body.mother_pid)
    return await WRITES(request, who, key, body, _check_birth, _insert_birth)


async def _check_birth(env: Env, body: BirthCertificateIn) -> datetime:
    """The issue time of a birth certificate with plausible dates (422 otherwise)."""
    check_past(env, "child_birth_date", body.child_birth_date)
    if body.mother_birth_date >= body.child_birth_date:
        raise Problem(422, "invalid_date", "the mother's birth date is not before the child's",
                      errors=[{"field": "mother_birth_date", "message": "not before the child"}])
    return env.clock.now()


def _insert_birth(env: Env, db: Connection, body: BirthCertificateIn, now: datetime) -> Out:
    year = body.child_birth_date.year
    ident, n = _serial(env, db, "GCS", body.facility_code, year)
    doc = BirthCertificate(**body.model_dump(), id=ident, so=n, quyen_so=f"01/{year}",
                           issued_at=now.isoformat()).model_dump(mode="json")
    db.execute("INSERT INTO birth_certificates VALUES (?, ?)", (ident, dumps(doc)))
    return 201, doc, {"Location": f"/health/birth-certificates/{ident}"}


@router.get("/birth-certificates/{cert_id}", response_model=BirthCertificate)
async def get_birth_certificate(cert_id: str, request: Request,
                                who: Who = Depends(require("health:read"))) -> Response:
    """One e-birth certificate."""
    return await one_doc(request, "health", "SELECT doc FROM birth_certificates WHERE id = ?",
                         cert_id, "birth certificate")


@router.post("/death-notices", status_code=201, response_model=DeathNotice)
async def issue_death_notice(body: DeathNoticeIn, request: Request,
                             who: Who = Depends(require("health:write")),
                             key: str = Depends(idem_key)) -> Response:
    """Issue a death notice.

    Refused beyond the schema (CONTRACT.md §14): `deceased_pid` born after today's year →
    `invalid_pid`; `death_date` or `deceased_birth_date` after today → `future_date`; the death
    before the birth → `death_before_birth`.
    """
    check_pid_born(env_of(request), "deceased_pid", body.deceased_pid)
    return await WRITES(request, who, key, body, _check_death, _insert_death)


async def _check_death(env: Env, body: DeathNoticeIn) -> datetime:
    """The issue time of a death notice with plausible dates (422 otherwise)."""
    check_past(env, "death_date", body.death_date)
    check_past(env, "deceased_birth_date", body.deceased_birth_date)
    if body.death_date < body.deceased_birth_date:
        raise Problem(422, "death_before_birth", "the death date is before the birth date",
                      errors=[{"field": "death_date", "message": "before deceased_birth_date"}])
    return env.clock.now()


def _insert_death(env: Env, db: Connection, body: DeathNoticeIn, now: datetime) -> Out:
    ident, _ = _serial(env, db, "GBT", body.facility_code, body.death_date.year)
    doc = DeathNotice(**body.model_dump(), id=ident, issued_at=now.isoformat()).model_dump(mode="json")
    db.execute("INSERT INTO death_notices VALUES (?, ?)", (ident, dumps(doc)))
    return 201, doc, {"Location": f"/health/death-notices/{ident}"}


@router.get("/death-notices/{notice_id}", response_model=DeathNotice)
async def get_death_notice(notice_id: str, request: Request,
                           who: Who = Depends(require("health:read"))) -> Response:
    """One death notice."""
    return await one_doc(request, "health", "SELECT doc FROM death_notices WHERE id = ?",
                         notice_id, "death notice")


EXPORT = {"birth_certificates": "SELECT doc FROM birth_certificates ORDER BY id",
          "death_notices": "SELECT doc FROM death_notices ORDER BY id"}
