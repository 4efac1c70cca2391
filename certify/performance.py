"""Phase (e), performance: an open-model run of the agency's main write at the declared rate.

**The declared rate** defaults to the **national peak** for the agency, derived from the scenario
catalog (:func:`national_peak`):

1. ``national-2025``'s dossiers per working day (5,622 births, 2,610 deaths: 1.4 M and 0.65 M a
   year over 249 working days);
2. × the busiest weekday's weight (the scenarios' ``weekday_profile``: Monday 1.15 against a
   working-week mean of 1.03) × the busiest hour's share of a day (``online_hour_profile`` and
   ``desk_hour_profile`` mixed by each service's ``online_share``), per service;
3. × the requests that agency receives per dossier (the variants' shares and steps: e.g. VSS a
   card for 95 % of births, a funeral allowance for the pensioners and insured among deaths,
   police a PID and a residence per birth and two calls per death) ÷ 3,600 s;
4. × the largest arrival ``surge`` any catalog scenario puts on that agency (today
   ``incident-f5-vneid-surge``'s 10×, the VNeID spike of 28/08/2025).

For VSS that is 0.21 request/s in the national busiest hour, 2.08 with the surge; police 5.5,
health, justice and the portal 2.9, social 0.083 (funeral support is rare). ``--rate`` overrides.
The run lasts ``perf_seconds`` (20 s by default; ``--perf-seconds`` to lengthen it).

Arrivals are a Poisson stream from the seed (``⌈rate × perf_seconds⌉`` arrivals spread over the
window as a Poisson process places them: uniform order statistics), replayed by
``loadtests.driver.OpenModelDriver`` in a child process (coordinated-omission-safe: latency is
read from each request's *intended* start).
The achieved rate is measured from the requests' actual send times. The verdict uses the
scenario's ``http.latency`` and ``http.errors`` thresholds. If the generator itself fell behind,
the measurement is invalid and the requirements are *not run* rather than failed.
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from certify._main_writes import WRITES
from certify._outcomes import Blocked, Outcome, ensure, passed
from certify._run_context import Check, Ctx
from scenarios import Scenario, catalog, load

__all__ = ["CHECKS", "NATIONAL", "catalog_surge", "declared_rate", "national_peak", "peak_hour_rate"]

_TIMEOUT_S = 10.0
_MAX_LAG_S = 0.25  # a generator starting requests later than this could not hold the rate
_CALLS = {"remove_residence": 2}  # police: mark deceased, then remove the residence


def _calls_per_dossier(scenario: Scenario, service: str, agency: str) -> float:
    svc = scenario.services[service]  # type: ignore[index]
    if agency in ("portal", "health"):
        return 1.0  # one submission; one certificate or death notice
    shares = scenario.demand.death_status
    total = 0.0
    for variant in svc.variants.values():
        for sid in variant.steps:
            step = scenario.steps[sid]
            if step.agency != agency:
                continue
            weight = 1.0 if step.when_status is None else sum(shares.get(s, 0.0) for s in step.when_status)
            total += variant.share * weight * _CALLS.get(step.task, 1)
    return total


def peak_hour_rate(scenario: Scenario, agency: str) -> float:
    """Requests per second to ``agency`` in the scenario's busiest hour (no safety factor)."""
    d = scenario.demand
    weekday = np.asarray(d.weekday_profile[:5])
    busiest_day = float(weekday.max() / weekday.mean())
    online = np.asarray(d.online_hour_profile) / sum(d.online_hour_profile)
    desk = np.asarray(d.desk_hour_profile) / sum(d.desk_hour_profile)
    per_wd = {"birth": d.births_per_wd, "death": d.deaths_per_wd}
    rate = 0.0
    for service, svc in scenario.services.items():
        hour = float((svc.online_share * online + (1 - svc.online_share) * desk).max())
        dossiers = per_wd[service] * d.multiplier * busiest_day * hour
        rate += dossiers * _calls_per_dossier(scenario, service, agency) / 3600.0
    return rate


NATIONAL = "national-2025"  #: the catalog scenario whose volumes are the national ones


