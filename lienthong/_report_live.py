"""The report of a live run or load test (a :class:`~loadtests.results.LiveRun`), rendered by the
shared writer in :mod:`lienthong.report` (private)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lienthong._comparison import (
    COMPARED,
    FIGURES,
    RULE,
    compare,
    end_minute,
    findings,
    fmt,
    fmt_span,
    main_workdays,
    measured_dossiers,
)
from lienthong._plots_live import plot_all
from lienthong.report import Cell, Check, Figure, KeyFigure, Report, Section, Table, evaluate_thresholds
from loadtests.journeys import OUTCOMES, ScenarioClock, journey_metrics
from loadtests.reconcile import Reconciliation
from loadtests.results import (
    LiveRun,
    LoadConfig,
    Merged,
    http_metrics,
    incident_windows,
    stream_of,
    traffic_section,
)
from scenarios import metrics
from scenarios.model import Scenario

__all__ = ["Twin", "live_report", "threshold_metrics"]

# The twin's prediction for the run's scenario and stream: (scenario, stream, days) -> {"services": {…},
# "hourly_wip": […], "runs": [TwinRun …]} (lienthong._comparison.twin_prediction).
Twin = Callable[[Scenario, Any, int], dict[str, Any]]


def threshold_metrics(journeys: dict[str, Any], http: dict[str, Any], rec: Reconciliation) -> dict[str, Any]:
    """The metrics thresholds are checked against, by their names in :mod:`scenarios.metrics`."""
    out: dict[str, Any] = {}
    for service in ("birth", "death"):
        if service in journeys:
            j = journeys[service]
            out[metrics.e2e(service)] = {**j["e2e_wd"], "attainment": j["attainment"]}
    for sid, st in journeys.get("steps", {}).items():
        out[metrics.step(sid)] = {**st["elapsed_wd"], "attainment": st["attainment"]}
    latency, service_time, errors = metrics.HTTP
    out[latency] = dict(http["latency_ms"])
    out[service_time] = dict(http["service_ms"])
    out[errors] = {"rate": http["error_rate"], "count": http["errors"]}
    violations, not_verifiable = metrics.RECONCILE
    out[violations] = {"count": len(rec.violations)}
    out[not_verifiable] = {"count": sum(rec.unverified.values())}
    return out


@dataclass
class _Measured:
    """What the report draws from a live run that produced records."""

    live: LiveRun
    merged: Merged
    journeys: dict[str, Any]
    http: dict[str, Any]
    outcomes: dict[str, int]
    twin: dict[str, Any]
    incidents: dict[str, Any]
    comparison: dict[str, Any]
    end: float

    @property
    def instant(self) -> bool:
        """The reference fakes answered without desk time (the twin is not expected to agree)."""
        return self.live.scenario.load.agencies == "instant"

    @property
    def rec(self) -> Reconciliation:
        return self.live.reconciliation

    @property
    def response_lag(self) -> tuple[float, float] | None:
        """``(p95 response time in wall seconds, the same in scenario minutes)`` of the run's
        requests: each hand-off between agencies waits about that long, so at a high ``--speed``
        a slow answer is hours of scenario time (None without requests)."""
        p95_ms = (self.http.get("service_ms") or {}).get("p95")
        if p95_ms is None or not math.isfinite(p95_ms):
            return None
        return p95_ms / 1000.0, p95_ms / 1000.0 * self.live.config.speed / 60.0


def live_report(live: LiveRun, run: Any, twin: Twin | None = None) -> tuple[Report, dict[str, Any]]:
    """``(Report, metrics)`` of a live run in run folder ``run``; the plots are written into it.

    A stage that failed (``live.error``) is said first and fails the run; a twin that fails is
    noted, not raised; a run without records gets a report of what failed and where.
    """
    if live.merged is None:
        return _failed_report(live, run)
    s, cfg, merged = live.scenario, live.config, live.merged
    clock = ScenarioClock(t0=cfg.t0, speed=cfg.speed)
    predicted = _twin(s, cfg, twin, merged)
    comparison, end = _compare(s, cfg, merged, clock, predicted)
    m = _Measured(
        live, merged, journey_metrics(s, merged.journeys, merged.steps, clock, merged.end_minute),
        http_metrics(merged.requests),
        {name: int(np.count_nonzero(merged.journeys["outcome"] == i)) for i, name in enumerate(OUTCOMES)},
        predicted, _incidents(s, cfg, merged, clock), comparison, end,
    )
    tm = threshold_metrics(m.journeys, m.http, m.rec)
    thresholds = evaluate_thresholds(s.thresholds, tm)
    plots = plot_all(s, merged.journeys, merged.requests, clock, run.path, predicted.get("runs") or (),
                     end_minute=end, shift_minutes=cfg.shift_minutes)
    doc = {**_metrics_doc(m), "thresholds_input": tm}
    report = Report(
        title=f"lienthong run — {s.meta.name}",
        verdict=_verdict(s, m.journeys, thresholds, m.rec, live.error, _twin_sentence(m),
                         _errors_said(m.http)),
        key_figures=_key_figures(m.journeys, m.http, m.rec, m.outcomes),
        sections=_sections(m, plots),
        thresholds=thresholds,
        checks=_checks(m),
        metrics=doc,
        meta=_meta(live, run),
        notes=_notes(cfg, live.machine, m.twin.get("error", "")),
    )
    return report, doc


def _checks(m: _Measured) -> list[Check]:
    d, rec = m.merged.driver, m.rec
    twin = [Check("twin prediction", False, f"the twin could not run: {m.twin['error']}", group="twin",
                  blocking=False)] if m.twin.get("error") else []
    lost = rec.by_rule().get("lost", 0)
    return [
        *_stage_checks(rec, m.live.error),
        *twin,
        *_comparison_checks(m),
        Check("no dossier lost, stuck or failed",
              m.outcomes["stuck"] == 0 and not lost and not m.outcomes.get("failed"),
              f"{m.outcomes['stuck']} stuck at the end, {lost} lost, {m.outcomes.get('failed', 0)} failed"
              + (f" ({_failures(m)})" if m.outcomes.get("failed") else "")
              + (f" ({m.outcomes['open']} open: in work at the desks)" if m.outcomes.get("open") else ""),
              group="reconciliation"),
        *_lag_check(m),
        *_traffic_check(m),
        Check("open-model driver kept the schedule", not d.get("dropped") and not d.get("not_sent"),
              f"{int(d.get('dropped', 0))} dropped, {int(d.get('not_sent', 0))} not sent, "
              f"{int(d.get('late', 0))} started > 50 ms late", group="driver"),
    ]


def _traffic_check(m: _Measured) -> list[Check]:
    """The scenario's non-dossier traffic (``extra`` surges), counted apart from the dossiers."""
    t = traffic_section(m.merged)
    if not t:
        return []
    d, kinds = t["driver"], t["by_kind"]
    told = "; ".join(
        f"{k} {v['requests']} requests ({', '.join(f'{s}: {n}' for s, n in v['status'].items())})"
        for k, v in kinds.items())
    sent = f"{int(d.get('started', 0))} of {int(d.get('planned', 0))} sent"
    return [Check("non-dossier traffic sent as planned", not d.get("dropped") and not d.get("not_sent"),
                  f"{sent}, not dossiers: {told or 'none'}",
                  group="driver", blocking=False)]


