"""The measured journeys of a live run against the twin on the same stream (``lienthong._comparison``
and the run report): one shared figure function, censoring at the run's end, the agreement rule,
and what the report and ``metrics.json`` say."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scenarios
from lienthong._comparison import (
    RULE,
    Dossiers,
    TwinRun,
    compare,
    findings,
    group_figures,
    main_workdays,
    order_statistic_se,
    twin_prediction,
    twin_runs,
    wip_band,
)
from lienthong._report_live import live_report
from lienthong.runs import start_run
from loadtests.journeys import COMPLETED, INCOMPLETE, REJECTED, STUCK, ScenarioClock
from loadtests.reconcile import Reconciliation
from loadtests.results import LiveRun, LoadConfig, Merged, stream_of
from scenarios.loader import CATALOG_DIR
from scenarios.model import Scenario
from sim.records import DONE, REFUSED

DAY = 1440.0
MON = 0.0
TUE = DAY
WED = 2 * DAY


@cache
def _scenario() -> Scenario:
    return scenarios.load("hanoi-baseline")


@cache
def _workdays() -> Any:
    return main_workdays(_scenario(), 30 * DAY)


def _hm(day: float, h: int, m: int = 0) -> float:
    return day + h * 60 + m


# -- the shared figure function on hand-made arrays --------------------------------------------

# hanoi-baseline: desks 07:30-11:30 and 13:00-17:00 on weekdays, cut-off 15:00, minute 0 = Monday
# 2026-03-09 00:00 (no holiday that week).
HAND = Dossiers.of(
    received=[_hm(MON, 8), _hm(MON, 16), _hm(MON, 8), _hm(MON, 9), _hm(MON, 10), _hm(WED, 14), _hm(MON, 8)],
    completed=[_hm(MON, 10), _hm(TUE, 9, 30), _hm(WED, 8, 30), np.nan, np.nan, np.nan, _hm(WED, 16)],
    due=[_hm(MON, 17), _hm(TUE, 17), _hm(TUE, 17), _hm(TUE, 17), 10 * DAY, 10 * DAY, 6 * DAY],
)
# A: 2 WH, on time. B: received after 15:00, its clock starts Tuesday 07:30: 2 WH, on time.
# C: Monday 08:00 → Wednesday 08:30 = 3.5 + 4 (Monday) + 8 (Tuesday) + 1 = 16.5 WH, 1.125 WD, late.
# D: never completed, due Tuesday 17:00: known late at E. E: due later, open: unknown.
# F: received after E: not there. G: completed after E, due later: unknown at E.
E_WED_NOON = _hm(WED, 12)


def test_figures_of_hand_made_dossiers_censored_at_e() -> None:
    f = group_figures(HAND, E_WED_NOON, _workdays())
    assert (f.received, f.counted, f.met, f.completed) == (6, 4, 2, 3)
    assert f.attainment == 0.5
    assert f.wh.tolist() == pytest.approx([2.0, 2.0, 16.5])
    assert f.wd.tolist() == pytest.approx([0.0, 0.0, 1.125])
    assert f.value("p50_wh") == pytest.approx(2.0)
    assert f.value("p95_wh") == pytest.approx(2.0 + 0.9 * 14.5)  # linear interpolation, like numpy
    assert f.value("p95_wd") == pytest.approx(0.9 * 1.125)
    assert f.se("attainment") == pytest.approx(math.sqrt(0.25 / 4))


def test_working_hours_never_count_a_staffed_saturday() -> None:
    """Statutory working hours are Mon–Fri office hours (issue #15 point 5; DOMAIN.md §9: the
    processing clock runs only on WDs): with Saturday desks open 07:30-11:30, a dossier received
    Friday 16:00 (after the 15:00 cut-off) and completed Monday 09:30 used 2 WH, not 6."""
    sat = scenarios.loads('extends = "hanoi-baseline"\n[calendar]\nsaturday_hours = ["07:30-11:30"]\n',
                          base_dir=CATALOG_DIR)
    fri, mon2 = 4 * DAY, 7 * DAY
    d = Dossiers.of(received=[_hm(fri, 16)], completed=[_hm(mon2, 9, 30)], due=[10 * DAY])
    for s in (_scenario(), sat):
        f = group_figures(d, 10 * DAY, main_workdays(s, 30 * DAY))
        assert f.wh.tolist() == pytest.approx([2.0])
    assert main_workdays(sat, 30 * DAY).avail.office_v(np.array([mon2]))[0] > \
        main_workdays(_scenario(), 30 * DAY).avail.office_v(np.array([mon2]))[0]  # the desks did open


def test_a_later_end_learns_the_outcomes_it_could_not_know() -> None:
    f = group_figures(HAND, 7 * DAY, _workdays())
    # F is received (open, due later: unknown); G completed Wednesday 16:00, in time; E still unknown
    assert (f.received, f.counted, f.met, f.completed) == (7, 5, 3, 4)
    assert f.attainment == pytest.approx(3 / 5)


def test_no_dossiers_gives_no_figures_and_no_verdict() -> None:
    empty = Dossiers.of([], [], [])
    f = group_figures(empty, DAY, _workdays())
    assert f.attainment is None and f.value("p95_wh") is None and f.se("p95_wh") is None
    run = TwinRun(0, 30 * DAY, {"birth": HAND, "death": empty}, np.zeros(3), {})
    c = compare(_scenario(), {"birth": empty, "death": empty}, [run, run], E_WED_NOON)
    assert c["birth"]["agrees"] is None and c["birth"]["measured_attainment"] is None
    assert "no dossier" in c["birth"]["why_null"]
    assert c["death"]["agrees"] is None and c["death"]["twin_p95_wh"] is None


def test_nothing_completed_while_the_twin_completes_is_a_disagreement() -> None:
    n = HAND.received.size
    stuck = Dossiers.of(HAND.received, np.full(n, np.nan), np.full(n, 20 * DAY))
    run = TwinRun(0, 30 * DAY, {"birth": HAND}, np.zeros(3), {})
    c = compare(_scenario(), {"birth": stuck}, [run, run], E_WED_NOON)
    assert c["birth"]["measured_attainment"] is None  # no outcome known at E …
    assert c["birth"]["agrees"] is False  # … but the twin had finished three of them by then
    said = findings(c)["birth"]
    assert "none of the 6 dossiers received was completed by E" in said and "adds delay" in said
    idle = TwinRun(0, 30 * DAY, {"birth": stuck}, np.zeros(3), {})
    nothing = compare(_scenario(), {"birth": stuck}, [idle], E_WED_NOON)
    assert nothing["birth"]["agrees"] is None and "nothing to compare yet" in nothing["birth"]["why_null"]


def test_order_statistic_se_from_the_distribution_free_interval() -> None:
    x = np.arange(1.0, 101.0)  # n = 100, q = 0.95: ranks 95 ± 1.96·√4.75 = 90.73 … 99.27 → 90, 100
    assert order_statistic_se(x, 0.95) == pytest.approx((100 - 90) / 2 / 1.96)
    assert order_statistic_se([3.0], 0.5) == 0.0


def test_identical_replications_give_a_point_interval_that_is_still_widened() -> None:
    run = TwinRun(0, 30 * DAY, {"birth": HAND}, np.zeros(3), {})
    c = compare(_scenario(), {"birth": HAND}, [run] * 10, E_WED_NOON)["birth"]
    assert c["twin_attainment_ci95"] == [0.5, 0.5] and c["twin_p95_wh_ci95"][0] == c["twin_p95_wh_ci95"][1]
    widened = c["figures"]["attainment"]["widened"]
    assert widened[0] < 0.5 < widened[1]  # ± 1.96·√(0.25/4)
    assert c["agrees"] is True and c["replications"] == 10


# -- properties ---------------------------------------------------------------------------------

_minute = st.floats(0.0, 14 * DAY, allow_nan=False)


@st.composite
def _dossiers(draw: Any) -> tuple[Dossiers, float]:
    n = draw(st.integers(0, 25))
    received = np.array(draw(st.lists(_minute, min_size=n, max_size=n)))
    took = np.array(draw(st.lists(st.one_of(st.none(), st.floats(0.0, 5 * DAY)), min_size=n, max_size=n)),
                    dtype=float)
    due = received + np.array(draw(st.lists(st.floats(0.0, 6 * DAY), min_size=n, max_size=n)))
    return Dossiers.of(received, received + took, due), draw(_minute)


@settings(max_examples=150, deadline=None)
@given(_dossiers())
def test_censoring_counts_only_known_outcomes(case: tuple[Dossiers, float]) -> None:
    d, end = case
    f = group_figures(d, end, _workdays())
    here = d.received <= end
    done = here & (d.completed <= end)  # nan compares False: not done
    known = done | (here & (d.due <= end))
    assert f.received == int(here.sum())
    assert f.counted == int(known.sum()) and f.met == int((done & (d.completed <= d.due)).sum())
    assert 0 <= f.met <= f.counted <= f.received
    assert f.attainment is None or 0.0 <= f.attainment <= 1.0
    assert f.completed == int(done.sum()) and np.all(f.wh >= 0) and np.all(f.wd >= 0)


@settings(max_examples=100, deadline=None)
@given(_dossiers(), st.floats(1.0, 5 * DAY))
def test_nothing_after_the_end_leaks_in(case: tuple[Dossiers, float], later: float) -> None:
    d, end = case
    after = d.completed > end
    moved = Dossiers.of(d.received, np.where(after, d.completed + later, d.completed), d.due)
    a, b = group_figures(d, end, _workdays()), group_figures(moved, end, _workdays())
    assert (a.received, a.counted, a.met) == (b.received, b.counted, b.met)
    assert a.wh.tolist() == b.wh.tolist() and a.wd.tolist() == b.wd.tolist()


# -- the twin against itself and against a slower system -----------------------------------------


@cache
def _twin() -> dict[str, Any]:
    s = _scenario()
    return twin_prediction(s, stream_of(s, _config()), 1)


def _config() -> LoadConfig:
    return LoadConfig(scenario="hanoi-baseline", speed=720.0, days=1, multiplier=0.2, t0=1_000_000.0)


def _one_wd_later(d: Dossiers) -> Dossiers:
    wd = _workdays()
    c = d.completed.copy()
    f = np.isfinite(c)
    c[f] = wd.avail.advance_v(c[f], np.full(int(f.sum()), wd.full_day))  # a full working day of office time
    return Dossiers.of(d.received, c, d.due)


def test_twin_runs_replications_on_the_same_stream() -> None:
    twin = _twin()
    runs = twin["runs"]
    assert twin["replications"] == len(runs) >= 10
    assert twin["horizon_minutes"] >= (1 + 7) * DAY
    # same arrivals, fresh service (and supplementation) draws
    assert all(r.services["birth"]["arrivals"] == runs[0].services["birth"]["arrivals"] for r in runs)
    assert not np.array_equal(runs[0].dossiers["birth"].completed, runs[1].dossiers["birth"].completed)
    band = wip_band(runs)
    assert band is not None and band.replications == len(runs)
    assert np.all(band.pi[0] <= band.ci[0] + 1e-12) and np.all(band.ci[1] <= band.pi[1] + 1e-12)


def test_a_measurement_drawn_from_the_twin_itself_agrees() -> None:
    runs = _twin()["runs"]
    c = compare(_scenario(), runs[0].dossiers, runs, 4 * DAY)
    for group in ("birth", "death"):
        assert c[group]["agrees"] is True, c[group]["figures"]
        assert c[group]["measured_counted"] > 0
    assert findings(c) == {}


def test_one_more_run_of_the_model_itself_agrees_nearly_always() -> None:
    # A live run is one run: held-out replications of the twin (not among the R compared with)
    # must agree about as often as a 95% rule promises, on a full day at Hanoi's volume where
    # queue waits are correlated. (The rule widened only by the dossiers' standard error had
    # a held-out run disagree about one time in four.)
    s = _scenario()
    cfg = LoadConfig(scenario="hanoi-baseline", speed=720.0, days=1, multiplier=1.0, t0=1_000_000.0)
    runs = twin_runs(s, stream_of(s, cfg), 1 + 7, 10 + 12, stream_end=DAY)
    reference, held_out = runs[:10], runs[10:]
    agreed = [compare(s, run.dossiers, reference, 2 * DAY)[g]["agrees"]
              for run in held_out for g in ("birth", "death")]
    assert agreed.count(True) >= len(agreed) - 3, agreed


def test_one_working_day_more_for_every_dossier_disagrees_and_says_why() -> None:
    runs = _twin()["runs"]
    slower = {g: _one_wd_later(d) for g, d in runs[0].dossiers.items()}
    c = compare(_scenario(), slower, runs, 8 * DAY)
    said = findings(c)
    for group in ("birth", "death"):
        assert c[group]["agrees"] is False
        assert c[group]["measured_p95_wh"] > c[group]["twin_p95_wh_ci95"][1]
        assert said[group].startswith(f"{group}: measured e2e p50")
        assert "above the twin's 95% interval" in said[group]
        assert "adds delay the twin does not know about" in said[group]


# -- the report -----------------------------------------------------------------------------------


def _live(tmp_path: Path, scenario: Scenario, shift: bool) -> tuple[LiveRun, Any]:
    """A live run whose journeys are the twin's replication 0 (each completion one working day
    later with ``shift``) as the harness records them: an incomplete dossier supplemented only
    after the stream's end was never accepted."""
    from sim.twin import simulate

    cfg = _config()
    clock = ScenarioClock(t0=cfg.t0, speed=cfg.speed)
    stream = stream_of(scenario, cfg)
    twin = simulate(scenario, days=1 + 28, stream=stream, replication=0, warmup_days=0).dossiers
    merged = Merged()
    rows = np.zeros(stream.size, merged.journeys.dtype)
    for name in ("dossier", "service", "variant", "channel", "status", "verification", "incomplete",
                 "submitted"):
        rows[name] = stream[name]
    rows["intended"] = rows["started"] = clock.wall(stream["submitted"])
    received = twin["received"]
    accepted = np.isfinite(received) & ~(twin["incomplete"] & (received > DAY))
    done = accepted & (twin["state"] == DONE)
    completed = twin["completed"].copy()
    if shift:
        later = _one_wd_later(Dossiers.of(received[done], completed[done], completed[done]))
        completed[done] = later.completed
    rows["accepted"] = np.where(accepted, clock.wall(received), np.nan)
    rows["completed_minute"] = np.where(done, completed, np.nan)
    rows["finished"] = clock.wall(rows["completed_minute"])
    rows["outcome"] = np.select(
        [done, accepted & (twin["state"] == REFUSED), accepted], [COMPLETED, REJECTED, STUCK], INCOMPLETE
    )
    merged.journeys = rows
    merged.workers = 1
    merged.end_minute = 9 * DAY  # E, as the load process reports it
    run = start_run(scenario, kind="run", root=tmp_path)
    live = LiveRun(run.path, scenario, cfg, merged, Reconciliation(), ecosystem={}, machine={})
    return live, run


