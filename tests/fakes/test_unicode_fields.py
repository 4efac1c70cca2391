"""Any Unicode at any text field of a write: never a 5xx, never a record stored on a refusal.

Real server on 127.0.0.1 with real SQLite. For each write endpoint a valid body is built, then one
of its text fields (nested ones included) is replaced by text Hypothesis draws from every Unicode
category: digits of every script, combining marks, bidi and other format controls, private use,
unassigned code points and lone surrogates (sent as JSON ``\\ud800`` escapes, which decode to
strings no UTF-8 encoder accepts). The answer is a 2xx (the text is acceptable there) or a 4xx
problem document; after a 4xx every register of every agency holds exactly what it held before.

The writes are every POST of the OpenAPI (a test below holds the list to it): health's two,
justice's two, police's PIDs, residences, deaths and residence removals, VSS's child cards,
funeral allowances and survivor benefits, social's funeral supports, and the portal's dossier for
a birth and for a death. 150 examples, about 11 a write: some 3 s on a real server (instant agencies).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.conftest import Api, fresh_pid

# every general category, surrogates (Cs) and unassigned (Cn) included
ANY_CHAR = st.characters(codec=None, categories=None)
WEIRD = st.sampled_from(["\u202e", "\u200f", "\u2066", "\ufeff", "\u0301", "\uff10", "\u0660", "\ud800",
                         "\udfff", "\U0010ffff", "\x00", "\u00a0"])
TEXT = st.one_of(st.text(ANY_CHAR, max_size=30),
                 st.lists(st.one_of(ANY_CHAR, WEIRD), max_size=12).map("".join))
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _cert_body() -> dict[str, Any]:
    return {"facility_code": "01001", "mother_name": "Nguyễn Thị Lan", "mother_birth_date": "1995-04-12",
            "mother_pid": fresh_pid(), "residence_province": "001", "residence_commune": "00070",
            "child_sex": "M", "child_birth_date": "2026-03-01", "weight_grams": 3100,
            "place_of_birth": "Bệnh viện Phụ sản Hà Nội"}


def _notice_body() -> dict[str, Any]:
    return {"facility_code": "01001", "deceased_pid": fresh_pid("M", 1950), "deceased_name": "Lê Văn Hùng",
            "deceased_sex": "M", "deceased_birth_date": "1950-07-01", "death_date": "2026-03-05",
            "place_of_death": "Bệnh viện Bạch Mai"}


def _justice_birth(api: Api) -> dict[str, Any]:
    c = api.cert()
    return {"birth_certificate_id": c["id"], "child_name": "Trần Minh An", "unit_code": "00070",
            "declarant_name": "Nguyễn Thị Lan", "declarant_relation": "mother"}


def _justice_death(api: Api) -> dict[str, Any]:
    n = api.notice()
    return {"death_notice_id": n["id"], "unit_code": "00070", "declarant_name": "Lê Thị Hoa",
            "declarant_relation": "child", "status": "pensioner"}


def _residence(api: Api, pid: str) -> dict[str, Any]:
    return {"pid": pid, "household_id": f"HK{uuid.uuid4().int % 10**10:010d}", "relation_to_head": "child",
            "address": "12 Phố Huế", "commune_code": "00070"}


def _removal(api: Api) -> dict[str, Any]:
    """A resident registered dead at police: the body of a residence removal."""
    child = api.child()
    api.ok("portal", "/police/residences", _residence(api, child["pid"]))
    death = api.death_record("none", deceased_pid=child["pid"], deceased_birth_date=child["birth_date"])
    api.ok("portal", "/police/deaths", {"death_register_no": death["register_no"]})
    return {"pid": child["pid"], "death_register_no": death["register_no"]}


def _claim(status: str) -> Callable[[Api], dict[str, Any]]:
    def build(api: Api) -> dict[str, Any]:
        return {"death_register_no": api.death_record(status)["register_no"], "claimant_name": "Lê Thị Hoa",
                "claimant_relation": "child", "bank_account": "0123456789"}
    return build


#: Every write of the OpenAPI (every POST; the portal's dossier for both services):
#: label → (path, caller, a valid body built on records that exist).
WRITES: dict[str, tuple[str, str, Callable[[Api], dict[str, Any]]]] = {
    "/health/birth-certificates": ("/health/birth-certificates", "hospital", lambda api: _cert_body()),
    "/health/death-notices": ("/health/death-notices", "hospital", lambda api: _notice_body()),
    "/justice/births": ("/justice/births", "portal", _justice_birth),
    "/justice/deaths": ("/justice/deaths", "portal", _justice_death),
    "/police/pids": ("/police/pids", "portal",
                     lambda api: {"birth_register_no": api.birth_record()["register_no"]}),
    "/police/residences": ("/police/residences", "portal", lambda api: _residence(api, api.child()["pid"])),
    "/police/deaths": ("/police/deaths", "portal",
                       lambda api: {"death_register_no": api.death_record("none")["register_no"]}),
    "/police/residence-removals": ("/police/residence-removals", "portal", _removal),
    "/vss/child-cards": ("/vss/child-cards", "portal", lambda api: {"pid": api.child()["pid"]}),
    "/vss/funeral-allowances": ("/vss/funeral-allowances", "portal", _claim("pensioner")),
    "/vss/survivor-benefits": ("/vss/survivor-benefits", "portal", _claim("insured")),
    "/social/funeral-supports": ("/social/funeral-supports", "portal", _claim("social")),
    "/portal/dossiers birth": ("/portal/dossiers", "desk", lambda api: api.birth_dossier()),
    "/portal/dossiers death": ("/portal/dossiers", "desk", lambda api: api.death_dossier()),
}


def _text_fields(body: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every string value in ``body``."""
    if isinstance(body, dict):
        return [p for k, v in body.items() for p in _text_fields(v, (*at, k))]
    return [at] if isinstance(body, str) else []


