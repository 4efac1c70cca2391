"""Backlog and incident-window figures on hand-made journey rows (exact values)."""

from __future__ import annotations

import numpy as np

import scenarios
from loadtests._records import JOURNEY_DTYPE, REQUEST_DTYPE, kind_code
from loadtests._windows import backlog_curve, incident_windows
from loadtests.journeys import COMPLETED, INCOMPLETE, STEP_DTYPE, STUCK, ScenarioClock


def _journeys(rows: list[tuple[float, float, int]]) -> np.ndarray:
    j = np.zeros(len(rows), JOURNEY_DTYPE)
    for k, (arrived, done, outcome) in enumerate(rows):
        j[k]["dossier"], j[k]["submitted"], j[k]["completed_minute"], j[k]["outcome"] = (
            k,
            arrived,
            done,
            outcome,
        )
    return j


def test_backlog_counts_arrived_and_not_yet_terminal() -> None:
    j = _journeys([(0, 10, COMPLETED), (5, 30, COMPLETED), (6, np.nan, STUCK), (7, np.nan, INCOMPLETE)])
    got = backlog_curve(j, np.array([0.0, 4.0, 5.0, 6.0, 7.0, 10.0, 29.0, 30.0, 99.0]))
    assert got.tolist() == [1, 1, 2, 3, 3, 2, 2, 1, 1]  # the stuck one stays; the incomplete one leaves


def test_an_outage_window_shows_the_backlog_rise_and_drain() -> None:
    s = scenarios.load("incident-f7-outage")  # portal outage from minute 480 to 2040
    rows = [(m, m + 1, COMPLETED) for m in range(0, 480, 60)]
    rows += [(m, 2100.0, COMPLETED) for m in range(480, 2040, 60)]  # held back until after the outage
    rows += [(m, m + 1, COMPLETED) for m in range(2160, 3000, 60)]
    j = _journeys(rows)
    clock = ScenarioClock(t0=0.0, speed=60.0)  # one scenario minute per wall second
    req = np.zeros(2, REQUEST_DTYPE)
    req["kind"] = kind_code("portal.submit")
    req["intended"], req["start"], req["end"], req["ok"] = (
        [100.0, 600.0],
        [100.0, 600.0],
        [100.5, 601.0],
        True,
    )
    w = incident_windows(s, j, np.zeros(0, STEP_DTYPE), req, clock, 3000.0)["F7"]
    assert (w["start_minute"], w["end_minute"]) == (480.0, 2280.0)  # outage then the unstable restart
    b = w["backlog"]
    assert b["at_start"] == 1 and b["peak"] == 26 and b["peak_minute"] == 1980.0  # last held-back arrival
    assert b["drained_minute"] == 2280.0 and b["left_at_end"] == 0
    assert w["submit_latency_p95_ms"]["before"] == 500.0 and w["submit_latency_p95_ms"]["during"] == 1000.0
    assert w["e2e_p50_minutes"]["during"] == 810.0 and w["e2e_p50_minutes"]["after"] == 1.0
