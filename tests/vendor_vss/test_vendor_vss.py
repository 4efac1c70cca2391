"""The vendor VSS in a mixed run: the reference fakes serve every other agency and the portal.

Real processes on 127.0.0.1: the vendor VSS starts first (it reads the scenario clock lazily),
then ``fakes.serve`` with ``agencies.vss.base_url`` pointing at it. Both stop in a finally.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

import scenarios
from fakes.citizen_keys import citizen_key
from fakes.serve import Handle, free_port, spawn_ready, start_subprocess, stop_process
from scenarios.model import Caller
from tests.vendor_vss.app import card_validity

ROOT = Path(__file__).resolve().parents[2]
KEYS = {c: f"lt-{c}-key-0001" for c in ("hospital", "desk", "portal", "vss", "auditor", "writer")}
APPLICANT = "001195000001"  # every dossier's applicant_pid; "citizen" is that citizen's own key
KEYS["citizen"] = citizen_key("lt-citizen-key-0001", APPLICANT)  # CONTRACT.md §2
_serial = itertools.count(1)
RECORD_ID = r"[A-Za-z][A-Za-z0-9._-]{0,63}"  # CONTRACT.md §3, record ids


def _start_vss(tmp: Path, scenario_toml: Path, upstream: str, port: int = 0,
               name: str = "vss") -> tuple[Any, str]:
    """``python -m tests.vendor_vss`` from the checkout, whatever folder pytest runs in."""
    cmd = [sys.executable, "-m", "tests.vendor_vss", "--scenario", str(scenario_toml), "--port", str(port),
           "--upstream", upstream, "--db", str(tmp / f"{name}.db")]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(ROOT))
        process, ready = spawn_ready(cmd, tmp / f"{name}.log", timeout=30)
    return process, str(ready["base_url"])


def _stop_vss(process: Any) -> None:
    stop_process(process)
    if process.stdout is not None:
        process.stdout.close()
    assert process.returncode == 0  # SIGTERM is a clean exit


@dataclass
class Ecosystem:
    vss: str
    fakes: Handle
    client: httpx.Client

    def call(self, method: str, url: str, caller: str | None, body: Any = None,
             key: str | None = None, **headers: str) -> httpx.Response:
        h = {"X-API-Key": KEYS[caller]} if caller else {}
        if method == "POST" and key is not None:
            h["Idempotency-Key"] = key
        return self.client.request(method, url, headers={**h, **headers}, json=body)

    def post(self, url: str, caller: str, body: Any, key: str | None = None) -> httpx.Response:
        return self.call("POST", url, caller, body, key or f"t-{next(_serial)}")

    def get(self, url: str, caller: str | None = "auditor") -> httpx.Response:
        return self.call("GET", url, caller)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ecosystem]:
    tmp = tmp_path_factory.mktemp("vendor_vss")
    up_port, vss_port = free_port(), free_port()
    base = scenarios.load("hanoi-baseline")
    vss_agency = base.agencies["vss"].model_copy(update={"base_url": f"http://127.0.0.1:{vss_port}"})
    # a second writer besides the portal (an agency's own key only reads, CONTRACT.md §2), to
    # show that Idempotency-Keys are scoped by caller and uniqueness holds across callers
    writer = Caller(key=KEYS["writer"], role="portal", scopes=("vss:write", "vss:read"))
    scenario = base.model_copy(update={"agencies": {**base.agencies, "vss": vss_agency},
                                       "callers": {**base.callers, "writer": writer}})
    toml = tmp / "scenario.toml"
    toml.write_text(scenarios.dump(scenario), encoding="utf-8")
    processes: list[Any] = []
    fakes: Handle | None = None
    try:
        process, url = _start_vss(tmp, toml, f"http://127.0.0.1:{up_port}", port=vss_port)
        processes.append(process)
        assert url == f"http://127.0.0.1:{vss_port}"
        fakes = start_subprocess(scenario, tmp / "fakes", port=up_port,  # after the VSS, as in a run
                                 instant=True)
        with httpx.Client(timeout=30) as client:
            yield Ecosystem(f"http://127.0.0.1:{vss_port}", fakes, client)
    finally:
        if fakes is not None:
            fakes.kill()
        for process in processes:
            _stop_vss(process)


# ---------------------------------------------------------------- helpers driving the ecosystem


def _birth_certificate(run: Ecosystem, born: str) -> dict[str, Any]:
    n = next(_serial)
    r = run.post(f"{run.fakes.base_url}/health/birth-certificates", "hospital", {
        "facility_code": "01001", "mother_name": "Nguyễn Thị Lan", "mother_birth_date": "1995-04-12",
        "mother_pid": f"001195{n:06d}", "father_name": "Trần Văn Minh", "residence_province": "001",
        "residence_commune": "00070", "child_sex": "F", "child_birth_date": born, "weight_grams": 3100,
        "birth_order": 1, "place_of_birth": "Bệnh viện Phụ sản Hà Nội"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _death_notice(run: Ecosystem, *, pid: str | None = None, born: str = "1950-06-01",
                  died: str = "2026-03-08") -> dict[str, Any]:
    pid = pid or f"001050{next(_serial):06d}"  # male, born 1950
    r = run.post(f"{run.fakes.base_url}/health/death-notices", "hospital", {
        "facility_code": "01001", "deceased_pid": pid, "deceased_name": "Lê Văn Hùng", "deceased_sex": "M",
        "deceased_birth_date": born, "death_date": died, "place_of_death": "Bệnh viện Bạch Mai",
        "cause": "bệnh"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _registered_death(run: Ecosystem, status: str, **notice: str) -> dict[str, Any]:
    """A death record made directly at justice (the portal's key writes justice)."""
    r = run.post(f"{run.fakes.base_url}/justice/deaths", "portal", {
        "death_notice_id": _death_notice(run, **notice)["id"], "unit_code": "00070",
        "declarant_name": "Lê Thị Hoa", "declarant_relation": "child", "status": status})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _dossier(run: Ecosystem, caller: str, body: dict[str, Any]) -> dict[str, Any]:
    r = run.post(f"{run.fakes.base_url}/portal/dossiers", caller, {
        "channel": "online", "applicant_name": "Nguyễn Thị Lan", "applicant_pid": APPLICANT, **body})
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        d = run.get(f"{run.fakes.base_url}/portal/dossiers/{r.json()['id']}", caller).json()
        if d["status"] in ("completed", "rejected", "failed"):
            return dict(d)
        time.sleep(0.1)
    raise AssertionError(f"dossier not terminal: {json.dumps(d, ensure_ascii=False)[:2000]}")


def _birth_dossier(run: Ecosystem, caller: str, variant: str, born: str) -> dict[str, Any]:
    cert = _birth_certificate(run, born)
    return _dossier(run, caller, {"service": "birth", "variant": variant, "birth": {
        "birth_certificate_id": cert["id"], "child_name": "Trần Minh An", "unit_code": "00070",
        "declarant_relation": "mother", "father_name": "Trần Văn Minh",
        "household_id": f"HK{next(_serial):010d}", "relation_to_head": "child", "address": "12 Phố Huế",
        "initial_care_facility": "01001"}})


def _death_dossier(run: Ecosystem, variant: str, status: str, died: str) -> dict[str, Any]:
    notice = _death_notice(run, died=died)
    return _dossier(run, "desk", {"service": "death", "variant": variant, "channel": "desk", "death": {
        "death_notice_id": notice["id"], "unit_code": "00070", "status": status,
        "declarant_relation": "child", "claimant_name": "Lê Thị Hoa", "claimant_relation": "child",
        "bank_account": "0123456789"}})


def _payment(name: str = "Lê Thị Hoa", **over: Any) -> dict[str, Any]:
    return {"claimant_name": name, "claimant_relation": "child", "bank_account": "0123456789", **over}


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = dict(r.json())
    assert body["code"] == code and body["status"] == status and body["type"].endswith(code), body
    return body


# ---------------------------------------------------------------- end to end through the portal


@pytest.mark.parametrize(("caller", "variant", "born"), [
    ("citizen", "ks_tt_bhyt", "2026-03-01"),   # 72-month day 2032-03-01 <= 30/09: card to 30/09
    ("desk", "ks_bhyt", "2025-11-15"),         # 72-month day 2031-11-15 > 30/09: the day before
])
def test_birth_dossier_gets_one_card(run: Ecosystem, caller: str, variant: str, born: str) -> None:
    dossier = _birth_dossier(run, caller, variant, born)
    assert dossier["status"] == "completed", json.dumps(dossier, ensure_ascii=False)
    pid, code = dossier["result"]["pid"], dossier["result"]["card_code"]
    expected_to = card_validity(date.fromisoformat(born))[1].isoformat()
    assert code == f"TE101{code[5:]}" and len(code) == 15 and code[5:].isdigit()
    assert dossier["result"]["card_valid_to"] == expected_to
    items = run.get(f"{run.vss}/vss/child-cards?pid={pid}").json()["items"]
    assert len(items) == 1
    card = items[0]
    assert card == run.get(f"{run.vss}/vss/child-cards/{code}").json()
    assert card["card_code"] == code and card["bhxh"] == code[5:] and card["pid"] == pid
    assert (card["valid_from"], card["valid_to"], card["birth_date"]) == (born, expected_to, born)
    assert card["issued_on"] == "2026-03-09"  # the scenario clock, not the wall clock
    that_day = run.get(f"{run.vss}/vss/child-cards?issued_on=2026-03-09").json()["items"]
    assert card in that_day  # the day listing that finds cards no dossier asked for
    assert run.get(f"{run.vss}/vss/child-cards?issued_on=2026-03-09&pid={pid}").status_code == 422

    again = run.post(f"{run.vss}/vss/child-cards", "portal", {"pid": pid})  # new key, same child
    problem = _problem(again, 409, "already_issued")
    # §3: `existing` is the card's record id, followed through the register read; nothing personal
    assert problem["existing"] == card["card_id"] and re.fullmatch(RECORD_ID, card["card_id"])
    assert pid not in again.text and code not in again.text and code[5:] not in again.text
    assert [c["card_id"] for c in run.get(f"{run.vss}/vss/child-cards?pid={pid}").json()["items"]] \
        == [problem["existing"]]


@pytest.mark.parametrize(("variant", "status", "died", "amount"), [
    ("kt_xtt_funeral", "pensioner", "2026-03-08", 23_400_000),
    ("kt_xtt_funeral_survivor", "insured", "2024-06-30", 18_000_000),  # base pay before 2024-07-01
])
def test_death_dossier_pays_once(run: Ecosystem, variant: str, status: str, died: str, amount: int) -> None:
    dossier = _death_dossier(run, variant, status, died)
    assert dossier["status"] == "completed", json.dumps(dossier, ensure_ascii=False)
    no, payment_id = dossier["result"]["death_register_no"], dossier["result"]["funeral_payment_id"]
    assert dossier["result"]["funeral_amount_vnd"] == amount
    items = run.get(f"{run.vss}/vss/funeral-allowances?death_register_no={no}").json()["items"]
    assert len(items) == 1
    paid = items[0]
    assert paid == run.get(f"{run.vss}/vss/funeral-allowances/{payment_id}").json()
    assert paid["payment_id"] == payment_id and paid["amount_vnd"] == amount
    assert (paid["unit_vnd"], paid["multiple"], paid["regime"]) == (amount // 10, 10, "bhxh_funeral")
    assert (paid["status"], paid["death_date"], paid["death_register_no"]) == (status, died, no)
    assert paid in run.get(f"{run.vss}/vss/funeral-allowances?paid_on={paid['paid_on']}").json()["items"]
    settled = run.get(f"{run.vss}/vss/survivor-benefits?death_register_no={no}").json()["items"]
    assert len(settled) == (1 if variant.endswith("survivor") else 0)
    if settled:
        assert settled[0]["payment_id"] == dossier["result"]["survivor_settlement_id"]
        assert settled[0]["regime"] == "survivor" and settled[0]["amount_vnd"] is None

    again = run.post(f"{run.vss}/vss/funeral-allowances", "portal", _payment(death_register_no=no))
    assert _problem(again, 409, "already_paid")["existing"] == payment_id


# ---------------------------------------------------------------- rules against the vendor VSS


def test_card_refusals(run: Ecosystem) -> None:
    cards = f"{run.vss}/vss/child-cards"
    for absent in ({}, {"pid": None}, {"pid": ""}, {"pid": "  "}):  # §7: absent, null or empty
        _problem(run.post(cards, "portal", absent), 422, "no_pid")
    _problem(run.post(cards, "portal", {"pid": "001226999999"}), 422, "no_pid")  # police never issued it
    for bad in ("00122600004", "003226000042", "00122600004x"):
        assert bad not in _problem(run.post(cards, "portal", {"pid": bad}), 422, "invalid_pid")["detail"]
    old = _birth_dossier(run, "desk", "ks_tt", "2019-01-02")["result"]["pid"]  # 86 months on 2026-03-09
    assert old not in _problem(run.post(cards, "portal", {"pid": old}), 422, "child_too_old")["detail"]
    # a child who died: born, given a PID (KS + TT, no card), then registered dead at justice and police
    dossier = _birth_dossier(run, "desk", "ks_tt", "2026-03-01")
    child = dossier["result"]["pid"]
    death = _registered_death(run, "none", pid=child, born="2026-03-01", died="2026-03-08")
    r = run.post(f"{run.fakes.base_url}/police/deaths", "portal", {"death_register_no": death["register_no"]})
    assert r.status_code == 201, r.text
    _problem(run.post(cards, "portal", {"pid": child}), 422, "person_deceased")
    assert run.get(f"{cards}?pid={child}").json() == {"items": []}
    # §3 precedence: the rules that read police come before business uniqueness
    carded = _birth_dossier(run, "desk", "ks_tt_bhyt", "2026-03-02")["result"]["pid"]
    death = _registered_death(run, "none", pid=carded, born="2026-03-02", died="2026-03-08")
    r = run.post(f"{run.fakes.base_url}/police/deaths", "portal", {"death_register_no": death["register_no"]})
    assert r.status_code == 201, r.text
    _problem(run.post(cards, "portal", {"pid": carded}), 422, "person_deceased")


def test_payment_refusals(run: Ecosystem) -> None:
    for path in ("funeral-allowances", "survivor-benefits"):
        url = f"{run.vss}/vss/{path}"
        _problem(run.post(url, "portal", _payment(death_register_no="KT-00070-2026-Q01-999999")),
                 422, "death_not_registered")
        for status in ("social", "merit", "none"):
            no = _registered_death(run, status)["register_no"]
            _problem(run.post(url, "portal", _payment(death_register_no=no)), 422, "not_eligible")
            assert run.get(f"{url}?death_register_no={no}").json() == {"items": []}
    no = _registered_death(run, "insured")["register_no"]
    first = run.post(f"{run.vss}/vss/survivor-benefits", "portal", _payment(death_register_no=no))
    assert first.status_code == 201 and first.json()["regime"] == "survivor"
    again = run.post(f"{run.vss}/vss/survivor-benefits", "writer", _payment(death_register_no=no))
    assert _problem(again, 409, "already_settled")["existing"] == first.json()["payment_id"]


def test_auth(run: Ecosystem) -> None:
    for method, path in (("POST", "/vss/child-cards"), ("GET", "/vss/child-cards?pid=001226000042"),
                         ("POST", "/vss/funeral-allowances"), ("GET", "/vss/survivor-benefits/TT-1"),
                         ("GET", "/vss/funeral-allowances?death_register_no=KT-1"),
                         ("GET", "/vss/work/W0000000001")):  # §1: every path of the agency
        for headers in ({}, {"X-API-Key": "nope"}):
            r = run.client.request(method, run.vss + path, headers={**headers, "Idempotency-Key": "k"},
                                   json={})
            _problem(r, 401, "unauthenticated")
            assert r.headers["www-authenticate"] == "ApiKey"
        for caller in ("hospital", "desk", "vss") + (("auditor",) if method == "POST" else ()):
            _problem(run.call(method, run.vss + path, caller, {}, key="k"), 403, "forbidden")
        # a citizen's key: this VSS does not verify citizen keys, which §2 allows (401 for 403)
        assert run.call(method, run.vss + path, "citizen", {}, key="k").status_code in (401, 403)
    assert run.get(f"{run.vss}/healthz", None).json()["status"] == "ok"


def test_idempotency(run: Ecosystem) -> None:
    url = f"{run.vss}/vss/funeral-allowances"
    no = _registered_death(run, "pensioner")["register_no"]
    body = _payment(death_register_no=no)
    _problem(run.call("POST", url, "portal", body), 400, "idempotency_key_missing")
    for bad in ("", "has space", "x" * 129, "a/b"):
        _problem(run.call("POST", url, "portal", body, **{"Idempotency-Key": bad}), 400,
                 "idempotency_key_invalid")
    first = run.post(url, "portal", body, key="idem-1")
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    nfd = _payment(unicodedata.normalize("NFD", "Lê Thị Hoa"), death_register_no=no)
    for replay_body in (body, nfd):
        replay = run.post(url, "portal", replay_body, key="idem-1")
        assert (replay.status_code, replay.content) == (201, first.content)
        assert replay.headers["idempotent-replayed"] == "true"
    _problem(run.post(url, "portal", _payment("Lê Thị Hoà", death_register_no=no), key="idem-1"),
             409, "idempotency_key_reused")
    # keys are scoped by caller: another caller's idem-1 is a new request, refused by business uniqueness
    _problem(run.post(url, "writer", body, key="idem-1"), 409, "already_paid")
    # an agency's own key only reads (CONTRACT.md §2)
    _problem(run.post(url, "vss", body, key="idem-2"), 403, "forbidden")
    assert len(run.get(f"{url}?death_register_no={no}").json()["items"]) == 1


def test_concurrent_duplicate_delivery_makes_one_record(run: Ecosystem) -> None:
    url = f"{run.vss}/vss/child-cards"
    child = _birth_dossier(run, "desk", "ks_tt", "2026-02-20")["result"]["pid"]
    answers: list[httpx.Response] = []

    def deliver() -> None:
        with httpx.Client(timeout=30) as c:
            answers.append(c.post(url, json={"pid": child}, headers={
                "X-API-Key": KEYS["portal"], "Idempotency-Key": "dup-1"}))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {(a.status_code, a.content) for a in answers} == {(201, answers[0].content)}
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 3
    assert len(run.get(f"{url}?pid={child}").json()["items"]) == 1


def test_validation(run: Ecosystem) -> None:
    cards, funeral = f"{run.vss}/vss/child-cards", f"{run.vss}/vss/funeral-allowances"
    headers = {"X-API-Key": KEYS["portal"], "Idempotency-Key": "v-1", "Content-Type": "application/json"}
    _problem(run.client.post(cards, content=b"{not json", headers=headers), 400, "invalid_json")
    _problem(run.client.post(cards, content=b"{}" + b" " * 70_000, headers=headers), 413, "payload_too_large")
    _problem(run.client.post(cards, content=b"", headers=headers), 400, "invalid_json")
    for ctype in ("text/plain", None):  # §3: a write's body is JSON
        plain = {k: v for k, v in headers.items() if k != "Content-Type"}
        plain |= {"Content-Type": ctype} if ctype else {}
        _problem(run.client.post(cards, content=b'{"pid": "001226000042"}', headers=plain), 415,
                 "unsupported_media_type")
    cases: list[tuple[str, Any, set[str]]] = [
        (cards, {"pid": "001226000042", "extra": 1}, {"extra"}),
        (cards, {"pid": 1226000042}, {"pid"}),
        (cards, {"pid": "001226000042", "initial_care_facility": "1001"}, {"initial_care_facility"}),
        (cards, ["pid"], {""}),
        (funeral, {"death_register_no": "KT-1", "claimant_relation": "cousin"},
         {"claimant_name", "claimant_relation"}),
        (funeral, _payment("Lê Thị Hoa 2", death_register_no="KT-1"), {"claimant_name"}),
        (funeral, _payment(death_register_no="KT-1", bank_account=123), {"bank_account"}),
    ]
    for url, body, fields in cases:
        errors = _problem(run.post(url, "portal", body), 422, "validation_error")["errors"]
        assert {e["field"] for e in errors} == fields and all(e["message"] for e in errors)
    for path in ("/vss/child-cards", "/vss/child-cards?pid=", "/vss/funeral-allowances",
                 "/vss/survivor-benefits?death_register_no=%20"):
        _problem(run.get(run.vss + path), 422, "validation_error")
    r = run.get(f"{run.vss}/vss/child-cards/TE1010123456789")
    assert "TE1010123456789" not in _problem(r, 404, "not_found")["detail"]
    _problem(run.get(f"{run.vss}/vss/nothing-here"), 404, "not_found")


def test_upstream_down_is_502_and_leaves_nothing(tmp_path: Path, run: Ecosystem) -> None:
    toml = tmp_path / "scenario.toml"
    toml.write_text(scenarios.dump(scenarios.load("hanoi-baseline")), encoding="utf-8")
    process, url = _start_vss(tmp_path, toml, f"http://127.0.0.1:{free_port()}", name="orphan")
    try:
        with httpx.Client(timeout=30) as c:
            h = {"X-API-Key": KEYS["portal"], "Idempotency-Key": "u-1"}
            for path, body in (("/vss/child-cards", {"pid": "001226000042"}),
                               ("/vss/funeral-allowances", _payment(death_register_no="KT-1"))):
                _problem(c.post(url + path, json=body, headers=h), 502, "upstream_error")
            r = c.get(f"{url}/vss/child-cards?pid=001226000042", headers={"X-API-Key": KEYS["auditor"]})
            assert r.json() == {"items": []}
            assert c.get(f"{url}/healthz").json()["status"] == "ok"  # no clock yet, still healthy
    finally:
        _stop_vss(process)


@pytest.mark.parametrize(("born", "d72", "valid_to"), [
    ("2026-03-01", "2032-03-01", "2032-09-30"),
    ("2020-09-30", "2026-09-30", "2026-09-30"),   # 72-month day on 30/09 itself
    ("2020-10-01", "2026-10-01", "2026-09-30"),   # the day after: the day before the 72-month day
    ("2020-12-31", "2026-12-31", "2026-12-30"),
    ("2024-02-29", "2030-02-28", "2030-09-30"),
])
def test_card_validity(born: str, d72: str, valid_to: str) -> None:
    assert card_validity(date.fromisoformat(born)) == (date.fromisoformat(d72), date.fromisoformat(valid_to))


# ---------------------------------------------------------------- the whole run, mixed


@pytest.mark.slow
def test_a_mixed_run_with_this_vss_passes_and_reconciles_through_its_own_reads(tmp_path: Path) -> None:
    """``lienthong run --agency vss=<this VSS> --fakes-port P``: the reference fakes serve every
    other agency and the portal; every dossier completes and reconciles, VSS's registers read
    through VSS's own endpoints (no admin export: it has none)."""
    from lienthong.live import RunSettings, run_scenario

    fakes_port = free_port()
    base = scenarios.load("hanoi-baseline")
    toml = tmp_path / "scenario.toml"
    toml.write_text(scenarios.dump(base), encoding="utf-8")
    process, vss = _start_vss(tmp_path, toml, f"http://127.0.0.1:{fakes_port}")
    try:
        out = run_scenario(base, RunSettings(
            agencies={"vss": vss}, fakes_port=fakes_port, speed=base.load.days * 1440 * 60 / 8.0,
            multiplier=0.1, out=tmp_path / "runs", drain_s=20))
        with httpx.Client(timeout=10) as client:  # the cards are in this VSS
            issued = client.get(f"{vss}/vss/child-cards", params={"issued_on": "2026-03-09"},
                                headers={"X-API-Key": KEYS["auditor"]}).json()["items"]
    finally:
        _stop_vss(process)
    assert out.exit_code == 0 and out.report.verdict.startswith("Yes:"), out.report.verdict
    rec = out.reconciliation
    assert rec.complete and rec.passed, (rec.reasons, rec.violations[:5])
    assert rec.sources["vss"] == f"contract reads at {vss}"
    assert rec.sources["police"].startswith("admin export")
    births = out.metrics["journeys"]["birth"]["completed"]
    assert births > 0 and rec.checked["card"] == births  # one card looked up per completed birth
    assert rec.checked["nothing_else.vss.cards"] == 1 and rec.checked["vss_funeral_payment"] > 0
    assert 0 < len(issued) <= births and len({c["pid"] for c in issued}) == len(issued)
    ecosystem = (out.path / "report.md").read_text()
    assert "Real systems in the loop: vss" in ecosystem
