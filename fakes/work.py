"""Agencies in time: each write's desk and system time on the agency's desks and calendar.

In in-time mode (``scenario.load.agencies == "in_time"``) a write that completes a step of the
scenario (:data:`RECORDS`: the task of each agency write) is booked, once it is accepted, on the
agency's :class:`scenarios.desks.Office` at ``ready`` = the scenario minute now: a draw of the
step's ``desk_time`` at the first free desk (on the working calendar), then a draw of its
``system_time`` on the first free server (up except during outages). The twin books its desks
with the same ``Pool``, so a step takes the same time in both for the same draws. The register
write runs in the same transaction, **dated at the completion** (its ``Env`` has the clock
stopped at the booked end), and the answer is **202** with a *work resource*
(``/<agency>/work/{work_id}``: ``queued`` → ``in_work`` → ``done`` with the record as ``result``).

What is stored, in the agency's SQLite, in the write's own transaction:

- ``work``: one row per booked write (minutes: accepted, start, desk end, system start, end;
  the record as it will be shown). The desks' and servers' state is *derived* from it, not saved
  apart: a FIFO pool's ``free`` heap is always the ``units`` largest task ends booked on it (each
  booking replaces the smallest free time by a later end), so a restarted server takes the
  largest ``desk_end`` for its desks; the servers are a ``Timetable`` (a system phase is booked
  at acceptance for when the desk will be done, so asks come out of time order and idle time
  before later bookings is filled), rebuilt from the system phases that end after the last
  acceptance; the draws skip as many values as the step has work rows.
- ``unseen``: the keys of the records a work made, with the minute they may be shown from;
  register reads and single GETs filter on it (:func:`shown`) so nobody sees work not done yet.

A refusal books nothing: the pools' free lists are copied before the booking and put back (and
the draws stepped back) when ``write`` raises.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.responses import Response

from fakes._clock import Clock
from fakes._env import Env
from fakes.auth import Who, require
from fakes.ids import mask
from fakes.problems import Problem
from fakes.store import Store, dumps
from scenarios.demand import calendar_for
from scenarios.desks import Draws, Office, Timetable, service_rng
from scenarios.model import Scenario

__all__ = ["ACCEPTED", "EXPORT", "HORIZON_DAYS", "PENDING", "RECORDS", "SCHEMA", "Desks", "WorkView",
           "add_routes", "desks_of", "gauges", "install", "shown"]

#: The task each agency write completes, and the keys of the records it makes (hidden until
#: the work is done). ``POST /police/deaths`` and health's writes are not steps: instant.
RECORDS: dict[str, tuple[str, ...]] = {
    "register_birth": ("register_no",),
    "register_death": ("register_no",),
    "issue_pid": ("request_id", "pid"),
    "register_residence": ("residence_id",),
    "remove_residence": ("removal_id",),
    "issue_child_card": ("card_code",),
    "pay_funeral_allowance": ("payment_id",),
    "pay_funeral_support": ("payment_id",),
    "settle_survivor_benefit": ("payment_id",),
}
#: Statuses of a work resource (or a PID request) that is not finished yet.
PENDING = frozenset({"queued", "in_work", "pending"})
#: How many days of the working calendar an office books on (work ending later never ends).
HORIZON_DAYS = 730

SCHEMA = """
CREATE TABLE IF NOT EXISTS work (n INTEGER PRIMARY KEY, step TEXT NOT NULL,
  accepted REAL NOT NULL, start REAL NOT NULL, desk_end REAL, sys_start REAL,
  done_at REAL NOT NULL, result TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS work_done_at ON work(done_at);
CREATE TABLE IF NOT EXISTS unseen (record TEXT PRIMARY KEY, until REAL NOT NULL) WITHOUT ROWID;
"""
#: The work register in ``/admin/export/{agency}`` (minutes on the scenario clock).
EXPORT = ("SELECT json_object('work_id', printf('W%010d', n), 'step', step, 'status', "
          "CASE WHEN start > scenario_minute() THEN 'queued' "
          "WHEN done_at > scenario_minute() THEN 'in_work' ELSE 'done' END, "
          "'accepted', accepted, 'start', start, 'desk_end', desk_end, 'sys_start', sys_start, "
          "'done_at', done_at) FROM work ORDER BY n")
_WORK_ID = re.compile(r"^W([0-9]{1,18})$")
Out = tuple[int, dict[str, Any], dict[str, str]]


def shown(key: str) -> str:
    """SQL condition: the record whose key is the column ``key`` is not a work still in
    progress (``scenario_minute()`` is the server's clock, see :func:`install`)."""
    return f"NOT EXISTS (SELECT 1 FROM unseen WHERE record = {key} AND until > scenario_minute())"


class WorkView(BaseModel):
    """A write in work at an agency's desks (agencies in time)."""

    work_id: str
    agency: str
    step: str
    status: Literal["queued", "in_work", "done"]
    accepted_at: str
    started_at: str
    available_at: str | None
    completed_at: str | None
    result: dict[str, Any] | None


@dataclass(slots=True)
class _Step:
    """A step an agency books: its id, draws of desk and system time, the record keys."""

    sid: str
    desk: Draws | None
    system: Draws | None
    records: tuple[str, ...]


def _iso(clock: Clock, minute: float) -> str:
    return (clock.origin + dt.timedelta(minutes=minute)).isoformat()


def _top(db: sqlite3.Connection, column: str, where: str, units: int) -> list[float]:
    """The ``units`` largest ``column`` values of the work rows ``where`` (0.0 for the rest):
    the free times of a FIFO pool that booked them."""
    rows = db.execute(f"SELECT {column} FROM work WHERE {where} ORDER BY {column} DESC LIMIT ?",
                      (units,)).fetchall()
    return [float(r[0]) for r in rows] + [0.0] * (units - len(rows))


def _busy(db: sqlite3.Connection, units: int) -> list[list[tuple[float, float]]]:
    """The servers' timetable from the work register: the system phases not ended before the
    last booking (earlier ones can no longer matter), laid on ``units`` servers first fit — they
    were booked without overlap on that many, so they fit again."""
    last = db.execute("SELECT max(accepted) FROM work").fetchone()[0]
    rows = db.execute("SELECT sys_start, done_at FROM work WHERE sys_start IS NOT NULL "
                      "AND done_at > ? ORDER BY sys_start, done_at",
                      (float(last or 0.0) - 1.0,)).fetchall()
    busy: list[list[tuple[float, float]]] = [[] for _ in range(units)]
    for start, end in rows:
        unit = next((u for u in busy if not u or u[-1][1] <= start), None)
        if unit is None:  # pragma: no cover - cannot happen for bookings made on ``units``
            unit = min(busy, key=lambda u: u[-1][1])
        unit.append((float(start), float(end)))
    return busy


def _horizon(scenario: Scenario, agency: str) -> int:
    last = calendar_for(scenario, agency).last_year
    return max(1, min(HORIZON_DAYS, (dt.date(last, 12, 31) - scenario.calendar.start).days + 1))


def _real(x: float) -> float | None:
    return None if x != x else x


class Desks:
    """One agency's desks and servers in time, resumed from the work in its ``store``.

    Raises ValueError when a step needs desks or servers the agency does not have.
    """

    def __init__(self, scenario: Scenario, agency: str, store: Store,
                 days: int | None = None) -> None:
        self.agency = agency
        seed = scenario.meta.seed
        self.steps: dict[str, _Step] = {}
        for sid, step in scenario.steps.items():
            if step.agency != agency or step.task not in RECORDS or step.task in self.steps \
                    or (step.desk_time is None and step.system_time is None):
                continue
            desk = system = None
            if step.desk_time is not None:
                desk = Draws(step.desk_time, service_rng(seed, 0, f"fakes.{agency}.desk.{sid}"))
            if step.system_time is not None:
                system = Draws(step.system_time,
                               service_rng(seed, 0, f"fakes.{agency}.system.{sid}"))
            self.steps[step.task] = _Step(sid, desk, system, RECORDS[step.task])
        spec = scenario.agencies[agency]  # type: ignore[index]
        db = store.db
        free = {}
        if spec.desks:
            free["desks"] = _top(db, "desk_end", "desk_end IS NOT NULL", spec.desks)
        busy = _busy(db, spec.servers) if spec.servers else None
        self.office = Office(scenario, agency, days or _horizon(scenario, agency), free=free,
                             ahead=True, busy=busy)
        for s in self.steps.values():
            if s.desk is not None and self.office.desks is None:
                raise ValueError(f"step {s.sid!r} needs a desk but agency {agency!r} has none")
            if s.system is not None and self.office.servers is None:
                raise ValueError(f"step {s.sid!r} needs a server but agency {agency!r} has none")
        done = dict(db.execute("SELECT step, count(*) FROM work GROUP BY step").fetchall())
        for s in self.steps.values():  # the draws continue where the booked work left them
            for draws in (s.desk, s.system):
                if draws is not None:
                    for _ in range(int(done.get(s.sid, 0))):
                        draws()

    def step(self, task: str) -> _Step | None:
        """The step of ``task`` this agency books (None: the write is instant)."""
        return self.steps.get(task)

    def accept(self, env: Env, db: sqlite3.Connection, step: _Step,
               write: Callable[[Env, sqlite3.Connection], Out]) -> Out:
        """Book ``step`` now, run ``write`` dated at its end and record the work, inside the
        caller's transaction: ``(202, work view, {"Location": ...})``.

        Raises what ``write`` raises, and Problem 503 ``unavailable`` when the desks are booked
        beyond the calendar's horizon; nothing is booked then.
        """
        desks, servers = self.office.desks, self.office.servers
        assert servers is None or isinstance(servers, Timetable)
        ready = env.clock.minute()
        if servers is not None:
            servers.forget(ready - 1.0)  # nothing is booked before now any more
        saved_desks = desks.free[:] if desks is not None else None
        desk_work = step.desk() if step.desk is not None else None
        system_work = step.system() if step.system is not None else None
        t = None
        try:
            t = self.office.serve(ready, desk_work, system_work)
            if not t.end < math.inf:
                raise Problem(503, "unavailable", f"{self.agency}'s desks are booked beyond "
                              "their calendar", headers={"Retry-After": "60"})
            _, doc, _ = write(env.at(t.end), db)
            cur = db.execute("INSERT INTO work (step, accepted, start, desk_end, sys_start, "
                             "done_at, result) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (step.sid, ready, t.start, _real(t.desk_end), _real(t.sys_start),
                              t.end, dumps(doc)))
            for key in step.records:
                if (value := doc.get(key)) is not None:
                    db.execute("INSERT OR REPLACE INTO unseen VALUES (?, ?)", (value, t.end))
        except BaseException:
            if desks is not None and saved_desks is not None:
                desks.free = saved_desks
            if servers is not None and t is not None and t.sys_start == t.sys_start:
                servers.unbook(t.sys_start, t.end)
            for draws in (step.desk, step.system):
                if draws is not None:
                    draws.unget()  # the next booking gets the same draw
            raise
        n = int(cur.lastrowid or 0)
        view = _view(env.clock, self.agency, n, step.sid, ready, t.start, t.end, ready)
        view["result"] = doc if view["status"] == "done" else None
        return 202, view, {"Location": f"/{self.agency}/work/W{n:010d}"}


def _view(clock: Clock, agency: str, n: int, step: str, accepted: float, start: float,
          end: float, now: float) -> dict[str, Any]:
    """A work resource at minute ``now``, without its ``result``."""
    status = "queued" if start > now else "in_work" if end > now else "done"
    available = _iso(clock, end)
    return {"work_id": f"W{n:010d}", "agency": agency, "step": step, "status": status,
            "accepted_at": _iso(clock, accepted), "started_at": _iso(clock, start),
            "available_at": available, "completed_at": available if status == "done" else None,
            "result": None}


def desks_of(env: Env, agency: str) -> Desks | None:
    """``agency``'s desks in time on this server (None: instant, or not served here)."""
    desks: dict[str, Desks] = env.extras.get("desks") or {}
    return desks.get(agency)


def install(env: Env, agencies: Iterable[str]) -> None:
    """Give each store of ``agencies`` the SQL function ``scenario_minute()`` (the server's
    clock, for :func:`shown`) and, in in-time mode, each agency with steps its :class:`Desks`
    (``env.extras["desks"]``), resumed from its work register."""
    timed = env.scenario.load.agencies == "in_time"
    desks: dict[str, Desks] = {}
    for agency in agencies:
        store = env.stores[agency]
        store.db.create_function("scenario_minute", 0, env.clock.minute)
        if timed and agency in env.scenario.agencies \
                and any(s.agency == agency and s.task in RECORDS for s in env.scenario.steps.values()):
            office = Desks(env.scenario, agency, store)
            if office.steps:
                desks[agency] = office
    env.extras["desks"] = desks


def gauges(env: Env, agency: str) -> dict[str, Any]:
    """``agency``'s desks and servers now, in the twin's terms (``sim.records`` timeline):
    ``desk_queue`` (work waiting for a desk), ``desk_busy`` (at a desk), ``sys_queue`` (desk work
    done or none, waiting for a server), ``sys_busy`` (on a server), and ``work`` by status."""
    db = env.stores[agency].db
    now = env.clock.minute()
    open_, queued, desk_q, desk_b, sys_q, sys_b = db.execute(
        "SELECT count(*), total(start > ?1), "
        "total(desk_end IS NOT NULL AND start > ?1), "
        "total(desk_end IS NOT NULL AND start <= ?1 AND desk_end > ?1), "
        "total(sys_start IS NOT NULL AND sys_start > ?1 AND coalesce(desk_end, start) <= ?1), "
        "total(sys_start IS NOT NULL AND sys_start <= ?1) FROM work WHERE done_at > ?1",
        (now,)).fetchone()
    total = db.execute("SELECT max(n) FROM work").fetchone()[0] or 0
    return {"desk_queue": int(desk_q), "desk_busy": int(desk_b), "sys_queue": int(sys_q),
            "sys_busy": int(sys_b),
            "work": {"queued": int(queued), "in_work": int(open_) - int(queued),
                     "done": int(total) - int(open_)}}


def add_routes(router: APIRouter, agency: str) -> None:
    """``GET /<agency>/work/{work_id}`` on ``agency``'s router (scope ``<agency>:read``)."""

    async def get_work(work_id: str, request: Request,
                       who: Who = Depends(require(f"{agency}:read"))) -> Response:
        env: Env = request.app.state.env
        store = env.stores[agency]
        await store.settled()
        m = _WORK_ID.fullmatch(work_id)
        row = store.one("SELECT n, step, accepted, start, done_at, result FROM work WHERE n = ?",
                        int(m[1])) if m else None
        if row is None:
            raise Problem(404, "not_found", f"no work {mask(work_id)} at {agency}")
        n, step, accepted, start, end, result = row
        view = _view(env.clock, agency, n, step, accepted, start, end, env.clock.minute())
        text = json.dumps(view, ensure_ascii=False)
        if view["status"] == "done":
            text = text[:-len('null}')] + result + "}"
        return Response(text.encode(), 200, media_type="application/json")

    get_work.__doc__ = (f"A write in work at {agency}'s desks: queued, in work, or done with "
                        "the record (agencies in time, CONTRACT.md §13).")
    router.add_api_route("/work/{work_id}", get_work, methods=["GET"], response_model=WorkView,
                         name=f"get_{agency}_work")


#: The 202 of an agency write in in-time mode, for the OpenAPI document.
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": WorkView, "description": "Accepted: booked at the agency's desks (agencies "
          "in time); header Location: the work resource, done with the record at "
          "available_at"}}