def _set(body: dict[str, Any], path: tuple[Any, ...], value: str) -> dict[str, Any]:
    out = json.loads(json.dumps(body))
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def _counts(api: Api) -> dict[str, int]:
    return {f"{agency}.{name}": len(rows) for agency, registers in api.exports().items()
            for name, rows in registers.items() if isinstance(rows, list)}


codes: set[str] = set()  # what the examples got, for the check below that they reached the handlers


@SETTINGS
@given(write=st.sampled_from(sorted(WRITES)), pick=st.integers(min_value=0), text=TEXT)
def test_any_unicode_in_any_text_field_is_a_2xx_or_a_4xx_that_stores_nothing(
        api: Api, write: str, pick: int, text: str) -> None:
    endpoint, caller, build = WRITES[write]
    body = build(api)
    fields = _text_fields(body)
    path = fields[pick % len(fields)]
    before = _counts(api)
    raw = json.dumps(_set(body, path, text))  # ensure_ascii: lone surrogates travel as \ud800 escapes
    r = api.http.post(endpoint, content=raw.encode("ascii"),
                      headers={**api.headers(caller, uuid.uuid4().hex), "Content-Type": "application/json"})
    assert r.status_code < 500, (endpoint, path, text, r.status_code, r.text[:300])
    codes.add(r.json().get("code", "2xx") if r.status_code >= 400 else "2xx")
    if r.status_code == 202 and endpoint == "/portal/dossiers":  # let it finish: it writes elsewhere
        api.wait(r.json()["id"], "desk", timeout=20)
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json"), r.text[:300]
        assert r.json()["code"], r.text[:300]
        assert _counts(api) == before, (endpoint, path, text, r.json())


def test_the_writes_are_every_write_of_the_openapi(api: Api) -> None:
    """Every POST the server publishes is one of the writes above (a new one fails here)."""
    spec = api.get(None, "/openapi.json").json()
    posts = {p for p, ops in spec["paths"].items() if "post" in ops}
    assert {path for path, _, _ in WRITES.values()} == posts


def test_the_examples_reached_validation_and_the_handlers() -> None:
    """The property above is not vacuous: its examples were refused for their content (not all
    stopped at the door, e.g. for a missing header or key)."""
    assert "validation_error" in codes, codes
    assert not codes & {"idempotency_key_missing", "unauthenticated", "forbidden"}, codes


def test_each_body_is_accepted_as_built(api: Api) -> None:
    """The bodies the property starts from are valid, so its refusals come from the text it puts
    in; a decomposed (NFD) Vietnamese name is taken too."""
    for label in sorted(WRITES):
        endpoint, caller, build = WRITES[label]
        body = build(api)
        r = api.http.post(endpoint, json=body, headers=api.headers(caller, uuid.uuid4().hex))
        assert 200 <= r.status_code < 300, (endpoint, r.text[:300])
        if endpoint == "/portal/dossiers":
            assert api.wait(r.json()["id"], "desk", timeout=20)["status"] == "completed"
    nfd = _cert_body() | {"mother_name": "Nguye\u0302\u0303n Thi\u0323 Lan"}
    r = api.http.post("/health/birth-certificates", json=nfd,
                      headers=api.headers("hospital", uuid.uuid4().hex))
    assert r.status_code == 201, r.text[:300]
