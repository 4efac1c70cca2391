"""The main write of each agency, as used by the generic idempotency, resilience and
performance checks: how to make a fresh valid body (prerequisites included), another body for
the same prerequisites, the field naming the record, and the 409 code a second write of the same
fact must get under a new key (None when the contract has no such uniqueness) (private)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from certify import _test_data as data
from certify._dossiers import birth_dossier
from certify._run_context import Ctx

__all__ = ["WRITES", "Write"]

Body = dict[str, Any]


@dataclass(frozen=True)
class Write:
    path: str
    caller: str
    make: Callable[[Ctx, str], Body]
    vary: Callable[[Ctx, Body], Body]
    id_field: str
    unique_code: str | None
    status: int = 201


def _ago(ctx: Ctx, days: int) -> dt.date:
    return ctx.today - dt.timedelta(days=days)


def _health(ctx: Ctx, tag: str) -> Body:
    return data.certificate_body(ctx, _ago(ctx, 11))


def _justice(ctx: Ctx, tag: str) -> Body:
    return data.birth_body(ctx, data.certificate(ctx, f"{tag}/cert", _ago(ctx, 11))["id"])


def _police(ctx: Ctx, tag: str) -> Body:
    cert = data.certificate(ctx, f"{tag}/cert", _ago(ctx, 11))
    return {"birth_register_no": data.birth(ctx, f"{tag}/ks", cert["id"])["register_no"]}


def _police_vary(ctx: Ctx, body: Body) -> Body:
    return _police(ctx, f"vary/{body['birth_register_no']}")


def _vss(ctx: Ctx, tag: str) -> Body:
    return {"pid": data.child(ctx, f"{tag}/child", _ago(ctx, 11))["pid"], "initial_care_facility": "01001"}


def _social(ctx: Ctx, tag: str) -> Body:
    return data.claim_body(ctx, data.deceased(ctx, f"{tag}/death", "social", _ago(ctx, 2))["register_no"])


def _portal(ctx: Ctx, tag: str) -> Body:
    return birth_dossier(ctx, data.certificate(ctx, f"{tag}/cert", _ago(ctx, 11))["id"])


WRITES: dict[str, Write] = {
    "health": Write("/health/birth-certificates", "hospital", _health,
                    lambda ctx, b: dict(b, weight_grams=b["weight_grams"] + 100), "id", None),
    "justice": Write("/justice/births", "portal", _justice,
                     lambda ctx, b: dict(b, child_name="Phạm Gia Bảo"), "register_no",
                     "already_registered"),
    "police": Write("/police/pids", "portal", _police, _police_vary, "request_id", "already_issued"),
    "vss": Write("/vss/child-cards", "portal", _vss,
                 lambda ctx, b: dict(b, initial_care_facility="01002"), "card_code", "already_issued"),
    "social": Write("/social/funeral-supports", "portal", _social,
                    lambda ctx, b: dict(b, claimant_name="Đỗ Thị Mai"), "payment_id", "already_paid"),
    "portal": Write("/portal/dossiers", "desk", _portal,
                    lambda ctx, b: dict(b, applicant_name="Đỗ Thị Mai"), "id", None, status=202),
}
