"""Commune social affairs: funeral support for social-protection beneficiaries (20 × the
standard level), emergency funeral support for a death from disaster, fire, epidemic, traffic or
serious work accident (50 × the standard level, the higher rate, for social-protection
beneficiaries and people with no other funeral payer) and people with revolutionary merit (10 ×
base pay, plus 3 months of the merit standard level to the relatives) — DOMAIN.md §6."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from fakes.agencies._benefits import (
    Benefit,
    ClaimIn,
    Payment,
    Regime,
    is_emergency_cause,
    payment_schema,
    payments_of,
)
from fakes.agencies._common import PROBLEMS, Items, one_doc, search_by
from fakes.auth import Who, require
from fakes.idempotency import Writes, idem_key
from fakes.work import ACCEPTED, add_routes, shown
from fakes.work import EXPORT as WORK_EXPORT
from fakes.work import SCHEMA as WORK_SCHEMA

__all__ = ["EXPORT", "SCHEMA", "router"]

SCHEMA = payment_schema("funeral_supports") + WORK_SCHEMA
_SHOWN = shown("funeral_supports.payment_id")
EXPORT = {"funeral_supports": f"SELECT doc FROM funeral_supports WHERE {_SHOWN} ORDER BY payment_id",
          "work": WORK_EXPORT}
router = APIRouter(prefix="/social", tags=["social"], responses=PROBLEMS)
_REGIMES: dict[str, Regime] = {"social": "social_protection", "merit": "merit"}


def _regime(death: dict[str, Any]) -> Regime | None:
    """The regime social affairs pays a death under (DOMAIN.md §6): emergency support (50 ×) for
    an emergency cause when the deceased was a social-protection beneficiary (the highest
    applicable rate is paid) or had no other funeral payer (``none``); else by status. A person
    with merit keeps the merit regime [U]; the insured and pensioners are VSS's."""
    status = death["status"]
    if status in ("social", "none") and is_emergency_cause(death.get("cause")):
        return "emergency"
    return _REGIMES.get(status)


_SUPPORT = Benefit("social", "funeral_supports", "MT", _regime)
WRITES = Writes("social")


@router.post("/funeral-supports", status_code=201, response_model=Payment, responses=ACCEPTED)
async def pay_funeral_support(body: ClaimIn, request: Request,
                              who: Who = Depends(require("social:write")),
                              key: str = Depends(idem_key)) -> Response:
    """Pay funeral support for a registered death of an eligible person.

    Refused beyond the schema (CONTRACT.md §14): justice has no such death record →
    `death_not_registered`; the deceased neither `social` nor `merit`, nor `none` dead of an
    emergency cause (§8) → `not_eligible`; no rate in
    force on the date of death → `invalid_date`; paid already → `already_paid` (409).
    """
    return await WRITES(request, who, key, body, _SUPPORT.prepare, _SUPPORT.write,
                        task="pay_funeral_support")


_BY = search_by(("death_register_no", "KT-00070-2026-Q01-000003"), "paid_on")


@router.get("/funeral-supports", response_model=Items[Payment])
async def find_funeral_supports(request: Request, who: Who = Depends(require("social:read")),
                                by: tuple[str, str] = Depends(_BY)) -> Response:
    """The funeral-support payments for a death record, or made on a day (CONTRACT.md §10)."""
    return await payments_of(request, "social", "funeral_supports", by)


@router.get("/funeral-supports/{payment_id}", response_model=Payment)
async def get_funeral_support(payment_id: str, request: Request,
                              who: Who = Depends(require("social:read"))) -> Response:
    """One funeral-support payment."""
    return await one_doc(request, "social", "SELECT doc FROM funeral_supports WHERE payment_id = ? "
                         f"AND {_SHOWN}", payment_id, "payment")


add_routes(router, "social")
