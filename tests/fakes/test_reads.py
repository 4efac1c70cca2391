"""Register reads for reconciliation (CONTRACT.md §10), over a real loopback server: each read
answers what the admin export holds for its key, item for item."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes._orchestrator import public
from scenarios import Scenario
from scenarios.model import Dist, Fault
from tests.fakes.conftest import Api, citizen, serve_thread

# path -> (query parameter, agency, exported register, field of the record holding the key)
READS: dict[str, tuple[str, str, str, str]] = {
    "/justice/births": ("birth_certificate_id", "justice", "births", "birth_certificate_id"),
    "/justice/deaths": ("death_notice_id", "justice", "deaths", "death_notice_id"),
    "/police/pid-requests": ("birth_register_no", "police", "pid_requests", "birth_register_no"),
    "/police/residences": ("pid", "police", "residences", "pid"),
    "/police/residence-removals": ("pid", "police", "removals", "pid"),
    "/vss/child-cards": ("pid", "vss", "cards", "pid"),
    "/vss/funeral-allowances": ("death_register_no", "vss", "funeral_allowances",
                                "death_register_no"),
    "/vss/survivor-benefits": ("death_register_no", "vss", "survivor_benefits",
                               "death_register_no"),
    "/social/funeral-supports": ("death_register_no", "social", "funeral_supports",
                                 "death_register_no"),
    "/portal/dossiers": ("document", "portal", "dossiers", "document"),
}
# the single-record GET of each register whose read has one: path template, id field
SINGLE = {"/justice/births": ("/justice/births/{}", "register_no"),
          "/justice/deaths": ("/justice/deaths/{}", "register_no"),
          "/police/pid-requests": ("/police/pid-requests/{}", "request_id"),
          "/vss/child-cards": ("/vss/child-cards/{}", "card_code"),
          "/vss/funeral-allowances": ("/vss/funeral-allowances/{}", "payment_id"),
          "/vss/survivor-benefits": ("/vss/survivor-benefits/{}", "payment_id"),
          "/social/funeral-supports": ("/social/funeral-supports/{}", "payment_id"),
          "/portal/dossiers": ("/portal/dossiers/{}", "id")}


def read(api: Api, path: str, value: str | None, who: str | None = "auditor") -> Any:
    params = {} if value is None else {READS[path][0]: value}
    return api.http.get(path, params=params, headers=api.headers(who))


def expected(registers: dict[str, Any], path: str, value: str) -> list[dict[str, Any]]:
    """The exported records of ``path``'s register for ``value``, in the read's shape."""
    _, agency, table, field = READS[path]
    rows = registers[agency][table]
    if path == "/portal/dossiers":
        return [public(d) for d in rows if value in (
            (d["input"].get("birth") or {}).get("birth_certificate_id"),
            (d["input"].get("death") or {}).get("death_notice_id"))]
    if path == "/police/pid-requests":  # the single GET leaves out the province
        rows = [{k: v for k, v in r.items() if k != "province"} for r in rows]
    return [r for r in rows if r[field] == value]


@pytest.fixture(scope="module")
def keys(api: Api) -> dict[str, list[str]]:
    """Completed dossiers of every kind, and per read the keys that find records."""
    birth = api.submit_and_wait(api.birth_dossier("ks_tt_bhyt"))
    gone = api.submit_and_wait(api.birth_dossier("ks_tt"))  # the child then dies
    child = gone["result"]["pid"]
    died = api.submit_and_wait(api.death_dossier(
        "kt_xtt", "none", deceased_pid=child, deceased_name="Trần Minh An",
        deceased_birth_date="2026-03-01"))
    paid = api.submit_and_wait(api.death_dossier("kt_xtt_funeral_survivor", "pensioner"))
    social = api.submit_and_wait(api.death_dossier("kt_xtt_funeral", "social"))
    dossiers = (birth, gone, died, paid, social)
    assert [d["status"] for d in dossiers] == ["completed"] * 5, dossiers
    registers = api.exports()
    inputs = {d["id"]: d["input"] for d in registers["portal"]["dossiers"]}
    parts = [inputs[d["id"]]["birth"] or inputs[d["id"]]["death"] for d in dossiers]
    documents = [p.get("birth_certificate_id") or p["death_notice_id"] for p in parts]
    r = [d["result"] for d in dossiers]
    return {
        "/justice/births": documents[:2],
        "/justice/deaths": documents[2:],
        "/police/pid-requests": [r[0]["birth_register_no"], r[1]["birth_register_no"]],
        "/police/residences": [r[0]["pid"], child],
        "/police/residence-removals": [child, r[3]["deceased_pid"]],
        "/vss/child-cards": [r[0]["pid"]],
        "/vss/funeral-allowances": [r[3]["death_register_no"]],
        "/vss/survivor-benefits": [r[3]["death_register_no"]],
        "/social/funeral-supports": [r[4]["death_register_no"]],
        "/portal/dossiers": documents,
    }


@pytest.mark.parametrize("path", list(READS))
def test_each_read_answers_what_the_export_holds(api: Api, keys: dict[str, list[str]],
                                                  path: str) -> None:
    registers = api.exports()
    for value in keys[path]:
        r = read(api, path, value)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        items = r.json()["items"]
        assert items == expected(registers, path, value) and len(items) == 1, (path, value)
        if path in SINGLE:  # each item as the single-record GET returns it
            template, ident = SINGLE[path]
            singles = [api.get("auditor", template.format(i[ident])).json() for i in items]
            assert items == singles


def test_residences_show_active_and_removed(api: Api, keys: dict[str, list[str]]) -> None:
    alive, dead = keys["/police/residences"]
    assert [x["active"] for x in read(api, "/police/residences", alive).json()["items"]] == [True]
    assert [x["active"] for x in read(api, "/police/residences", dead).json()["items"]] == [False]


@pytest.mark.parametrize("path", list(READS))
def test_an_unknown_key_finds_nothing(api: Api, path: str) -> None:
    for value in ("GCS-01001-2026-999999", "001226999999", "KT-00070-2026-Q01-999999", " "):
        r = read(api, path, value)
        assert (r.status_code, r.json()) == (200, {"items": []})


# the reads that also list a whole day (nothing made for anyone no dossier asked for)
DAYS = {"/vss/child-cards": ("issued_on", "vss", "cards"),
        "/vss/funeral-allowances": ("paid_on", "vss", "funeral_allowances"),
        "/vss/survivor-benefits": ("paid_on", "vss", "survivor_benefits"),
        "/social/funeral-supports": ("paid_on", "social", "funeral_supports")}


@pytest.mark.parametrize("path", list(DAYS))
def test_a_day_listing_answers_every_record_made_that_day(api: Api, keys: dict[str, list[str]],
                                                           path: str) -> None:
    param, agency, table = DAYS[path]
    rows = api.exports()[agency][table]
    days = {r[param] for r in rows}
    assert days, "the fixture made records of every kind"
    for day in days:
        r = api.http.get(path, params={param: day}, headers=api.headers("auditor"))
        assert r.status_code == 200, r.text
        assert r.json()["items"] == [x for x in rows if x[param] == day]
    r = api.http.get(path, params={param: "1999-01-01"}, headers=api.headers("auditor"))
    assert r.json() == {"items": []}
    both = {param: sorted(days)[0], READS[path][0]: keys[path][0]}
    for bad in (both, {param: "not-a-date"}, {param: "2026-02-30"}):
        r = api.http.get(path, params=bad, headers=api.headers("auditor"))
        assert r.status_code == 422 and r.json()["code"] == "validation_error", (bad, r.text)


@pytest.mark.parametrize("path", list(READS))
@pytest.mark.parametrize("query", ["", "?{}=", "?{}", "?other=1"])
def test_a_missing_or_empty_parameter_is_a_validation_error(api: Api, path: str,
                                                            query: str) -> None:
    name = READS[path][0]
    r = api.get("auditor", path + query.format(name))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    doc = r.json()
    assert doc["code"] == "validation_error"
    assert doc["errors"][0]["field"] == name


@pytest.mark.parametrize("path", list(READS))
def test_reads_need_the_agencys_read_scope(api: Api, path: str) -> None:
    value = "GCS-01001-2026-999999"
    assert read(api, path, value, "auditor").status_code == 200
    forbidden = read(api, path, value, "hospital")
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "forbidden")
    anonymous = read(api, path, value, None)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")
    assert anonymous.headers["www-authenticate"] == "ApiKey"
    # without the parameter the caller is still checked first
    assert read(api, path, None, None).status_code == 401
    assert read(api, path, None, "hospital").status_code == 403


def test_a_citizen_finds_only_its_own_dossiers(api: Api) -> None:
    mine_body = api.birth_dossier("ks_tt")
    me = citizen(mine_body["applicant_pid"])
    bodies = {me: mine_body, "desk": api.birth_dossier("ks_tt")}
    ids = {who: api.submit_and_wait(body, who=who)["id"] for who, body in bodies.items()}
    mine, theirs = (bodies[w]["birth"]["birth_certificate_id"] for w in (me, "desk"))
    own = read(api, "/portal/dossiers", mine, me).json()["items"]
    assert [d["id"] for d in own] == [ids[me]]
    assert read(api, "/portal/dossiers", theirs, me).json() == {"items": []}
    for who in ("desk", "auditor"):  # desks and auditors read any
        found = read(api, "/portal/dossiers", mine, who).json()["items"]
        assert [d["id"] for d in found] == [ids[me]]


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(list(READS)),
       value=st.text(max_size=60) | st.sampled_from(["", " ", "%", "'", "' OR 1=1 --", "\x00",
                                                     "GCS-01001-2026-000001", "*"]))
def test_any_query_value_is_answered_200_or_422_and_changes_nothing(
        api: Api, keys: dict[str, list[str]], path: str, value: str) -> None:
    before = api.exports()
    r = read(api, path, value)
    assert r.status_code == (422 if value == "" else 200), (value, r.text)
    if r.status_code == 200:
        assert isinstance(r.json()["items"], list)
    else:
        assert r.json()["code"] == "validation_error"
    assert api.exports() == before


def test_a_due_pid_request_is_issued_by_the_list_as_by_the_single_read(
        scenario: Scenario, tmp_path: Path) -> None:
    slow = Fault(kind="slow_pid", agency="police", start=0, end=1e9,
                 delay=Dist(kind="constant", mean=3.0))  # 3 s at speed 60: room for a slow machine
    handle = serve_thread(scenario.model_copy(update={"faults": (slow,)}), tmp_path, speed=60.0)
    api = Api(handle)
    try:
        no = api.birth_record()["register_no"]
        r = api.post("portal", "/police/pids", {"birth_register_no": no})
        assert (r.status_code, r.json()["status"]) == (202, "pending")
        [pending] = read(api, "/police/pid-requests", no).json()["items"]
        assert (pending["status"], pending["pid"]) == ("pending", None)
        time.sleep(3.2)
        [issued] = read(api, "/police/pid-requests", no).json()["items"]
        assert issued["status"] == "issued" and issued["pid"]
        assert api.get("auditor", r.headers["location"]).json() == issued
        people = api.export("police")["people"]
        assert [p["pid"] for p in people] == [issued["pid"]]  # issued once, by the list
    finally:
        api.http.close()
        handle.stop()
