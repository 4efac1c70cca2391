"""Fault middleware on the scenario timeline, over real loopback servers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakes.faults import Hook, apply_hooks
from scenarios import Scenario, load
from scenarios.clock import ScenarioClock
from scenarios.clock import write as write_clock
from scenarios.model import Dist, Fault
from tests.fakes.conftest import Api, instant, serve_thread


def with_faults(scenario: Scenario, *faults: Fault, seed: int | None = None) -> Scenario:
    update: dict[str, Any] = {"faults": faults}
    if seed is not None:
        update["meta"] = scenario.meta.model_copy(update={"seed": seed})
    return scenario.model_copy(update=update)


@pytest.fixture
def start(tmp_path: Path, served: Any) -> Any:
    def go(scenario: Scenario, speed: float = 60.0, name: str = "run") -> Api:
        return served(serve_thread(scenario, tmp_path / name, speed=speed))

    return go


def metric(api: Api, prefix: str) -> float:
    text = api.http.get("/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(prefix))


def test_error_window_is_retried_and_the_dossier_completes(scenario: Scenario, start: Any) -> None:
    api = start(with_faults(scenario, Fault(kind="error", agency="vss", start=0, end=1.0,
                                            rate=1.0, status=500)), speed=60.0)
    r = api.post("portal", "/vss/child-cards", {"pid": "001226000001"})
    assert (r.status_code, r.json()["code"], r.headers["x-fault"]) == (500, "injected_error", "error")
    doc = api.submit_and_wait(api.birth_dossier("ks_bhyt"))
    assert doc["status"] == "completed"
    assert len([c for c in api.export("vss")["cards"] if c["pid"] == doc["result"]["pid"]]) == 1


def test_outage_answers_503_and_in_process_callers_see_refusal(scenario: Scenario,
                                                                start: Any) -> None:
    api = start(with_faults(scenario, Fault(kind="outage", agency="justice", start=0, end=1.0)))
    r = api.get("portal", "/justice/births/KS-00070-2026-Q01-000001")
    assert (r.status_code, r.json()["code"], r.headers["retry-after"]) == (503, "unavailable", "1")
    doc = api.submit_and_wait(api.birth_dossier("ks_tt"))
    assert doc["status"] == "completed"
    assert metric(api, 'lienthong_portal_outbound_total{agency="justice",outcome="transport_error"') >= 1
    time.sleep(0.1)
    assert api.get("portal", "/justice/births/KS-00070-2026-Q01-000001").status_code == 200


def test_latency_is_injected_and_reported_apart(scenario: Scenario, start: Any) -> None:
    api = start(with_faults(scenario, Fault(kind="latency", agency="health", start=0, end=1e9,
                                            latency=Dist(kind="constant", mean=150.0))), speed=1.0)
    t = time.perf_counter()
    api.cert()
    assert time.perf_counter() - t >= 0.15
    assert metric(api, 'lienthong_fault_injected_seconds_total{agency="health"') == pytest.approx(0.15)
    assert metric(api, 'lienthong_fault_overhead_seconds_count{agency="health"') >= 1
    overhead = metric(api, 'lienthong_fault_overhead_seconds_sum{agency="health"')
    assert 0 < overhead < 0.01


def _statuses(api: Api, n: int) -> list[int]:
    return [api.get("portal", "/health/birth-certificates/none").status_code for _ in range(n)]


def test_faults_are_seeded_and_reproducible(scenario: Scenario, start: Any) -> None:
    fault = Fault(kind="error", agency="health", start=0, end=1e9, rate=0.5, status=503)
    a = _statuses(start(with_faults(scenario, fault, seed=7), 1.0, "a"), 40)
    b = _statuses(start(with_faults(scenario, fault, seed=7), 1.0, "b"), 40)
    c = _statuses(start(with_faults(scenario, fault, seed=8), 1.0, "c"), 40)
    assert a == b
    assert a != c
    assert set(a) == {404, 503}


def test_slow_pid_is_issued_later_and_the_portal_waits(scenario: Scenario, start: Any) -> None:
    api = start(with_faults(scenario, Fault(kind="slow_pid", agency="police", start=0, end=1e9,
                                            delay=Dist(kind="constant", mean=0.5))), speed=60.0)
    rec = api.birth_record()
    r = api.post("portal", "/police/pids", {"birth_register_no": rec["register_no"]})
    assert (r.status_code, r.json()["status"], r.json()["pid"]) == (202, "pending", None)
    location = r.headers["location"]
    assert api.get("portal", location).json()["status"] == "pending"
    time.sleep(0.6)
    issued = api.get("portal", location).json()
    assert issued["status"] == "issued" and issued["pid"].startswith("00122")
    doc = api.submit_and_wait(api.birth_dossier("ks_tt_bhyt"))
    assert doc["status"] == "completed"
    assert doc["result"]["pid"]


def test_duplicate_delivery_is_absorbed_by_idempotency(scenario: Scenario, start: Any) -> None:
    api = start(with_faults(scenario, Fault(kind="duplicate_delivery", agency="*", start=0,
                                            end=1e9, rate=1.0)), speed=1.0)
    c = api.cert()
    r = api.post("portal", "/justice/births", {
        "birth_certificate_id": c["id"], "child_name": "An", "unit_code": "00070",
        "declarant_name": "Lan", "declarant_relation": "mother"})
    assert (r.status_code, r.headers["x-fault"]) == (201, "duplicate_delivery")
    doc = api.submit_and_wait(api.birth_dossier("ks_tt_bhyt"))
    assert doc["status"] == "completed"
    registers = api.exports()
    assert len(registers["health"]["birth_certificates"]) == 2
    assert len(registers["justice"]["births"]) == 2
    assert len(registers["police"]["people"]) == 1
    assert len(registers["vss"]["cards"]) == 1
    assert len(registers["portal"]["dossiers"]) == 1
    assert metric(api, 'lienthong_faults_total{agency="justice",kind="duplicate_delivery"}') >= 2


def test_wrong_card_expiry_is_stored(scenario: Scenario, start: Any) -> None:
    api = start(with_faults(scenario, Fault(kind="wrong_card_expiry", agency="vss", start=0,
                                            end=1e9, rate=1.0, incident="F8")), speed=1.0)
    doc = api.submit_and_wait(api.birth_dossier("ks_bhyt"))
    assert doc["result"]["card_valid_to"] == "2026-12-31"
    assert api.export("vss")["cards"][0]["valid_to"] == "2026-12-31"


def test_lost_attachment_at_an_agency_refuses_the_write(scenario: Scenario, start: Any) -> None:
    api = start(with_faults(scenario, Fault(kind="lost_attachment", agency="justice", start=0,
                                            end=1e9, rate=1.0)), speed=1.0)
    c = api.cert()
    r = api.post("portal", "/justice/births", {
        "birth_certificate_id": c["id"], "child_name": "An", "unit_code": "00070",
        "declarant_name": "Lan", "declarant_relation": "mother"})
    assert (r.status_code, r.json()["code"], r.headers["x-fault"]) == (
        422, "missing_attachment", "lost_attachment")
    assert api.export("justice")["births"] == []


def test_false_rejection_and_portal_code_mismatch(scenario: Scenario, start: Any) -> None:
    api = start(with_faults(
        scenario,
        Fault(kind="false_rejection", agency="police", start=0, end=1e9, rate=1.0, status=404),
        Fault(kind="code_mismatch", agency="portal", start=0, end=1e9, rate=1.0)), speed=1.0)
    r = api.post("desk", "/portal/dossiers", api.birth_dossier("ks_tt"))
    assert r.status_code == 202 and r.json()["id"].startswith("000.00.01.H26-")
    real = r.headers["location"].rsplit("/", 1)[1]
    assert real.startswith("G1-001-")
    doc = api.wait(real)
    assert doc["status"] == "rejected"
    assert doc["steps"][1]["error"]["code"] == "unknown_person"
    assert api.export("police")["people"] == []


# -- the incident scenarios as the catalog names them, their clock inside the fault window ----

def incident(name: str, rate: float | None = None) -> Scenario:
    """Catalog scenario ``name`` with instant agencies; ``rate`` (if given) replaces its
    faults' rate."""
    s = instant(load(name))
    if rate is None:
        return s
    return s.model_copy(update={"faults": tuple(f.model_copy(update={"rate": rate})
                                                 for f in s.faults)})


