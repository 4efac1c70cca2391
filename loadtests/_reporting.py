"""The report of a live run, built with the shared writer in :mod:`lienthong.report` (private).

Lives in ``loadtests`` because it reads the run's records; it only *calls* ``lienthong.report``
and ``lienthong.runs`` (imported lazily by ``loadtests.run``, the one place that needs them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from loadtests._config import LoadConfig
from loadtests._merge import Merged
from loadtests._plots import plot_all
from loadtests.journeys import OUTCOMES, ScenarioClock, journey_metrics
from loadtests.reconcile import Reconciliation
from scenarios.model import Scenario

__all__ = ["Twin", "build_report", "threshold_metrics"]

# The twin's prediction for the run's scenario and stream: (scenario, stream, days) -> {"services": {…},
# "hourly_wip": […]}. Supplied by the caller (lienthong), since loadtests may not import the twin.
Twin = Callable[[Scenario, Any, int], dict[str, Any]]


def threshold_metrics(journeys: dict[str, Any], http: dict[str, Any], rec: Reconciliation) -> dict[str, Any]:
    """The metrics thresholds are checked against (``birth.e2e``, ``http.latency``, …)."""
    out: dict[str, Any] = {}
    for service in ("birth", "death"):
        if service in journeys:
            j = journeys[service]
            out[f"{service}.e2e"] = {**j["e2e_wd"], "attainment": j["attainment"]}
    for sid, step in journeys.get("steps", {}).items():
        out[f"step.{sid}"] = {**step["elapsed_wd"], "attainment": step["attainment"]}
    out["http.latency"] = dict(http["latency_ms"])
    out["http.service_time"] = dict(http["service_ms"])
    out["http.errors"] = {"rate": http["error_rate"], "count": http["errors"]}
    out["reconcile.violations"] = {"count": len(rec.violations)}
    return out


def build_report(
    s: Scenario,
    cfg: LoadConfig,
    merged: Merged,
    rec: Reconciliation,
    run: Any,
    http: dict[str, Any],
    twin_fn: Twin | None = None,
) -> tuple[Any, dict[str, Any]]:
    """``(Report, metrics)`` of the run; the plots are written into the run folder."""
    from lienthong.report import Check, Figure, KeyFigure, Report, Section, Table, evaluate_thresholds

    clock = ScenarioClock(t0=cfg.t0, speed=cfg.speed)
    jm = journey_metrics(s, merged.journeys, merged.steps, clock)
    from loadtests._replay import stream_of

    twin = twin_fn(s, stream_of(s, cfg), cfg.days) if twin_fn else {"services": {}, "hourly_wip": None}
    tm = threshold_metrics(jm, http, rec)
    thresholds = evaluate_thresholds(s.thresholds, tm)
    plots = plot_all(s, merged.journeys, merged.requests, clock, run.path, twin.get("hourly_wip"))
    outcomes = {
        name: int(np.count_nonzero(merged.journeys["outcome"] == i)) for i, name in enumerate(OUTCOMES)
    }
    d = merged.driver
    checks = [
        Check("reconciliation", rec.passed, _rec_detail(rec), group="reconciliation"),
        Check(
            "no dossier lost or stuck",
            outcomes["stuck"] == 0 and not rec.by_rule().get("lost"),
            f"{outcomes['stuck']} stuck at the end, {rec.by_rule().get('lost', 0)} lost",
            group="reconciliation",
        ),
        Check(
            "open-model driver kept the schedule",
            not d.get("dropped") and not d.get("not_sent"),
            f"{int(d.get('dropped', 0))} dropped, {int(d.get('not_sent', 0))} not sent, "
            f"{int(d.get('late', 0))} started > 50 ms late",
            group="driver",
        ),
    ]
    metrics = {
        "scenario": s.meta.name,
        "speed": cfg.speed,
        "days": cfg.days,
        "multiplier": s.demand.multiplier,
        "workers": merged.workers,
        "outcomes": outcomes,
        "driver": d,
        "http": http,
        "journeys": jm,
        "reconciliation": rec.as_dict(),
        "twin": {"services": twin["services"]},
        "thresholds_input": tm,
    }
    sections = [
        Section(
            "Journeys",
            text=[_journey_text(jm, outcomes)],
            tables=[_journey_table(jm, twin, Table), _step_table(jm, Table)],
        ),
        Section(
            "Over time",
            text=_fault_text(s),
            figures=[
                Figure(
                    "Throughput",
                    plots["throughput"],
                    "arrivals due, dossiers accepted and finished per scenario hour",
                ),
                Figure("Latency", plots["latency"], "exact per-bin percentiles; shaded: fault windows"),
                Figure(
                    "Backlog", plots["backlog"], "dossiers accepted and not yet terminal; dashed: the twin"
                ),
            ],
        ),
        Section("HTTP", tables=[_http_table(http, Table)]),
        Section(
            "Open-model driver",
            tables=[Table("Arrivals", list(map(str, d)), [[_num(v) for v in d.values()]])],
        ),
        Section("Reconciliation", text=[_rec_detail(rec)], tables=_rec_tables(rec, Table)),
    ]
    key = _key_figures(jm, http, rec, outcomes, KeyFigure)
    verdict = _verdict(s, thresholds, rec, outcomes)
    report = Report(
        title=f"lienthong run — {s.meta.name}",
        verdict=verdict,
        key_figures=key,
        sections=sections,
        thresholds=thresholds,
        checks=checks,
        metrics=metrics,
        meta={
            "run": run.id,
            "scenario": s.meta.name,
            "seed": str(run.manifest.get("seed")),
            "digest": run.manifest["scenario"]["digest"][:16],
            "speed": f"{cfg.speed:g}",
            "target": cfg.target,
        },
        notes=[f"Stream shifted by {cfg.shift_minutes:g} scenario minutes to fit the target's clock."]
        if cfg.shift_minutes
        else [],
    )
    return report, metrics


def _num(v: Any) -> Any:
    return round(float(v), 4) if isinstance(v, float) else v


def _rec_detail(rec: Reconciliation) -> str:
    if rec.passed:
        n, checks = rec.checked.get("dossiers", 0), sum(rec.checked.values())
        return f"Registers match all {n} accepted dossiers ({checks} checks)."
    rules = ", ".join(f"{k}: {v}" for k, v in sorted(rec.by_rule().items()))
    return f"{len(rec.violations)} violations ({rules})."


def _rec_tables(rec: Reconciliation, Table: Any) -> list[Any]:
    if rec.passed:
        return []
    rows = [[v.dossier, v.rule, v.detail] for v in rec.violations[:50]]
    more = f"{len(rec.violations) - 50} more in metrics.json" if len(rec.violations) > 50 else ""
    return [Table("Violations (first 50)", ["dossier", "rule", "detail"], rows, note=more)]


def _journey_text(jm: dict[str, Any], outcomes: dict[str, int]) -> str:
    parts = ", ".join(f"{v} {k}" for k, v in outcomes.items() if v)
    return f"Every arrival followed from the hospital to its final status: {parts}."


def _journey_table(jm: dict[str, Any], twin: dict[str, Any], Table: Any) -> Any:
    rows = []
    for service in ("birth", "death"):
        if service not in jm:
            continue
        j, t = jm[service], twin["services"].get(service, {})
        te = t.get("e2e_wd") or {}
        rows.append(
            [
                service,
                j["count"],
                j["completed"],
                j["rejected"],
                j["stuck"],
                j["deadline_wd"],
                j["e2e_wd"]["p50"],
                j["e2e_wd"]["p95"],
                j["attainment"],
                te.get("p50"),
                te.get("p95"),
                t.get("attainment"),
            ]
        )
    cols = [
        "group",
        "arrivals",
        "completed",
        "rejected",
        "stuck",
        "deadline WD",
        "e2e p50 WD",
        "e2e p95 WD",
        "attainment",
        "twin p50 WD",
        "twin p95 WD",
        "twin attainment",
    ]
    return Table(
        "Linked groups: measured vs the twin on the same stream",
        cols,
        rows,
        note="The twin includes human desk time; the reference fakes answer as systems do.",
    )


def _step_table(jm: dict[str, Any], Table: Any) -> Any:
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


def _http_table(http: dict[str, Any], Table: Any) -> Any:
    rows = []
    for kind, k in http["by_kind"].items():
        lat, svc = k["latency_ms"], k["service_ms"]
        rows.append(
            [kind, k["requests"], k["errors"], lat["p50"], lat["p95"], lat["p99"], svc["p50"], svc["p95"]]
        )
    cols = ["request", "count", "errors", "p50 ms*", "p95 ms*", "p99 ms*", "service p50 ms", "service p95 ms"]
    return Table(
        "Requests (exact percentiles)",
        cols,
        rows,
        note="* from the intended start (coordinated-omission-safe), retries included",
    )


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
    jm: dict[str, Any], http: dict[str, Any], rec: Reconciliation, outcomes: dict[str, int], KeyFigure: Any
) -> list[Any]:
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
    return out


def _verdict(s: Scenario, thresholds: list[Any], rec: Reconciliation, outcomes: dict[str, int]) -> str:
    from lienthong.report import verdict_from_thresholds

    base = verdict_from_thresholds(thresholds, subject=s.meta.name)
    if rec.passed:
        return base
    rules = ", ".join(f"{v} {k}" for k, v in sorted(rec.by_rule().items()))
    if base.startswith("Yes"):
        return (
            f"No: reconciliation found {len(rec.violations)} violations ({rules}); thresholds otherwise met."
        )
    return f"{base} Reconciliation: {len(rec.violations)} violations ({rules})."
