"""One load process's share of the arrival stream, replayed open-model (private).

Used by :class:`loadtests.users.ArrivalUser` in a local Locust runner (``lienthong run``) or on
each Locust worker (``lienthong load``): the whole stream is generated from the scenario seed in
every process, ``split_by_index`` keeps this worker's rows, and the results go to
``<out>/worker-<index>.npz`` (journeys, requests, steps) and ``worker-<index>.json`` (driver
counters and the accepted dossiers for reconciliation); a Locust worker then sends both to its
master (:mod:`loadtests._cluster`), which may be on another host.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import numpy as np

import scenarios
from loadtests._config import LoadConfig
from loadtests._http import Caller
from loadtests._payloads import CitizenPayloads
from loadtests._records import REQUEST_DTYPE, Table
from loadtests._traffic import MAX_REQUESTS, TrafficRunner, traffic_share
from loadtests.driver import OpenModelDriver, wall_offsets
from loadtests.journeys import INCOMPLETE, JourneyRunner, ScenarioClock
from loadtests.results import stream_of
from scenarios.demand import calendar_for
from scenarios.desks import Workdays
from scenarios.model import DEATH_STATUSES
from sim.arrivals import split_by_index

__all__ = ["Prepared", "prepare", "replay", "stream_of"]

ROLES = ("hospital", "desk", "citizen")


class Prepared:
    """A worker's share, its payload builder and its journey runner, ready to replay."""

    def __init__(self, cfg: LoadConfig, session: Any, worker_index: int) -> None:
        self.cfg, self.worker_index = cfg, worker_index
        self.scenario = scenarios.load(cfg.scenario)
        full = stream_of(self.scenario, cfg)
        self.payloads = CitizenPayloads(self.scenario, full, cfg.seed)
        share = split_by_index(full, cfg.workers, worker_index).copy()
        share["submitted"] += cfg.shift_minutes
        self.share = share
        self.log = Table(REQUEST_DTYPE, 4096)
        callers = {
            role: Caller(session, _key(cfg, role), self.log, cfg.request_timeout_s,
                         origin=cfg.health_url if role == "hospital" else "")
            for role in ROLES
        }
        self.traffic = traffic_share(self.scenario, full, cfg.days, cfg.workers, worker_index,
                                     cfg.shift_minutes)
        self.traffic_log = Table(REQUEST_DTYPE, 1024)
        self.traffic_runner = self._traffic_runner(session, full) if self.traffic.size else None
        t0 = cfg.t0 if cfg.t0 > 0 else await_go(cfg.go_file) if cfg.go_file else time.time() + 1.0
        self.clock = ScenarioClock(t0=t0, speed=cfg.speed)
        self.deadline = max(t0, time.time()) + cfg.max_seconds
        rng = random.Random(hash((cfg.run_tag, worker_index)) & 0xFFFFFFFF)
        self.runner = JourneyRunner(
            self.scenario,
            share,
            self.payloads,
            callers,
            clock=self.clock,
            deadline=self.deadline,
            poll_interval_s=cfg.poll_interval_s,
            run_tag=cfg.run_tag,
            supplement=self._supplement_fn(rng),
            seed=worker_index,
            horizon=float(self.clock.wall(cfg.days * 1440.0 + cfg.shift_minutes)),
        )

    def _traffic_runner(self, session: Any, full: Any) -> TrafficRunner:
        """Non-dossier traffic (``extra`` surges): the desk at the portal, the portal's key at
        police (its own ``base_url`` when the scenario names one), in their own request table."""
        cfg, police = self.cfg, self.scenario.agencies.get("police")
        origin = police.base_url if police is not None and police.base_url else ""
        callers = {"desk": Caller(session, _key(cfg, "desk"), self.traffic_log, cfg.request_timeout_s),
                   "portal": Caller(session, _key(cfg, "portal"), self.traffic_log, cfg.request_timeout_s,
                                    origin=origin or "")}
        pids = [self.payloads.applicant_pid(a) for a in full[:512]]
        return TrafficRunner(self.traffic, callers, pids, cfg.run_tag)

    def _supplement_fn(self, rng: random.Random) -> Any:
        """When an incomplete dossier is resubmitted complete (wall time), or None if never: as
        the twin does, ``supplement_delay_wd`` of the receiving agency's office time after the
        submission (from its next opening), if that is within the ``supplement_wd`` window."""
        s = self.scenario
        span = self.cfg.days + 400
        office = {sid: Workdays(calendar_for(s, s.steps[next(iter(svc.variants.values())).steps[0]].agency),
                                s.calendar.start, span)
                  for sid, svc in s.services.items()}

        def later(a: np.void) -> float | None:
            sid = "birth" if int(a["service"]) == 0 else "death"
            svc, days = s.services[sid], office[sid]  # type: ignore[index]
            if rng.random() >= svc.supplement_share:
                return None
            wd = float(svc.supplement_delay_wd.sample(np.random.default_rng(rng.getrandbits(32))))
            sub = float(a["submitted"])
            back = days.avail.advance(days.avail.next_open(sub), wd * days.full_day)
            window = float(days.deadline(np.array([sub]), svc.supplement_wd)[0])
            if not back <= window:
                return None
            return float(self.clock.wall(back))

        return later