def _failures(m: _Measured) -> str:
    """Where the failed dossiers gave up: "retries ran out at bhyt (vss) ×3, …"."""
    found = [v for v in m.rec.violations if v.rule == "failed_dossier"]
    where: dict[str, int] = {}
    for v in found:
        key = v.detail.split(":", 1)[0]
        where[key] = where.get(key, 0) + 1
    if not where:
        return "see metrics.json"
    return "retries ran out at " + ", ".join(f"{k} ×{n}" for k, n in where.items())


def _metrics_doc(m: _Measured) -> dict[str, Any]:
    live, s = m.live, m.live.scenario
    return {
        "scenario": s.meta.name,
        "speed": live.config.speed,
        "days": live.config.days,
        "multiplier": s.demand.multiplier,
        "workers": m.merged.workers,
        "outcomes": m.outcomes,
        "driver": m.merged.driver,
        "http": m.http,
        "traffic": traffic_section(m.merged),  # extra surges' non-dossier requests, apart from "http"
        "journeys": m.journeys,
        "reconciliation": m.rec.as_dict(),
        "ecosystem": live.ecosystem,
        "error": live.error,
        "twin": {"services": m.twin["services"], "replications": m.twin.get("replications"),
                 "error": m.twin.get("error", "")},
        "comparison": m.comparison,
        "machine": live.machine,
        "incidents": m.incidents,
    }


