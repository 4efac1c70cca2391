"""Linked-service dossiers: their bodies, submitted to a portal and polled to the end (private)."""

from __future__ import annotations

import time
from typing import Any

from certify._exchanges import Client, Exchange
from certify._run_context import Ctx
from certify._test_data import person_name, pid_of

__all__ = ["birth_dossier", "death_dossier", "poll_dossier", "submit"]


def birth_dossier(ctx: Ctx, cert_id: str, variant: str = "ks_tt_bhyt",
                  caller_name: str = "Nguyễn Thị Lan") -> dict[str, Any]:
    """A birth dossier body for the certificate ``cert_id``."""
    return {"service": "birth", "variant": variant, "channel": "online",
            "applicant_name": caller_name, "applicant_pid": pid_of(ctx, "F", 1995),
            "birth": {"birth_certificate_id": cert_id, "child_name": person_name(ctx, "Minh"),
                      "unit_code": "00070", "declarant_relation": "mother",
                      "household_id": f"HK{ctx.serial():010d}", "relation_to_head": "child",
                      "address": "12 Phố Huế", "initial_care_facility": "01001"}}


def death_dossier(ctx: Ctx, notice_id: str, status: str,
                  variant: str = "kt_xtt_funeral") -> dict[str, Any]:
    """A death dossier body for the notice ``notice_id`` of a deceased with ``status``."""
    return {"service": "death", "variant": variant, "channel": "desk",
            "applicant_name": "Lê Thị Hoa", "applicant_pid": pid_of(ctx, "F", 1975),
            "death": {"death_notice_id": notice_id, "unit_code": "00070", "status": status,
                      "declarant_relation": "child", "claimant_name": "Lê Thị Hoa",
                      "claimant_relation": "child", "bank_account": "97041234567"}}


def submit(ctx: Ctx, client: Client, body: dict[str, Any], tag: str,
           caller: str = "desk") -> Exchange:
    """POST the dossier ``body`` to ``client``'s portal with a key from ``tag`` and the body."""
    return client.post("/portal/dossiers", body, caller, idem=ctx.key(tag, body))


def poll_dossier(client: Client, dossier_id: str, timeout: float,
                 caller: str = "desk") -> Exchange:
    """GET the dossier until it is completed, rejected or failed (or ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    while True:
        ex = client.get(f"/portal/dossiers/{dossier_id}", caller)
        status = ex.response.get("status") if isinstance(ex.response, dict) else None
        if status in ("completed", "rejected", "failed") or time.monotonic() > deadline:
            return ex
        time.sleep(0.2)
