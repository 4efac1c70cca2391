"""Journeys: each dossier of the stream followed from the hospital to its final status.

A journey is what the people of one arrival do: the hospital issues the e-birth certificate (or
death notice), the family submits the linked dossier online or at a one-stop desk, then polls its
status until it is ``completed`` or ``rejected``. :class:`JourneyRunner` runs one journey per
arrival (in a greenlet started by the open-model driver) and records one row per journey and one
per step; :func:`journey_metrics` turns those rows into end-to-end and per-step times in *working
days* on the scenario calendar, with the share of dossiers that met the statutory deadline.

Scenario time of a wall instant: ``minute = (wall - t0) * speed / 60`` (a
:class:`scenarios.clock.ScenarioClock`, also importable from here). When the target shares the
run's clock (the reference fakes started by ``lienthong run``), the portal's own
``completed_at``/step timestamps are used; otherwise the times observed by the poller.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import gevent
import numpy as np
import numpy.typing as npt

from fakes.citizen_keys import citizen_key
from loadtests._http import Caller, Reply, retry_until
from loadtests._records import JOURNEY_DTYPE, Table
from loadtests._stats import summary
from scenarios.clock import ScenarioClock
from scenarios.demand import calendar_for, start_datetime
from scenarios.model import Scenario

__all__ = [
    "ACCEPTED",
    "COMPLETED",
    "FAILED",
    "OPEN",
    "OUTCOMES",
    "STEP_DTYPE",
    "JourneyRunner",
    "Payloads",
    "ScenarioClock",
    "journey_metrics",
    "step_rows",
]

# How a journey ended; the index is JOURNEY_DTYPE.outcome. ``untracked``: the portal accepted
# the dossier but the code it answered with does not resolve (404 on every poll: incident F3).
# ``failed``: the portal gave the dossier up when a step's retry budget ran out.
OUTCOMES = ("completed", "rejected", "incomplete", "not_submitted", "stuck", "not_started", "untracked",
            "open", "failed")
COMPLETED, REJECTED, INCOMPLETE, NOT_SUBMITTED, STUCK, NOT_STARTED, UNTRACKED, OPEN, FAILED = range(9)
#: Accepted dossiers: completed, rejected, failed, stuck (no answer or no progress at the end) and
#: open (agencies in time: still in work at the desks when the run ended, as the twin's open ones).
ACCEPTED = (COMPLETED, REJECTED, STUCK, OPEN, FAILED)
UNKNOWN_CODE_POLLS = 3  # consecutive 404s on the dossier code given before a journey stops following
TERMINAL = ("completed", "rejected", "failed")
POLL_BACKOFF = 4.0  # the longest gap between two status polls, in poll intervals …
POLL_RATE = 150.0  # … or longer, so the dossiers followed are polled at most this often per second

STEP_DTYPE = np.dtype(
    [
        ("dossier", "i8"),
        ("step", "U24"),
        ("status", "U12"),
        ("started", "f8"),
        ("finished", "f8"),
        ("attempts", "u2"),
    ]
)


class Payloads(Protocol):
    """Builds the requests of one arrival (a row of ``sim.arrivals``)."""

    def certificate(self, arrival: np.void) -> tuple[str, str, dict[str, Any]]:
        """``(kind, path, body)`` of the hospital's e-birth certificate or death notice."""
        ...

    def dossier(self, arrival: np.void, document_id: str, *, complete: bool = True) -> dict[str, Any]:
        """The portal submission body; ``complete=False`` leaves out the group's section."""
        ...

    def applicant_pid(self, arrival: np.void) -> str:
        """The body's ``applicant_pid``: the PID an online applicant's citizen key is bound to."""
        ...