def _sections(m: _Measured, plots: dict[str, Any]) -> list[Section]:
    s, jm, d = m.live.scenario, m.journeys, m.merged.driver
    figures = [
        Figure("Throughput", plots["throughput"],
               "arrivals due, dossiers accepted and finished per scenario hour"),
        Figure("Latency", plots["latency"], "exact per-bin percentiles; shaded: fault windows"),
        Figure("Backlog", plots["backlog"], _backlog_caption(m)),
    ]
    incidents = [Section("Incidents: degradation and recovery", text=_incident_text(m.incidents),
                         tables=[_incident_table(m.incidents)])] if m.incidents else []
    return [
        *_error_sections(m.live.error),
        _ecosystem_section(m.live.ecosystem, m.rec),
        Section("Journeys", text=[_journey_text(jm, m.outcomes)],
                tables=[_journey_table(jm), _step_table(jm)]),
        *_comparison_sections(m),
        Section("Over time", text=_fault_text(s), figures=figures),
        *incidents,
        Section("HTTP", tables=[_http_table(m.http)]),
        Section("Open-model driver",
                tables=[Table("Arrivals", list(map(str, d)), [[_num(v) for v in d.values()]])]),
        Section("Reconciliation", text=[_rec_detail(m.rec)], tables=_rec_tables(m.rec)),
    ]


def _meta(live: LiveRun, run: Any) -> dict[str, str]:
    return {
        "run": run.id,
        "scenario": live.scenario.meta.name,
        "seed": str(run.manifest.get("seed")),
        "digest": run.manifest["scenario"]["digest"][:16],
        "speed": f"{live.config.speed:g}",
        "target": live.config.target,
    }


def _failed_report(live: LiveRun, run: Any) -> tuple[Report, dict[str, Any]]:
    """The report of a run that produced no load records: what failed, where each agency was,
    and whatever reconciliation could say."""
    s, cfg, rec = live.scenario, live.config, live.reconciliation
    doc = {
        "scenario": s.meta.name,
        "speed": cfg.speed,
        "days": cfg.days,
        "multiplier": s.demand.multiplier,
        "error": live.error,
        "ecosystem": live.ecosystem,
        "reconciliation": rec.as_dict(),
        "machine": live.machine,
    }
    report = Report(
        title=f"lienthong run — {s.meta.name}",
        verdict=f"No: the run failed — {live.error}. Nothing was measured.",
        sections=[*_error_sections(live.error), _ecosystem_section(live.ecosystem, rec)],
        checks=_stage_checks(rec, live.error),
        metrics=doc,
        meta=_meta(live, run),
        notes=_notes(cfg, live.machine),
    )
    return report, doc


def _compare(
    s: Scenario, cfg: LoadConfig, merged: Merged, clock: ScenarioClock, twin: dict[str, Any]
) -> tuple[dict[str, Any], float]:
    """``(comparison by group, E)``: the measured journeys against the twin's replications, both
    censored at the run's end minute E; empty without replications (and the failure noted in
    ``twin["error"]`` when the comparison itself fails)."""
    end = end_minute(merged, clock)
    runs = twin.get("runs") or []
    if not runs:
        return {}, end
    try:
        wd = main_workdays(s, end + abs(cfg.shift_minutes))
        measured = measured_dossiers(s, merged.journeys, clock, wd)
        return compare(s, measured, runs, end, shift_minutes=cfg.shift_minutes, workdays=wd), end
    except Exception as exc:  # the measurement stands without the comparison
        twin["error"] = f"comparison failed: {type(exc).__name__}: {exc}"
        return {}, end


def _twin(s: Scenario, cfg: LoadConfig, twin_fn: Twin | None, merged: Merged | None = None) -> dict[str, Any]:
    """The twin's prediction on the arrivals the run actually sent, each at the minute the system
    accepted it (the measured clock starts there too, so a driver or a portal that is late to
    accept shifts both sides alike; lateness is the driver check's business). An arrival the
    driver never started — dropped, or past the time bound — is not in the system the run
    measured, so it is left out of the twin's stream too, and counted. The twin's failure is
    noted, not raised."""
    if twin_fn is None:
        return {"services": {}, "hourly_wip": None}
    try:
        stream = stream_of(s, cfg)
        unsent = 0
        if merged is not None and merged.journeys.size == stream.size:
            journeys = merged.journeys[np.argsort(merged.journeys["dossier"])]
            clock = ScenarioClock(t0=cfg.t0, speed=cfg.speed)
            accepted = np.asarray(clock.minute(journeys["accepted"]), dtype=np.float64) - cfg.shift_minutes
            took = np.isfinite(accepted) & (journeys["outcome"] != OUTCOMES.index("incomplete"))
            stream, intended = stream.copy(), stream["submitted"]
            stream["submitted"] = np.where(took, np.maximum(np.nan_to_num(accepted), intended), intended)
            outcome = journeys["outcome"]
            sent = outcome != OUTCOMES.index("not_started")
            unsent = int(np.count_nonzero(~sent))
            stream = stream[sent][np.argsort(stream["submitted"][sent], kind="stable")]
            stream["dossier"] = np.arange(stream.size)
        out = dict(twin_fn(s, stream, cfg.days))
        out["unsent"] = unsent
        return out
    except Exception as exc:  # the measurement stands without the prediction
        return {"services": {}, "hourly_wip": None, "error": f"{type(exc).__name__}: {exc}"}


