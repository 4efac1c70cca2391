"""Tests for sim/twin.py: exact timelines of tiny scenarios, faults, deadlines, conservation, Erlang C."""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scenarios
from scenarios import Scenario, validate
from scenarios.demand import calendar_for, datetime_to_minute, minute_to_datetime
from scenarios.desks import Workdays
from sim import ARRIVAL_DTYPE, CsvSink, NpySink, simulate
from sim._sinks import read_npy
from sim.metrics import metrics
from sim.queueing import erlang_c, erlang_c_wait
from sim.records import DONE, OPEN, REFUSED
from sim.replications import summarize

BASE = tomllib.loads((Path(scenarios.__file__).parent / "hanoi-baseline.toml").read_text("utf-8"))
MON = 0.0  # Monday 2026-03-09 00:00
H = 60.0


def tiny(
    steps: dict[str, dict[str, Any]],
    *,
    service: str = "birth",
    faults: list[dict[str, Any]] | None = None,
    capacity: dict[str, tuple[int, int]] | None = None,
    **service_fields: Any,
) -> Scenario:
    """A scenario with one service of one variant made of ``steps``."""
    data = copy.deepcopy(BASE)
    data["steps"] = steps
    svc = data["services"][service]
    svc.update(service_fields)
    svc["variants"] = {"only": {"steps": list(steps), "share": 1.0}}
    data["services"] = {service: svc}
    # the other group's thresholds would name a metric this scenario does not have
    other = {f"{sid}.e2e" for sid in BASE["services"]} - {f"{service}.e2e"}
    data["thresholds"] = [t for t in data["thresholds"] if t["metric"] not in other]
    data["faults"] = faults or []
    for aid, (desks, servers) in (capacity or {}).items():
        data["agencies"][aid].update(desks=desks, servers=servers)
    return validate(data)


def stream(times: list[float], *, service: int = 0, status: int = 255, **flags: list[bool]) -> np.ndarray:
    a = np.zeros(len(times), ARRIVAL_DTYPE)
    a["dossier"] = np.arange(len(times))
    a["submitted"] = times
    a["service"] = service
    a["status"] = status
    for name, values in flags.items():
        a[name] = values
    return a


def const(minutes: float) -> dict[str, Any]:
    return {"kind": "constant", "mean": minutes}


def timeline(result: Any) -> list[tuple[int, str, float, float]]:
    rows = np.sort(result.steps, order=["dossier", "step"])
    return [
        (int(r["dossier"]), result.step_names[r["step"]], float(r["start"]), float(r["end"])) for r in rows
    ]


DESK_ONLY = {"ks": {"agency": "justice", "task": "register_birth", "limit_wd": 0, "desk_time": const(30)}}


# -- exact timelines -------------------------------------------------------------------------


def test_one_desk_serves_fifo() -> None:
    s = tiny(DESK_ONLY, capacity={"justice": (1, 1)})
    r = simulate(s, days=2, stream=stream([8 * H, 8 * H + 10, 8 * H + 20]))
    assert timeline(r) == [(0, "ks", 480.0, 510.0), (1, "ks", 510.0, 540.0), (2, "ks", 540.0, 570.0)]
    assert r.steps["wait"].tolist() == [0.0, 20.0, 40.0]
    assert r.dossiers["completed"].tolist() == [510.0, 540.0, 570.0]


def test_an_open_step_never_waits_longer_than_it_has_been_in_the_system() -> None:
    """A dossier ready at 20:00 on the last day takes a free desk that opens only the next
    morning, after the horizon: its wait so far stops at the horizon, as its sojourn does."""
    s = tiny(DESK_ONLY, capacity={"justice": (1, 1)})
    r = simulate(s, days=1, stream=stream([1200.0]))
    (row,) = r.steps
    assert not row["done"] and row["sojourn"] == 1440.0 - 1200.0
    assert row["wait"] == row["sojourn"]  # was: Tuesday 07:30 - 20:00 = 690 minutes, past the horizon


def test_desk_work_pauses_over_lunch_and_night() -> None:
    s = tiny(DESK_ONLY, capacity={"justice": (3, 1)})
    # 11:20 (10 min before lunch), 16:40 (20 min before closing), 20:00 (closed)
    r = simulate(s, days=2, stream=stream([680.0, 1000.0, 1200.0]))
    tuesday = 1440.0
    assert timeline(r) == [
        (0, "ks", 680.0, 800.0),  # 10 min, lunch 11:30-13:00, 20 min → 13:20
        (1, "ks", 1000.0, tuesday + 450 + 10),  # 20 min, night, 10 min → Tue 07:40
        (2, "ks", tuesday + 450, tuesday + 480),  # starts at Tuesday's opening
    ]
    assert r.steps["desk_time"].tolist() == [30.0, 30.0, 30.0]


