"""Dossiers through a portal, polled to the end; registers read back from the fakes (private)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from certify._context import Blocked, Ctx
from certify._http import Client, Exchange

__all__ = ["birth_dossier", "death_dossier", "export", "poll_dossier", "submit"]


def birth_dossier(ctx: Ctx, cert_id: str, variant: str = "ks_tt_bhyt",
                  caller_name: str = "Nguyễn Thị Lan") -> dict[str, Any]:
    """A birth dossier body for the certificate ``cert_id``."""
    from certify._factory import _name, pid_of

    return {"service": "birth", "variant": variant, "channel": "online",
            "applicant_name": caller_name, "applicant_pid": pid_of(ctx, "F", 1995),
            "birth": {"birth_certificate_id": cert_id, "child_name": _name(ctx, "Minh"),
                      "unit_code": "00070", "declarant_relation": "mother",
                      "household_id": f"HK{ctx.serial():010d}", "relation_to_head": "child",
                      "address": "12 Phố Huế", "initial_care_facility": "01001"}}


def death_dossier(ctx: Ctx, notice_id: str, status: str,
                  variant: str = "kt_xtt_funeral") -> dict[str, Any]:
    """A death dossier body for the notice ``notice_id`` of a deceased with ``status``."""
    from certify._factory import pid_of

    return {"service": "death", "variant": variant, "channel": "desk",
            "applicant_name": "Lê Thị Hoa", "applicant_pid": pid_of(ctx, "F", 1975),
            "death": {"death_notice_id": notice_id, "unit_code": "00070", "status": status,
                      "declarant_relation": "child", "claimant_name": "Lê Thị Hoa",
                      "claimant_relation": "child", "bank_account": "97041234567"}}


def submit(ctx: Ctx, client: Client, body: dict[str, Any], tag: str,
           caller: str = "desk") -> Exchange:
    return client.post("/portal/dossiers", body, caller, idem=ctx.key(tag, body))


def poll_dossier(client: Client, dossier_id: str, timeout: float,
                 caller: str = "desk") -> Exchange:
    """GET the dossier until it is completed or rejected (or ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    while True:
        ex = client.get(f"/portal/dossiers/{dossier_id}", caller)
        status = ex.response.get("status") if isinstance(ex.response, dict) else None
        if status in ("completed", "rejected") or time.monotonic() > deadline:
            return ex
        time.sleep(0.2)


def export(ctx: Ctx, agency: str) -> dict[str, list[dict[str, Any]]]:
    """The reference fakes' registers of ``agency`` (admin export; never the vendor's)."""
    ex = ctx.eco.get(f"/admin/export/{agency}", "admin")
    if ex.status != 200:
        raise Blocked(f"cannot export the reference {agency} registers: {ex.status}", ex)
    return dict(ex.response["registers"])


def card_validity(birth: dt.date) -> tuple[dt.date, dt.date]:
    """Valid from/to of a child's BHYT card, from DOMAIN.md §5 (written here from the rule, not
    taken from the fakes): to the day before 72 months, or 30/09 when the 72-month day falls on
    or before 30/09 of its year."""
    from certify._factory import months_ago

    sixth = months_ago(birth, -72)
    school_end = dt.date(sixth.year, 9, 30)
    return birth, school_end if sixth <= school_end else sixth - dt.timedelta(days=1)
