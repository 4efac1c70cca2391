"""The linked-dossier portal (DVCLT): intake of birth and death dossiers, their status and
result bundle; the orchestrator in ``fakes._orchestrator`` drives them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from sqlite3 import Connection
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from pydantic import ConfigDict, Field
from starlette.responses import Response

from fakes._env import Env
from fakes._orchestrator import Orchestrator, build_steps, public
from fakes.agencies._common import (
    PROBLEMS,
    Body,
    Code5,
    Items,
    Name,
    Pid,
    Ref,
    Relation,
    Text,
    check_pid_born,
    env_of,
    json_response,
    search_key,
)
from fakes.auth import Who, require
from fakes.faults import Hook
from fakes.idempotency import Out, Writes, idem_key
from fakes.ids import make_dossier_code, mask
from fakes.problems import Problem
from fakes.store import dumps

__all__ = ["EXPORT", "HOOKS", "SCHEMA", "DossierIn", "router"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS dossiers (id TEXT PRIMARY KEY, status TEXT NOT NULL,
                                     caller TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS dossiers_status ON dossiers(status);
CREATE INDEX IF NOT EXISTS dossiers_birth_document
  ON dossiers(json_extract(doc, '$.input.birth.birth_certificate_id'));
CREATE INDEX IF NOT EXISTS dossiers_death_document
  ON dossiers(json_extract(doc, '$.input.death.death_notice_id'));
"""
EXPORT = {"dossiers": "SELECT doc FROM dossiers ORDER BY id"}
# the dossiers whose attachment is a document (expressions as in the indexes above)
_BY_DOCUMENT = ("SELECT doc FROM dossiers "
                "WHERE json_extract(doc, '$.input.birth.birth_certificate_id') = ?1 "
                "OR json_extract(doc, '$.input.death.death_notice_id') = ?1 ORDER BY id")
router = APIRouter(prefix="/portal", tags=["portal"], responses=PROBLEMS)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class _Intake:
    """A dossier about to be accepted: when, its group, the deceased's status (death) and the
    faults it carries (see HOOKS)."""

    now: dt.datetime
    group: str
    status: str | None
    faults: tuple[str, ...] = ()


#: lost_attachment (incident F10): the dossier's attachment is lost on the way to justice.
HOOKS = {"lost_attachment": Hook("faults", lambda intake, _: (*intake.faults, "lost_attachment"))}
WRITES = Writes("portal", HOOKS)


class BirthPart(Body):
    """The birth group's part of a dossier (form Mẫu 01)."""

    birth_certificate_id: Ref
    child_name: Name
    unit_code: Code5
    declarant_relation: Relation
    father_name: Name | None = None
    household_id: str = Field(pattern=r"^HK[0-9]{10}$", examples=["HK0000012345"])
    relation_to_head: Literal["head", "spouse", "child", "grandchild", "parent", "sibling", "other"]
    address: Text
    initial_care_facility: Code5 | None = None


class DeathPart(Body):
    """The death group's part of a dossier (form Mẫu 02)."""

    death_notice_id: Ref
    unit_code: Code5
    status: Literal["pensioner", "insured", "social", "merit", "none"]
    declarant_relation: Relation
    claimant_name: Name
    claimant_relation: Relation
    bank_account: str | None = Field(default=None, pattern=r"^[0-9]{6,20}$")


#: A loopback http(s) URL as far as a regex can say: what matches is never callback_not_allowed
#: (the portal reads the URL with urllib.parse.urlsplit and allows hosts _LOOPBACK).
CALLBACK_PATTERN = r"^https?://(?:127\.0\.0\.1|localhost|\[::1\])(?::[0-9]{1,5})?(?:[/?#][!-~]*)?$"


def _part_of_the_service(schema: dict[str, Any]) -> None:
    """The OpenAPI of DossierIn: the part named by ``service`` is required (else the portal
    answers ``missing_attachment``, CONTRACT.md §9), said with JSON Schema's if/then."""
    schema["allOf"] = [
        {"if": {"properties": {"service": {"const": part}}, "required": ["service"]},
         "then": {"required": [part], "properties": {part: {"type": "object"}}}}
        for part in ("birth", "death")]


class DossierIn(Body):
    """A linked dossier."""

    model_config = ConfigDict(json_schema_extra=_part_of_the_service)

    service: Literal["birth", "death"]
    variant: str = Field(pattern=r"^[a-z0-9_]{1,40}$", examples=["ks_tt_bhyt"],
                         description="a variant of scenario.services.<service>.variants (else "
                         "unknown_variant)")
    channel: Literal["online", "desk"] = "online"
    applicant_name: Name
    applicant_pid: Pid
    birth: BirthPart | None = None
    death: DeathPart | None = None
    callback_url: Annotated[str, Field(max_length=300, json_schema_extra={"pattern": CALLBACK_PATTERN},
                                       description="a loopback http(s) URL (else callback_not_allowed)")
                            ] | None = None


class StepView(Body):
    """One step of a dossier."""

    step: str
    agency: str
    task: str
    after: list[str]
    status: Literal["pending", "in_flight", "waiting", "done", "skipped", "rejected", "failed", "cancelled"]
    attempts: int
    call: int
    idempotency_key: str | None
    location: str | None = None
    started_at: str | None
    finished_at: str | None
    retry_since: str | None = Field(default=None, description="scenario time of the step's first "
                                    "transient failure: its retry budget runs from there")
    error: dict[str, Any] | None
    result: dict[str, Any] | None


class DossierView(Body):
    """A dossier as clients see it."""

    id: str
    service: str
    variant: str
    channel: str
    status: Literal["accepted", "in_progress", "completed", "rejected", "failed"]
    submitted_at: str
    completed_at: str | None
    steps: list[StepView]
    result: dict[str, Any]
    failure: dict[str, Any] | None = Field(
        default=None, description="a failed dossier's reason: the step, its agency, the problem "
        "code (retries_exhausted) and its detail")


