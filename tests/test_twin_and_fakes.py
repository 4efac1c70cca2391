"""The twin and the live fakes book the same desks: for the same (deterministic) draws, every
step of every dossier ends at the same scenario minute in the SimPy twin and in the reference
fakes served over HTTP on the compressed clock.

Dossiers are handed in at night, and each agency's desks open only after the previous agency's
work is done, so every start is fixed by a calendar or by the desk's earlier work — never by the
few milliseconds the portal takes to pass a dossier on — and the end times must be equal.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np

import scenarios
from fakes.serve import start_thread
from scenarios.clock import ScenarioClock
from scenarios.clock import write as write_clock
from scenarios.model import Dist
from sim.records import ARRIVAL_DTYPE, NO_STATUS
from sim.twin import simulate
from tests.fakes.conftest import Api

ORIGIN = dt.datetime(2026, 3, 9, tzinfo=dt.timezone(dt.timedelta(hours=7)))  # minute 0, a Monday


def _scenario() -> scenarios.Scenario:
    s = scenarios.load("hanoi-baseline")
    steps = dict(s.steps)
    for sid, minutes in (("ks", 20.0), ("pid", 15.0), ("tt", 10.0)):
        steps[sid] = steps[sid].model_copy(update={
            "desk_time": Dist(kind="constant", mean=minutes), "system_time": None})
    agencies = dict(s.agencies)
    for aid, hours in (("justice", "07:30-09:30"), ("police", "13:00-17:00")):
        agencies[aid] = agencies[aid].model_copy(update={"desks": 1, "weekday_hours": (hours,)})
    return s.model_copy(update={"steps": steps, "agencies": agencies, "faults": ()})


def _minute(stamp: str) -> float:
    return (dt.datetime.fromisoformat(stamp) - ORIGIN).total_seconds() / 60


def test_the_twin_and_the_fakes_end_every_step_at_the_same_minute(tmp_path: Path) -> None:
    s = _scenario()
    speed, n = 4000.0, 4
    write_clock(tmp_path, ScenarioClock(time.time() - 120.0 * 60 / speed, speed))  # now: Monday 02:00
    handle = start_thread(s, tmp_path, speed=speed)
    api = Api(handle)
    try:
        ids, submitted = [], []
        for _ in range(n):
            r = api.post("desk", "/portal/dossiers", api.birth_dossier("ks_tt"))
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
            submitted.append(_minute(r.json()["submitted_at"]))
        docs = [api.wait(i, "desk", timeout=60) for i in ids]
        live: dict[tuple[int, str], float] = {}
        for k, doc in enumerate(docs):
            assert doc["status"] == "completed", doc
            for step in doc["steps"]:
                work = api.get("auditor", step["location"]).json()
                live[(k, step["step"])] = _minute(work["completed_at"])
    finally:
        api.http.close()
        handle.stop()
    assert max(submitted) < 7 * 60 + 30, "the dossiers must be in before the desks open"

    stream = np.zeros(n, ARRIVAL_DTYPE)
    stream["dossier"] = np.arange(n)
    stream["variant"] = list(s.services["birth"].variants).index("ks_tt")
    stream["submitted"] = submitted
    stream["status"] = NO_STATUS
    twin = simulate(s, days=2, stream=stream, warmup_days=0)
    names = twin.step_names
    predicted = {(int(r["dossier"]), names[int(r["step"])]): float(r["end"]) for r in twin.steps}

    assert set(predicted) == set(live)
    for key in sorted(live):
        assert abs(live[key] - predicted[key]) < 1e-6, (key, live[key], predicted[key])
    # and they are the hand-computed times: KS 07:30 + 20k, PIDs from 13:00, TTs after them
    hhmm = sorted((int(m // 60), round(m % 60)) for (_, sid), m in live.items() if sid == "tt")
    assert hhmm == [(14, 10), (14, 20), (14, 30), (14, 40)]