def _cached_twin(scenario: Scenario, stream: Any, days: int) -> dict[str, Any]:
    return _twin()


def test_the_report_and_metrics_json_carry_the_comparison(tmp_path: Path) -> None:
    live, run = _live(tmp_path, _scenario(), shift=False)
    report, _ = live_report(live, run, _cached_twin)
    report.write(run.path)
    doc = json.loads((run.path / "metrics.json").read_text())
    birth = doc["metrics"]["comparison"]["birth"]
    keys = {"measured_attainment", "twin_attainment", "twin_attainment_ci95", "measured_p95_wh",
            "twin_p95_wh", "twin_p95_wh_ci95", "agrees"}
    assert keys <= set(birth)
    assert birth["agrees"] is True and len(birth["twin_p95_wh_ci95"]) == 2 and birth["rule"] == RULE
    assert birth["end_minute"] == 9 * DAY and birth["replications"] >= 10
    md = (run.path / "report.md").read_text()
    assert "Measured vs the twin (same stream," in md
    assert "widened on each side by the measurement's own sampling error" in md
    assert "Finding" not in md
    twin_checks = [c for c in doc["checks"] if c["group"] == "twin"]
    assert twin_checks and all(c["passed"] for c in twin_checks)
    assert (run.path / "backlog.png").stat().st_size > 10_000