def test_dag_runs_branches_in_parallel_and_skips_the_payer_that_does_not_apply() -> None:
    steps: dict[str, dict[str, Any]] = {
        "kt": {"agency": "justice", "task": "register_death", "limit_wd": 0, "desk_time": const(10)},
        "xtt": {"agency": "police", "task": "remove_residence", "after": ["kt"], "system_time": const(5)},
        "funeral": {
            "agency": "vss",
            "task": "twin:pay",
            "after": ["kt"],
            "system_time": const(7),
            "when_status": ["pensioner", "insured"],
        },
    }
    s = tiny(steps, service="death")
    pensioner = simulate(s, days=1, stream=stream([8 * H], service=1, status=0))
    assert timeline(pensioner) == [
        (0, "kt", 480.0, 490.0),
        (0, "xtt", 490.0, 495.0),
        (0, "funeral", 490.0, 497.0),
    ]
    assert pensioner.dossiers["completed"].tolist() == [497.0]
    nobody = simulate(s, days=1, stream=stream([8 * H], service=1, status=4))  # status "none"
    assert timeline(nobody) == [(0, "kt", 480.0, 490.0), (0, "xtt", 490.0, 495.0)]
    assert nobody.dossiers["state"].tolist() == [DONE]
    assert nobody.dossiers["completed"].tolist() == [495.0]


# -- deadlines -------------------------------------------------------------------------------


def test_deadlines_follow_the_1500_cutoff() -> None:
    s = tiny(DESK_ONLY, deadline_wd=3, verification_deadline_wd=5)
    friday = 4 * 1440.0
    times = [899.0, 899.0, 930.0, friday + 960]
    r = simulate(s, days=14, stream=stream(times, verification=[False, True, False, False]))
    d = r.dossiers
    close = 17 * H
    # 14:59 Monday: clock starts Monday (5 WD with verification); 15:30: Tuesday; Friday 16:00: Monday.
    assert d["clock_start"].tolist() == [899.0, 899.0, 1440 + 450, 7 * 1440 + 450]
    assert d["due"].tolist() == [3 * 1440 + close, 7 * 1440 + close, 4 * 1440 + close, 10 * 1440 + close]
    assert d["deadline_wd"].tolist() == [3.0, 5.0, 3.0, 3.0]
    steps = np.sort(r.steps, order="dossier")
    assert steps["due"].tolist() == [close, close, 1440 + close, 7 * 1440 + close]  # limit_wd = 0
    assert steps["within_limit"].all() and d["within_deadline"].all()


def test_unsorted_stream_is_rejected() -> None:
    with pytest.raises(ValueError, match="not sorted"):
        simulate(tiny(DESK_ONLY), days=1, stream=stream([10.0, 5.0]))


@settings(max_examples=60)
@given(
    t=st.floats(0, 300 * 1440, allow_nan=False),
    n=st.integers(0, 10),
    name=st.sampled_from(["hanoi-baseline", "hanoi-tet"]),
)
def test_minute_deadlines_match_the_calendar(t: float, n: int, name: str) -> None:
    s = scenarios.load(name)
    cal = calendar_for(s)
    days = Workdays(cal, s.calendar.start, 400)
    expected = datetime_to_minute(s, cal.deadline(minute_to_datetime(s, t), n))
    assert days.deadline(np.array([t]), n)[0] == pytest.approx(expected, abs=1e-6)


# -- systems: outages, retries ---------------------------------------------------------------

SYSTEM_ONLY = {"pid": {"agency": "police", "task": "issue_pid", "limit_wd": 1, "system_time": const(10)}}


def test_outage_pauses_work_and_blocks_the_queue() -> None:
    outage = [{"kind": "outage", "agency": "police", "start": 600, "end": 700}]
    one = simulate(
        tiny(SYSTEM_ONLY, faults=outage, capacity={"police": (1, 1)}), days=1, stream=stream([595.0, 620.0])
    )
    assert timeline(one) == [(0, "pid", 595.0, 705.0), (1, "pid", 705.0, 715.0)]
    two = simulate(
        tiny(SYSTEM_ONLY, faults=outage, capacity={"police": (1, 2)}), days=1, stream=stream([595.0, 620.0])
    )
    assert timeline(two) == [(0, "pid", 595.0, 705.0), (1, "pid", 700.0, 710.0)]


