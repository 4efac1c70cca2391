"""Refusals the contract promises that the fakes used to store (issue #14, point 4): a date before
1900-01-01 (a mother born 1899-12-31 or 0001-01-01), a PID whose century digit puts the birth
after today (2195, 2395, or next year), a `residence_province` outside the 63 codes (999), a
boolean or a string where a whole number belongs (`birth_order: true`), free text over 200
characters (`nationality`).

Real server on 127.0.0.1 with real SQLite (tests/fakes/conftest.py); Hypothesis draws each
family of values. Every one is a 422 with the contract's code (CONTRACT.md §3, §14) naming the
field in `errors[].field`, and nothing is stored: the register is read back through its contract
read (§10) where it has one keyed by the request, else counted in its export.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.ids import PROVINCES, make_pid
from tests.fakes.conftest import Api, fresh_pid

_SETTINGS = settings(max_examples=20, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
LAST_DAY = dt.date(2099, 12, 31)


def _refused(r: httpx.Response, code: str, field: str) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    doc = r.json()
    assert doc["code"] == code, doc
    assert [e["field"] for e in doc["errors"]] == [field], doc["errors"]


def _today(api: Api) -> dt.date:
    return dt.date.fromisoformat(api.http.get("/healthz").json()["now"][:10])


def _count(api: Api, agency: str, register: str) -> int:
    return len(api.export(agency)[register])


def _items(api: Api, path: str) -> list[Any]:
    r = api.get("auditor", path)
    assert r.status_code == 200, r.text
    items: list[Any] = r.json()["items"]
    return items


CERT = {"facility_code": "01001", "mother_name": "Nguyễn Thị Lan", "mother_birth_date": "1995-04-12",
        "residence_province": "001", "residence_commune": "00070", "child_sex": "M",
        "child_birth_date": "2026-03-01", "weight_grams": 3100,
        "place_of_birth": "Bệnh viện Phụ sản Hà Nội"}
NOTICE = {"facility_code": "01001", "deceased_name": "Lê Văn Hùng", "deceased_sex": "M",
          "deceased_birth_date": "1950-07-01", "death_date": "2026-03-05",
          "place_of_death": "Bệnh viện Bạch Mai"}


def _cert(**over: Any) -> dict[str, Any]:
    return {**CERT, "mother_pid": fresh_pid(), **over}


def _notice(**over: Any) -> dict[str, Any]:
    return {**NOTICE, "deceased_pid": fresh_pid("M", 1950), **over}


# -- dates before 1900-01-01 (and after the calendar) ---------------------------------------------

BEFORE_1900 = st.dates(max_value=dt.date(1899, 12, 31))


def test_the_issues_mothers_are_refused(api: Api) -> None:
    before = _count(api, "health", "birth_certificates")
    for born in ("1899-12-31", "0001-01-01"):
        r = api.post("hospital", "/health/birth-certificates", _cert(mother_birth_date=born))
        _refused(r, "invalid_date", "mother_birth_date")
    assert _count(api, "health", "birth_certificates") == before


# each hospital document with its date fields; validation refuses a date before the death is
# compared with the birth (§4)
_DATED = {"birth-certificates": ("birth_certificates", _cert, ("mother_birth_date", "child_birth_date")),
          "death-notices": ("death_notices", _notice, ("deceased_birth_date", "death_date"))}


@pytest.mark.parametrize("document", list(_DATED))
@_SETTINGS
@given(data=st.data(), day=BEFORE_1900)
def test_a_hospital_document_date_before_1900_is_invalid_date_and_stores_nothing(
        api: Api, document: str, data: st.DataObject, day: dt.date) -> None:
    register, build, fields = _DATED[document]
    field = data.draw(st.sampled_from(fields), label="field")
    before = _count(api, "health", register)
    r = api.post("hospital", f"/health/{document}", build(**{field: day.isoformat()}))
    _refused(r, "invalid_date", field)
    assert _count(api, "health", register) == before


@_SETTINGS
@given(day=st.dates(min_value=LAST_DAY + dt.timedelta(days=1)))
def test_a_date_after_the_calendar_is_future_date_at_validation(api: Api, day: dt.date) -> None:
    before = _count(api, "health", "birth_certificates")
    r = api.post("hospital", "/health/birth-certificates", _cert(mother_birth_date=day.isoformat()))
    _refused(r, "future_date", "mother_birth_date")
    assert _count(api, "health", "birth_certificates") == before


@_SETTINGS
@given(value=st.one_of(st.integers(), st.sampled_from(["20260301", "2026-03-01T00:00:00", "2026-3-1",
                                                      "2026-02-30", " 2026-03-01", "01/03/2026"])))
def test_a_date_is_an_iso_string_only(api: Api, value: Any) -> None:
    _refused(api.post("hospital", "/health/birth-certificates", _cert(child_birth_date=value)),
             "validation_error", "child_birth_date")


# -- PIDs whose holder is born after today --------------------------------------------------------

def _unborn_pid(province: str, sex: str, year: int, serial: int) -> str:
    """A PID of someone born in ``year`` (any year up to the 2300s the digit can say)."""
    return f"{province}{2 * ((year - 1900) // 100) + (sex == 'F')}{year % 100:02d}{serial:06d}"


def _unborn(after: int) -> st.SearchStrategy[str]:
    """PIDs of a known province whose century digit and year give a birth after ``after``."""
    return st.builds(_unborn_pid, st.sampled_from(sorted(PROVINCES)), st.sampled_from("MF"),
                     st.integers(after + 1, 2399), st.integers(0, 999_999))


def test_the_issues_pids_are_refused(api: Api) -> None:
    before = _count(api, "health", "birth_certificates")
    for pid in ("001595012345", "001995012345"):  # born 2195, 2395
        r = api.post("hospital", "/health/birth-certificates", _cert(mother_pid=pid))
        _refused(r, "invalid_pid", "mother_pid")
    assert _count(api, "health", "birth_certificates") == before


@_SETTINGS
@given(data=st.data())
def test_a_pid_born_after_today_is_invalid_pid_on_every_agency_and_stores_nothing(
        api: Api, data: st.DataObject) -> None:
    pid = data.draw(_unborn(_today(api).year))
    health = (_count(api, "health", "birth_certificates"), _count(api, "health", "death_notices"))
    _refused(api.post("hospital", "/health/birth-certificates", _cert(mother_pid=pid)),
             "invalid_pid", "mother_pid")
    _refused(api.post("hospital", "/health/death-notices", _notice(deceased_pid=pid)),
             "invalid_pid", "deceased_pid")
    assert (_count(api, "health", "birth_certificates"), _count(api, "health", "death_notices")) == health
    home = {"pid": pid, "household_id": "HK0000000001", "relation_to_head": "child",
            "address": "12 Phố Huế", "commune_code": "00070"}
    _refused(api.post("portal", "/police/residences", home), "invalid_pid", "pid")
    assert _items(api, f"/police/residences?pid={pid}") == []
    removal = {"pid": pid, "death_register_no": "KT-00070-2026-Q01-000001"}
    _refused(api.post("portal", "/police/residence-removals", removal), "invalid_pid", "pid")
    assert _items(api, f"/police/residence-removals?pid={pid}") == []
    _refused(api.post("portal", "/vss/child-cards", {"pid": pid}), "invalid_pid", "pid")
    assert _items(api, f"/vss/child-cards?pid={pid}") == []


@_SETTINGS
@given(pid=_unborn(LAST_DAY.year))
def test_a_portal_applicant_born_after_the_calendar_is_refused_at_the_door(api: Api, pid: str) -> None:
    body = api.birth_dossier()
    body["applicant_pid"] = pid
    document = body["birth"]["birth_certificate_id"]
    _refused(api.post("desk", "/portal/dossiers", body), "invalid_pid", "applicant_pid")
    assert _items(api, f"/portal/dossiers?document={document}") == []


def test_a_portal_applicant_born_next_year_is_refused(api: Api) -> None:
    body = api.birth_dossier()
    body["applicant_pid"] = make_pid("001", "F", _today(api).year + 1, 7)
    document = body["birth"]["birth_certificate_id"]
    r = api.post("desk", "/portal/dossiers", body)
    assert _items(api, f"/portal/dossiers?document={document}") == []
    _refused(r, "invalid_pid", "applicant_pid")


# -- province codes -------------------------------------------------------------------------------

NOT_A_PROVINCE = st.one_of(st.from_regex(r"[0-9]{3}", fullmatch=True), st.text(max_size=5),
                           st.integers(0, 999).map(str)).filter(lambda s: s.strip() not in PROVINCES)


@_SETTINGS
@given(code=NOT_A_PROVINCE)
def test_a_residence_province_outside_the_63_is_refused_and_stores_nothing(api: Api, code: str) -> None:
    before = _count(api, "health", "birth_certificates")
    _refused(api.post("hospital", "/health/birth-certificates", _cert(residence_province=code)),
             "validation_error", "residence_province")
    assert _count(api, "health", "birth_certificates") == before


# -- whole numbers and booleans take JSON's types ---------------------------------------------------

NOT_A_WHOLE_NUMBER = st.one_of(st.booleans(), st.integers(1, 20).map(str),
                               st.floats(1, 20).filter(lambda x: not x.is_integer()),
                               st.lists(st.integers(1, 20), max_size=1))


@_SETTINGS
@given(field=st.sampled_from(["birth_order", "weight_grams"]), value=NOT_A_WHOLE_NUMBER)
def test_a_boolean_or_a_string_is_not_a_whole_number(api: Api, field: str, value: Any) -> None:
    before = _count(api, "health", "birth_certificates")
    _refused(api.post("hospital", "/health/birth-certificates", _cert(**{field: value})),
             "validation_error", field)
    assert _count(api, "health", "birth_certificates") == before


@_SETTINGS
@given(field=st.sampled_from(["under_32_weeks", "caesarean"]),
       value=st.one_of(st.integers(0, 1), st.sampled_from(["true", "false", "yes", "on", "1"])))
def test_a_flag_is_true_or_false_only(api: Api, field: str, value: Any) -> None:
    _refused(api.post("hospital", "/health/birth-certificates", _cert(**{field: value})),
             "validation_error", field)


def test_a_whole_number_may_be_written_as_a_json_float(api: Api) -> None:
    """JSON Schema's ``integer`` admits ``2.0``: so does the server, storing ``2``."""
    cert = api.cert(birth_order=2.0, weight_grams=3100.0)
    assert (cert["birth_order"], cert["weight_grams"]) == (2, 3100)


