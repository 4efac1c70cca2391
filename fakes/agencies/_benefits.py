"""Shared by VSS and social affairs: child-card validity and funeral payments."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from sqlite3 import Connection
from typing import Any, Literal

from fastapi import Request
from pydantic import Field
from starlette.responses import Response

from fakes._env import Env
from fakes.agencies._common import Body, Name, RecordId, RegisterNo, Relation, list_docs
from fakes.idempotency import Out
from fakes.ids import mask
from fakes.problems import Problem
from fakes.store import dumps
from fakes.work import shown
from scenarios import Scenario
from scenarios.benefits import EMERGENCY_CAUSES, is_emergency_cause

__all__ = [
    "EMERGENCY_CAUSES", "Benefit", "ClaimIn", "Payment", "Regime", "add_months", "card_validity",
    "funeral_amount", "is_emergency_cause", "merit_lump_sum", "payment_schema", "payments_of",
]


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months (clamped to the month's last day)."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))


def card_validity(birth_date: dt.date) -> tuple[dt.date, dt.date]:
    """(valid_from, valid_to) of a child's BHYT card (DOMAIN.md §5).

    From birth to the day before the child is 72 months old; when that day comes on or before
    30/09 of its year (the child turns six before the school year starts) the card runs to
    30/09 of that year.
    """
    sixth = add_months(birth_date, 72)
    school_end = dt.date(sixth.year, 9, 30)
    return birth_date, school_end if sixth <= school_end else sixth - dt.timedelta(days=1)


Regime = Literal["bhxh_funeral", "social_protection", "emergency", "merit", "survivor"]

def funeral_amount(scenario: Scenario, regime: Regime, death_date: dt.date) -> tuple[int, float]:
    """(unit in VND, multiple) for ``regime`` on ``death_date`` (DOMAIN.md §6).

    Raises ValueError when no rate is in force on that date.
    """
    money = scenario.money
    if regime == "social_protection":
        return money.amount_on(money.standard_level, death_date), money.social_funeral_multiple
    if regime == "emergency":
        return money.amount_on(money.standard_level, death_date), money.emergency_funeral_multiple
    return money.amount_on(money.base_pay, death_date), money.funeral_base_pay_multiple


def merit_lump_sum(scenario: Scenario, death_date: dt.date) -> int | None:
    """The lump sum to the relatives of a person with merit: ``merit_lump_sum_months`` months of
    the merit standard level in force on ``death_date`` (DOMAIN.md §6; ND 131/2021 Art. 121).

    ASSUMPTION [U]: the deceased's monthly allowance is one standard level (the figure for a
    martyr's relative, ND 77/2024); it varies by category. None when the scenario prices none.
    Raises ValueError when no level is in force on that date.
    """
    money = scenario.money
    if not money.merit_standard:
        return None
    return round(money.merit_lump_sum_months * money.amount_on(money.merit_standard, death_date))


class ClaimIn(Body):
    """A funeral or survivor claim on a registered death."""

    death_register_no: RegisterNo
    claimant_name: Name
    claimant_relation: Relation
    bank_account: str | None = Field(default=None, pattern=r"^[0-9]{6,20}$")


class Payment(Body):
    """A funeral payment or survivor settlement."""

    payment_id: RecordId
    death_register_no: str
    deceased_pid: str
    death_date: dt.date
    status: str
    regime: Regime
    unit_vnd: int | None
    multiple: float | None
    amount_vnd: int | None
    claimant_name: str
    paid_on: dt.date
    lump_sum_vnd: int | None = None  # merit: months of the merit standard level to the relatives


@dataclass(frozen=True, slots=True)
class _Claim:
    """A claim about to be paid: the death record at justice and the amount's terms."""

    death: dict[str, Any]
    regime: Regime
    unit: int | None
    multiple: float | None
    lump_sum: int | None = None