def _stage_checks(rec: Reconciliation, error: str) -> list[Check]:
    out = [
        Check("reconciliation", rec.passed and not rec.error, _rec_detail(rec), group="reconciliation"),
        Check(
            "registers verified",
            rec.complete,
            f"{rec.verified_share():.0%} of register checks made"
            + ("" if rec.complete else f"; not verifiable: {_reasons(rec)}"),
            group="reconciliation",
        ),
    ]
    if error:
        out.insert(0, Check("every stage ran", False, error, group="run"))
    return out


def _reasons(rec: Reconciliation) -> str:
    return "; ".join(f"{a}: {r}" for a, r in sorted(rec.reasons.items())) or rec.error or "unknown"


def _error_sections(error: str) -> list[Section]:
    if not error:
        return []
    return [Section("The run failed", text=[
        f"{error}. The figures below are what was measured before the failure; the registers were "
        "reconciled as far as they could be read."])]


def _ecosystem_section(ecosystem: dict[str, Any] | None, rec: Reconciliation) -> Section:
    rows = [
        [agency, "reference fakes" if where.get("fake") else "real system", where.get("url"),
         rec.sources.get(agency, "–")]
        for agency, where in (ecosystem or {}).items()
    ]
    real = [a for a, w in (ecosystem or {}).items() if not w.get("fake")]
    text = (f"Real systems in the loop: {', '.join(real)}; the rest are the reference fakes."
            if real and len(real) < len(ecosystem or {}) else
            "Every agency is a real system (someone else's implementation of the contract)." if real else
            "Every agency is the reference fakes started by this run.")
    return Section("Ecosystem", text=[text], tables=[Table(
        "Where each agency was and how its registers were read",
        ["agency", "kind", "URL", "registers read through"], rows)])


def _incidents(s: Scenario, cfg: LoadConfig, merged: Merged, clock: ScenarioClock) -> dict[str, Any]:
    if not s.faults:
        return {}
    ends = [cfg.days * 1440.0]
    wall = merged.requests["end"][np.isfinite(merged.requests["end"])]
    if wall.size:
        ends.append(float(clock.minute(wall.max())))
    done = merged.journeys["completed_minute"][np.isfinite(merged.journeys["completed_minute"])]
    if done.size:
        ends.append(float(done.max()))
    return incident_windows(s, merged.journeys, merged.steps, merged.requests, clock, max(ends))


def _clock_text(minute: float | None) -> str:
    if minute is None:
        return "never"
    day, rest = divmod(round(minute), 1440)
    return f"day {day + 1} {rest // 60:02d}:{rest % 60:02d}"


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f} ms"


def _incident_text(incidents: dict[str, Any]) -> list[str]:
    out = []
    for name, w in incidents.items():
        b, lat = w["backlog"], w["submit_latency_p95_ms"]
        drained = (
            f"drained by {_clock_text(b['drained_minute'])}"
            if b["drained_minute"] is not None
            else "NOT drained"
        )
        left = (
            "nothing left open at the end"
            if b["left_at_end"] == 0
            else f"{b['left_at_end']} left open at the end"
        )
        out.append(
            f"{name} ({', '.join(w['kinds'])}, "
            f"{_clock_text(w['start_minute'])} → {_clock_text(w['end_minute'])}): "
            f"{w['arrivals']['during']} arrivals in the window; submission p95 {_ms(lat['before'])} before, "
            f"{_ms(lat['during'])} during, {_ms(lat['after'])} after; backlog {b['at_start']} at the start, "
            f"peak {b['peak']} at {_clock_text(b['peak_minute'])}, {drained}; {left}."
        )
    return out


def _incident_table(incidents: dict[str, Any]) -> Table:
    rows = []
    for name, w in incidents.items():
        for sid, st in w["step_p50_minutes"].items():
            if any(v is not None for v in st.values()):
                rows.append([name, sid, st["before"], st["during"], st["after"]])
    return Table(
        "Median step time (scenario minutes) of steps started before, during and after each window",
        ["incident", "step", "before", "during", "after"],
        rows,
        note="Each side is as long as the window. Shaded in the plots above.",
    )


def _num(v: Any) -> Any:
    return round(float(v), 4) if isinstance(v, float) else v