class JourneyRunner:
    """Runs journeys for ``stream`` (arrivals) through ``callers`` (``hospital``, ``desk``,
    ``citizen`` → :class:`~loadtests._http.Caller`). The ``citizen`` caller's key is the issuer
    secret of the citizens' own keys: an online dossier is submitted and polled with its
    applicant's key (``fakes.citizen_keys.citizen_key``, fakes/CONTRACT.md §2).

    ``deadline`` (wall) bounds every wait and retry; ``poll_interval_s`` spaces status polls;
    an incomplete dossier is supplemented only before ``horizon`` (wall: the stream's end).
    ``run_tag`` makes Idempotency-Keys unique per run (a restarted run reuses its tag, so a
    replayed submission is absorbed by the server).
    """

    def __init__(
        self,
        scenario: Scenario,
        stream: npt.NDArray[np.void],
        payloads: Payloads,
        callers: Mapping[str, Caller],
        *,
        clock: ScenarioClock,
        deadline: float,
        poll_interval_s: float,
        run_tag: str,
        supplement: Callable[[np.void], float | None] | None = None,
        horizon: float = float("inf"),
        seed: int = 0,
    ) -> None:
        self.scenario, self.stream, self.payloads, self.callers = scenario, stream, payloads, callers
        self.clock, self.deadline, self.poll_s, self.tag = clock, deadline, poll_interval_s, run_tag
        self.supplement, self.horizon = supplement, horizon
        self.rows = np.zeros(stream.size, JOURNEY_DTYPE)
        for name in ("dossier", "service", "variant", "channel", "status", "verification", "incomplete"):
            self.rows[name] = stream[name]
        self.rows["submitted"] = stream["submitted"]
        self.rows["intended"] = clock.wall(stream["submitted"])
        for name in ("started", "accepted", "finished", "completed_minute"):
            self.rows[name] = np.nan
        self.rows["outcome"] = NOT_STARTED
        self.steps = Table(STEP_DTYPE, 256)
        self.ids: dict[int, str] = {}
        self.docs: dict[int, str] = {}
        self.refused: dict[int, str] = {}
        self.returned: dict[int, str] = {}
        self._attempts = 0
        self.following = 0
        self.rng = random.Random(seed)
        self.max_polls = max(1, int((deadline - float(clock.t0)) / poll_interval_s) + 1)
        self._last_status = 0
        # the caller of each online dossier (its applicant's key), made on first use: one HMAC
        # and one small object per dossier, not per request
        self._citizens: dict[int, Caller] = {}
        # agencies in time: a dossier the portal still shows in progress at the end is open
        self.open_outcome = OPEN if scenario.load.agencies == "in_time" else STUCK

    # -- the journey ---------------------------------------------------------------------------

    def __call__(self, i: int, intended: float) -> None:
        """The journey of arrival ``i`` (index into ``stream``), meant to start at ``intended``."""
        if self.start(i, intended):
            self.follow(i)

    def start(self, i: int, intended: float) -> bool:
        """Hospital document, then submission; True when the portal accepted the dossier."""
        row, a = self.rows[i], self.stream[i]
        row["started"] = time.time()
        row["outcome"] = NOT_SUBMITTED
        doc_id = self._certificate(a, intended)
        if doc_id is None:
            return False
        self.docs[i] = doc_id
        reply = self._submit(i, a, doc_id, intended)
        if reply is None:
            return False
        row["accepted"] = time.time()
        self.ids[i] = str(reply.body["id"])
        row["outcome"] = STUCK
        return True

    def follow(self, i: int) -> None:
        """Polls dossier ``i`` until it is terminal or the deadline.

        The first poll comes ``poll_interval_s`` after acceptance; the gap then grows by half
        each time up to ``POLL_BACKOFF`` × the interval (a citizen checks less often the longer
        a dossier takes), and is always counted from the *end* of the previous poll, so a slow
        answer never makes polls catch up in a burst. When many dossiers wait at once (a night's
        online submissions before the desks open, a backlog after Tết) the longest gap grows so
        that all of them together are polled at most ``POLL_RATE`` times a second: the times
        measured come from the portal's own timestamps, so polling less only delays noticing.
        At most ``max_polls`` polls per dossier; it stops at the deadline.
        """
        gap = self.poll_s
        next_poll = time.time() + gap
        unknown = 0
        self.following += 1
        try:
            for _ in range(self.max_polls):
                if next_poll >= self.deadline:
                    next_poll = self.deadline - 0.01
                    if time.time() >= next_poll:
                        return
                gevent.sleep(max(0.0, next_poll - time.time()))
                if self.poll(i, next_poll):
                    return
                unknown = unknown + 1 if self._last_status == 404 else 0
                if unknown >= UNKNOWN_CODE_POLLS:
                    self.rows[i]["outcome"] = UNTRACKED
                    return
                cap = max(self.poll_s * POLL_BACKOFF, self.following / POLL_RATE)
                gap = min(gap * 1.5, cap)
                next_poll = max(next_poll, time.time()) + gap
        finally:
            self.following -= 1

    def poll(self, i: int, intended: float | None = None) -> bool:
        """One status poll of dossier ``i``; True (and the journey recorded) once terminal."""
        row, a = self.rows[i], self.stream[i]
        reply = self._caller_for(a).call(
            "GET",
            f"/portal/dossiers/{self.ids[i]}",
            kind="portal.status",
            dossier=int(a["dossier"]),
            intended=intended,
            name="/portal/dossiers/{id}",
        )
        row["polls"] += 1
        self._last_status = reply.status
        body = reply.body if reply.status == 200 and isinstance(reply.body, dict) else None
        if body is not None and body.get("status") in TERMINAL:
            self._finish(row, int(a["dossier"]), body)
            return True
        if body is not None:  # in progress at the portal (answered, not terminal)
            row["outcome"] = self.open_outcome
        return False

    def _caller_for(self, a: np.void) -> Caller:
        """The desk, or for an online dossier (channel 0) its applicant with its own citizen key
        (the one shared citizen key when the scenario's citizen caller is ``shared``)."""
        if int(a["channel"]) != 0:
            return self.callers["desk"]
        spec = self.scenario.callers.get("citizen")
        if spec is not None and spec.shared:
            return self.callers["citizen"]
        n = int(a["dossier"])
        caller = self._citizens.get(n)
        if caller is None:
            citizens = self.callers["citizen"]
            caller = citizens.as_key(citizen_key(citizens.key, self.payloads.applicant_pid(a)))
            self._citizens[n] = caller
        return caller

    def _key(self, a: np.void, what: str) -> str:
        return f"{self.tag}:{int(a['dossier'])}:{what}"

    def _certificate(self, a: np.void, intended: float) -> str | None:
        kind, path, body = self.payloads.certificate(a)
        hospital, n = self.callers["hospital"], int(a["dossier"])

        def attempt() -> Reply:
            return hospital.call(
                "POST",
                path,
                kind=kind,
                dossier=n,
                intended=intended,
                body=body,
                idempotency_key=self._key(a, "doc"),
                name=path,
            )

        reply, _ = retry_until(attempt, self.deadline, rng=self.rng)
        if reply.status not in (200, 201) or not isinstance(reply.body, dict):
            return None
        return str(reply.body["id"])

    def _submit(self, i: int, a: np.void, doc_id: str, intended: float) -> Reply | None:
        row = self.rows[i]
        if bool(a["incomplete"]):
            self._send(a, self.payloads.dossier(a, doc_id, complete=False), intended, "incomplete", (422,))
            later = self.supplement(a) if self.supplement else None
            if later is None or later >= min(self.deadline, self.horizon):
                row["outcome"] = INCOMPLETE
                return None
            gevent.sleep(max(0.0, later - time.time()))
            intended = later
        body = self.payloads.dossier(a, doc_id)
        reply = self._send(a, body, intended, "dossier", ())
        if reply.status == 422 and reply.code == "missing_attachment":
            # Returned although the attachment was sent (incident F10): the citizen or the desk
            # submits again, once, a poll interval later, as a new submission.
            self.returned[i] = "missing_attachment"
            gevent.sleep(self.poll_s)
            reply = self._send(a, body, time.time(), "resubmit", ())
        row["attempts"] = self._attempts
        if reply.status != 202 or not isinstance(reply.body, dict) or "id" not in reply.body:
            self.refused[i] = reply.code or f"status {reply.status}"
            return None
        return reply

    def _send(
        self, a: np.void, body: dict[str, Any], intended: float, what: str, expect: tuple[int, ...]
    ) -> Reply:
        caller, n = self._caller_for(a), int(a["dossier"])

        def attempt() -> Reply:
            return caller.call(
                "POST",
                "/portal/dossiers",
                kind="portal.submit",
                dossier=n,
                intended=intended,
                body=body,
                idempotency_key=self._key(a, what),
                name="/portal/dossiers",
                expect=expect,
            )

        reply, self._attempts = retry_until(attempt, self.deadline, rng=self.rng)
        return reply

    def _finish(self, row: np.void, n: int, body: dict[str, Any]) -> None:
        row["finished"] = time.time()
        row["outcome"] = {"completed": COMPLETED, "failed": FAILED}.get(body["status"], REJECTED)
        row["completed_minute"] = self._minute_of(body.get("completed_at"), row["finished"])
        for step in body.get("steps") or ():
            self.steps.append(
                n,
                str(step.get("step", ""))[:24],
                str(step.get("status", ""))[:12],
                self._minute_of(step.get("started_at"), np.nan),
                self._minute_of(step.get("finished_at"), np.nan),
                int(step.get("attempts") or 0),
            )

    def _minute_of(self, stamp: Any, fallback_wall: float) -> float:
        """Scenario minute of a portal timestamp, else of the fallback wall time."""
        if isinstance(stamp, str) and stamp:
            try:
                dt = datetime.fromisoformat(stamp)
            except ValueError:
                dt = None
            if dt is not None:
                origin = start_datetime(self.scenario)
                local = dt.replace(tzinfo=None) if dt.tzinfo is None else _naive_local(dt, self.scenario)
                return (local - origin) / timedelta(minutes=1)
        return float(self.clock.minute(fallback_wall)) if np.isfinite(fallback_wall) else float("nan")