# -- free text over 200 characters --------------------------------------------------------------

LONG_TEXT = st.text(st.characters(categories=["L", "N", "P", "S"]), min_size=201, max_size=260)


@pytest.fixture(scope="module")
def certificate(api: Api) -> dict[str, Any]:
    return api.cert()


def _birth(cert: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {"birth_certificate_id": cert["id"], "child_name": "Trần Minh An", "unit_code": "00070",
            "declarant_name": "Nguyễn Thị Lan", "declarant_relation": "mother", **over}


def test_the_issues_nationality_is_refused(api: Api, certificate: dict[str, Any]) -> None:
    _refused(api.post("portal", "/justice/births", _birth(certificate, nationality="V" * 201)),
             "validation_error", "nationality")
    assert _items(api, f"/justice/births?birth_certificate_id={certificate['id']}") == []


@_SETTINGS
@given(text=st.one_of(LONG_TEXT, st.sampled_from(["", "   ", "\t\n", "\u3000"])))
def test_a_nationality_over_200_characters_or_blank_is_refused_and_stores_nothing(
        api: Api, certificate: dict[str, Any], text: str) -> None:
    _refused(api.post("portal", "/justice/births", _birth(certificate, nationality=text)),
             "validation_error", "nationality")
    assert _items(api, f"/justice/births?birth_certificate_id={certificate['id']}") == []


@_SETTINGS
@given(text=LONG_TEXT)
def test_other_free_text_over_200_characters_is_refused(api: Api, text: str) -> None:
    before = _count(api, "health", "birth_certificates")
    _refused(api.post("hospital", "/health/birth-certificates", _cert(place_of_birth=text)),
             "validation_error", "place_of_birth")
    assert _count(api, "health", "birth_certificates") == before
    home = {"pid": fresh_pid(), "household_id": "HK0000000002", "relation_to_head": "child",
            "address": text, "commune_code": "00070"}
    _refused(api.post("portal", "/police/residences", home), "validation_error", "address")
    assert _items(api, f"/police/residences?pid={home['pid']}") == []