def _rec_detail(rec: Reconciliation) -> str:
    checks = sum(rec.checked.values())
    return f"{rec.summary()} ({checks} checks made)."


def _rec_tables(rec: Reconciliation) -> list[Table]:
    out = []
    if rec.unverified:
        rows: list[list[Cell]] = [[what, n] for what, n in sorted(rec.unverified.items())]
        why = "; ".join(f"{a}: {r}" for a, r in sorted(rec.reasons.items()))
        out.append(Table("Checks not verifiable (not counted as passed)", ["check", "count"], rows, note=why))
    if rec.violations:
        rows = [[v.dossier, v.rule, v.detail] for v in rec.violations[:50]]
        more = f"{len(rec.violations) - 50} more in metrics.json" if len(rec.violations) > 50 else ""
        out.append(Table("Violations (first 50)", ["dossier", "rule", "detail"], rows, note=more))
    return out


def _journey_text(jm: dict[str, Any], outcomes: dict[str, int]) -> str:
    parts = ", ".join(f"{v} {k}" for k, v in outcomes.items() if v)
    return f"Every arrival followed from the hospital to its final status: {parts}."


def _journey_table(jm: dict[str, Any]) -> Table:
    rows = []
    for service in ("birth", "death"):
        if service not in jm:
            continue
        j = jm[service]
        rows.append([service, j["count"], j["completed"], j["rejected"], j.get("failed", 0), j.get("open", 0),
                     j["stuck"], j["deadline_wd"], j["e2e_wd"]["p50"], j["e2e_wd"]["p95"], j["attainment"]])
    cols = ["group", "arrivals", "completed", "rejected", "failed", "open at the end", "stuck", "deadline WD",
            "e2e p50 WD", "e2e p95 WD", "attainment"]
    return Table("Linked groups (measured)", cols, rows,
                 note="Open at the end: still in work at the agencies' desks when the run stopped (agencies "
                 "in time), as the twin's open dossiers; stuck: no answer or no progress; failed: the portal "
                 "gave it up when a step's retry budget ran out. Attainment here: completed in time over "
                 "every accepted dossier (rejected, failed, open and stuck included); the "
                 "comparison with the twin below uses its own, shared rule.")


def _comparison_sections(m: _Measured) -> list[Section]:
    """"Measured vs the twin": one row per group and figure, the rule under the table, and each
    disagreement said as a finding (not in instant mode, where none is expected)."""
    if not m.comparison:
        return []
    rows: list[list[Cell]] = []
    for group, c in m.comparison.items():
        for key, label, unit, _ in FIGURES:
            f = c["figures"][key]
            agrees = ("shown only" if not f["compared"] else "–" if f["agrees"] is None
                      else "yes" if f["agrees"] else "NO")
            none = f.get("none_completed")
            rows.append([group, f"{label} ({unit})",
                         "none completed by E" if none == "measured" else fmt(f["measured"], unit),
                         "none completed by E" if none == "twin" else fmt(f["twin"], unit),
                         fmt_span(f["twin_ci95"], unit), fmt_span(f["widened"], unit), agrees])
    counted = "; ".join(
        f"{g}: {c['measured_counted']} of {c['measured_received']} measured, "
        f"{fmt(c['twin_counted'])} in the twin (mean)" for g, c in m.comparison.items()
    )
    instant = (
        'The reference fakes answered without desk time (load.agencies = "instant"), so the twin, '
        "which includes desk time, is not expected to agree: no finding is raised. " if m.instant else ""
    )
    first = next(iter(m.comparison.values()))
    end = (f"{_clock_text(first['end_minute'])} (the twin's horizon; the run followed dossiers until "
           f"{_clock_text(first['run_end_minute'])})" if "run_end_minute" in first
           else f"{_clock_text(first['end_minute'])} (the end of the run's observation)")
    unsent = int(m.twin.get("unsent") or 0)
    unsent_text = (f"{unsent} arrivals the driver never sent (see the driver check) are left out of "
                   "the twin's stream too. " if unsent else "")
    note = (f"{instant}{unsent_text}Both sides censored at E = {end}; "
            f"counted (outcome known at E): {counted}. Rejected dossiers are left out of both. {RULE}")
    table = Table(f"Measured vs the twin (same stream, {first['replications']} replications)",
                  ["group", "figure", "measured", "twin (mean)", "twin 95% interval",
                   "widened by the measured error", "agrees"], rows, note=note)
    return [Section("Measured vs the twin", text=_comparison_text(m), tables=[table])]