def _check(body: DossierIn, variants: dict[str, Any]) -> None:
    if body.variant not in variants:
        raise Problem(422, "unknown_variant", f"{body.service} has no variant {body.variant!r}; "
                      f"use one of {', '.join(sorted(variants))}",
                      errors=[{"field": "variant", "message": "unknown variant"}])
    if getattr(body, body.service) is None:
        raise Problem(422, "missing_attachment", f"a {body.service} dossier needs its "
                      f"'{body.service}' part", errors=[{"field": body.service,
                                                        "message": "missing"}])
    if body.callback_url is not None:
        parts = urlsplit(body.callback_url)
        if parts.scheme not in ("http", "https") or parts.hostname not in _LOOPBACK:
            raise Problem(422, "callback_not_allowed", "callback_url must be a loopback http URL",
                          errors=[{"field": "callback_url", "message": "not loopback"}])


@router.post("/dossiers", status_code=202, response_model=DossierView)
async def submit_dossier(body: DossierIn, request: Request,
                         who: Who = Depends(require("portal:submit")),
                         key: str = Depends(idem_key)) -> Response:
    """Accept a linked dossier; it is driven through its steps asynchronously."""
    env = env_of(request)
    check_pid_born(env, "applicant_pid", body.applicant_pid)  # validation, before anything else
    _own_dossier(who, body)
    service = env.scenario.services.get(body.service)
    _check(body, dict(service.variants) if service else {})
    return await WRITES(request, who, key, body, _intake, partial(_accept, who),
                        committed=partial(_drive, env))


def _own_dossier(who: Who, body: DossierIn) -> None:
    """A citizen submits only its own dossiers: ``applicant_pid`` is the PID its key is bound
    to, else 403 (CONTRACT.md §3: after validation, before the idempotency replay, so another
    citizen's stored answer is never replayed to it). PIDs only masked in the problem."""
    if who.role == "citizen" and who.subject is not None and body.applicant_pid != who.subject:
        raise Problem(403, "forbidden", f"applicant_pid {mask(body.applicant_pid)} is not the PID of "
                      f"this citizen key ({mask(who.subject or '')}): a citizen submits only its own "
                      "dossiers")


async def _intake(env: Env, body: DossierIn) -> _Intake:
    return _Intake(env.clock.now(), "G1" if body.service == "birth" else "G2",
                   body.death.status if body.death else None)


def _accept(who: Who, env: Env, db: Connection, body: DossierIn, intake: _Intake) -> Out:
    caller = who.name
    now, group = intake.now, intake.group
    n = env.stores["portal"].next_serial(db, f"dossier:{group}:{now.date()}")
    ident = make_dossier_code(group, env.scenario.region.id_code, now.date(), n % 1_000_000)
    doc = {"id": ident, "service": body.service, "variant": body.variant,
           "channel": body.channel, "status": "accepted", "submitted_at": now.isoformat(),
           "completed_at": None, "caller": caller,
           "shared_key": who.role == "citizen" and who.subject is None,
           "steps": build_steps(env, body.service, body.variant, intake.status), "result": {},
           "input": body.model_dump(mode="json"), "faults": list(intake.faults)}
    db.execute("INSERT INTO dossiers VALUES (?, ?, ?, ?)", (ident, "accepted", caller, dumps(doc)))
    # the view is built from validated input: its schema (DossierView) is for OpenAPI
    return 202, public(doc), {"Location": f"/portal/dossiers/{ident}"}


def _drive(env: Env, accepted: Response) -> None:
    """Start driving the dossier of the ``accepted`` answer."""
    orchestrator: Orchestrator = env.extras["orchestrator"]
    orchestrator.spawn(accepted.headers["location"].rsplit("/", 1)[1])


def _visible(who: Who, doc: dict[str, Any]) -> bool:
    """Whether ``who`` may read the dossier: a citizen reads only the dossiers it submitted
    itself, i.e. with its caller for its own PID (intake binds ``applicant_pid`` to the key's
    PID, ``_own_dossier``); every other caller holding portal:read (desks, auditors) reads any."""
    if who.role != "citizen":
        return True
    if who.subject is None:  # a shared citizen key (opt-in): the dossiers submitted with it
        return doc["caller"] == who.name and bool(doc.get("shared_key"))
    return doc["caller"] == who.name and not doc.get("shared_key") \
        and doc["input"]["applicant_pid"] == who.subject


@router.get("/dossiers", response_model=Items[DossierView])
async def find_dossiers(request: Request, who: Who = Depends(require("portal:read")),
                        document: str = Depends(search_key("document",
                                                           "GCS-01001-2026-000001"))) -> Response:
    """The dossiers whose birth certificate or death notice is ``document`` (CONTRACT.md §10)."""
    store = env_of(request).stores["portal"]
    await store.settled()
    return json_response({"items": [public(doc) for doc in store.docs(_BY_DOCUMENT, document)
                                    if _visible(who, doc)]})


@router.get("/dossiers/{dossier_id}", response_model=DossierView)
async def get_dossier(dossier_id: str, request: Request,
                      who: Who = Depends(require("portal:read"))) -> Response:
    """A dossier's status, its steps and (when finished) its result bundle."""
    env = env_of(request)
    await env.stores["portal"].settled()
    doc = env.stores["portal"].doc("SELECT doc FROM dossiers WHERE id = ?", dossier_id)
    if doc is None or not _visible(who, doc):
        raise Problem(404, "unknown_dossier", "no such dossier")
    return json_response(public(doc))

