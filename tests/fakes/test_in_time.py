"""Agencies in time: writes booked on the agencies' desks and calendars on the compressed
scenario clock, the work resource, the portal polling it, a SIGKILL mid-work, instant mode.

Real servers on 127.0.0.1 with real SQLite. Minute 0 is Monday 2026-03-09 00:00 (+07:00); a
server's clock is put at a chosen scenario minute by writing ``clock.json`` before it starts.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakes._env import Env
from fakes._outbound import Outbound
from fakes.auth import Auth
from fakes.serve import start_subprocess, start_thread
from fakes.store import Store
from fakes.work import SCHEMA, Desks
from scenarios import Scenario, load
from scenarios.clock import CalendarClock, ScenarioClock
from scenarios.clock import write as write_clock
from scenarios.model import Dist, Fault
from tests.fakes.conftest import Api

ORIGIN = dt.datetime(2026, 3, 9, tzinfo=dt.timezone(dt.timedelta(hours=7)))
DAY = 1440


def minute(day: int, hhmm: str) -> float:
    """Scenario minute of ``hhmm`` on day ``day`` (0 = Monday 2026-03-09)."""
    h, m = hhmm.split(":")
    return day * DAY + int(h) * 60 + int(m)


def iso(m: float) -> str:
    return (ORIGIN + dt.timedelta(minutes=m)).isoformat()


def minute_of(stamp: str) -> float:
    return (dt.datetime.fromisoformat(stamp) - ORIGIN).total_seconds() / 60


def constant(minutes: float) -> Dist:
    return Dist(kind="constant", mean=minutes)


def in_time(**steps: tuple[float | None, float | None]) -> Scenario:
    """The default scenario (agencies in time) with ``steps`` given constant ``(desk, system)``
    minutes (None: no such phase); justice has one desk."""
    s = load("hanoi-baseline")
    assert s.load.agencies == "in_time"
    table = dict(s.steps)
    for sid, (desk, system) in steps.items():
        table[sid] = table[sid].model_copy(update={
            "desk_time": None if desk is None else constant(desk),
            "system_time": None if system is None else constant(system)})
    agencies = dict(s.agencies)
    agencies["justice"] = agencies["justice"].model_copy(update={"desks": 1})
    return s.model_copy(update={"steps": table, "agencies": agencies})


def clocked(run_dir: Path, at: float, speed: float) -> ScenarioClock:
    """Put ``run_dir``'s scenario clock at minute ``at`` now, running ``speed`` times wall."""
    clock = ScenarioClock(time.time() - at * 60 / speed, speed)
    write_clock(run_dir, clock)
    return clock


def sleep_until(clock: ScenarioClock, m: float) -> None:
    time.sleep(max(0.0, clock.wall(m) - time.time()) + 0.02)


def birth_body(cert: dict[str, Any]) -> dict[str, Any]:
    return {"birth_certificate_id": cert["id"], "child_name": "Trần Minh An", "unit_code": "00070",
            "declarant_name": "Nguyễn Thị Lan", "declarant_relation": "mother"}