def _comparison_text(m: _Measured) -> list[str]:
    said = findings(m.comparison)
    out = []
    for group, c in m.comparison.items():
        if c["agrees"] is None:
            out.append(f"{group}: not compared — {c.get('why_null', 'nothing to compare')}.")
        elif c["agrees"]:
            out.append(f"{group}: agrees with the twin ({', '.join(_figure_names())} inside the widened "
                       "intervals).")
        elif m.instant:
            out.append(f"{group}: differs from the twin, as expected with instant agencies.")
        else:
            out.append(f"Finding — {said[group]}")
    return out


def _figure_names() -> list[str]:
    return [f"{label} ({unit})" for key, label, unit, _ in FIGURES if key in COMPARED]


#: Above this many scenario minutes of p95 response time, the answers' own lag weighs on the times
#: measured as much as a desk does (a step's desk time is 10-40 minutes in the catalog).
LAG_MINUTES = 10.0


def _lag_check(m: _Measured) -> list[Check]:
    """Agencies in time: whether the responses were fast enough for this compression (a warning:
    when they were not, part of the delay measured is the servers', not the desks')."""
    lag = m.response_lag
    if m.instant or lag is None:
        return []
    wall, minutes = lag
    return [Check("responses fast enough for the compression", minutes <= LAG_MINUTES,
                  f"p95 response {wall * 1000:,.0f} ms = {minutes:,.1f} scenario minutes at --speed "
                  f"{m.live.config.speed:g} (≤ {LAG_MINUTES:g}: hand-offs then add less than a desk's time)",
                  group="driver", blocking=False)]


def _comparison_checks(m: _Measured) -> list[Check]:
    """One non-blocking check per group: a disagreement is a warning, never hidden; none in
    instant mode (the twin is not expected to agree)."""
    if m.instant or not m.comparison:
        return []
    said = findings(m.comparison)
    out = []
    for group, c in m.comparison.items():
        name = f"{group}: measured agrees with the twin"
        if c["agrees"] is None:
            out.append(Check(name, False, f"not compared: {c.get('why_null')}", group="twin", blocking=False,
                             skipped=True))
        else:
            detail = said.get(group) or _agreement_detail(c)
            out.append(Check(name, bool(c["agrees"]), detail, group="twin", blocking=False))
    return out


def _agreement_detail(c: dict[str, Any]) -> str:
    """``'within deadline 100.0% in [98.1%, 100.0%], e2e p50 0.50 WH in [0.47, 0.56] WH, …'``:
    each compared figure and the widened interval it lies in."""
    parts = []
    for key, label, unit, _ in FIGURES:
        f = c["figures"][key]
        if key in COMPARED and f["agrees"] is not None:
            parts.append(f"{label} {fmt(f['measured'], unit)} in {fmt_span(f['widened'], unit)}")
    return (f"{', '.join(parts)} (the twin's 95% intervals over {c['replications']} replications, "
            "widened by the measured error)")


def _backlog_caption(m: _Measured) -> str:
    if not m.twin.get("runs"):
        return "dossiers arrived and not yet completed or rejected; the twin did not run"
    return ("dossiers arrived and not yet completed or rejected (one never accepted leaves on arrival); "
            f"dashed: the twin's mean over {m.twin['replications']} replications on the same stream, counted "
            "the same way from its records; dark band: 95% interval of that mean; light band: where one "
            "replication falls 95% of the time; dotted: E, the end of the run's observation; grey "
            "background: desks closed")


def _step_table(jm: dict[str, Any]) -> Table:
    rows = [
        [
            sid,
            st["agency"],
            st["limit_wd"],
            st["count"],
            st["elapsed_wd"]["p50"],
            st["elapsed_wd"]["p95"],
            st["attainment"],
        ]
        for sid, st in jm.get("steps", {}).items()
    ]
    return Table(
        "Steps (portal timestamps, working days)",
        ["step", "agency", "limit WD", "done", "p50 WD", "p95 WD", "within limit"],
        rows,
    )


def _http_table(http: dict[str, Any]) -> Table:
    rows = []
    for kind, k in http["by_kind"].items():
        lat, svc = k["latency_ms"], k["service_ms"]
        rows.append([kind, k["requests"], k["errors"], _statuses(k.get("error_status") or {}),
                     lat["p50"], lat["p95"], lat["p99"], svc["p50"], svc["p95"]])
    cols = ["request", "count", "errors", "error statuses", "p50 ms*", "p95 ms*", "p99 ms*", "service p50 ms",
            "service p95 ms"]
    return Table(
        "Requests (exact percentiles)",
        cols,
        rows,
        note="* from the intended start (coordinated-omission-safe), retries included; "
             "error status 0: no answer (timeout or connection error)",
    )


