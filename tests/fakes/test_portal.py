"""Portal journeys of every variant to completion, over a real loopback server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from scenarios import Scenario
from tests.fakes.conftest import Api, citizen

BIRTH_TASKS = {"ks": "register_birth", "pid": "issue_pid", "tt": "register_residence",
               "bhyt": "issue_child_card"}


@pytest.mark.parametrize("variant", ["ks_tt_bhyt", "ks_tt", "ks_bhyt"])
def test_birth_variants_complete_with_one_record_each(api: Api, scenario: Scenario,
                                                      variant: str) -> None:
    doc = api.submit_and_wait(api.birth_dossier(variant))
    steps = scenario.services["birth"].variants[variant].steps
    assert doc["status"] == "completed", doc
    assert [s["step"] for s in doc["steps"]] == list(steps)
    assert {s["status"] for s in doc["steps"]} == {"done"}
    assert all(s["idempotency_key"].startswith(doc["id"]) for s in doc["steps"])
    result = doc["result"]
    pid = result["pid"]
    police, vss, justice = api.export("police"), api.export("vss"), api.export("justice")
    assert [b["register_no"] for b in justice["births"]].count(result["birth_register_no"]) == 1
    assert [p["pid"] for p in police["people"]].count(pid) == 1
    residences = [r for r in police["residences"] if r["pid"] == pid]
    cards = [c for c in vss["cards"] if c["pid"] == pid]
    assert len(residences) == ("tt" in steps)
    assert len(cards) == ("bhyt" in steps)
    if "bhyt" in steps:
        assert result["card_code"] == cards[0]["card_code"]
        assert result["card_valid_to"] == "2032-09-30"


@pytest.mark.parametrize(("variant", "status", "paid_by", "survivor"), [
    ("kt_xtt", "pensioner", None, False),
    ("kt_xtt_funeral", "pensioner", "vss", False),
    ("kt_xtt_funeral", "insured", "vss", False),
    ("kt_xtt_funeral", "social", "social", False),
    ("kt_xtt_funeral", "merit", "social", False),
    ("kt_xtt_funeral", "none", None, False),
    ("kt_xtt_funeral_survivor", "pensioner", "vss", True),
    ("kt_xtt_funeral_survivor", "social", "social", False),
])
def test_death_variants_pay_the_right_payer_once(api: Api, variant: str, status: str,
                                                 paid_by: str | None, survivor: bool) -> None:
    doc = api.submit_and_wait(api.death_dossier(variant, status))
    assert doc["status"] == "completed", doc
    by_step = {s["step"]: s["status"] for s in doc["steps"]}
    assert by_step["kt"] == by_step["xtt"] == "done"
    kt = doc["result"]["death_register_no"]
    vss, social = api.export("vss"), api.export("social")
    vss_paid = [p for p in vss["funeral_allowances"] if p["death_register_no"] == kt]
    social_paid = [p for p in social["funeral_supports"] if p["death_register_no"] == kt]
    assert len(vss_paid) == (paid_by == "vss")
    assert len(social_paid) == (paid_by == "social")
    settled = [p for p in vss["survivor_benefits"] if p["death_register_no"] == kt]
    assert len(settled) == survivor
    if variant != "kt_xtt":
        assert by_step["funeral_vss"] == ("done" if paid_by == "vss" else "skipped")
        assert by_step["funeral_social"] == ("done" if paid_by == "social" else "skipped")
    police = api.export("police")
    person = next(p for p in police["people"] if p["pid"] == doc["result"]["deceased_pid"])
    assert (person["alive"], person["residence_status"]) == (False, "removed")
    assert [r["death_register_no"] for r in police["removals"]].count(kt) == 1


def test_a_refused_step_rejects_the_dossier_and_cancels_dependants(api: Api) -> None:
    body = api.birth_dossier("ks_tt_bhyt", child_birth_date="2019-01-01")  # 7 years old: no card
    doc = api.submit_and_wait(body)
    assert doc["status"] == "rejected"
    by_step = {s["step"]: s for s in doc["steps"]}
    assert by_step["bhyt"]["status"] == "rejected"
    assert by_step["bhyt"]["error"]["code"] == "child_too_old"
    assert by_step["tt"]["status"] == "done"


def test_a_second_registration_of_one_certificate_is_rejected(api: Api) -> None:
    body = api.birth_dossier("ks_tt")
    assert api.submit_and_wait(body)["status"] == "completed"
    again = api.submit_and_wait(body)
    assert again["status"] == "rejected"
    assert again["steps"][0]["error"]["code"] == "already_registered"
    assert [s["status"] for s in again["steps"]] == ["rejected", "cancelled", "cancelled"]


def test_submission_is_idempotent_and_validated(api: Api) -> None:
    body = api.birth_dossier("ks_bhyt")
    first = api.post("desk", "/portal/dossiers", body, key="sub-1")
    again = api.post("desk", "/portal/dossiers", body, key="sub-1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] == again.json()["id"]
    assert first.headers["location"] == f"/portal/dossiers/{first.json()['id']}"
    api.wait(first.json()["id"])
    cert = body["birth"]["birth_certificate_id"]
    dossiers = [d for d in api.export("portal")["dossiers"]
                if (d["input"]["birth"] or {}).get("birth_certificate_id") == cert]
    assert len(dossiers) == 1
    r = api.post("desk", "/portal/dossiers", dict(body, variant="ks_only"))
    assert (r.status_code, r.json()["code"]) == (422, "unknown_variant")
    r = api.post("desk", "/portal/dossiers", {k: v for k, v in body.items() if k != "birth"})
    assert (r.status_code, r.json()["code"]) == (422, "missing_attachment")
    r = api.post("desk", "/portal/dossiers", dict(body, callback_url="http://example.com/cb"))
    assert (r.status_code, r.json()["code"]) == (422, "callback_not_allowed")


def test_citizens_see_only_their_own_dossiers(api: Api) -> None:
    body = api.birth_dossier("ks_tt")
    me = citizen(body["applicant_pid"])
    r = api.post(me, "/portal/dossiers", body)
    dossier = r.json()["id"]
    assert api.get(me, f"/portal/dossiers/{dossier}").status_code == 200
    # the desk's dossier for the same person is not the citizen's own
    other = api.post("desk", "/portal/dossiers", dict(api.birth_dossier("ks_tt"),
                                                      applicant_pid=body["applicant_pid"])).json()["id"]
    r = api.get(me, f"/portal/dossiers/{other}")
    assert (r.status_code, r.json()["code"]) == (404, "unknown_dossier")
    assert api.get("desk", f"/portal/dossiers/{dossier}").status_code == 200


def test_callback_receives_the_final_dossier(api: Api) -> None:
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    hook = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=hook.serve_forever, daemon=True)
    thread.start()
    try:
        body = dict(api.birth_dossier("ks_tt"),
                    callback_url=f"http://127.0.0.1:{hook.server_port}/cb")
        doc = api.submit_and_wait(body)
        for _ in range(200):
            if received:
                break
            threading.Event().wait(0.02)
    finally:
        hook.shutdown()
        hook.server_close()
    assert [r["id"] for r in received] == [doc["id"]]
    assert received[0]["status"] == "completed"


def test_the_portal_runs_every_task_a_scenario_may_name() -> None:
    from fakes._orchestrator import PLANS
    from fakes.work import RECORDS
    from scenarios.model import TASKS

    # a scenario is refused for any other task (scenarios.model), so none is silently skipped
    assert set(PLANS) == set(TASKS) == set(RECORDS)


def test_fakes_refuse_a_scenario_with_a_task_no_portal_plan_runs(tmp_path: Path) -> None:
    from fakes.app import create_app
    from scenarios import loads

    # the twin takes a twin-only task; the fakes used to skip it silently and stick the next step
    s = loads('extends = "hanoi-baseline"\n[meta]\nname = "t"\n[steps.ks]\ntask = "twin:court_review"\n')
    with pytest.raises(ValueError, match=r"steps\.ks\.task: .twin:court_review. is not a task the reference "
                                         r"portal runs \(one of register_birth, "):
        create_app(s, tmp_path)