def _naive_local(dt: datetime, scenario: Scenario) -> datetime:
    from zoneinfo import ZoneInfo

    return dt.astimezone(ZoneInfo(scenario.calendar.timezone)).replace(tzinfo=None)


def step_rows(runner: JourneyRunner) -> npt.NDArray[np.void]:
    """The step rows recorded so far (one per step of every finished dossier)."""
    return runner.steps.rows()


# -- analysis ----------------------------------------------------------------------------------


def journey_metrics(
    scenario: Scenario, journeys: npt.NDArray[np.void], steps: npt.NDArray[np.void], clock: ScenarioClock,
    end_minute: float | None = None,
) -> dict[str, Any]:
    """End-to-end and per-step figures in working days, by service, from the journey rows.

    The statutory clock of a dossier starts on its received day (15:00 rule) at acceptance;
    ``attainment`` is the share of *accepted* dossiers (completed, rejected, failed, stuck or open)
    completed by its time limit (``Service.limits_wd``: the variant's own where it has one, else
    the group's; longer with verification); an open dossier not yet due at ``end_minute`` (the
    run's end) is left out, as its outcome is not known (``open_not_due``). Keys: ``"birth"``,
    ``"death"`` (``count``, ``completed``, ``rejected``, ``incomplete``, ``not_submitted``,
    ``stuck``, ``open``, ``failed``, ``open_not_due``, ``attainment``, ``e2e_wd`` summary,
    ``deadline_wd``) and ``"steps"`` (per step id: ``count``, ``attainment`` against
    ``limit_wd``, ``elapsed_wd`` summary).
    """
    cal = calendar_for(scenario)
    origin = start_datetime(scenario)
    accepted_min = clock.minute(journeys["accepted"])
    out: dict[str, Any] = {}
    for code, service in enumerate(("birth", "death")):
        if service not in scenario.services:
            continue
        sel = journeys["service"] == code
        out[service] = _service_figures(scenario, service, journeys[sel], accepted_min[sel], cal, origin,
                                        end_minute)
    out["steps"] = _step_figures(scenario, journeys, steps, cal, origin)
    return out