def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{code} ×{n}" for code, n in counts.items())


# the journeys' first writes: a 409 there means the target already holds the stream's documents
_FIRST_WRITES = ("health.birth_certificate", "health.death_notice")


def _errors_said(http: dict[str, Any]) -> str:
    """What the errors were, for the verdict: the statuses of the kinds with most errors, and why
    when the target refused the stream's own hospital documents as already held."""
    kinds = sorted(((k["errors"], kind, k.get("error_status") or {}) for kind, k in http["by_kind"].items()
                    if k["errors"]), key=lambda t: -t[0])
    if not kinds:
        return ""
    text = "; ".join(f"{kind} {_statuses(st)}" for _, kind, st in kinds[:3])
    held = sum(st.get("409", 0) for _, kind, st in kinds if kind in _FIRST_WRITES)
    if held and held >= http["errors"] / 2:
        text += (f". The target already holds {held} of this stream's hospital documents (409): an earlier "
                 "run of the same scenario days left them — start it on empty registers (the reference "
                 "fakes: serve the fakes with --fresh, or another --run-dir)")
    return text


def _fault_text(s: Scenario) -> list[str]:
    if not s.faults:
        return ["No faults in this scenario."]
    lines = [
        f"{f.kind} on {f.agency} from minute {f.start:g} to {f.end:g}"
        + (f" ({f.incident})" if f.incident else "")
        for f in s.faults
    ]
    return ["Fault windows (shaded in the plots): " + "; ".join(lines) + "."]


def _key_figures(
    jm: dict[str, Any], http: dict[str, Any], rec: Reconciliation, outcomes: dict[str, int]
) -> list[KeyFigure]:
    out = [
        KeyFigure("dossiers completed", outcomes["completed"], note=f"of {sum(outcomes.values())} arrivals")
    ]
    for service in ("birth", "death"):
        if service in jm and jm[service]["e2e_wd"]["p95"] is not None:
            out.append(KeyFigure(f"{service} e2e p95", jm[service]["e2e_wd"]["p95"], "wd"))
            if jm[service]["attainment"] is not None:
                out.append(KeyFigure(f"{service} within deadline", jm[service]["attainment"], "%"))
    if http["latency_ms"]["p95"] is not None:
        out.append(KeyFigure("HTTP p95 (from intended start)", http["latency_ms"]["p95"], "ms"))
    out.append(KeyFigure("HTTP error rate", http["error_rate"], "%"))
    out.append(
        KeyFigure("reconciliation violations", len(rec.violations), status="pass" if rec.passed else "fail")
    )
    if not rec.complete:
        out.append(KeyFigure("register checks verified", rec.verified_share(), "%", status="fail"))
    return out


def _notes(cfg: LoadConfig, machine: dict[str, Any] | None, twin_error: str = "") -> list[str]:
    out = [f"The twin could not run: {twin_error}"] if twin_error else []
    if cfg.shift_minutes:
        out.append(f"Stream shifted by {cfg.shift_minutes:g} scenario minutes to fit the target's clock.")
    if machine:
        cpu = ", ".join(f"{k} {v:g} s" for k, v in machine.get("cpu_s", {}).items())
        nice = ", ".join(f"{k} {v:+d}" for k, v in machine.get("nice", {}).items())
        out.append(
            f"Machine: {machine['cores']} cores, load average {machine['load_avg_start']:g} at the start and "
            f"{machine['load_avg_end']:g} at the end of the load ({machine['wall_s']:g} s)"
            + (f"; CPU used: {cpu}" if cpu else "")
            + (f"; priority (nice): {nice}" if nice else "")
            + ". A load average well above the core count means other work competed for the CPU "
            "and latencies are pessimistic."
        )
    return out


def _wd(x: float | None) -> str:
    if x is None:
        return "n/a"
    return "< 0.01 WD" if x < 0.01 else f"{x:.2f} WD"