def at_minute(start: Any, tmp_path: Path, scenario: Scenario, minute: float,
              name: str) -> Api:
    """A server whose scenario clock reads ``minute`` now (speed 1: it stays there)."""
    run_dir = tmp_path / name
    write_clock(run_dir, ScenarioClock(time.time() - minute * 60, 1.0))
    api: Api = start(scenario, 1.0, name)
    assert abs(api.http.get("/healthz").json()["minute"] - minute) < 1
    return api


def _window(scenario: Scenario) -> float:
    return float(scenario.faults[0].start) + 60.0


def test_f3_police_records_its_own_dossier_codes(tmp_path: Path, start: Any) -> None:
    s = incident("incident-f3-code-mismatch", rate=1.0)
    assert [(f.kind, f.agency) for f in s.faults] == [("code_mismatch", "police")]
    for minute, name in ((_window(s), "in"), (0.0, "before")):
        api = at_minute(start, tmp_path, s, minute, name)
        birth = api.submit_and_wait(api.birth_dossier("ks_tt_bhyt"))
        death = api.submit_and_wait(api.death_dossier("kt_xtt"))
        assert (birth["status"], death["status"]) == ("completed", "completed")
        police = api.export("police")
        codes = {"pid_requests": police["pid_requests"][0]["dossier_code"],
                 "residences": police["residences"][0]["dossier_code"],
                 "removals": police["removals"][0]["dossier_code"]}
        if name == "in":  # MPS numbering: visible in the register, unlike the portal's code
            assert codes == {"pid_requests": "BCA-" + "".join(filter(str.isdigit, birth["id"])),
                             "residences": "BCA-" + "".join(filter(str.isdigit, birth["id"])),
                             "removals": "BCA-" + "".join(filter(str.isdigit, death["id"]))}
            assert birth["steps"][1]["result"]["dossier_code"] == codes["pid_requests"]
        else:
            assert codes == {"pid_requests": birth["id"], "residences": birth["id"],
                             "removals": death["id"]}
        portal = {d["id"] for d in api.export("portal")["dossiers"]}
        assert portal == {birth["id"], death["id"]}  # the portal keeps its own codes


