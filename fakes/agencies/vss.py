"""Vietnam Social Security: child BHYT cards (thẻ BHYT trẻ em dưới 6 tuổi), funeral allowance
(trợ cấp mai táng, 10 × base pay) and survivor benefit (tử tuất)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from sqlite3 import Connection
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import ConfigDict, Field
from starlette.responses import Response

from fakes._env import Env
from fakes.agencies._benefits import (
    Benefit,
    ClaimIn,
    Payment,
    Regime,
    add_months,
    card_validity,
    payment_schema,
    payments_of,
)
from fakes.agencies._common import (
    LAST_DAY,
    PID_PATTERN,
    PROBLEMS,
    Blocks,
    Body,
    Code5,
    Items,
    RecordId,
    env_of,
    list_docs,
    not_found,
    one_doc,
    raw_response,
    search_by,
)
from fakes.auth import Who, require
from fakes.faults import Hook
from fakes.idempotency import Out, Writes, idem_key
from fakes.ids import (
    BHXH_SERIALS,
    bhyt_province_code,
    make_bhxh,
    make_child_bhyt,
    mask,
    newborn_allocator,
    validate_pid,
)
from fakes.problems import Problem
from fakes.store import dumps
from fakes.work import ACCEPTED, add_routes, shown
from fakes.work import EXPORT as WORK_EXPORT
from fakes.work import SCHEMA as WORK_SCHEMA

__all__ = ["EXPORT", "HOOKS", "SCHEMA", "router", "startup"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS cards (card_code TEXT PRIMARY KEY, pid TEXT UNIQUE NOT NULL,"
    " doc TEXT NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS cards_issued_on ON cards(json_extract(doc, '$.issued_on'));\n"
    + payment_schema("funeral_allowances") + payment_schema("survivor_benefits") + WORK_SCHEMA
)
_CARD_SHOWN = shown("cards.card_code")
EXPORT = {"cards": f"SELECT doc FROM cards WHERE {_CARD_SHOWN} ORDER BY card_code",
          "funeral_allowances": f"SELECT doc FROM funeral_allowances WHERE "
                                f"{shown('funeral_allowances.payment_id')} ORDER BY payment_id",
          "survivor_benefits": f"SELECT doc FROM survivor_benefits WHERE "
                               f"{shown('survivor_benefits.payment_id')} ORDER BY payment_id",
          "work": WORK_EXPORT}
router = APIRouter(prefix="/vss", tags=["vss"], responses=PROBLEMS)
_INSURED: dict[str, Regime] = {"pensioner": "bhxh_funeral", "insured": "bhxh_funeral"}
_SURVIVOR: dict[str, Regime] = {"pensioner": "survivor", "insured": "survivor"}
_FUNERAL = Benefit("vss", "funeral_allowances", "MTP", lambda death: _INSURED.get(death["status"]))
_SETTLEMENT = Benefit("vss", "survivor_benefits", "TT", lambda death: _SURVIVOR.get(death["status"]),
                      priced=False, dup_code="already_settled")


def _pid_required(schema: dict[str, Any]) -> None:
    """The OpenAPI of CardIn: ``pid`` is required and a PID. The model itself reads an absent,
    null or empty one so that the route can refuse it ``no_pid`` (CONTRACT.md §7), not
    ``validation_error``."""
    schema["required"] = ["pid", *schema.get("required", [])]
    schema["properties"]["pid"] = {
        "type": "string", "maxLength": 40, "pattern": PID_PATTERN, "title": "Pid",
        "examples": ["001226000042"],
        "description": "the child's PID (CONTRACT.md §3), born in today's year or before; absent, "
                       "null or empty → no_pid, malformed → invalid_pid"}


class CardIn(Body):
    """A first child BHYT card for a child under 6 with a PID."""

    model_config = ConfigDict(json_schema_extra=_pid_required)

    pid: str | None = Field(default=None, max_length=40)
    initial_care_facility: Code5 | None = None


class Card(Body):
    """A child BHYT card."""

    card_id: RecordId
    card_code: str = Field(pattern=r"^TE1[0-9]{12}$")
    bhxh: str = Field(pattern=r"^[0-9]{10}$")
    pid: str
    full_name: str
    birth_date: dt.date
    valid_from: dt.date
    valid_to: dt.date
    initial_care_facility: str | None
    issued_on: dt.date


@dataclass(frozen=True, slots=True)
class _CardDraft:
    """A child card about to be issued: the child as police knows it, the card's dates and
    whether it runs to 31/12 of the issue year instead (incident F8, see HOOKS)."""

    person: dict[str, Any]
    birth: dt.date
    valid_from: dt.date
    valid_to: dt.date
    year_end: bool = False


#: wrong_card_expiry (incident F8, the 31/12 data error): the card runs to the end of the
#: issue year (the year it is issued: with agencies in time, of its completion).
HOOKS = {"wrong_card_expiry": Hook("year_end", lambda card, _: True)}
WRITES = Writes("vss", HOOKS)


def startup(env: Env) -> None:
    """Restore the BHXH-number allocator from the persisted counters."""
    # The second half of the population's permutation: never a population member's number.
    alloc = newborn_allocator(env.scenario.meta.seed, BHXH_SERIALS)
    for key, used in env.stores["vss"].counters("bhxh:").items():
        alloc.allocate(key.split(":")[1], used)
    env.extras["bhxh_alloc"] = Blocks(alloc)


@router.post("/child-cards", status_code=201, response_model=Card, responses=ACCEPTED)
async def issue_child_card(body: CardIn, request: Request,
                           who: Who = Depends(require("vss:write")),
                           key: str = Depends(idem_key)) -> Response:
    """Issue a child's first BHYT card (code TE1 + province + BHXH number).

    Refused beyond the schema (CONTRACT.md §14): `pid` born after today's year → `invalid_pid`;
    police holds no such person → `no_pid`; the child registered dead → `person_deceased`; 72
    months old or more today → `child_too_old`; a card already → `already_issued` (409).
    """
    if not body.pid:  # absent, null or empty (after trimming): the child has no PID
        raise Problem(422, "no_pid", "a card needs the child's personal ID number",
                      errors=[{"field": "pid", "message": "missing or empty"}])
    today = env_of(request).clock.today()
    if (reason := validate_pid(body.pid, latest_year=min(today.year, LAST_DAY.year))) is not None:
        raise Problem(422, "invalid_pid", reason, errors=[{"field": "pid", "message": reason}])
    return await WRITES(request, who, key, body, _child, _insert_card, task="issue_child_card")


async def _child(env: Env, body: CardIn) -> _CardDraft:
    """The card of a living child with a PID at police (422 otherwise)."""
    pid = str(body.pid)
    person = await env.read("vss", "police", f"/police/people/{pid}")
    if person is None:
        raise Problem(422, "no_pid", f"police issued no PID {mask(pid)}")
    if not person["alive"]:
        raise Problem(422, "person_deceased", f"{mask(pid)} is registered dead")
    birth = dt.date.fromisoformat(person["birth_date"])
    return _CardDraft(person, birth, *card_validity(birth))


def _insert_card(env: Env, db: Connection, body: CardIn, card: _CardDraft) -> Out:
    """The card, issued today (422 when the child is 6 or older today)."""
    pid, today = str(body.pid), env.clock.today()
    if add_months(card.birth, 72) <= today:
        raise Problem(422, "child_too_old", f"a child born {card.birth} is 72 months or older "
                      f"on {today}; cards are for children under 6")
    old = db.execute("SELECT json_extract(doc, '$.card_id') FROM cards WHERE pid = ?",
                     (pid,)).fetchone()
    if old is not None:  # named by its card id: the card code holds the BHXH number
        raise Problem(409, "already_issued", f"{mask(pid)} has a card", existing=old[0])
    alloc: Blocks = env.extras["bhxh_alloc"]
    province2 = bhyt_province_code(pid[:3])
    bhxh = make_bhxh(province2, alloc.next(province2))
    db.execute("INSERT OR REPLACE INTO counters VALUES (?, ?)",
               (f"bhxh:{province2}", alloc.used(province2)))
    code = make_child_bhyt(province2, bhxh)
    valid_to = dt.date(today.year, 12, 31) if card.year_end else card.valid_to
    card_id = f"TH{env.stores['vss'].next_serial(db, 'card'):010d}"
    doc = Card(card_id=card_id, card_code=code, bhxh=bhxh, pid=pid, full_name=card.person["full_name"],
               birth_date=card.birth, valid_from=card.valid_from, valid_to=valid_to,
               initial_care_facility=body.initial_care_facility,
               issued_on=today).model_dump(mode="json")
    db.execute("INSERT INTO cards VALUES (?, ?, ?)", (code, pid, dumps(doc)))
    return 201, doc, {"Location": f"/vss/child-cards/{code}"}


_CARDS_BY = {"pid": f"SELECT doc FROM cards WHERE pid = ? AND {_CARD_SHOWN} ORDER BY card_code",
             "issued_on": "SELECT doc FROM cards WHERE json_extract(doc, '$.issued_on') = ? "
                          f"AND {_CARD_SHOWN} ORDER BY card_code"}


@router.get("/child-cards", response_model=Items[Card])
async def find_child_cards(request: Request, who: Who = Depends(require("vss:read")),
                           by: tuple[str, str] = Depends(search_by(("pid", "001226000042"),
                                                                    "issued_on"))) -> Response:
    """A child's BHYT cards, or the cards issued on a day (CONTRACT.md §10)."""
    return await list_docs(request, "vss", _CARDS_BY[by[0]], by[1])