def group_sentence(jm: dict[str, Any], thresholds: list[Any]) -> tuple[bool, str]:
    """``(every group met its deadline, the sentence saying so per group)``.

    A group met its deadline when every threshold on ``<group>.e2e`` passes, or (without such
    thresholds) when every accepted dossier completed in time.
    """
    parts, all_met = [], True
    for service in ("birth", "death"):
        if service not in jm:
            continue
        j = jm[service]
        not_due = j.get("open_not_due", 0)
        accepted = (j["completed"] + j["rejected"] + j.get("failed", 0) + j["stuck"] + j.get("open", 0)
                    - not_due)
        if not accepted:
            parts.append(f"{service}: no dossier accepted")
            all_met = False
            continue
        att = j["attainment"] or 0.0
        mine = [t for t in thresholds if t.metric == f"{service}.e2e" and t.status != "not measured"]
        met = all(not t.failed for t in mine) if mine else att >= 1.0
        all_met &= met
        within = round(att * accepted)
        parts.append(
            f"{service} {'met' if met else 'MISSED'} its {j['deadline_wd']:g}-WD deadline "
            f"({within} of {accepted} accepted dossiers in time"
            + (f", {not_due} more still open and not yet due" if not_due else "")
            + f", p95 {_wd(j['e2e_wd']['p95'])})"
        )
    return all_met, "; ".join(parts)


def _twin_sentence(m: _Measured) -> str:
    """What the twin on the same stream says of the groups, for the verdict: nothing in instant
    mode (not expected to agree); else whether each group agrees, and for one that does not,
    the share in time on both sides — a miss the twin does not predict is the system's delay."""
    if m.instant or not m.comparison:
        return ""
    agree = [g for g, c in m.comparison.items() if c["agrees"]]
    differ = [g for g, c in m.comparison.items() if c["agrees"] is False]
    if not differ:
        return f"The twin on the same stream agrees ({', '.join(agree)})." if agree else ""
    parts = []
    for g in differ:
        f = m.comparison[g]["figures"]["attainment"]
        if f["measured"] is not None and f["twin"] is not None:
            parts.append(f"{g} {f['measured']:.1%} in time, the twin {f['twin']:.1%} "
                         f"[{f['twin_ci95'][0]:.1%}, {f['twin_ci95'][1]:.1%}]")
        else:
            parts.append(g)
    slower = [g for g in differ if _slower(m.comparison[g])]
    why = ("the system under test adds delay the twin does not know about." if slower else
           "the system under test is faster than the twin predicts (shorter desk or system times than "
           "the scenario's, or work skipped).")
    said = f"The twin on the same stream differs for {', '.join(differ)} ({'; '.join(parts)}): {why}"
    lag = m.response_lag
    if lag is not None and lag[1] > LAG_MINUTES:
        said += (f" Its answers took {lag[0]:,.1f} s at p95, {lag[1]:,.0f} scenario minutes at --speed "
                 f"{m.live.config.speed:g}: run slower to tell its response time from the desks'.")
    return said


def _slower(c: dict[str, Any]) -> bool:
    """Whether a group that differs from the twin is slower (attainment below, or end-to-end times
    above, the widened interval) rather than faster."""
    for key in COMPARED:
        f = c["figures"][key]
        if f["agrees"] is False:
            if f["none_completed"] == "measured":
                return True
            if f["measured"] is not None and f["widened"] is not None:
                low = f["measured"] < f["widened"][0]
                return low if key == "attainment" else not low
    return True


def _verdict(
    s: Scenario, jm: dict[str, Any], thresholds: list[Any], rec: Reconciliation, error: str = "",
    twin: str = "", errors: str = "",
) -> str:
    """The first words answer the question that failed: a stage that failed, a group that missed
    its deadline, the registers (broken or not verifiable), another threshold — then the rest;
    what the twin on the same stream says comes right after the groups."""
    groups_met, groups = group_sentence(jm, thresholds)
    if twin:
        groups = f"{groups}. {twin.rstrip('.')}" if groups else twin.rstrip(".")
    failed = [t for t in thresholds if t.failed]
    measured = [t for t in thresholds if t.status != "not measured"]
    if failed:
        said = {"http.errors": f" ({errors})" if errors else ""}
        worst = "; ".join(f"{t.metric} {t.stat} {t.observed_text} vs {t.limit_text}{said.get(t.metric, '')}"
                          for t in failed[:3])
        limits = f"{len(failed)} of {len(measured)} thresholds fail — {worst}."
    else:
        limits = f"All {len(measured)} measured thresholds of {s.meta.name} met."
    registers, groups_cap = rec.summary(), f"{groups[0].upper()}{groups[1:]}." if groups else ""
    if error:
        return f"No: the run failed — {error}. {groups_cap} {limits} {registers}"
    if not groups_met:
        return f"No: {groups}. {limits} {registers}"
    if rec.violations or rec.error:
        return f"No: the registers do not reconcile. {registers} {groups_cap} {limits}"
    if any(not t.metric.startswith("reconcile.") for t in failed):
        return f"No: {limits} {groups_cap} {registers}"
    if not rec.complete or failed:
        return f"Not verified: {registers} {groups_cap} {limits}"
    return f"Yes: {groups}. {limits} {registers}"
