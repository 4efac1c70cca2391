"""The twin's report: verdict, tables, plots, CSVs and threshold metrics from a ``SimSummary``."""

from __future__ import annotations

import contextlib
import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lienthong._report_format import Estimate
from lienthong.report import Check, Figure, KeyFigure, Report, Section, Table, ThresholdResult
from scenarios import metrics as metric_names
from scenarios.model import Scenario

if TYPE_CHECKING:
    from lienthong.runs import RunFolder
    from sim.records import SimResult, SimSummary

__all__ = ["est", "flat_metrics", "sim_figures", "sim_report", "sim_verdict", "write_step_csv"]

_DIST_STATS = ("mean", "p50", "p90", "p95", "p99", "max")
_ACRONYMS = {"pid": "PID", "bhyt": "BHYT"}


def est(stat: Any, unit: str = "") -> Estimate | None:
    """An :class:`Estimate` from a summary stat (``{"mean", "ci95"}``) or a plain number."""
    if stat is None:
        return None
    if isinstance(stat, Mapping):
        mean = stat.get("mean")
        if mean is None:
            return None
        ci = stat.get("ci95")
        hw = None if not ci or None in ci else max(ci[1] - mean, mean - ci[0])
        return Estimate(float(mean), hw, unit)
    return Estimate(float(stat), None, unit)


def _count(value: Any) -> int | Estimate | None:
    """A capacity as printed: a plain integer when it is one."""
    return value if isinstance(value, int) else est(value)


def _num(stat: Any) -> float:
    e = est(stat)
    return math.nan if e is None else e.value