@functools.cache
def catalog_surge(agency: str) -> tuple[float, str]:
    """The largest arrival ``surge`` factor a catalog scenario puts on ``agency`` (or on every
    agency), and the scenario's name; (1.0, "") when none does."""
    best = (1.0, "")
    for name in catalog():
        for f in load(name).faults:
            if f.kind == "surge" and f.agency in ("*", agency) and (f.factor or 1.0) > best[0]:
                best = (float(f.factor or 1.0), name)
    return best


def national_peak(agency: str) -> dict[str, Any]:
    """The national peak for ``agency`` and how it is derived (see the module docstring)."""
    peak = peak_hour_rate(load(NATIONAL), agency)
    surge, source = catalog_surge(agency)
    return {"scenario": NATIONAL, "busiest_hour_per_s": round(peak, 5), "surge": surge,
            "surge_scenario": source, "rate_per_s": round(peak * surge, 4)}


def declared_rate(agency: str, rate: float | None = None) -> float:
    """The rate to certify at: ``rate`` if given, else the national peak for ``agency``."""
    if rate is not None:
        return float(rate)
    return float(national_peak(agency)["rate_per_s"])


def _limits(scenario: Scenario) -> tuple[float, float, bool]:
    """(p95 limit in ms, error-rate limit, error limit strict) from the scenario's thresholds."""
    p95_ms, err, strict = 1000.0, 0.01, True
    for t in scenario.thresholds:
        stat, op, value, unit = t.parts
        if t.metric == "http.latency" and stat == "p95":
            p95_ms = value * (1000.0 if unit == "s" else 1.0)
        if t.metric == "http.errors" and stat == "rate":
            err, strict = value, op == "<"
    return p95_ms, err, strict


def _measure(ctx: Ctx) -> dict[str, Any]:
    """The load run, once per certification (both checks read it; a run that broke is not
    repeated: both checks get its error)."""
    if "performance" in ctx.notes:
        return dict(ctx.notes["performance"])
    if "performance_error" in ctx.notes:
        raise RuntimeError(f"the load run broke: {ctx.notes['performance_error']}")
    try:
        return _run_load(ctx)
    except Exception as exc:
        ctx.notes["performance_error"] = f"{type(exc).__name__}: {exc}"
        raise


def _run_load(ctx: Ctx) -> dict[str, Any]:
    w = WRITES[ctx.agency]
    ctx.notes.setdefault("contract_ops", set()).add(f"POST {w.path}")
    rate = declared_rate(ctx.agency, ctx.options.rate)
    n = max(1, math.ceil(rate * ctx.options.perf_seconds))
    # a Poisson stream of n arrivals over the window: given their number, the arrival times of a
    # Poisson process are uniform order statistics (so the run lasts the window, at the rate)
    due = np.sort(ctx.rng("performance").uniform(0.0, ctx.options.perf_seconds, n))
    due -= due[0]
    reqs = []
    for i in range(n):
        body = w.make(ctx, f"perf/{i}")
        reqs.append({"method": "POST", "path": w.path, "body": json.dumps(body, ensure_ascii=False),
                     "headers": {"X-API-Key": ctx.scenario.callers[w.caller].key,
                                 "Idempotency-Key": ctx.key(f"perf/{i}", body),
                                 "Content-Type": "application/json"}})
    cfg = {"target": ctx.vendor_url, "requests": reqs, "due_s": due.tolist(), "timeout": _TIMEOUT_S,
           "max_seconds": float(due[-1]) + _TIMEOUT_S + 5, "drain_s": _TIMEOUT_S + 5}
    out = _load(ctx, cfg)
    rows = np.array([[np.nan if x is None else x for x in r] for r in out["rows"]], dtype=float)
    done = np.isfinite(rows[:, 2])
    latency = (rows[done, 2] - rows[done, 0]) * 1000.0   # from the intended start
    service = (rows[done, 2] - rows[done, 1]) * 1000.0   # from the actual start
    ok = done & np.isin(rows[:, 3], w.accepted)  # 202: accepted into work (CONTRACT.md §13)
    sent = np.sort(rows[np.isfinite(rows[:, 1]), 1])
    p95_ms, err_limit, strict = _limits(ctx.scenario)
    result = {
        "operation": f"POST {w.path}", "declared_rate_per_s": round(rate, 4),
        "declared_from": "--rate" if ctx.options.rate is not None else national_peak(ctx.agency),
        "seconds": ctx.options.perf_seconds, "requests": n, "sent": int(sent.size),
        "completed": int(done.sum()),
        "errors": int(n - ok.sum()), "error_rate": float((n - ok.sum()) / n),
        # the schedule's rate and the one achieved: (requests − 1) over the first-to-last span,
        # of intended starts and of actual send times respectively
        "planned_rate_per_s": round((n - 1) / float(due[-1]), 4) if n > 1 and due[-1] > 0 else None,
        "achieved_rate_per_s": (round((sent.size - 1) / float(sent[-1] - sent[0]), 4)
                                if sent.size > 1 and sent[-1] > sent[0] else None),
        "latency_ms": _stats(latency), "service_ms": _stats(service),
        "limits": {"p95_ms": p95_ms, "error_rate": err_limit, "error_strict": strict},
        "driver": out["driver"],
    }
    ctx.notes["performance"] = result
    return result


