"""Identifier and code fields take the ASCII digits 0-9 only (CONTRACT.md §14; issue: fullwidth or
Arabic-Indic digits passed ``\\d`` patterns, then crashed a handler into a plain 500 that still
wrote, or hung a dossier the portal retried without limit).

Real server on 127.0.0.1 with real SQLite; Hypothesis draws digit strings from every Unicode
script: any non-ASCII digit is a 422 ``validation_error`` naming the field, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.conftest import Api

# a decimal digit of any script other than ASCII (fullwidth ０, Arabic-Indic ٠, Devanagari ०, …)
FOREIGN_DIGIT = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())


def foreign(n: int) -> st.SearchStrategy[str]:
    """``n`` digits, at least one of them not ASCII."""
    ascii_or_foreign = st.one_of(st.sampled_from("0123456789"), FOREIGN_DIGIT)
    return st.lists(ascii_or_foreign, min_size=n, max_size=n).map("".join).filter(
        lambda s: not s.isascii())


def _refused(r: Any, field: str) -> None:
    assert r.status_code == 422, r.text
    doc = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert doc["code"] == "validation_error", doc
    assert any(e["field"].endswith(field) for e in doc["errors"]), doc["errors"]


_SETTINGS = settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(code=foreign(5))
def test_a_hospital_code_with_foreign_digits_is_refused_and_nothing_written(api: Api, code: str) -> None:
    before = len(api.export("health")["birth_certificates"])
    r = api.post("hospital", "/health/birth-certificates",
                 {"facility_code": code, "mother_name": "Nguyễn Thị Lan", "mother_birth_date": "1995-04-12",
                  "mother_pid": "001195000001", "residence_province": "001", "residence_commune": "00070",
                  "child_sex": "M", "child_birth_date": "2026-03-01", "weight_grams": 3100,
                  "place_of_birth": "Bệnh viện Phụ sản Hà Nội"})
    _refused(r, "facility_code")
    assert len(api.export("health")["birth_certificates"]) == before


@_SETTINGS
@given(code=foreign(5))
def test_a_portal_dossier_with_a_foreign_unit_code_is_refused_at_once(api: Api, code: str) -> None:
    body = api.birth_dossier()
    body["birth"]["unit_code"] = code
    before = len(api.export("portal")["dossiers"])
    r = api.post("desk", "/portal/dossiers", body)
    _refused(r, "unit_code")  # refused at the door: never a dossier the portal retries forever
    assert len(api.export("portal")["dossiers"]) == before


@_SETTINGS
@given(account=foreign(10), household=foreign(10))
def test_bank_accounts_and_households_take_ascii_digits_only(api: Api, account: str, household: str) -> None:
    death = api.death_dossier()
    death["death"]["bank_account"] = account
    _refused(api.post("desk", "/portal/dossiers", death), "bank_account")
    birth = api.birth_dossier()
    birth["birth"]["household_id"] = "HK" + household
    _refused(api.post("desk", "/portal/dossiers", birth), "household_id")


def test_the_published_patterns_say_ascii(api: Api) -> None:
    spec = api.http.get("/openapi.json").text
    assert "\\\\d" not in spec  # no \d in any published pattern: [0-9]