def await_go(path: str, timeout_s: float = 300.0) -> float:
    """Says ``{"ready": true}`` on stdout, then waits (cooperatively) for ``{"t0": …}`` in
    ``path``; returns t0. Raises RuntimeError when nothing comes within ``timeout_s``."""
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    go, end = Path(path), time.time() + timeout_s
    while time.time() < end:
        if go.exists():
            try:
                return float(json.loads(go.read_text(encoding="utf-8"))["t0"])
            except (ValueError, KeyError):
                pass  # being written
        gevent.sleep(0.02)
    raise RuntimeError(f"no start time in {path} after {timeout_s:g} s")


def _key(cfg: LoadConfig, role: str) -> str:
    if role not in cfg.keys:
        raise ValueError(f"no API key for the {role!r} caller; the config has keys for {sorted(cfg.keys)}")
    return cfg.keys[role]


def prepare(cfg: LoadConfig, session: Any, worker_index: int) -> Prepared:
    """Builds this worker's share; raises ValueError on a bad config."""
    return Prepared(cfg, session, worker_index)


def replay(p: Prepared, report: Callable[[Prepared, OpenModelDriver], None] | None = None) -> dict[str, Any]:
    """Drives the share open-model, writes the worker's files, returns a small summary.

    ``report(p, driver)``, when given, is called twice a second while the share is driven
    (a Locust worker's heartbeat to its master, :mod:`loadtests._cluster`)."""
    cfg = p.cfg
    due = wall_offsets(p.share["submitted"], cfg.speed)
    driver = OpenModelDriver(
        due,
        p.runner,
        max_seconds=max(1.0, p.deadline - max(p.clock.t0, time.time())),
        drain_s=cfg.drain_s,
        # A journey lives as long as its dossier: with agencies in time, days of scenario time
        # (a backlog after Tết keeps thousands open). Never drop an arrival for that: every one
        # of the share may be open at once (bounded, at most the share's size and 200,000).
        max_in_flight=min(200_000, max(1000, 4 * cfg.concurrency, int(p.share.size))),
    )
    ticker = gevent.spawn(_progress, p, driver, report) if cfg.progress or report is not None else None
    side = _traffic_driver(p)
    extra = gevent.spawn(side.run, p.clock.t0) if side is not None else None
    try:
        stats = driver.run(p.clock.t0)
        if extra is not None:
            extra.join(timeout=max(0.0, p.deadline - time.time()) + 5)
    except gevent.GreenletExit:
        # Locust stopped the user (``-t`` ran out, or the UI's stop): keep what was recorded.
        _write(p, {**driver.stats.as_dict(), "interrupted": 1}, side)
        raise
    finally:
        if ticker is not None:
            ticker.kill()
        if extra is not None:
            extra.kill()
    if cfg.progress:
        _emit(p, driver, final=True)
    return _write(p, stats.as_dict(), side)


