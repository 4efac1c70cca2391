"""The main write of each agency, as used by the generic idempotency, resilience and
performance checks: how to make a fresh valid body (prerequisites included), another body for
the same prerequisites, the field naming the record, and how to show that one write left exactly
one record (private):

- where the contract has business uniqueness (justice, police, vss, social), the 409 code a
  second write of the same fact must get under a new key, naming the record;
- where it has none, a read that counts the records of the fact: the portal's register read
  ``GET /portal/dossiers?document={certificate}`` (CONTRACT.md §10) must list exactly the one
  dossier; health has no register read, so the certificates numbered next to the record in its
  book (``GCS-<facility>-<year>-<entry>``, entries ±1 and ±2: where a retried or duplicated
  write would have put its second record) must not hold the same certificate again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from certify import _test_data as data
from certify._dossiers import birth_dossier
from certify._exchanges import Exchange
from certify._outcomes import Blocked, Failed, ensure, expect_equal
from certify._run_context import Ctx

__all__ = ["WRITES", "Write"]

Body = dict[str, Any]
#: Shows that ``body`` (answered ``record``) left exactly one record; returns the reads made.
Proof = Callable[[Ctx, Body, Body], list[Exchange]]


@dataclass(frozen=True)
class Write:
    path: str
    caller: str
    make: Callable[[Ctx, str], Body]
    vary: Callable[[Ctx, Body], Body]
    id_field: str
    unique_code: str | None
    status: int = 201
    one_record: Proof | None = None
    work: bool = False  # may be answered 202 with a work resource instead (CONTRACT.md §13)

    @property
    def accepted(self) -> tuple[int, ...]:
        """The statuses that accept the write: ``status``, and 202 where the agency may work in time."""
        return (self.status, 202) if self.work else (self.status,)


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


_UNSERVED = (404, 405, 501)


def _reader(ctx: Ctx, scope: str) -> str:
    """The first non-citizen caller of the scenario holding ``scope``."""
    for name, caller in sorted(ctx.scenario.callers.items()):
        if scope in caller.scopes and caller.role != "citizen":
            return name
    raise Blocked(f"no caller of scenario {ctx.scenario.meta.name!r} holds {scope}: one record "
                  "cannot be read")


def _one_dossier(ctx: Ctx, body: Body, record: Body) -> list[Exchange]:
    cert = body["birth"]["birth_certificate_id"]
    ex = ctx.vendor.get(f"/portal/dossiers?document={quote(cert)}", _reader(ctx, "portal:read"))
    if ex.status in _UNSERVED:
        raise Blocked(f"one record cannot be shown: GET /portal/dossiers?document= (CONTRACT.md §10) "
                      f"answered {ex.status}", ex)
    items = ex.response.get("items") if isinstance(ex.response, dict) else None
    ensure(ex.status == 200 and isinstance(items, list),
           f"GET /portal/dossiers?document={cert}: expected 200 with items, got {ex.status} "
           f"{ex.code or ex.error}", ex)
    assert isinstance(items, list)
    ids = [i.get("id") if isinstance(i, dict) else i for i in items]
    expect_equal(f"number of dossiers for certificate {cert}", 1, len(ids), ex,
                 why=f"one write, one dossier (listed: {', '.join(map(str, ids[:5])) or 'none'})")
    expect_equal("items[0].id", record.get("id"), ids[0], ex, why="the dossier the write answered")
    return [ex]


_SAME_CERTIFICATE = ("mother_pid", "mother_name", "child_birth_date", "child_sex", "facility_code")


def _one_certificate(ctx: Ctx, body: Body, record: Body) -> list[Exchange]:
    ident = str(record.get("id"))
    m = re.fullmatch(r"(GCS-\d{5}-\d{4}-)(\d{6})", ident)
    if m is None:
        raise Blocked(f"one record cannot be shown: id {ident!r} is not GCS-<facility>-<year>-<entry>, "
                      "so its neighbours in the book cannot be read")
    entry = int(m.group(2))
    out = []
    reader = _reader(ctx, "health:read")
    for n in (entry - 2, entry - 1, entry + 1, entry + 2):
        if not 0 < n < 1_000_000:
            continue
        ex = ctx.vendor.get(f"/health/birth-certificates/{m.group(1)}{n:06d}", reader)
        out.append(ex)
        doc = ex.response if ex.status == 200 and isinstance(ex.response, dict) else {}
        if doc and all(doc.get(k) == body.get(k) for k in _SAME_CERTIFICATE):
            raise Failed(f"two records of one write: {doc.get('id')} holds the same certificate as "
                         f"{ident} ({', '.join(_SAME_CERTIFICATE)} equal)", ex)
    return out


WRITES: dict[str, Write] = {
    "health": Write("/health/birth-certificates", "hospital", _health,
                    lambda ctx, b: dict(b, weight_grams=b["weight_grams"] + 100), "id", None,
                    one_record=_one_certificate),
    "justice": Write("/justice/births", "portal", _justice,
                     lambda ctx, b: dict(b, child_name="Phạm Gia Bảo"), "register_no",
                     "already_registered", work=True),
    "police": Write("/police/pids", "portal", _police, _police_vary, "request_id", "already_issued",
                    work=True),
    "vss": Write("/vss/child-cards", "portal", _vss,
                 lambda ctx, b: dict(b, initial_care_facility="01002"), "card_id", "already_issued",
                 work=True),
    "social": Write("/social/funeral-supports", "portal", _social,
                    lambda ctx, b: dict(b, claimant_name="Đỗ Thị Mai"), "payment_id", "already_paid",
                    work=True),
    "portal": Write("/portal/dossiers", "desk", _portal,
                    lambda ctx, b: dict(b, applicant_name="Đỗ Thị Mai"), "id", None, status=202,
                    one_record=_one_dossier),
}
