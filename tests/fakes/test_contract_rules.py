"""Rules CONTRACT.md §3 and §7 decide where the contract used to be silent or contradictory, held
against the reference fakes on a real loopback server: the order of checks, `existing` as a record
id that is never personal and can be followed, the idempotency fingerprint including the path,
an empty child-card PID, and the card-validity examples written in the prose."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import httpx

from fakes.agencies._benefits import add_months, card_validity
from fakes.ids import RECORD_ID_PATTERN
from tests.fakes.conftest import Api, fresh_pid

CONTRACT = Path(__file__).resolve().parents[2] / "fakes" / "CONTRACT.md"
#: A full PID, BHXH number or card code standing alone (what certify's SEC-003 looks for).
PERSONAL = re.compile(r"(?<![\w*])(?:\d{12}|\d{10}|[A-Z]{2}\d{13})(?![\w*])")
JSON = "application/json"


def _raw(api: Api, path: str, body: bytes, *, who: str | None = "portal", key: str | None = "k-order",
         ctype: str | None = JSON, length: str | None = None) -> tuple[int, str]:
    headers = api.headers(who, key)
    if ctype is not None:
        headers["Content-Type"] = ctype
    if length is not None:
        headers["Content-Length"] = length
    r = api.http.post(path, content=body, headers=headers)
    return r.status_code, r.json()["code"]


def test_the_first_failing_check_answers_in_the_contracts_order(api: Api) -> None:
    """§3 *Order of checks*: each request below also fails every later check."""
    path, big, bad = "/vss/child-cards", b'{"pid": "' + b"1" * 70_000 + b'"}', b"{not json"
    assert _raw(api, path, big, who=None, key=None, ctype="text/plain") == (401, "unauthenticated")
    assert _raw(api, path, big, who="hospital", key=None, ctype="text/plain") == (403, "forbidden")
    assert _raw(api, path, big, key=None, ctype="text/plain") == (400, "idempotency_key_missing")
    assert _raw(api, path, big, key="has space", ctype="text/plain") == (400, "idempotency_key_invalid")
    assert _raw(api, path, big, ctype="text/plain") == (413, "payload_too_large")
    assert _raw(api, path, bad, ctype="text/plain") == (415, "unsupported_media_type")
    assert _raw(api, path, bad, ctype=None) == (415, "unsupported_media_type")
    assert _raw(api, path, bad) == (400, "invalid_json")
    assert _raw(api, path, b"") == (400, "invalid_json")
    assert _raw(api, path, b'{"pid": "12", "x": 1}', ctype="application/json; charset=utf-8") \
        == (422, "validation_error")
    assert _raw(api, path, b'{"pid": "12"}') == (422, "invalid_pid")
    # a malformed PID is invalid_pid only when it is all that is wrong (§3 Validation)
    residence = {"pid": "12", "household_id": "HK0000000001", "relation_to_head": "child",
                 "address": "1 Phố Huế", "commune_code": "00070"}
    assert api.post("portal", "/police/residences", residence).json()["code"] == "invalid_pid"
    assert api.post("portal", "/police/residences", {**residence, "commune_code": "7"}).json()["code"] \
        == "validation_error"
    assert api.post("portal", "/police/residences", {"pid": "12"}).json()["code"] == "validation_error"


def test_an_empty_child_card_pid_is_no_pid_and_a_malformed_one_invalid_pid(api: Api) -> None:
    for absent in ({}, {"pid": None}, {"pid": ""}, {"pid": "   "}):
        r = api.post("portal", "/vss/child-cards", absent)
        assert (r.status_code, r.json()["code"]) == (422, "no_pid"), absent
    for bad in ("0012260000", "999226000042", "00122600004x"):
        r = api.post("portal", "/vss/child-cards", {"pid": bad})
        assert (r.status_code, r.json()["code"]) == (422, "invalid_pid"), bad


def test_the_idempotency_fingerprint_includes_the_path(api: Api) -> None:
    death = api.death_record("pensioner")
    body = {"death_register_no": death["register_no"], "claimant_name": "Lê Thị Hoa",
            "claimant_relation": "child"}
    first = api.post("portal", "/vss/funeral-allowances", body, key="same-key-two-paths")
    assert first.status_code == 201, first.text
    other = api.post("portal", "/vss/survivor-benefits", body, key="same-key-two-paths")
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    # the same body with defaults and null spelled out is the same fingerprint: a replay
    again = api.post("portal", "/vss/funeral-allowances", {**body, "bank_account": None},
                     key="same-key-two-paths")
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["idempotent-replayed"] == "true"


def _conflict(api: Api, path: str, body: dict[str, Any], code: str, personal: tuple[str, ...]) -> str:
    """The `existing` of the 409 ``code`` that ``body`` under a new key gets, checked to be a
    record id with nothing personal anywhere in the problem."""
    r = api.post("portal", path, body)
    doc = r.json()
    assert (r.status_code, doc["code"]) == (409, code), r.text
    existing = str(doc["existing"])
    assert re.fullmatch(RECORD_ID_PATTERN, existing), existing
    assert not PERSONAL.findall(r.text), r.text
    assert not [p for p in personal if p in r.text], r.text
    return existing


def _items(api: Api, path: str) -> list[dict[str, Any]]:
    r = api.get("auditor", path)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_every_409_names_a_record_id_never_personal_that_the_reads_lead_back_to(api: Api) -> None:
    """§3 *Business uniqueness*: the record id table, one 409 of each kind."""
    cert = api.cert()
    ks = {"birth_certificate_id": cert["id"], "child_name": "Trần Minh An", "unit_code": "00070",
          "declarant_name": "Nguyễn Thị Lan", "declarant_relation": "mother"}
    birth = api.ok("portal", "/justice/births", ks)
    assert _conflict(api, "/justice/births", ks, "already_registered", (cert["mother_pid"],)) \
        == birth["register_no"]
    assert api.get("auditor", f"/justice/births/{birth['register_no']}").status_code == 200

    pid_body = {"birth_register_no": birth["register_no"]}
    issued = api.ok("portal", "/police/pids", pid_body)
    rid = _conflict(api, "/police/pids", pid_body, "already_issued", (issued["pid"],))
    assert rid == issued["request_id"]
    assert api.get("auditor", f"/police/pid-requests/{rid}").json()["pid"] == issued["pid"]

    kid = issued["pid"]
    home = {"pid": kid, "household_id": "HK0000777001", "relation_to_head": "child",
            "address": "12 Phố Huế", "commune_code": "00070"}
    residence = api.ok("portal", "/police/residences", home)
    existing = _conflict(api, "/police/residences", home, "already_resident", (kid,))
    assert [r["residence_id"] for r in _items(api, f"/police/residences?pid={kid}")] == [existing]
    assert existing == residence["residence_id"]

    card = api.ok("portal", "/vss/child-cards", {"pid": kid})
    existing = _conflict(api, "/vss/child-cards", {"pid": kid}, "already_issued",
                         (kid, card["card_code"], card["bhxh"]))
    assert existing == card["card_id"] != card["card_code"]
    assert [c["card_id"] for c in _items(api, f"/vss/child-cards?pid={kid}")] == [existing]

    deceased = fresh_pid("M", 1950)
    notice = api.notice(deceased_pid=deceased)
    kt = {"death_notice_id": notice["id"], "unit_code": "00070", "declarant_name": "Lê Thị Hoa",
          "declarant_relation": "child", "status": "pensioner"}
    death = api.ok("portal", "/justice/deaths", kt)
    second = api.notice(deceased_pid=deceased)  # another notice, the same person
    assert _conflict(api, "/justice/deaths", {**kt, "death_notice_id": second["id"]}, "already_registered",
                     (deceased,)) == death["register_no"]
    dead = {"death_register_no": death["register_no"]}
    api.ok("portal", "/police/deaths", dead)
    assert _conflict(api, "/police/deaths", dead, "already_deceased", (deceased,)) == death["register_no"]
    removal_body = {"pid": deceased, "death_register_no": death["register_no"]}
    removal = api.ok("portal", "/police/residence-removals", removal_body)
    existing = _conflict(api, "/police/residence-removals", removal_body, "already_registered", (deceased,))
    assert [r["removal_id"] for r in _items(api, f"/police/residence-removals?pid={deceased}")] \
        == [existing] == [removal["removal_id"]]

    claim = {"death_register_no": death["register_no"], "claimant_name": "Lê Thị Hoa",
             "claimant_relation": "child"}
    for path, code in (("/vss/funeral-allowances", "already_paid"),
                       ("/vss/survivor-benefits", "already_settled")):
        paid = api.ok("portal", path, claim)
        existing = _conflict(api, path, claim, code, (deceased,))
        assert existing == paid["payment_id"]
        assert api.get("auditor", f"{path}/{existing}").json()["death_register_no"] == death["register_no"]
    social = api.death_record("social")
    support = dict(claim, death_register_no=social["register_no"])
    paid = api.ok("portal", "/social/funeral-supports", support)
    assert _conflict(api, "/social/funeral-supports", support, "already_paid", (social["deceased_pid"],)) \
        == paid["payment_id"]


def test_the_card_validity_examples_of_section_7_are_the_rule(api: Api) -> None:
    text = CONTRACT.read_text(encoding="utf-8")
    para = text[text.index("**Validity** (docs/DOMAIN.md §5)"):text.index("Response: `card_id`")]
    para = " ".join(para.split())
    examples = re.findall(r"born (\d{4}-\d{2}-\d{2}) (?:is valid )?to (\d{4}-\d{2}-\d{2})", para)
    assert len(examples) == 4, examples
    for born, valid_to in examples:
        assert card_validity(dt.date.fromisoformat(born))[1].isoformat() == valid_to, born
    day72 = re.search(r"born 2024-02-29 to 2030-09-30 \(72-month day (\d{4}-\d{2}-\d{2})\)", para)
    assert day72 and add_months(dt.date(2024, 2, 29), 72).isoformat() == day72[1] == "2030-02-28"
    # and the server refuses a child at its 72-month day, 29 February born or not
    today = dt.date.fromisoformat(httpx.get(api.handle.base_url + "/healthz").json()["now"][:10])
    born = dt.date(today.year - 6, today.month, today.day)
    kid = api.child(child_birth_date=born.isoformat())
    r = api.post("portal", "/vss/child-cards", {"pid": kid["pid"]})
    assert (r.status_code, r.json()["code"]) == (422, "child_too_old")