def test_errors_are_retried_with_exponential_backoff() -> None:
    steps = {"pid": {"agency": "police", "task": "issue_pid", "system_time": const(1)}}
    errors = [{"kind": "error", "agency": "police", "start": 0, "end": 100, "rate": 1.0, "status": 503}]
    r = simulate(tiny(steps, faults=errors), days=1, stream=stream([0.0]))
    # attempts end at 1, 3, 6, 11, 20, 37, 70 (backoff 1, 2, 4 … 32, then 64 capped at 60)
    assert timeline(r) == [(0, "pid", 0.0, 131.0)]
    assert r.steps["retries"].tolist() == [7]
    assert r.steps["system_time"].tolist() == [8.0]


def test_slow_pid_delays_issuance_in_its_window() -> None:
    slow = [{"kind": "slow_pid", "agency": "police", "start": 0, "end": 60, "delay": const(240)}]
    r = simulate(tiny(SYSTEM_ONLY, faults=slow), days=1, stream=stream([30.0, 90.0]))
    assert timeline(r) == [(0, "pid", 30.0, 280.0), (1, "pid", 90.0, 100.0)]


# -- supplementation ---------------------------------------------------------------------------


def test_incomplete_dossier_is_received_after_supplementation() -> None:
    s = tiny(DESK_ONLY, supplement_share=1.0, supplement_delay_wd=const(2.0))
    r = simulate(s, days=5, stream=stream([8 * H], incomplete=[True]))
    wednesday_8 = 2 * 1440 + 8 * H  # two full working days of office time later
    assert r.dossiers["received"].tolist() == [wednesday_8]
    assert timeline(r) == [(0, "ks", wednesday_8, wednesday_8 + 30)]


def test_incomplete_dossier_is_refused_when_the_window_closes() -> None:
    s = tiny(DESK_ONLY, supplement_share=0.0, supplement_wd=7)
    r = simulate(s, days=12, stream=stream([8 * H], incomplete=[True]))
    d = r.dossiers[0]
    assert d["state"] == REFUSED
    assert d["completed"] == 9 * 1440 + 17 * H  # 7 WD after Monday: Wednesday of next week, 17:00
    assert math.isnan(d["received"])
    assert r.steps.size == 0


def test_open_at_horizon() -> None:
    s = tiny(DESK_ONLY, capacity={"justice": (1, 1)})
    r = simulate(s, days=1, stream=stream([1000.0, 1010.0]))
    assert r.dossiers["state"].tolist() == [OPEN, OPEN]
    assert r.steps["done"].tolist() == [False, False]
    assert r.steps["start"][0] == 1000.0 and math.isnan(r.steps["start"][1])
    # censored at the horizon (Tuesday 00:00): times so far, no end
    assert np.isnan(r.steps["end"]).all() and np.isnan(r.dossiers["completed"]).all()
    assert r.steps["wait"].tolist() == [0.0, 430.0] and r.steps["sojourn"].tolist() == [440.0, 430.0]
    assert r.dossiers["sojourn"].tolist() == [440.0, 430.0]
    assert r.dossiers["e2e_wd"].tolist() == [0.0, 0.0]  # after 15:00: the clock starts Tuesday