def test_one_desk_books_exact_times_across_lunch_and_a_weekend(tmp_path: Path, served: Any) -> None:
    s = in_time(ks=(150.0, None))
    speed = 30000.0  # a scenario minute every 2 ms: the weekend passes in 4 s
    clock = clocked(tmp_path, minute(3, "18:00"), speed)  # Thursday evening: justice is closed
    api = served(start_thread(s, tmp_path, speed=speed))
    certs = [api.cert() for _ in range(4)]
    first = api.post("portal", "/justice/births", birth_body(certs[0]), key="w1")
    # refusals between two writes book nothing: the next write takes the desk where W1 left it
    dup = api.post("portal", "/justice/births", birth_body(certs[0]))
    unknown = api.post("portal", "/justice/births",
                       dict(birth_body(certs[0]), birth_certificate_id="GCS-01001-2026-999999"))
    assert (dup.status_code, dup.json()["code"]) == (409, "already_registered")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_birth_certificate")
    rest = [api.post("portal", "/justice/births", birth_body(c)) for c in certs[1:]]
    answers = [first, *rest]
    assert [r.status_code for r in answers] == [202] * 4
    works = [r.json() for r in answers]
    assert [r.headers["location"] for r in answers] == \
        [f"/justice/work/W{n:010d}" for n in range(1, 5)]
    assert all(minute_of(w["accepted_at"]) < minute(4, "07:30") for w in works), "too slow to start"
    booked = [(w["status"], w["started_at"], w["available_at"], w["completed_at"], w["result"])
              for w in works]
    assert booked == [  # 150 minutes each at one desk, Friday 07:30 on
        ("queued", iso(minute(4, "07:30")), iso(minute(4, "10:00")), None, None),
        ("queued", iso(minute(4, "10:00")), iso(minute(4, "14:00")), None, None),  # lunch 11:30-13:00
        ("queued", iso(minute(4, "14:00")), iso(minute(4, "16:30")), None, None),
        ("queued", iso(minute(4, "16:30")), iso(minute(7, "09:30")), None, None),  # 30 on Fri, 120 on Mon
    ]
    assert {w["agency"] for w in works} == {"justice"} and {w["step"] for w in works} == {"ks"}
    replay = api.post("portal", "/justice/births", birth_body(certs[0]), key="w1")
    assert (replay.status_code, replay.headers["idempotent-replayed"]) == (202, "true")
    assert replay.json() == works[0]
    by_cert = f"/justice/births?birth_certificate_id={certs[0]['id']}"
    assert api.get("auditor", by_cert).json() == {"items": []}  # not shown before it is done
    assert api.export("justice")["births"] == []

    sleep_until(clock, minute(4, "11:00"))  # W1 done at 10:00, W2 at the desk until 14:00
    w1, w2 = (api.get("portal", r.headers["location"]).json() for r in answers[:2])
    assert (w1["status"], w1["completed_at"], w2["status"]) == \
        ("done", iso(minute(4, "10:00")), "in_work")
    gauges = api.http.get("/metrics").text  # the twin's terms: W3 and W4 wait for the one desk
    for name, n in (("desk_queue", 2), ("desk_busy", 1), ("sys_queue", 0), ("sys_busy", 0)):
        assert f'lienthong_{name}{{agency="justice"}} {n}' in gauges, name
    sleep_until(clock, minute(5, "12:00"))  # Saturday: W4 is paused mid-work until Monday
    now = [api.get("portal", r.headers["location"]).json() for r in answers]
    assert [w["status"] for w in now] == ["done", "done", "done", "in_work"]
    assert now[0]["result"]["registered_on"] == "2026-03-13"
    assert api.get("auditor", by_cert).json() == {"items": [now[0]["result"]]}
    assert api.get("auditor", f"/justice/births/{now[0]['result']['register_no']}").json() == \
        now[0]["result"]
    metrics = api.http.get("/metrics").text
    assert 'lienthong_desk_queue{agency="justice"} 0' in metrics
    assert 'lienthong_desk_busy{agency="justice"} 1' in metrics
    assert 'lienthong_work{agency="justice",status="done"} 3' in metrics
    sleep_until(clock, minute(7, "09:30"))
    done = [api.get("portal", r.headers["location"]).json() for r in answers]
    assert [w["status"] for w in done] == ["done"] * 4
    assert [w["completed_at"] for w in done] == [w["available_at"] for w in works]
    assert [w["result"]["registered_on"] for w in done] == \
        ["2026-03-13", "2026-03-13", "2026-03-13", "2026-03-16"]
    births = api.export("justice")["births"]
    assert sorted(b["birth_certificate_id"] for b in births) == sorted(c["id"] for c in certs)


