"""Every incident scenario F1–F10 end to end in short form: the report shows the incident, its
degradation and its recovery (backlog drained, nothing lost or stuck).

Real fakes and real Locust in child processes; the ten runs go three at a time (threads here,
each run's work in its own processes). Short form: only the days up to four hours past the last
fault window (at most the scenario's), a tenth of Hanoi's volume, 6 s of wall time per day; the
incidents with a 4-hour window on the first morning at 12 s a day (the window lasts 2 s, well
above the fakes' own sub-second lag on a busy machine); F10 at 0.6 of the volume, so that its 5%
loss rate hits (P(no loss) < 0.2%). The incidents' faults are untouched. The fakes answer at
once (``instant``): these tests are about each fault's mechanics, measured against a flat
baseline; agencies in time (desks, office hours) are tested in ``test_in_time.py``.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import scenarios
from lienthong.live import RunOutcome, RunSettings, run_scenario
from sim.arrivals import arrivals

NAMES = [n for n in scenarios.catalog() if n.startswith("incident-f")]
MORNING = ("f1-", "f2-", "f3-", "f8-", "f10-")
MULTIPLIER = {"incident-f10-lost-attachment": 0.6}


def short_days(s: scenarios.Scenario) -> int:
    """Days up to four hours past the last fault window, at most the scenario's own."""
    last = max(f.end for f in s.faults)
    return min(s.load.days, math.ceil((last + 240) / 1440))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunOutcome]:
    out = tmp_path_factory.mktemp("incidents")

    def one(name: str) -> RunOutcome:
        s = scenarios.load(name)
        settings = RunSettings(
            speed=1440 * 60 / (12.0 if name.removeprefix("incident-").startswith(MORNING) else 6.0),
            days=short_days(s),
            multiplier=MULTIPLIER.get(name, 0.1),
            out=out,
            drain_s=40,
            instant=True,
        )
        return run_scenario(s, settings)

    # longest first (F4's three days), three at a time: the runs wait on their compressed clocks
    # far more than they compute (instant agencies, a tenth of the volume)
    order = sorted(NAMES, key=lambda n: -short_days(scenarios.load(n)))
    with ThreadPoolExecutor(3) as pool:
        return dict(zip(order, pool.map(one, order), strict=True))


def _window(out: RunOutcome) -> dict[str, Any]:
    (w,) = out.metrics["incidents"].values()
    return w


def _step(w: dict[str, Any], step: str, side: str) -> float:
    value = w["step_p50_minutes"][step][side]
    assert value is not None, f"no {step} step started {side} the window"
    return float(value)


@pytest.mark.parametrize("name", NAMES)
def test_the_incident_degrades_then_recovers_with_nothing_lost(
    name: str, runs: dict[str, RunOutcome]
) -> None:
    out = runs[name]
    s = scenarios.load(name)
    md = (out.path / "report.md").read_text()
    assert all(f"({f.incident})" in md for f in s.faults if f.incident), "the report names the fault windows"
    assert "Incidents: degradation and recovery" in md and "nothing left open at the end" in md
    assert (out.path / "backlog.png").stat().st_size > 0
    w = _window(out)
    assert w["backlog"]["left_at_end"] == 0 and w["backlog"]["drained_minute"] is not None
    outcomes = out.metrics["outcomes"]
    # never accepted: only a dossier returned twice for a lost attachment (F10), named as such
    returned = [v for v in out.reconciliation.violations if v.dossier.startswith("#")]
    assert outcomes["not_submitted"] == len(returned) and all(v.rule == "lost_attachment" for v in returned)
    assert outcomes["stuck"] == 0 and outcomes["untracked"] == 0, outcomes
    assert out.metrics["driver"]["unfinished"] == 0
    assert "lost" not in out.reconciliation.by_rule(), out.reconciliation.violations[:5]
    # the verdict's first word and the exit code say the same thing
    assert (out.exit_code == 0) == out.report.verdict.startswith("Yes:"), out.report.verdict


def test_f1_slow_pid_issuance_shows_in_the_pid_step_then_recovers(runs: dict[str, RunOutcome]) -> None:
    w = _window(runs["incident-f1-slow-pid"])
    during, after = _step(w, "pid", "during"), _step(w, "pid", "after")
    # the injected delay (median ~5.7 h) on top of whatever the machine adds to both sides
    assert during - after >= 150, w["step_p50_minutes"]["pid"]


def test_f2_slow_link_delays_civil_status_in_the_window(runs: dict[str, RunOutcome]) -> None:
    w = _window(runs["incident-f2-slow-link"])
    assert _step(w, "ks", "during") >= 3 * max(_step(w, "ks", "before"), _step(w, "ks", "after"))


def test_f3_reconciliation_names_the_dossiers_police_holds_under_other_codes(
    runs: dict[str, RunOutcome],
) -> None:
    out = runs["incident-f3-code-mismatch"]
    found = [v for v in out.reconciliation.violations if v.rule == "code_mismatch"]
    assert found and all(v.dossier.startswith("G") and "BCA-" in v.detail for v in found)
    assert out.exit_code == 1


def test_f4_cutover_errors_slow_civil_status_until_the_system_settles(runs: dict[str, RunOutcome]) -> None:
    out = runs["incident-f4-cutover"]
    w = _window(out)
    assert _step(w, "ks", "during") >= 3 * _step(w, "ks", "before")
    assert out.metrics["outcomes"]["rejected"] == 0  # 5xx are retried, never a refusal