def test_f8_cards_in_the_window_expire_on_31_12(tmp_path: Path, start: Any) -> None:
    s = incident("incident-f8-card-expiry")
    assert [(f.kind, f.agency, f.rate) for f in s.faults] == [("wrong_card_expiry", "vss", 1.0)]
    api = at_minute(start, tmp_path, s, _window(s), "in")
    doc = api.submit_and_wait(api.birth_dossier("ks_tt_bhyt"))  # child born 2026-03-01
    assert doc["result"]["card_valid_to"] == "2026-12-31"
    cards = api.export("vss")["cards"]
    assert [(c["pid"], c["valid_to"]) for c in cards] == [(doc["result"]["pid"], "2026-12-31")]
    later = at_minute(start, tmp_path, s, float(s.faults[0].end) + 60.0, "after")
    fixed = later.submit_and_wait(later.birth_dossier("ks_bhyt"))
    assert fixed["result"]["card_valid_to"] == "2032-09-30"  # 72 months on 2032-03-01: to 30/09


def test_f10_the_portal_loses_attachments_on_the_way(tmp_path: Path, start: Any) -> None:
    s = incident("incident-f10-lost-attachment", rate=1.0)
    assert [(f.kind, f.agency) for f in s.faults] == [("lost_attachment", "portal")]
    api = at_minute(start, tmp_path, s, _window(s), "in")
    body = api.birth_dossier("ks_tt_bhyt")
    r = api.post("desk", "/portal/dossiers", body)
    assert r.status_code == 202  # accepted with its attachment ...
    birth = api.wait(r.json()["id"])
    death = api.submit_and_wait(api.death_dossier("kt_xtt_funeral"))
    for doc, first in ((birth, "ks"), (death, "kt")):  # ... and returned by the agency
        assert doc["status"] == "rejected"
        assert (doc["steps"][0]["step"], doc["steps"][0]["error"]["code"]) == (
            first, "missing_attachment")
        rest = {s["status"] for s in doc["steps"][1:]}
        assert "cancelled" in rest and rest <= {"cancelled", "skipped"}
    stored = {d["id"]: d for d in api.export("portal")["dossiers"]}
    assert stored[birth["id"]]["input"]["birth"]["birth_certificate_id"] == \
        body["birth"]["birth_certificate_id"]
    assert stored[birth["id"]]["faults"] == ["lost_attachment"]
    justice = api.export("justice")
    assert (justice["births"], justice["deaths"]) == ([], [])


def test_demand_side_faults_are_ignored(scenario: Scenario, start: Any) -> None:
    api = start(with_faults(scenario, Fault(kind="surge", start=0, end=1e9, factor=3.0)), 1.0)
    assert httpx.get(api.handle.base_url + "/healthz").status_code == 200
    assert api.submit_and_wait(api.birth_dossier("ks_tt"))["status"] == "completed"


# -- semantic faults: the agencies' hooks ------------------------------------------------------

@dataclass(frozen=True)
class _Card:
    valid_to: str
    code: str = "TE1"


@dataclass(frozen=True)
class _Payment:
    amount: int


_TO_NEW_YEAR = {"wrong_card_expiry": Hook("valid_to", lambda card, _: "2026-12-31")}


