"""Per-citizen keys and agency key scope (CONTRACT.md §2), against a real server on 127.0.0.1.

A citizen caller's configured key is the issuer secret of one key per citizen,
``cit-<pid>-<first 32 hex of HMAC-SHA256(secret, pid)>``; a citizen submits and reads only its own
dossiers. An agency's own key only reads: every POST of it is 403.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.auth import Auth, Who, citizen_key
from fakes.citizen_keys import citizen_key as light_citizen_key
from fakes.ids import mask
from fakes.problems import Problem
from scenarios import Scenario
from tests.fakes.conftest import Api, citizen, fresh_pid

SECRET = "lt-citizen-key-0001"  # scenarios/hanoi-baseline.toml, callers.citizen.key
HEX = "0123456789abcdef"


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].split(";")[0] == "application/problem+json"
    doc: dict[str, Any] = r.json()
    assert doc["code"] == code, doc
    return doc


def _dossiers_of(api: Api, cert: str) -> list[dict[str, Any]]:
    """The stored dossiers whose birth certificate is ``cert`` (the export: every dossier)."""
    return [d for d in api.export("portal")["dossiers"]
            if (d["input"].get("birth") or {}).get("birth_certificate_id") == cert]


def test_the_key_is_the_documented_hmac(scenario: Scenario) -> None:
    assert scenario.callers["citizen"].key == SECRET
    pid = "001195012345"
    sig = hmac.new(SECRET.encode(), pid.encode(), hashlib.sha256).hexdigest()[:32]
    assert citizen_key(SECRET, pid) == f"cit-{pid}-{sig}" == light_citizen_key(SECRET, pid)
    for bad in ("00119501234", "0011950123456", "00119501234x", " 001195012345", ""):
        with pytest.raises(ValueError) as e:
            citizen_key(SECRET, bad)
        assert bad.strip() not in str(e.value) or not bad.strip()


def test_a_citizen_reads_its_own_dossiers_and_no_one_elses(api: Api) -> None:
    bodies = {who: api.birth_dossier("ks_tt") for who in "AB"}
    keys = {who: citizen(b["applicant_pid"]) for who, b in bodies.items()}
    assert keys["A"] != keys["B"]
    ids = {who: api.submit_and_wait(bodies[who], who=keys[who])["id"] for who in "AB"}
    certs = {who: bodies[who]["birth"]["birth_certificate_id"] for who in "AB"}
    for me, other in (("A", "B"), ("B", "A")):
        own = api.get(keys[me], f"/portal/dossiers/{ids[me]}")
        assert own.status_code == 200 and own.json()["id"] == ids[me]
        _problem(api.get(keys[me], f"/portal/dossiers/{ids[other]}"), 404, "unknown_dossier")
        listed = api.http.get("/portal/dossiers", params={"document": certs[me]},
                              headers=api.headers(keys[me]))
        assert [d["id"] for d in listed.json()["items"]] == [ids[me]]
        theirs = api.http.get("/portal/dossiers", params={"document": certs[other]},
                              headers=api.headers(keys[me]))
        assert theirs.status_code == 200 and theirs.json() == {"items": []}
    for reader in ("desk", "auditor"):  # desks and auditors read any
        assert all(api.get(reader, f"/portal/dossiers/{ids[w]}").status_code == 200 for w in "AB")


def test_a_dossier_the_desk_submitted_for_a_citizen_is_not_the_citizens_own(api: Api) -> None:
    body = api.birth_dossier("ks_tt")
    at_desk = api.ok("desk", "/portal/dossiers", body)["id"]
    _problem(api.get(citizen(body["applicant_pid"]), f"/portal/dossiers/{at_desk}"), 404, "unknown_dossier")


def test_a_citizen_submits_only_its_own_dossiers(api: Api) -> None:
    mine, hers = api.birth_dossier("ks_tt"), api.birth_dossier("ks_tt")
    me, her_pid = citizen(mine["applicant_pid"]), hers["applicant_pid"]
    cert = mine["birth"]["birth_certificate_id"]
    for who in (me, f"citizen:{fresh_pid()}"):  # with another's PID, or as a third citizen
        r = api.post(who, "/portal/dossiers", dict(mine, applicant_pid=her_pid),
                     key="for-someone-else")
        doc = _problem(r, 403, "forbidden")
        assert "applicant_pid" in doc["detail"] and mask(her_pid) in doc["detail"]
        assert her_pid not in r.text and mine["applicant_pid"] not in r.text
    assert _dossiers_of(api, cert) == []  # nothing stored
    # the refusal stored nothing under its Idempotency-Key either: the citizen's own dossier takes it
    r = api.post(me, "/portal/dossiers", mine, key="for-someone-else")
    assert r.status_code == 202, r.text
    assert [d["id"] for d in _dossiers_of(api, cert)] == [r.json()["id"]]
    # the 403 sits after validation (§3): a malformed applicant_pid is still invalid_pid
    _problem(api.post(me, "/portal/dossiers", dict(mine, applicant_pid="12345")), 422, "invalid_pid")


def test_idempotency_keys_are_per_citizen(api: Api) -> None:
    a, b = api.birth_dossier("ks_tt"), api.birth_dossier("ks_tt")
    key = f"same-{uuid.uuid4().hex}"
    first = api.post(citizen(a["applicant_pid"]), "/portal/dossiers", a, key=key)
    second = api.post(citizen(b["applicant_pid"]), "/portal/dossiers", b, key=key)
    assert (first.status_code, second.status_code) == (202, 202), second.text
    assert first.json()["id"] != second.json()["id"]
    assert "idempotent-replayed" not in second.headers
    again = api.post(citizen(a["applicant_pid"]), "/portal/dossiers", a, key=key)
    assert again.headers["idempotent-replayed"] == "true" and again.json()["id"] == first.json()["id"]


def test_forged_and_garbled_citizen_keys_are_401(api: Api) -> None:
    body = api.birth_dossier("ks_tt")
    pid = body["applicant_pid"]
    good = citizen_key(SECRET, pid)
    dossier = api.ok(citizen(pid), "/portal/dossiers", body)["id"]
    forged = [
        good[:-1] + ("0" if good[-1] != "0" else "1"),      # one signature character changed
        citizen_key("lt-another-secret-01", pid),            # signed with another secret
        f"cit-{fresh_pid()}-{good.rsplit('-', 1)[1]}",       # A's signature on another PID
        good.upper().replace("CIT-", "cit-"),                # upper-case hex
        good[:-1], good + "0", "cit-", f"cit-{pid}", f"cit-{pid[:-1]}-{good.rsplit('-', 1)[1]}",
    ]
    document = body["birth"]["birth_certificate_id"]
    for key in forged:
        for method, path, json in (("GET", f"/portal/dossiers/{dossier}", None),
                                   ("GET", f"/portal/dossiers?document={document}", None),
                                   ("POST", "/portal/dossiers", body)):
            r = api.http.request(method, path, json=json,
                                 headers={"X-API-Key": key, "Idempotency-Key": uuid.uuid4().hex})
            doc = _problem(r, 401, "unauthenticated")
            assert doc["detail"] == "invalid citizen key", (key, doc)
            assert r.headers["www-authenticate"] == "ApiKey"
            assert pid not in r.text and key not in r.text


def test_the_issuer_secret_is_not_a_key(api: Api) -> None:
    body = api.birth_dossier("ks_tt")
    for method, path, json in (("GET", "/portal/dossiers/G1-001-20260309-000001", None),
                               ("POST", "/portal/dossiers", body)):
        r = api.http.request(method, path, json=json,
                             headers={"X-API-Key": SECRET, "Idempotency-Key": uuid.uuid4().hex})
        doc = _problem(r, 401, "unauthenticated")
        assert all(w in doc["detail"] for w in ("per citizen", "cit-<pid>-", "HMAC-SHA256")), doc
        assert SECRET not in r.text
    assert _dossiers_of(api, body["birth"]["birth_certificate_id"]) == []


def test_a_citizen_key_holds_no_agency_scope(api: Api) -> None:
    me = citizen(fresh_pid())
    for method, path in (("POST", "/vss/child-cards"), ("GET", "/vss/child-cards?pid=001226000042"),
                         ("GET", "/admin/export/portal"), ("POST", "/justice/births")):
        r = api.http.request(method, path, json={} if method == "POST" else None,
                             headers=api.headers(me, "k-1" if method == "POST" else None))
        doc = _problem(r, 403, "forbidden")
        assert doc["detail"].startswith("caller 'citizen' lacks scope")


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pid=st.from_regex(r"[0-9]{12}", fullmatch=True), at=st.integers(0, 31),
       char=st.sampled_from(HEX + "gG-xZ/ "), via_list=st.booleans())
def test_a_derived_key_authenticates_and_no_one_character_change_of_its_signature_does(
        api: Api, pid: str, at: int, char: str, via_list: bool) -> None:
    key = citizen_key(SECRET, pid)
    head, sig = key.rsplit("-", 1)
    assert head == f"cit-{pid}" and len(sig) == 32
    changed = f"{head}-{sig[:at]}{char if char != sig[at] else HEX[(HEX.index(char) + 1) % 16]}{sig[at + 1:]}"
    assert changed != key and len(changed) == len(key)
    # by id (the direct routes' path) and the list (FastAPI's): one answer for each key
    path = ("/portal/dossiers?document=GCS-01001-2026-999999" if via_list
            else "/portal/dossiers/G1-001-20260309-999999")
    ok = api.http.get(path, headers={"X-API-Key": key})
    assert ok.status_code == (200 if via_list else 404), ok.text  # authenticated: the dossier is unknown
    if not via_list:
        assert ok.json()["code"] == "unknown_dossier"
    bad = api.http.get(path, headers={"X-API-Key": changed})
    assert (bad.status_code, bad.json()["code"]) == (401, "unauthenticated")


@given(pid=st.from_regex(r"[0-9]{12}", fullmatch=True), at=st.integers(0, 31),
       char=st.characters(codec="ascii", exclude_characters="\r\n"))
@settings(max_examples=300, deadline=None, database=None)
def test_auth_binds_a_derived_key_to_its_pid_and_refuses_any_change(pid: str, at: int, char: str) -> None:
    from scenarios import load

    auth = Auth(load("hanoi-baseline").callers)
    key = citizen_key(SECRET, pid)
    who = auth.check(key, "portal:read")
    assert who == Who("citizen", "citizen", None, pid) and who.principal == f"citizen:{pid}"
    assert auth.lookup(key, "portal:submit") == who and auth.lookup(key, "vss:read") is None
    pos = len(key) - 32 + at
    if char == key[pos]:
        return
    changed = key[:pos] + char + key[pos + 1:]
    assert auth.lookup(changed, "portal:read") is None
    with pytest.raises(Problem) as e:
        auth.check(changed, "portal:read")
    assert (e.value.status, e.value.code, e.value.detail) == (401, "unauthenticated", "invalid citizen key")


AGENCY_WRITES = {
    "justice": "/justice/births",
    "police": "/police/pids",
    "vss": "/vss/child-cards",
    "social": "/social/funeral-supports",
}


def _valid_body(api: Api, agency: str) -> dict[str, Any]:
    """A body the portal's key would have written to ``agency``'s register."""
    if agency == "justice":
        c = api.cert()
        return {"birth_certificate_id": c["id"], "child_name": "Trần Minh An", "unit_code": "00070",
                "declarant_name": "Nguyễn Thị Lan", "declarant_relation": "mother"}
    if agency == "police":
        return {"birth_register_no": api.birth_record()["register_no"]}
    if agency == "vss":
        return {"pid": api.child()["pid"], "initial_care_facility": "01001"}
    return {"death_register_no": api.death_record("social")["register_no"], "claimant_name": "Lê Thị Hoa",
            "claimant_relation": "child", "bank_account": "0123456789"}


@pytest.mark.parametrize("agency", list(AGENCY_WRITES))
def test_an_agency_key_does_not_write_its_own_register(api: Api, scenario: Scenario, agency: str) -> None:
    caller = scenario.callers[agency]
    assert not [s for s in caller.scopes if s.endswith(":write")], caller.scopes  # reads only
    path, body = AGENCY_WRITES[agency], _valid_body(api, agency)
    before = api.export(agency)
    r = api.post(agency, path, body, key=f"own-{uuid.uuid4().hex}")
    doc = _problem(r, 403, "forbidden")
    assert f"{agency}:write" in doc["detail"] and repr(agency) in doc["detail"]
    assert api.export(agency) == before  # nothing stored
    assert api.post("portal", path, body).status_code == 201  # the body was good: the portal writes it


def test_no_citizen_key_or_pid_in_the_servers_log(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    body = api.birth_dossier("ks_tt")
    pid, me = body["applicant_pid"], citizen(body["applicant_pid"])
    key = api.key(me)
    with caplog.at_level(logging.DEBUG):
        api.submit_and_wait(body, who=me)
        api.post(me, "/portal/dossiers", dict(body, applicant_pid=fresh_pid()))
        api.http.get("/portal/dossiers/x", headers={"X-API-Key": key[:-1] + "x"})
        api.http.get("/portal/dossiers/x", headers={"X-API-Key": SECRET})
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert pid not in text and key not in text and SECRET not in text


def test_a_shared_citizen_key_works_only_where_the_scenario_asks_for_it(
        scenario: Scenario, tmp_path: Any, served: Any) -> None:
    """``callers.citizen.shared = true``: the configured key is one key for every citizen (load
    tests that ask for it): it submits for any applicant and reads what it submitted, not the
    dossiers of per-citizen keys; per-citizen keys keep their own; without the flag it is 401."""
    from tests.fakes.conftest import serve_thread

    callers = dict(scenario.callers)
    callers["citizen"] = callers["citizen"].model_copy(update={"shared": True})
    api: Api = served(serve_thread(scenario.model_copy(update={"callers": callers}), tmp_path / "shared"))
    two = [api.birth_dossier("ks_tt") for _ in range(2)]
    shared = [api.submit_and_wait(b, who="citizen")["id"] for b in two]  # two applicants, one key
    assert all(api.get("citizen", f"/portal/dossiers/{i}").status_code == 200 for i in shared)
    mine = api.birth_dossier("ks_tt")
    key = citizen(mine["applicant_pid"])
    own = api.submit_and_wait(mine, who=key)["id"]
    _problem(api.get("citizen", f"/portal/dossiers/{own}"), 404, "unknown_dossier")
    _problem(api.get(key, f"/portal/dossiers/{shared[0]}"), 404, "unknown_dossier")
    assert api.get(key, f"/portal/dossiers/{own}").status_code == 200
    with pytest.raises(ValueError, match="shared is for a citizen"):
        callers["desk"].model_copy(update={"shared": True}).model_validate(
            {**callers["desk"].model_dump(), "shared": True})