def test_the_portal_follows_the_work_and_learns_it_at_once(tmp_path: Path, served: Any) -> None:
    speed = 1500.0  # a scenario minute every 40 ms
    clocked(tmp_path, minute(0, "08:00"), speed)
    api = served(start_thread(load("hanoi-baseline"), tmp_path, speed=speed))
    assert api.http.get("/healthz").json()["agencies_in_time"] is True
    birth = api.submit_and_wait(api.birth_dossier("ks_tt_bhyt"))
    death = api.submit_and_wait(api.death_dossier("kt_xtt_funeral", "pensioner"))
    for doc in (birth, death):
        assert doc["status"] == "completed", doc
        for step in doc["steps"]:
            if step["status"] == "skipped":
                continue
            work = api.get("auditor", step["location"]).json()
            assert work["status"] == "done" and work["step"] == step["step"]
            lag = minute_of(step["finished_at"]) - minute_of(work["completed_at"])
            assert 0 <= lag < 5, (step["step"], lag)  # polled at the announced time (< 0.2 s)
            assert step["result"] == work["result"]
    assert birth["result"]["card_valid_to"] == "2032-09-30"


def test_a_slow_polling_portal_learns_late(tmp_path: Path, served: Any) -> None:
    s = in_time(ks=(5.0, None), pid=(5.0, None), tt=(5.0, None))
    s = s.model_copy(update={"faults": (Fault(kind="slow_polling", agency="portal", start=0,
                                              end=1e6, delay=constant(60.0)),)})
    speed = 3000.0
    clocked(tmp_path, minute(0, "08:00"), speed)
    api = served(start_thread(s, tmp_path, speed=speed))
    doc = api.submit_and_wait(api.birth_dossier("ks_tt"))
    assert doc["status"] == "completed", doc
    for step in doc["steps"]:
        work = api.get("auditor", step["location"]).json()
        lag = minute_of(step["finished_at"]) - minute_of(work["completed_at"])
        assert 54.5 <= lag < 60, (step["step"], lag)  # polled 60 minutes after a 5-minute work


def test_sigkill_mid_work_resumes_every_booking(tmp_path: Path) -> None:
    s = in_time(ks=(150.0, None))
    speed = 10000.0
    run_dir = tmp_path / "run"
    clock = clocked(run_dir, minute(0, "05:00"), speed)
    handle = start_subprocess(s, run_dir, speed=speed)
    api = Api(handle)
    try:
        dossier = api.post("desk", "/portal/dossiers", api.birth_dossier("ks_tt"), key="d1")
        assert dossier.status_code == 202
        dossier_id = dossier.json()["id"]
        certs = [api.cert() for _ in range(5)]
        for _ in range(200):  # the dossier's KS is booked first
            ks = api.get("desk", f"/portal/dossiers/{dossier_id}").json()["steps"][0]
            if ks["location"]:
                break
            time.sleep(0.01)
        answers = [api.post("portal", "/justice/births", birth_body(c), key=f"w{i}")
                   for i, c in enumerate(certs[:4])]
        assert [r.status_code for r in answers] == [202] * 4
        booked = [api.get("portal", ks["location"]).json()] + [r.json() for r in answers]
        ends = [minute_of(w["available_at"]) for w in booked]
        assert [minute_of(w["started_at"]) for w in booked[1:]] == ends[:-1]  # one desk, FIFO
        sleep_until(clock, minute_of(booked[0]["started_at"]) + 30)
        assert api.get("portal", ks["location"]).json()["status"] == "in_work"
        handle.kill()  # SIGKILL with the desk busy, four writes queued, the portal waiting
        api.http.close()
        port = int(handle.base_url.rsplit(":", 1)[1])
        handle = start_subprocess(s, run_dir, speed=speed, port=port)
        api = Api(handle)
        assert minute_of(api.http.get("/healthz").json()["now"]) < ends[-1]
        again = api.post("portal", "/justice/births", birth_body(certs[0]), key="w0")
        assert again.headers["idempotent-replayed"] == "true" and again.json() == booked[1]
        late = api.post("portal", "/justice/births", birth_body(certs[4])).json()
        assert late["work_id"] == "W0000000006"
        assert minute_of(late["started_at"]) == ends[-1]  # behind the work booked before the crash
        sleep_until(clock, minute_of(late["available_at"]))
        locations = [ks["location"]] + [r.headers["location"] for r in answers]
        after = [api.get("portal", loc).json() for loc in locations]
        assert [w["status"] for w in after] == ["done"] * 5
        assert [w["completed_at"] for w in after] == [w["available_at"] for w in booked]
        doc = api.wait(dossier_id, timeout=30)
        assert doc["status"] == "completed", doc
        assert doc["steps"][0]["location"] == ks["location"]  # polled again, not sent again
        assert doc["steps"][0]["result"] == after[0]["result"]
        justice = api.export("justice")
        cert_ids = sorted(b["birth_certificate_id"] for b in justice["births"])
        assert cert_ids == sorted([*(c["id"] for c in certs),
                                   api.export("portal")["dossiers"][0]["input"]["birth"][
                                       "birth_certificate_id"]])
        assert len(justice["work"]) == 6 and {w["status"] for w in justice["work"]} == {"done"}
    finally:
        api.http.close()
        handle.stop()