def test_open_dossiers_past_due_count_late_and_with_their_time_so_far() -> None:
    """One desk, 600 office minutes a dossier, deadline 1 WD: the third is open and late at the horizon."""
    s = tiny({**DESK_ONLY, "ks": {**DESK_ONLY["ks"], "desk_time": const(600)}},
             capacity={"justice": (1, 1)}, deadline_wd=1)  # fmt: skip
    r = simulate(s, days=3, stream=stream([8 * H, 8 * H + 1, 8 * H + 2]), warmup_days=0)
    tue, wed, thu = 1440.0, 2 * 1440.0, 3 * 1440.0
    assert timeline(r)[:2] == [(0, "ks", 480.0, tue + 600), (1, "ks", tue + 600, wed + 810)]
    assert r.dossiers["state"].tolist() == [DONE, DONE, OPEN]
    assert r.dossiers["due"].tolist() == [tue + 1020] * 3  # Tuesday 17:00
    assert r.dossiers["within_deadline"].tolist() == [True, False, False]
    # Office minutes from Monday 07:30: 630 by Tue 10:00, 1,230 by Wed 13:30 (480 a day), and
    # all 1,440 by the horizon for the open one: 1.3125, 2.5625 and 3 WD, less the received day.
    assert r.dossiers["e2e_wd"].tolist() == [0.3125, 1.5625, 2.0]
    assert r.steps["wait"].tolist()[2] == wed + 810 - 482.0
    assert r.steps["sojourn"].tolist()[2] == thu - 482.0
    m = metrics(r)
    birth, ks = m["services"]["birth"], m["steps"]["ks"]
    assert (birth["done"], birth["open"], birth["open_late"]) == (2, 1, 1)
    assert birth["attainment"] == 1 / 3  # 1 within of 2 done + 1 open past due (finished only: 1/2)
    assert birth["e2e_wd"]["max"] == 2.0  # the open dossier's lower bound (finished only: 1.5625)
    assert birth["e2e_wd"]["mean"] == pytest.approx((0.3125 + 1.5625 + 2.0) / 3)
    assert (ks["open"], ks["open_late"], ks["attainment"]) == (1, 1, 0.0)
    assert birth["weekly_attainment"] == [1 / 3]


# -- conservation and determinism ----------------------------------------------------------------


@settings(max_examples=8)
@given(
    seed=st.integers(0, 2**32),
    name=st.sampled_from(
        [
            "hanoi-baseline",
            "incident-f6-residence-deadline-surge",
            "incident-f9-incomplete",
            "incident-f2-slow-link",
        ]
    ),
)
def test_every_arrival_ends_in_exactly_one_state(seed: int, name: str) -> None:
    r = simulate(scenarios.load(name), days=4, seed=seed, warmup_days=0)
    d = r.dossiers
    assert d["dossier"].tolist() == list(range(r.arrivals))
    assert set(np.unique(d["state"]).tolist()) <= {DONE, REFUSED, OPEN}
    assert np.isnan(d["completed"][d["state"] == OPEN]).all()
    assert not np.isnan(d["completed"][d["state"] != OPEN]).any()
    done = d["state"] == DONE
    assert (d["completed"][done] >= d["received"][done]).all()
    s = r.steps[r.steps["done"]]
    assert (s["start"] >= s["ready"]).all() and (s["end"] >= s["start"]).all()
    desk = ~np.isnan(s["desk_end"])
    assert (s["desk_end"][desk] - s["start"][desk] >= s["desk_time"][desk] - 1e-9).all()
    open_steps = r.steps[~r.steps["done"]]
    assert np.isin(open_steps["dossier"], d["dossier"][d["state"] != DONE]).all()
    # working days used agree with the legal deadline (equality is the after-closing edge)
    dd = d[done]
    assert (dd["e2e_wd"][dd["within_deadline"]] <= dd["deadline_wd"][dd["within_deadline"]] + 1e-9).all()
    assert dd["within_deadline"][dd["e2e_wd"] < dd["deadline_wd"] - 1e-9].all()
    scenario = scenarios.load(name)
    by_step = [scenario.steps[n].limit_wd for n in r.step_names]
    limits = np.array([math.inf if by_step[k] is None else by_step[k] for k in s["step"]])
    assert (s["elapsed_wd"][s["within_limit"]] <= limits[s["within_limit"]] + 1e-9).all()
    assert s["within_limit"][s["elapsed_wd"] < limits - 1e-9].all()
    m = metrics(r)
    assert m["little"]["identity_error"] < 1e-9
    assert sum(m["services"][k][x] for k in m["services"] for x in ("done", "refused", "open")) == r.arrivals


def test_same_seed_same_records_and_replications_differ() -> None:
    s = scenarios.load("hanoi-baseline")
    a, b = simulate(s, days=3, warmup_days=0), simulate(s, days=3, warmup_days=0)
    assert a.steps.tobytes() == b.steps.tobytes() and a.dossiers.tobytes() == b.dossiers.tobytes()
    c = simulate(s, days=3, warmup_days=0, replication=1)
    assert c.dossiers.tobytes() != a.dossiers.tobytes()