def _traffic(out: RunOutcome, extra: str) -> dict[str, Any]:
    t = out.metrics["traffic"]
    assert t["driver"]["planned"] == t["driver"]["started"] > 0, t["driver"]
    assert not t["driver"].get("dropped") and not t["driver"].get("not_sent"), t["driver"]
    return dict(t["by_kind"][extra])


def _calm_window_dossiers(out: RunOutcome, name: str) -> tuple[int, int]:
    """Dossiers in the surge's window, and the same stream's without the surge."""
    s, w = scenarios.load(name), _window(out)
    calm = s.model_copy(update={"faults": tuple(f for f in s.faults if f.kind != "surge")})
    stream = arrivals(calm, days=out.metrics["days"], multiplier=out.metrics["multiplier"])
    inside = (stream["submitted"] >= w["start_minute"]) & (stream["submitted"] < w["end_minute"])
    return int(w["arrivals"]["during"]), int(np.count_nonzero(inside))


def test_f5_vneid_traffic_floods_the_portal_then_the_backlog_drains(runs: dict[str, RunOutcome]) -> None:
    """F5's spike is VNeID traffic on the portal, not dossiers: as many dossiers in the window as
    without it, and (10 − 1) × the evening's dossiers in status look-ups counted apart."""
    out, s = runs["incident-f5-vneid-surge"], scenarios.load("incident-f5-vneid-surge")
    w = _window(out)
    lat = w["submit_latency_p95_ms"]
    assert lat["during"] >= 10 * lat["before"] and lat["after"] < lat["during"] / 10, lat
    during, calm = _calm_window_dossiers(out, "incident-f5-vneid-surge")
    assert during == calm, (w["arrivals"], calm)  # the spike adds no dossier
    (surge,) = [f for f in s.faults if f.kind == "surge"]
    t = _traffic(out, "vneid_traffic")
    stream = arrivals(s, days=out.metrics["days"], multiplier=out.metrics["multiplier"])
    window = np.count_nonzero((stream["submitted"] >= surge.start) & (stream["submitted"] < surge.end))
    assert abs(t["requests"] - (surge.factor - 1) * window) <= 1, (t, window)
    # answered as a look-up of nothing (404) or refused by the injected maintenance page (503)
    assert set(t["status"]) <= {"404", "503", "0"} and int(t["status"].get("404", 0)) > 0, t["status"]
    assert "vneid_traffic" not in out.metrics["http"]["by_kind"] and "traffic" not in str(
        out.metrics["http"]["by_kind"])
    assert w["backlog"]["peak"] > w["backlog"]["at_start"]


def test_f6_false_not_found_refusals_are_named(runs: dict[str, RunOutcome]) -> None:
    out = runs["incident-f6-residence-deadline-surge"]
    refused = [v for v in out.reconciliation.violations if v.rule == "refused_valid_dossier"]
    # the false "not in CSDLQG DC" answer, or the card step that needed the PID it stopped
    assert refused and {v.detail.split("(")[-1] for v in refused} <= {"unknown_person)", "no_pid)"}
    assert any("unknown_person" in v.detail for v in refused)
    rejected = _window(out)["rejected"]
    assert sum(rejected.values()) == len(refused) and rejected["during"] >= 0.8 * len(refused)
    assert out.exit_code == 1


def test_f6_residence_rush_is_police_traffic_not_dossiers(runs: dict[str, RunOutcome]) -> None:
    """F6's rush is standalone residence registrations: citizen look-ups at police, (3 − 1) × the
    window's dossiers, counted apart; the window's dossiers are the stream without the rush."""
    out = runs["incident-f6-residence-deadline-surge"]
    during, calm = _calm_window_dossiers(out, "incident-f6-residence-deadline-surge")
    assert during == calm
    t = _traffic(out, "residence_registration")
    assert abs(t["requests"] - 2 * calm) <= 1, (t, calm)
    assert set(t["status"]) <= {"200", "404"}, t["status"]  # a person, or none (also falsely, F6)


def test_f7_outage_backlog_rises_then_drains(runs: dict[str, RunOutcome]) -> None:
    w = _window(runs["incident-f7-outage"])
    b = w["backlog"]
    assert b["peak"] >= b["at_start"] + 10 and b["drained_minute"] >= w["end_minute"], b
    assert w["e2e_p50_minutes"]["during"] >= 3 * w["e2e_p50_minutes"]["after"]  # held back, then normal


def test_f8_cards_valid_to_the_end_of_the_year_are_flagged(runs: dict[str, RunOutcome]) -> None:
    out = runs["incident-f8-card-expiry"]
    bad = [v for v in out.reconciliation.violations if v.rule == "card_validity"]
    assert bad and all("31/12 of the issue year" in v.detail for v in bad)
    assert set(out.reconciliation.by_rule()) == {"card_validity"} and out.exit_code == 1
    # only the registers failed: the verdict says so first, not "birth met its deadline"
    assert out.report.verdict.startswith("No: the registers do not reconcile."), out.report.verdict


def test_f9_incomplete_dossiers_are_refused_after_the_supplement_window(runs: dict[str, RunOutcome]) -> None:
    w = _window(runs["incident-f9-incomplete"])
    refused, arrivals = w["refused_incomplete"], w["arrivals"]
    assert refused["during"] / arrivals["during"] > 0.1 > refused["after"] / max(1, arrivals["after"])


def test_f10_lost_attachments_are_detected(runs: dict[str, RunOutcome]) -> None:
    out = runs["incident-f10-lost-attachment"]
    lost = [v for v in out.reconciliation.violations if v.rule == "lost_attachment"]
    assert lost and all("missing_attachment" in v.detail for v in lost) and out.exit_code == 1