def _at(origin: datetime, minute: float) -> datetime:
    return origin + timedelta(minutes=float(minute))


def _service_figures(
    scenario: Scenario, service: str, rows: npt.NDArray[np.void], accepted: Any, cal: Any, origin: datetime,
    end_minute: float | None = None,
) -> dict[str, Any]:
    svc = scenario.services[service]  # type: ignore[index]
    done = np.flatnonzero(rows["outcome"] == COMPLETED)
    e2e = np.full(done.size, np.nan)
    met = np.zeros(done.size, bool)
    for k, j in enumerate(done):
        received, completed = _at(origin, accepted[j]), _at(origin, rows["completed_minute"][j])
        limit = svc.limits_wd(rows["variant"][j], rows["verification"][j])
        start = datetime.combine(cal.received_day(received), datetime.min.time())
        e2e[k] = cal.working_days_between(max(start, received), completed)
        met[k] = completed <= cal.deadline(received, int(limit))
    counts = {name: int(np.count_nonzero(rows["outcome"] == i)) for i, name in enumerate(OUTCOMES)}
    not_due = 0
    if end_minute is not None and np.isfinite(end_minute):
        end = _at(origin, end_minute)
        for j in np.flatnonzero(rows["outcome"] == OPEN):
            received = _at(origin, accepted[j])
            limit = svc.limits_wd(rows["variant"][j], rows["verification"][j])
            not_due += int(cal.deadline(received, int(limit)) > end)
    accepted_n = sum(counts[OUTCOMES[i]] for i in ACCEPTED) - not_due
    return {
        "count": int(rows.size),
        **counts,
        "open_not_due": not_due,
        "deadline_wd": svc.deadline_wd,
        "attainment": float(met.sum() / accepted_n) if accepted_n else None,
        "e2e_wd": summary(e2e, "wd"),
    }


def _step_figures(
    scenario: Scenario,
    journeys: npt.NDArray[np.void],
    steps: npt.NDArray[np.void],
    cal: Any,
    origin: datetime,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sid, step in scenario.steps.items():
        rows = steps[(steps["step"] == sid) & (steps["status"] == "done")]
        rows = rows[np.isfinite(rows["started"]) & np.isfinite(rows["finished"])]
        if not rows.size:
            continue
        step_cal = calendar_for(scenario, step.agency)
        elapsed = np.empty(rows.size)
        met = np.zeros(rows.size, bool)
        for k, r in enumerate(rows):
            a, b = _at(origin, r["started"]), _at(origin, r["finished"])
            elapsed[k] = step_cal.working_days_between(a, b)
            met[k] = step.limit_wd is None or b <= step_cal.deadline(a, int(step.limit_wd))
        out[sid] = {
            "agency": step.agency,
            "limit_wd": step.limit_wd,
            "count": int(rows.size),
            "attainment": float(met.mean()),
            "elapsed_wd": summary(elapsed, "wd"),
        }
    return out
