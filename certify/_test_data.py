"""Test data: certificates, births, PIDs, deaths, built in whichever system holds each agency
(the vendor for the certified one, the reference fakes for the rest) (private).

Every value comes from the run seed and a counter, so the same seed makes the same requests.
A prerequisite that fails raises :class:`~certify._outcomes.Blocked` (the requirement is *not
run*), with the exchange as evidence.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from certify._exchanges import Exchange
from certify._outcomes import Blocked
from certify._run_context import Ctx
from fakes.ids import make_pid

__all__ = ["birth", "birth_body", "certificate", "certificate_body", "child", "claim_body", "death",
           "death_body", "deceased", "issue_pid", "months_ago", "notice", "person_name", "pid_of"]

_GIVEN = ("An", "Bình", "Chi", "Dũng", "Hà", "Khánh", "Lan", "Minh", "Ngọc", "Phúc", "Quân", "Thảo")
_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi")


def person_name(ctx: Ctx, middle: str) -> str:
    """A Vietnamese full name with ``middle`` (``Thị``, ``Văn``), drawn from the run serial."""
    n = ctx.serial()
    return f"{_FAMILY[n % len(_FAMILY)]} {middle} {_GIVEN[(n // 7) % len(_GIVEN)]}"


def months_ago(today: dt.date, months: int, days: int = 0) -> dt.date:
    """``today`` minus ``months`` calendar months (clamped) minus ``days``."""
    y, m0 = divmod(today.month - 1 - months, 12)
    year = today.year + y
    day = min(today.day, calendar.monthrange(year, m0 + 1)[1])
    return dt.date(year, m0 + 1, day) - dt.timedelta(days=days)


def pid_of(ctx: Ctx, sex: str, year: int) -> str:
    """A valid Hanoi personal ID for someone born in ``year`` (unique in the run)."""
    return make_pid("001", sex, year, ctx.serial())


def _post(ctx: Ctx, agency: str, path: str, body: dict[str, Any], caller: str,
          tag: str) -> Exchange:
    client = ctx.client(agency)
    with ctx.quiet():
        ex = client.post(path, body, caller, idem=ctx.key(tag, body))
    if ex.status not in (200, 201, 202):
        where = "the vendor" if agency == ctx.agency else "the reference fakes"
        raise Blocked(f"prerequisite {agency} {path} failed at {where}: {ex.status} {ex.code or ex.error}",
                      ex)
    return ex


def certificate_body(ctx: Ctx, birth_date: dt.date, sex: str = "F") -> dict[str, Any]:
    """An e-birth certificate for a child born ``birth_date`` to a mother born 28 years before."""
    mother_year = birth_date.year - 28
    return {"facility_code": "01001", "mother_name": person_name(ctx, "Thị"),
            "mother_birth_date": f"{mother_year}-04-12", "mother_pid": pid_of(ctx, "F", mother_year),
            "residence_province": "001", "residence_commune": "00070", "child_sex": sex,
            "child_birth_date": birth_date.isoformat(), "weight_grams": 3100, "birth_order": 1,
            "place_of_birth": "Bệnh viện Phụ sản Hà Nội", "father_name": person_name(ctx, "Văn")}


def certificate(ctx: Ctx, tag: str, birth_date: dt.date, sex: str = "F") -> dict[str, Any]:
    """A stored e-birth certificate (health)."""
    body = certificate_body(ctx, birth_date, sex)
    return dict(_post(ctx, "health", "/health/birth-certificates", body, "hospital", tag).response)


def birth_body(ctx: Ctx, cert_id: str) -> dict[str, Any]:
    return {"birth_certificate_id": cert_id, "child_name": person_name(ctx, "Minh"), "unit_code": "00070",
            "declarant_name": person_name(ctx, "Thị"), "declarant_relation": "mother"}


def birth(ctx: Ctx, tag: str, cert_id: str) -> dict[str, Any]:
    """A registered birth (justice)."""
    body = birth_body(ctx, cert_id)
    return dict(_post(ctx, "justice", "/justice/births", body, "portal", tag).response)


def issue_pid(ctx: Ctx, tag: str, register_no: str) -> dict[str, Any]:
    """A PID issued for a registered birth (police)."""
    body = {"birth_register_no": register_no}
    return dict(_post(ctx, "police", "/police/pids", body, "portal", tag).response)


def child(ctx: Ctx, tag: str, birth_date: dt.date, sex: str = "F") -> dict[str, Any]:
    """A child with certificate, birth record and PID: ``{cert_id, register_no, pid, birth_date}``."""
    cert = certificate(ctx, f"{tag}/cert", birth_date, sex)
    rec = birth(ctx, f"{tag}/ks", cert["id"])
    req = issue_pid(ctx, f"{tag}/pid", rec["register_no"])
    if not req.get("pid"):
        raise Blocked(f"police answered without a PID (status {req.get('status')})")
    return {"cert_id": cert["id"], "register_no": rec["register_no"], "pid": req["pid"],
            "birth_date": birth_date, "name": rec["child_name"]}


def notice(ctx: Ctx, tag: str, death_date: dt.date, birth_date: dt.date,
           pid: str | None = None, sex: str = "M") -> dict[str, Any]:
    """A stored death notice (health)."""
    body = {"facility_code": "01001", "deceased_pid": pid or pid_of(ctx, sex, birth_date.year),
            "deceased_name": person_name(ctx, "Văn"), "deceased_sex": sex,
            "deceased_birth_date": birth_date.isoformat(), "death_date": death_date.isoformat(),
            "place_of_death": "Bệnh viện Bạch Mai", "cause": "bệnh"}
    return dict(_post(ctx, "health", "/health/death-notices", body, "hospital", tag).response)


def death_body(ctx: Ctx, notice_id: str, status: str) -> dict[str, Any]:
    return {"death_notice_id": notice_id, "unit_code": "00070", "declarant_name": person_name(ctx, "Thị"),
            "declarant_relation": "child", "status": status}


def death(ctx: Ctx, tag: str, notice_id: str, status: str) -> dict[str, Any]:
    """A registered death (justice)."""
    body = death_body(ctx, notice_id, status)
    return dict(_post(ctx, "justice", "/justice/deaths", body, "portal", tag).response)


def deceased(ctx: Ctx, tag: str, status: str, death_date: dt.date,
             birth_date: dt.date = dt.date(1950, 5, 17)) -> dict[str, Any]:
    """A registered death of someone with benefit ``status``: the justice record."""
    n = notice(ctx, f"{tag}/gbt", death_date, birth_date)
    return death(ctx, f"{tag}/kt", n["id"], status)


def claim_body(ctx: Ctx, register_no: str) -> dict[str, Any]:
    return {"death_register_no": register_no, "claimant_name": person_name(ctx, "Thị"),
            "claimant_relation": "child", "bank_account": "97041234567"}