def _traffic_driver(p: Prepared) -> OpenModelDriver | None:
    """The open-model driver of this worker's non-dossier traffic (None without any): its own
    schedule and counters, within the same time bound as the dossiers'."""
    if p.traffic_runner is None:
        return None
    return OpenModelDriver(
        wall_offsets(p.traffic["minute"], p.cfg.speed),
        p.traffic_runner,
        max_seconds=max(1.0, p.deadline - max(p.clock.t0, time.time())),
        drain_s=p.cfg.drain_s,
        max_in_flight=min(MAX_REQUESTS, max(1000, 4 * p.cfg.concurrency)),
    )


def _progress(p: Prepared, driver: OpenModelDriver,
              report: Callable[[Prepared, OpenModelDriver], None] | None = None) -> None:
    end, last = p.deadline + 5, 0.0
    while time.time() < end:
        if p.cfg.progress:
            _emit(p, driver)
        if report is not None and time.time() - last >= 0.45:
            last = time.time()
            report(p, driver)
        gevent.sleep(0.5)


def _emit(p: Prepared, driver: OpenModelDriver, final: bool = False) -> None:
    rows = p.runner.rows
    doc = {
        "progress": True,
        "final": final,
        "total": int(rows.size),
        "started": driver.stats.started,
        "accepted": int(np.count_nonzero(np.isfinite(rows["accepted"]))),
        "finished": int(np.count_nonzero(np.isfinite(rows["finished"]))),
        "requests": len(p.log),
        "minute": float(p.clock.minute(time.time())),
    }
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def _write(p: Prepared, driver_stats: dict[str, Any], side: OpenModelDriver | None = None) -> dict[str, Any]:
    out = Path(p.cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"worker-{p.worker_index}"
    np.savez(
        stem.with_suffix(".npz"), journeys=p.runner.rows, requests=p.log.rows(), steps=p.runner.steps.rows(),
        traffic=p.traffic_log.rows(),
    )
    r = p.runner
    unanswered = sorted(i for i in r.docs if i not in r.ids and r.rows[i]["outcome"] != INCOMPLETE)
    submissions = [_submission(p, i) for i in sorted(r.ids)]
    submissions += [_submission(p, i, answered=False) for i in unanswered]
    summary = {
        "worker": p.worker_index,
        "workers": p.cfg.workers,
        "t0": p.clock.t0,
        "speed": p.clock.speed,
        "driver": driver_stats,
        "submissions": submissions,
        "arrivals": int(p.share.size),
        # non-dossier traffic (extra surges), apart from the dossiers' driver counters
        "traffic": {"planned": int(p.traffic.size), **(side.stats.as_dict() if side is not None else {})},
        "end_minute": float(p.clock.minute(time.time())),
    }
    stem.with_suffix(".json").write_text(json.dumps(summary), encoding="utf-8")
    return {k: v for k, v in summary.items() if k != "submissions"}


def _submission(p: Prepared, i: int, answered: bool = True) -> dict[str, Any]:
    """The reconciliation record of arrival ``i``: an accepted dossier (``answered``) or one whose
    submission got no 202 (timeout or refusal: the portal may still have accepted it)."""
    a = p.share[i]
    service = "birth" if int(a["service"]) == 0 else "death"
    n = int(a["dossier"])
    status = DEATH_STATUSES[int(a["status"])] if int(a["status"]) < len(DEATH_STATUSES) else "none"
    return {
        "index": n,
        "code": p.runner.ids.get(i, ""),
        "service": service,
        "variant": tuple(p.scenario.services[service].variants)[int(a["variant"])],  # type: ignore[index]
        "document": p.runner.docs[i],
        "household": p.payloads.household_of(n) if service == "birth" else "",
        "status": status if service == "death" else "none",
        "answered": answered,
        "refusal": p.runner.refused.get(i, ""),
        "returned": p.runner.returned.get(i, ""),
    }