def _load(ctx: Ctx, cfg: dict[str, Any]) -> dict[str, Any]:
    """Run ``cfg`` in ``python -m certify._load_generator`` (this process's folder, absolute paths,
    ``-P``: that folder is not on the child's ``sys.path``); its output. The config and output
    live in the run's work folder (removed with it); the child is killed if the run is stopped."""
    work = Path(tempfile.mkdtemp(prefix="perf-", dir=ctx.work_dir)).resolve()
    (work / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-P", "-m", "certify._load_generator",
                             str(work / "config.json"), str(work / "out.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    ctx.cleanup.callback(_kill, proc)
    try:
        _, err = proc.communicate(timeout=cfg["max_seconds"] + 60)
    except subprocess.TimeoutExpired:
        _kill(proc)
        limit = cfg["max_seconds"] + 60
        raise RuntimeError(f"the load process did not finish within {limit:.0f} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"load process failed: {err[-1500:]}")
    out: dict[str, Any] = json.loads((work / "out.json").read_text(encoding="utf-8"))
    return out


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def _stats(x: np.ndarray) -> dict[str, float | None]:
    if not x.size:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(x, [50, 95, 99])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2), "p99": round(float(p99), 2),
            "max": round(float(x.max()), 2)}


def _valid(m: dict[str, Any]) -> None:
    drv = m["driver"]
    if drv["dropped"] or drv["not_sent"] or drv["start_lag_p99_s"] > _MAX_LAG_S:
        raise Blocked(f"the load generator could not hold the declared rate (p99 start lag "
                      f"{drv['start_lag_p99_s']:.3f} s, dropped {drv['dropped']}, "
                      f"not sent {drv['not_sent']}): no verdict")


def p95_latency_within_the_threshold(ctx: Ctx) -> Outcome:
    m = _measure(ctx)
    _valid(m)
    p95, limit = m["latency_ms"]["p95"], m["limits"]["p95_ms"]
    ensure(p95 is not None and p95 <= limit, f"p95 latency {p95} ms at {m['declared_rate_per_s']}/s "
           f"exceeds {limit:g} ms ({m['requests']} requests, service p95 {m['service_ms']['p95']} ms)")
    return passed(f"p95 {p95} ms ≤ {limit:g} ms at {m['declared_rate_per_s']}/s over "
                  f"{m['requests']} requests", **{"latency_ms": m["latency_ms"]})


def error_rate_within_the_threshold(ctx: Ctx) -> Outcome:
    m = _measure(ctx)
    _valid(m)
    rate, limit = m["error_rate"], m["limits"]["error_rate"]
    ok = rate < limit if m["limits"]["error_strict"] else rate <= limit
    ensure(ok, f"{m['errors']} of {m['requests']} requests failed ({rate:.1%}; limit {limit:.1%})")
    return passed(f"{m['errors']} of {m['requests']} requests failed ({rate:.1%} < {limit:.1%})")


# The requirement each check decides: the key of a requirement common to every agency
# (``PERF-001`` decides ``VSS-PERF-001`` and every other agency's) or the full id of one agency's.
CHECKS: dict[str, Check] = {
    "PERF-001": p95_latency_within_the_threshold,
    "PERF-002": error_rate_within_the_threshold,
}
