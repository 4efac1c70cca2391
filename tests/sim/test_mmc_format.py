"""A planner's M/M/c around the clock, written in the scenario format (DOMAIN-independent: the
queueing textbook), checked against Erlang C and Little's law by the twin (issue #15 point 7).

The scenario is the TOML below: one desk step with exponential handling (μ = 1/30 per minute),
c = 6 desks open 00:00–24:00 every day of the year (``around_the_clock``), Poisson submissions
at λ = 10 per hour (``[demand.rate]``), ρ = λ/(cμ) = 0.83. The twin's mean wait, P(wait) and
desk utilisation must cover Erlang C's within the replications' 95% intervals, and L = λW must
hold.
"""

from __future__ import annotations

import numpy as np
import pytest

import scenarios
from sim.queueing import erlang_c, erlang_c_wait
from sim.replications import run_replications

# What a planner writes (the five lines after `extends`; the rest is the header every scenario has).
MMC = """
extends = "hanoi-baseline"
meta = { name = "mmc-24-7", description = "M/M/6 around the clock, λ = 10/h, 1/μ = 30 min" }
thresholds = []
calendar = { around_the_clock = true }
demand = { rate = { births_per_hour = 10.0, deaths_per_hour = 0.0 } }
services.birth = { incomplete_share = 0.0, variants = { ks_tt_bhyt = "__delete__", ks_tt = "__delete__", ks_bhyt = { steps = ["ks"], share = 1.0 } } }
steps.ks = { desk_time = { kind = "exponential", mean = 30.0 }, system_time = "__delete__" }
agencies.justice = { desks = 6 }
"""  # noqa: E501 - one TOML line each, as a planner writes them

LAM, MU, C = 10.0 / 60.0, 1.0 / 30.0, 6


def test_the_format_says_mmc_in_five_lines() -> None:
    body = MMC.split("thresholds = []\n", 1)[1].strip().splitlines()
    assert len(body) == 5
    s = scenarios.loads(MMC)
    assert s.calendar.sunday_hours == s.calendar.holiday_hours == ("00:00-24:00",)
    assert list(s.services["birth"].variants) == ["ks_bhyt"] and s.steps["ks"].system_time is None


def test_mmc_around_the_clock_matches_erlang_c_and_little() -> None:
    s = scenarios.loads(MMC)
    days = 42
    summary = run_replications(s, replications=8, days=days, workers=2, warmup_days=2)
    m = summary.metrics
    ks = m["steps"]["ks"]
    wait, p_wait = ks["wait_min"]["mean"], ks["p_wait"]
    expected_wait, expected_p = erlang_c_wait(LAM, MU, C), erlang_c(LAM, MU, C)
    assert wait["ci95"][0] <= expected_wait <= wait["ci95"][1], (wait, expected_wait)
    assert p_wait["ci95"][0] <= expected_p <= p_wait["ci95"][1], (p_wait, expected_p)
    util = m["agencies"]["justice"]["desk_utilisation"]["mean"]
    assert util == pytest.approx(LAM / (C * MU), rel=0.03)
    per_day = np.mean(m["services"]["birth"]["throughput_per_day"][2:-1])
    assert per_day == pytest.approx(LAM * 1440, rel=0.03)  # every hour of every day, holidays too
    little = m["little"]
    assert little["ok"] and little["rel_error"]["mean"] < 0.02