def flat_metrics(m: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Threshold metrics by name (``birth.e2e``, ``step.bhyt``) from a summary's metrics dict."""
    out: dict[str, dict[str, Any]] = {}
    for sid, svc in m.get("services", {}).items():
        entry: dict[str, Any] = {k: svc["e2e_wd"].get(k) for k in _DIST_STATS}
        entry.update(attainment=svc.get("attainment"), count=svc.get("done"), rate=svc.get("refusal_rate"))
        out[metric_names.e2e(sid)] = {**entry, "unit": "wd"}
    for step, st in m.get("steps", {}).items():
        entry = {k: st["elapsed_wd"].get(k) for k in _DIST_STATS}
        entry.update(attainment=st.get("attainment"), count=st.get("count"))
        out[metric_names.step(step)] = {**entry, "unit": "wd"}
    return out


def _service_ok(sid: str, svc: Mapping[str, Any], results: list[ThresholdResult]) -> bool:
    mine = [r for r in results if r.metric == metric_names.e2e(sid) and r.status != "not measured"]
    if mine:
        return not any(r.failed for r in mine)
    return _num(svc["e2e_wd"].get("p95")) <= float(svc["deadline_wd"])


def _worst_step(
    scenario: Scenario, m: Mapping[str, Any], services: list[str]
) -> tuple[str, dict[str, Any]] | None:
    """The step of ``services`` with the lowest attainment of its own limit (ties: longest p95)."""
    steps = {s for sid in services for v in scenario.services[sid].variants.values() for s in v.steps}  # type: ignore[index]
    scored = [
        (_num(st.get("attainment")), -_num(st["elapsed_wd"].get("p95")), name, st)
        for name, st in m.get("steps", {}).items()
        if name in steps and st.get("limit_wd") is not None and not math.isnan(_num(st.get("attainment")))
    ]
    if not scored:
        return None
    _, _, name, st = min(scored, key=lambda t: (t[0], t[1]))
    return name, st


def _step_phrase(scenario: Scenario, name: str, st: Mapping[str, Any]) -> str:
    step = scenario.steps[name]
    late = 1 - _num(st.get("attainment"))
    p95 = _num(st["elapsed_wd"].get("p95"))
    limit = st.get("limit_wd")
    limit_text = "a same-day limit" if not limit else f"a {limit:g} WD limit"
    what = f"the {step.agency} step {name} ({_task(step.task)})"
    return f"{what} fails — {late:.0%} late, p95 {p95:.1f} WD vs {limit_text}"


def _task(task: str) -> str:
    return " ".join(_ACRONYMS.get(w, w) for w in task.split("_"))


def _group_phrase(sid: str, svc: Mapping[str, Any]) -> str:
    p95 = _num(svc["e2e_wd"].get("p95"))
    on_time = _num(svc.get("attainment"))
    return f"{sid} p95 {p95:.1f} WD vs {float(svc['deadline_wd']):g} WD, {on_time:.0%} on time"


def sim_verdict(scenario: Scenario, m: Mapping[str, Any], results: list[ThresholdResult]) -> str:
    """The first sentence: do the services meet their deadlines; if not, which step fails and by how much."""
    every = dict(m.get("services", {}))
    services = {sid: svc for sid, svc in every.items() if _simulated(svc)}
    idle = [sid for sid in every if sid not in services]
    aside = "".join(f" The {sid} group is not simulated: it has no demand." for sid in idle)
    if not services:
        return "Not judged: no dossier arrived in the simulated window." + aside
    failing = [sid for sid, svc in services.items() if not _service_ok(sid, svc, results)]
    if not failing:
        both = "both groups meet" if len(services) == 2 else f"the {next(iter(services))} group meets"
        figures = ", ".join(
            f"{sid} p95 {_num(svc['e2e_wd'].get('p95')):.1f} WD (limit {float(svc['deadline_wd']):g}), "
            f"{_num(svc.get('attainment')):.0%} on time"
            for sid, svc in services.items()
        )
        their = "their deadlines" if len(services) == 2 else "its deadline"
        return f"Yes: {both} {their} — {figures}.{aside}"
    # Each failing group is blamed on its own worst step; groups sharing one are named together.
    by_step: dict[str | None, list[str]] = {}
    for sid in failing:
        worst = _worst_step(scenario, m, [sid])
        by_step.setdefault(worst[0] if worst else None, []).append(sid)
    clauses = []
    for name, sids in by_step.items():
        groups = " and ".join(f"the {sid} group" for sid in sids)
        verb = "misses its deadline" if len(sids) == 1 else "miss their deadlines"
        detail = "; ".join(_group_phrase(sid, services[sid]) for sid in sids)
        cause = "" if name is None else f"{_step_phrase(scenario, name, m['steps'][name])}, so "
        clauses.append(f"{cause}{groups} {verb} ({detail})")
    return f"No: {'; and '.join(clauses)}.{aside}"


def _simulated(svc: Mapping[str, Any]) -> bool:
    """Whether any dossier of the group arrived (in any replication): a group without demand is
    not simulated, and has nothing to judge (its figures would be empty, never "nan")."""
    arrivals = svc.get("arrivals")
    if arrivals is None:  # figures without arrival counts: judged as given
        return True
    if isinstance(arrivals, Mapping):
        values = arrivals.get("values") or [arrivals.get("mean")]
        return any(v for v in values if v is not None)
    return bool(arrivals)


def write_step_csv(m: Mapping[str, Any], path: Path) -> Path:
    """Per-step aggregates (mean over replications with 95% CI bounds) as CSV."""
    cols = ["step", "agency", "limit_wd", "count", "open", "open_late", "attainment", "attainment_lo",
            "attainment_hi", "p_wait", "p_wait_lo", "p_wait_hi"]  # fmt: skip
    for fam in ("wait_min", "elapsed_wd"):
        for s in _DIST_STATS:
            cols += [f"{fam}_{s}", f"{fam}_{s}_lo", f"{fam}_{s}_hi"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for name, st in m.get("steps", {}).items():
            row: list[Any] = [
                name,
                st.get("agency"),
                st.get("limit_wd"),
                _num(st.get("count")),
                _num(st.get("open")),
                _num(st.get("open_late")),
            ]
            row += _triple(st.get("attainment")) + _triple(st.get("p_wait"))
            for fam in ("wait_min", "elapsed_wd"):
                for s in _DIST_STATS:
                    row += _triple(st[fam].get(s))
            w.writerow(["" if isinstance(v, float) and math.isnan(v) else v for v in row])
    return path


def _triple(stat: Any) -> list[float]:
    e = est(stat)
    if e is None:
        return [math.nan] * 3
    return [e.value, e.low, e.high]


def sim_report(
    scenario: Scenario,
    m: Mapping[str, Any],
    results: list[ThresholdResult],
    figures: list[Figure],
    *,
    meta: Mapping[str, str],
    replications: int,
    days: int,
) -> Report:
    """The whole report of a ``lienthong sim`` run."""
    sections = [
        Section(
            "Services",
            text=[
                f"Mean over {replications} replications of {days} days, ± the 95% confidence half-width; "
                "working days used, counted like the statutory deadline (0 = done on the day received, "
                "the 15:00 rule applied).",
                _censoring_note(m),
            ],
            tables=[_service_table(m)],
        ),
        Section("Steps", tables=[_step_table(scenario, m)]),
        Section("Agencies", tables=[_agency_table(m)]),
        Section("Figures", figures=figures),
    ]
    notes = [f"{k}: {a.value} — {a.source}" for k, a in scenario.assumptions.items()]
    return Report(
        title=f"{scenario.meta.name} — digital twin",
        verdict=sim_verdict(scenario, m, results),
        key_figures=_key_figures(m, results),
        sections=sections,
        thresholds=results,
        checks=_checks(m),
        metrics=dict(m),
        notes=notes,
        meta=meta,
    )


def _key_figures(m: Mapping[str, Any], results: list[ThresholdResult]) -> list[KeyFigure]:
    """Per service its p95 end to end (pass/fail) and on-time share; the backlog at the horizon."""
    key: list[KeyFigure] = []
    for sid, svc in m.get("services", {}).items():
        ok = _service_ok(sid, svc, results)
        deadline = f"deadline {float(svc['deadline_wd']):g} WD"
        p95 = est(svc["e2e_wd"].get("p95"), "wd")
        key.append(KeyFigure(f"{sid} p95 end to end", p95, status="pass" if ok else "fail", note=deadline))
        key.append(
            KeyFigure(f"{sid} on time", est(svc.get("attainment"), "%"), note="share within the deadline")
        )
    key.append(KeyFigure("open at horizon", est(m.get("backlog", {}).get("open_at_horizon")), note="backlog"))
    return key


def _checks(m: Mapping[str, Any]) -> list[Check]:
    """The model's own checks, not blocking: Little's law and the warm-up against MSER-5."""
    little = m.get("little", {})
    warm = m.get("warmup", {})
    mser = _num(warm.get("mser5_days"))
    declared = _num(warm.get("declared_days"))
    return [
        Check(
            "Little's law L = λW",
            bool(little.get("ok")),
            f"L = {_num(little.get('L')):.1f}, λW = {_num(little.get('lambda_W')):.1f} "
            f"(relative error {_num(little.get('rel_error')):.1%})",
            blocking=False,
        ),
        Check(
            "warm-up long enough (MSER-5)",
            math.isnan(mser) or mser <= declared,
            f"declared {declared:g} days, "
            + ("MSER-5 cannot tell: too few hours after the cut (fewer than 10 points)" if math.isnan(mser)
               else f"MSER-5 suggests {mser:.1f} days"),
            blocking=False,
        ),
    ]


def sim_figures(scenario: Scenario, summary: SimSummary, shown: SimResult, run: RunFolder) -> list[Figure]:
    """The report's plots, written into ``run``: backlog and steps of replication ``shown``,
    weekly attainment across replications, desk utilisation by hour of the week."""
    from sim import plots

    target = next(
        (t.parts[2] for t in scenario.thresholds if t.parts[0] == "attainment" and t.metric.endswith(".e2e")),
        None,
    )
    dossiers = shown.dossiers if shown.dossiers.size else None
    backlog = plots.backlog_plot(
        shown.timeline, run.file("backlog.png"), scenario=scenario, dossiers=dossiers
    )
    attainment = plots.attainment_plot(
        summary.replications, run.file("attainment.png"), scenario=scenario, target=target
    )
    figs = [
        Figure("Backlog over time", backlog, "Replication 0, hour by hour; grey bands are non-working days."),
        Figure(
            "SLA attainment by week",
            attainment,
            "Share finished within the group deadline, per week, with 95% CI across replications.",
        ),
    ]
    with contextlib.suppress(ValueError):  # no agency with desks: nothing to show
        heat = plots.utilisation_heatmap(summary.metrics, run.file("utilisation.png"))
        figs.append(
            Figure("Desk utilisation by hour of the week", heat, "Mean over replications, after the warm-up.")
        )
    if shown.steps.size:
        ecdf = plots.sojourn_plot(shown.steps, shown.step_names, run.file("steps.png"), scenario=scenario)
        figs.append(
            Figure(
                "Time per step vs its limit", ecdf, "Replication 0, every step finished (warm-up included)."
            )
        )
    return figs


def _censoring_note(m: Mapping[str, Any]) -> str:
    """How dossiers still open at the horizon are counted, with this run's figures."""
    parts = [
        f"{sid} {_num(svc.get('open')):.0f} open, {_num(svc.get('open_late')):.0f} of them past due"
        for sid, svc in m.get("services", {}).items()
    ]
    return (
        "Dossiers still open at the horizon are not left out: each counts in the percentiles with the "
        "working days it has used so far (a lower bound, so a percentile is at least the figure shown), "
        "and as late in the on-time share once past its due time "
        f"(mean per replication: {'; '.join(parts)})."
    )


def _service_table(m: Mapping[str, Any]) -> Table:
    rows = []
    for sid, svc in m.get("services", {}).items():
        e2e = svc["e2e_wd"]
        rows.append(
            [
                sid,
                f"{float(svc['deadline_wd']):g} WD",
                est(svc.get("arrivals")),
                est(svc.get("done")),
                est(svc.get("refused")),
                est(svc.get("open")),
                est(svc.get("open_late")),
                est(svc.get("attainment"), "%"),
                est(e2e.get("p50"), "wd"),
                est(e2e.get("p95"), "wd"),
                est(e2e.get("max"), "wd"),
            ]
        )
    cols = ["service", "deadline", "dossiers", "done", "refused", "open", "open past due", "on time"]
    cols += ["p50", "p95", "max"]
    return Table("End to end", cols, rows)


def _step_table(scenario: Scenario, m: Mapping[str, Any]) -> Table:
    rows = []
    for name, st in m.get("steps", {}).items():
        step = scenario.steps[name]
        limit = st.get("limit_wd")
        rows.append(
            [
                f"{name} — {step.task.replace('_', ' ')} ({step.name_vi})",
                st.get("agency"),
                "same WD" if limit == 0 else (f"{limit:g} WD" if limit is not None else "–"),
                est(st.get("count")),
                est(st.get("attainment"), "%"),
                est(st["wait_min"].get("p95"), "min"),
                est(st["elapsed_wd"].get("p50"), "wd"),
                est(st["elapsed_wd"].get("p95"), "wd"),
            ]
        )
    cols = ["step", "agency", "limit", "count", "within limit", "wait p95", "time p50", "time p95"]
    note = (
        "Time: working days from ready to done, counted like the step's limit (0 = the same WD); steps "
        "open at the horizon count with their time so far, and as late once past their limit."
    )
    return Table("Per step", cols, rows, note=note)


def _agency_table(m: Mapping[str, Any]) -> Table:
    rows = []
    for aid, ag in m.get("agencies", {}).items():
        rows.append(
            [
                aid,
                _count(ag.get("desks")),
                _count(ag.get("servers")),
                est(ag.get("desk_utilisation"), "%"),
                est(ag.get("system_utilisation"), "%"),
                est(ag.get("desk_queue_mean")),
                est(ag.get("system_queue_mean")),
            ]
        )
    cols = [
        "agency",
        "desks",
        "servers",
        "desk busy",
        "system busy",
        "desk queue (mean)",
        "system queue (mean)",
    ]
    return Table("Capacity and utilisation", cols, rows, note="Desk utilisation over office hours only.")