@router.get("/child-cards/{card_code}", response_model=Card)
async def get_child_card(card_code: str, request: Request,
                         who: Who = Depends(require("vss:read"))) -> Response:
    """One child BHYT card."""
    return await one_doc(request, "vss", f"SELECT doc FROM cards WHERE card_code = ? AND {_CARD_SHOWN}",
                         card_code, "card")


@router.post("/funeral-allowances", status_code=201, response_model=Payment, responses=ACCEPTED)
async def pay_funeral_allowance(body: ClaimIn, request: Request,
                                who: Who = Depends(require("vss:write")),
                                key: str = Depends(idem_key)) -> Response:
    """Pay the BHXH funeral allowance (10 × base pay on the date of death).

    Refused beyond the schema (CONTRACT.md §14): justice has no such death record →
    `death_not_registered`; the deceased neither `pensioner` nor `insured` → `not_eligible`; no
    base pay in force on the date of death → `invalid_date`; paid already → `already_paid` (409).
    """
    return await WRITES(request, who, key, body, _FUNERAL.prepare, _FUNERAL.write,
                        task="pay_funeral_allowance")


@router.post("/survivor-benefits", status_code=201, response_model=Payment, responses=ACCEPTED)
async def settle_survivor_benefit(body: ClaimIn, request: Request,
                                  who: Who = Depends(require("vss:write")),
                                  key: str = Depends(idem_key)) -> Response:
    """Settle the survivor benefit (amount not modelled).

    Refused beyond the schema (CONTRACT.md §14): justice has no such death record →
    `death_not_registered`; the deceased neither `pensioner` nor `insured` → `not_eligible`;
    settled already → `already_settled` (409).
    """
    return await WRITES(request, who, key, body, _SETTLEMENT.prepare, _SETTLEMENT.write,
                        task="settle_survivor_benefit")