@dataclass(frozen=True, slots=True)
class Benefit:
    """One payment per registered death, by the deceased's status, paid by ``agency`` into
    ``table`` (ids ``prefix`` + serial); see CONTRACT.md §7-8. ``prepare`` and ``write`` are
    the steps of the agency's ``fakes.idempotency.Writes``."""

    agency: str
    table: str
    prefix: str
    regime_of: Callable[[dict[str, Any]], Regime | None]  # of the death record at justice
    priced: bool = True
    dup_code: str = "already_paid"

    async def prepare(self, env: Env, body: ClaimIn) -> _Claim:
        """The death record and the terms (422 when unregistered, not eligible or unpriced)."""
        death = await env.read(self.agency, "justice", f"/justice/deaths/{body.death_register_no}")
        if death is None:
            raise Problem(422, "death_not_registered", "justice has no such death record")
        regime = self.regime_of(death)
        if regime is None:
            raise Problem(422, "not_eligible",
                          f"a deceased with status {death['status']!r} is not paid by {self.agency}")
        death_date = dt.date.fromisoformat(death["death_date"])
        unit, multiple = _price(env, regime, death_date) if self.priced else (None, None)
        lump = _lump_sum(env, death_date) if regime == "merit" and self.priced else None
        return _Claim(death, regime, unit, multiple, lump)

    def write(self, env: Env, db: Connection, body: ClaimIn, claim: _Claim) -> Out:
        """Store the payment (409 ``dup_code`` when this death is paid already)."""
        death, table = claim.death, self.table
        old = db.execute(f"SELECT payment_id FROM {table} WHERE death_register_no = ?",
                         (body.death_register_no,)).fetchone()
        if old is not None:
            raise Problem(409, self.dup_code, f"this death of {mask(death['deceased_pid'])} is "
                          "already settled", existing=old[0])
        pid_ = f"{self.prefix}{env.stores[self.agency].next_serial(db, table):010d}"
        unit, multiple = claim.unit, claim.multiple
        amount = None if unit is None or multiple is None else round(unit * multiple)
        doc = Payment(payment_id=pid_, death_register_no=body.death_register_no,
                      deceased_pid=death["deceased_pid"],
                      death_date=dt.date.fromisoformat(death["death_date"]),
                      status=death["status"], regime=claim.regime, unit_vnd=unit,
                      multiple=multiple, amount_vnd=amount, claimant_name=body.claimant_name,
                      paid_on=env.clock.today(), lump_sum_vnd=claim.lump_sum).model_dump(mode="json")
        db.execute(f"INSERT INTO {table} VALUES (?, ?, ?)",
                   (pid_, body.death_register_no, dumps(doc)))
        return 201, doc, {}


def _price(env: Env, regime: Regime, death_date: dt.date) -> tuple[int, float]:
    try:
        return funeral_amount(env.scenario, regime, death_date)
    except ValueError as exc:
        raise Problem(422, "invalid_date", str(exc)) from None


def _lump_sum(env: Env, death_date: dt.date) -> int | None:
    """The merit lump sum, None when no merit level is in force on ``death_date`` (the funeral
    allowance itself is priced by base pay and still paid)."""
    try:
        return merit_lump_sum(env.scenario, death_date)
    except ValueError:
        return None


def payment_schema(table: str) -> str:
    """The SQL of a payments table with one row per death."""
    return (f"CREATE TABLE IF NOT EXISTS {table} (payment_id TEXT PRIMARY KEY, "
            "death_register_no TEXT UNIQUE NOT NULL, doc TEXT NOT NULL);\n"
            f"CREATE INDEX IF NOT EXISTS {table}_paid_on ON {table}(json_extract(doc, '$.paid_on'));\n")



async def payments_of(request: Request, agency: str, table: str, by: tuple[str, str]) -> Response:
    """``{"items": [...]}``: the payments of ``table`` for a death record or made on a day,
    ``by`` = ``("death_register_no" | "paid_on", value)`` (CONTRACT.md §10)."""
    column = "death_register_no" if by[0] == "death_register_no" else "json_extract(doc, '$.paid_on')"
    return await list_docs(request, agency, f"SELECT doc FROM {table} WHERE {column} = ? "
                           f"AND {shown(table + '.payment_id')} ORDER BY payment_id", by[1])