def test_a_hook_changes_the_drafts_with_its_field_only() -> None:
    marked = {"state": {"faults": {"wrong_card_expiry": True}}}
    assert apply_hooks(_TO_NEW_YEAR, marked, _Card("2029-09-30")) == _Card("2026-12-31")
    assert apply_hooks(_TO_NEW_YEAR, marked, _Payment(10)) == _Payment(10)
    assert apply_hooks(_TO_NEW_YEAR, marked, {"valid_to": "x"}) == {"valid_to": "x"}


def test_a_hook_waits_for_its_fault_to_be_marked() -> None:
    card = _Card("2029-09-30")
    scopes: list[dict[str, Any]] = [{}, {"state": {}},
                                    {"state": {"faults": {"wrong_card_expiry": False}}},
                                    {"state": {"faults": {"code_mismatch": True}}}]
    for scope in scopes:
        assert apply_hooks(_TO_NEW_YEAR, scope, card) is card


def test_agencies_hook_only_the_faults_the_middleware_marks() -> None:
    from fakes.app import _MODULES

    hooked = {name: sorted(getattr(m, "HOOKS", {})) for name, m in _MODULES.items()}
    assert hooked == {"health": [], "justice": [], "police": ["code_mismatch", "slow_pid"],
                      "vss": ["wrong_card_expiry"], "social": [], "portal": ["lost_attachment"]}


def _with_retry(scenario: Scenario, **policy: Any) -> Scenario:
    from scenarios.model import Retry
    load_ = scenario.load.model_copy(update={"portal_retry": Retry(**policy)})
    return scenario.model_copy(update={"load": load_})


def test_a_step_that_never_succeeds_fails_its_dossier_when_its_budget_is_spent(
        scenario: Scenario, start: Any) -> None:
    """VSS answers 503 for ever: the portal retries within its 30-minute budget (scenario time),
    then the dossier ends ``failed`` naming VSS, its call and last answer; the steps before it
    stay done, nothing retries any more, and /metrics counts it."""
    s = with_faults(_with_retry(scenario, within=30, backoff=(1, 5)),
                    Fault(kind="error", agency="vss", start=0, end=1e9, rate=1.0, status=503))
    api = start(s, speed=600.0)  # 30 scenario minutes: 3 s
    doc = api.submit_and_wait(api.birth_dossier("ks_bhyt"))
    assert doc["status"] == "failed", doc["status"]
    assert doc["failure"]["step"] == "bhyt" and doc["failure"]["agency"] == "vss"
    assert doc["failure"]["code"] == "retries_exhausted"
    assert "503" in doc["failure"]["detail"] and "POST /vss/child-cards" in doc["failure"]["detail"]
    steps = {st["step"]: st for st in doc["steps"]}
    assert steps["ks"]["status"] == "done" and steps["pid"]["status"] == "done"
    assert steps["bhyt"]["status"] == "failed" and steps["bhyt"]["error"]["code"] == "retries_exhausted"
    from datetime import datetime
    spent = datetime.fromisoformat(doc["completed_at"]) - datetime.fromisoformat(steps["bhyt"]["retry_since"])
    assert 30 <= spent.total_seconds() / 60 < 32  # the budget, no pause past its end
    tries = metric(api, 'lienthong_portal_outbound_total{agency="vss",outcome="retry_503"}')
    assert tries >= 6  # 30 minutes of 1, 2, 4, then ≤ 5-minute pauses
    assert metric(api, 'lienthong_portal_outbound_total{agency="vss",outcome="exhausted"}') == 1
    assert metric(api, 'lienthong_portal_dossiers{status="failed"}') == 1
    time.sleep(0.5)  # 5 scenario minutes: a retry would have happened by now
    assert metric(api, 'lienthong_portal_outbound_total{agency="vss",outcome="retry_503"}') == tries


def test_a_step_can_cap_its_retries_by_count(scenario: Scenario, start: Any) -> None:
    """A step's own ``retry`` wins over the portal's: 3 retries, then ``failed``."""
    from scenarios.model import Retry
    steps = dict(scenario.steps)
    steps["bhyt"] = steps["bhyt"].model_copy(update={"retry": Retry(attempts=3, backoff=(0.1, 0.1))})
    s = with_faults(scenario.model_copy(update={"steps": steps}),
                    Fault(kind="error", agency="vss", start=0, end=1e9, rate=1.0, status=500))
    api = start(s, speed=600.0)
    doc = api.submit_and_wait(api.birth_dossier("ks_bhyt"))
    assert doc["status"] == "failed" and "3 retries over" in doc["failure"]["detail"]
    assert metric(api, 'lienthong_portal_outbound_total{agency="vss",outcome="retry_500"}') == 4