def test_a_slower_system_is_a_finding_in_the_report(tmp_path: Path) -> None:
    live, run = _live(tmp_path, _scenario(), shift=True)
    report, doc = live_report(live, run, _cached_twin)
    assert doc["comparison"]["birth"]["agrees"] is False
    sections = {s.title: s for s in report.sections}
    text = " ".join(sections["Measured vs the twin"].text)
    assert "Finding — birth: measured e2e p50" in text and "adds delay the twin does not know about" in text
    warned = [c for c in report.checks if c.group == "twin" and c.status == "warning"]
    assert {c.name for c in warned} == {f"{g}: measured agrees with the twin" for g in ("birth", "death")}
    assert report.exit_code == 0  # a finding, not a failure of the run


def test_instant_agencies_are_not_expected_to_agree(tmp_path: Path) -> None:
    base = _scenario()
    instant = base.model_copy(update={"load": base.load.model_copy(update={"agencies": "instant"})})
    live, run = _live(tmp_path, instant, shift=True)
    report, doc = live_report(live, run, _cached_twin)
    assert doc["comparison"]["birth"]["agrees"] is False  # still measured and said in metrics.json
    assert not [c for c in report.checks if c.group == "twin"]
    section = {s.title: s for s in report.sections}["Measured vs the twin"]
    assert "not expected to agree" in section.tables[0].note
    assert not any("Finding" in t for t in section.text)


def test_replications_in_a_process_pool_are_the_ones_run_here() -> None:
    s = _scenario()
    stream = stream_of(s, _config())[:60]
    here = twin_runs(s, stream, 3, 3, workers=1)
    pooled = twin_runs(s, stream, 3, 3, workers=2, pool_above=0)
    assert [r.replication for r in pooled] == [0, 1, 2]
    for a, b in zip(here, pooled, strict=True):
        for g in a.dossiers:
            np.testing.assert_array_equal(a.dossiers[g].completed, b.dossiers[g].completed)
        np.testing.assert_array_equal(a.wip, b.wip)