_DEATH = search_by(("death_register_no", "KT-00070-2026-Q01-000003"), "paid_on")


@router.get("/funeral-allowances", response_model=Items[Payment])
async def find_funeral_allowances(request: Request, who: Who = Depends(require("vss:read")),
                                  by: tuple[str, str] = Depends(_DEATH)) -> Response:
    """The funeral-allowance payments for a death record, or made on a day (CONTRACT.md §10)."""
    return await payments_of(request, "vss", "funeral_allowances", by)


@router.get("/survivor-benefits", response_model=Items[Payment])
async def find_survivor_benefits(request: Request, who: Who = Depends(require("vss:read")),
                                 by: tuple[str, str] = Depends(_DEATH)) -> Response:
    """The survivor-benefit settlements for a death record, or made on a day (CONTRACT.md §10)."""
    return await payments_of(request, "vss", "survivor_benefits", by)


@router.get("/funeral-allowances/{payment_id}", response_model=Payment)
async def get_funeral_allowance(payment_id: str, request: Request,
                                who: Who = Depends(require("vss:read"))) -> Response:
    """One funeral-allowance payment."""
    return await _get(env_of(request), "funeral_allowances", payment_id)


@router.get("/survivor-benefits/{payment_id}", response_model=Payment)
async def get_survivor_benefit(payment_id: str, request: Request,
                               who: Who = Depends(require("vss:read"))) -> Response:
    """One survivor-benefit settlement."""
    return await _get(env_of(request), "survivor_benefits", payment_id)


async def _get(env: Env, table: str, payment_id: str) -> Response:
    await env.stores["vss"].settled()
    doc = env.stores["vss"].raw(f"SELECT doc FROM {table} WHERE payment_id = ? "
                                f"AND {shown(table + '.payment_id')}", payment_id)
    if doc is None:
        raise not_found("payment", payment_id)
    return raw_response(doc)


add_routes(router, "vss")