def test_instant_answers_201_at_once(tmp_path: Path) -> None:
    s = in_time(ks=(150.0, None))
    handle = start_subprocess(s, tmp_path, speed=1.0, instant=True)
    api = Api(handle)
    try:
        assert api.http.get("/healthz").json()["agencies_in_time"] is False
        r = api.post("portal", "/justice/births", birth_body(api.cert()))
        assert r.status_code == 201 and r.json()["register_no"].startswith("KS-")
        assert api.export("justice")["work"] == []
    finally:
        api.http.close()
        handle.stop()


def test_a_restarted_office_continues_its_pools_and_draws(tmp_path: Path) -> None:
    """The desks' state is rebuilt from the work register: the same free times and the same
    next draws as the office that booked the work."""
    s = load("hanoi-baseline")  # lognormal desk and system times at vss (12 desks, 8 servers)
    clock = CalendarClock.of(s, time.time() - minute(0, "08:00") * 60, 1.0)
    store = Store(tmp_path / "vss.db", SCHEMA)
    env = Env(s, tmp_path, clock, Auth(s.callers), Outbound({}, 1.0), {"vss": store})

    def write(e: Env, db: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        return 201, {"card_code": f"TE1{e.clock.minute():.6f}"}, {}

    desks = Desks(s, "vss", store)
    task = desks.step("issue_child_card")
    assert task is not None
    for _ in range(40):
        with store.tx() as db:
            desks.accept(env, db, task, write)
    with store.tx() as db, pytest.raises(ZeroDivisionError):  # a refused write books nothing
        desks.accept(env, db, task, lambda e, db: (1 // 0, {}, {}))
    resumed = Desks(s, "vss", store)
    assert {k: sorted(v) for k, v in resumed.office.state().items()} == \
        {k: sorted(v) for k, v in desks.office.state().items()}
    assert resumed.office.servers is not None and desks.office.servers is not None
    booked = sorted(b for unit in desks.office.servers.busy for b in unit)  # type: ignore[union-attr]
    assert sorted(b for unit in resumed.office.servers.busy for b in unit) == booked  # type: ignore[union-attr]
    nxt = resumed.step("issue_child_card")
    assert nxt is not None and nxt.desk is not None and nxt.system is not None
    assert task.desk is not None and task.system is not None
    assert (nxt.desk(), nxt.system()) == (task.desk(), task.system())
    store.close()


def test_work_resources_need_the_agencys_read_scope(tmp_path: Path, served: Any) -> None:
    api = served(start_thread(load("hanoi-baseline"), tmp_path, speed=1.0))
    r = api.get("hospital", "/justice/work/W0000000001")
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    r = api.get("portal", "/justice/work/W0000000001")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = api.get("portal", "/vss/work/nonsense")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = api.get("portal", "/police/work/001226000042")  # a PID where a work id belongs: masked
    assert r.status_code == 404 and "001226000042" not in r.text
    assert httpx.get(api.handle.base_url + "/justice/work/W1").status_code == 401