def test_sinks_receive_every_record(tmp_path: Path) -> None:
    s = scenarios.load("hanoi-baseline")
    kept = simulate(s, days=3, warmup_days=0, sink=NpySink(tmp_path / "npy"))
    streamed = simulate(s, days=3, warmup_days=0, sink=CsvSink(tmp_path / "csv"), keep=False)
    assert streamed.steps.size == 0 and streamed.dossiers.size == 0
    assert read_npy(tmp_path / "npy", "steps").tobytes() == kept.steps.tobytes()
    on_disk = np.sort(read_npy(tmp_path / "npy", "dossiers"), order="dossier")
    assert on_disk.tobytes() == kept.dossiers.tobytes()
    lines = (tmp_path / "csv" / "dossiers.csv").read_text().splitlines()
    assert lines[0].startswith("dossier,service,variant") and len(lines) == kept.arrivals + 1
    assert metrics(streamed) == {**metrics(kept), "wall_s": metrics(streamed)["wall_s"]}


def test_bad_capacity_is_rejected_with_the_agency_named() -> None:
    s = scenarios.load("hanoi-baseline")
    with pytest.raises(ValueError, match="unknown agency 'court'"):
        simulate(s, days=1, capacity={"court": (1, 1)})
    with pytest.raises(ValueError, match="step 'ks' needs a desk but agency 'justice' has 0"):
        simulate(s, days=1, capacity={"justice": (0, 8)})
    with pytest.raises(ValueError, match="days must be at least 1"):
        simulate(s, days=0)


# -- validation against queueing theory -----------------------------------------------------------


def test_mmc_matches_erlang_c() -> None:
    """M/M/3 on a 24/7 system pool, ρ = 0.8: the mean wait's 95% CI over replications covers Erlang C."""
    c, mean_service, rho = 3, 10.0, 0.8
    lam = rho * c / mean_service
    steps = {
        "mm": {
            "agency": "police",
            "task": "twin:serve",
            "system_time": {"kind": "exponential", "mean": mean_service},
        }
    }
    s = tiny(steps, capacity={"police": (1, c)})
    days = 40
    per_rep = []
    for r in range(10):
        rng = np.random.default_rng([7, r])
        times = np.cumsum(rng.exponential(1 / lam, int(lam * days * 1440 * 1.1)))
        times = times[times < days * 1440]
        result = simulate(s, days=days, replication=r, stream=stream(times.tolist()), warmup_days=1,
                          keep=False)
        per_rep.append(metrics(result))
    summary = summarize(per_rep)
    wait = summary["steps"]["mm"]["wait_min"]["mean"]
    expected = erlang_c_wait(lam, 1 / mean_service, c)
    lo, hi = wait["ci95"]
    assert lo <= expected <= hi, (lo, expected, hi)
    assert hi - lo < 0.3 * expected  # the CI is tight enough to mean something
    p_wait = summary["steps"]["mm"]["p_wait"]  # P(wait): Erlang C itself
    assert p_wait["ci95"][0] <= erlang_c(lam, 1 / mean_service, c) <= p_wait["ci95"][1], p_wait
    per_day = summary["services"]["birth"]["throughput_per_day"][1:-1]  # whole days, past the first
    assert np.mean(per_day) == pytest.approx(lam * 1440, rel=0.03)  # throughput = λ in steady state
    util = summary["agencies"]["police"]["system_utilisation"]["mean"]
    assert util == pytest.approx(rho, rel=0.03)
    little = summary["little"]
    assert little["ok"] and little["steady_state_ok"] and little["rel_error"]["mean"] < 0.02


def test_f6_residence_rush_is_police_desk_work_not_dossiers() -> None:
    """#15 point 2: F6's standalone residence registrations take police desk time in the twin and
    are never dossiers: the same dossiers as without the rush, police desks far busier (~1 s)."""
    from scenarios.model import AGENCY_IDS

    s = scenarios.load("incident-f6-residence-deadline-surge")
    calm = s.model_copy(update={"faults": tuple(f for f in s.faults if f.kind != "surge")})
    rush, quiet = simulate(s, days=3, warmup_days=0), simulate(calm, days=3, warmup_days=0)
    assert rush.arrivals == quiet.arrivals and rush.dossiers.size == quiet.dossiers.size
    police = AGENCY_IDS.index("police")
    busy = [r.timeline["desk_busy_area"][-1][police] for r in (rush, quiet)]
    assert busy[0] > 1.5 * busy[1], busy  # 2 × the window's dossiers at ~12 desk-minutes each
    assert rush.timeline["desk_queue"][:, police].max() > quiet.timeline["desk_queue"][:, police].max()
