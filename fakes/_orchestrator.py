"""The portal's durable state machine: drives each dossier through its steps.

A dossier is one JSON document in ``portal.db``. Every change is committed before the next
outbound call, including the call's ``Idempotency-Key`` (``<id>:<step>:<n>``), so a call
resumed after a crash is a replay of the same write, never a second one.

A call answered 202 with a ``Location`` (an agency in time, or a slow PID) leaves its step
``waiting`` with that location stored; the portal polls it on the scenario clock: at the
``available_at`` the agency announced, else every ``scenario.load.portal_poll_minutes``, and
during a ``slow_polling`` fault on the portal every draw of its ``delay`` (announcements
ignored). A step resumed after a restart polls its stored location.

Transient failures (a timeout or refused connection, 408/425/429/5xx) are retried with full-jitter
exponential backoff in scenario time within the step's budget (``Retry``: ``load.portal_retry``
or the step's ``retry``), counted from the step's first transient failure (``retry_since``,
committed before the first pause, so a restart keeps the clock running). When the budget is
spent the step ends ``failed`` with a ``retries_exhausted`` problem naming the agency, the call
and its last answer, and the dossier ends ``failed`` (its other unfinished steps cancelled):
a finding, never a dossier stuck in flight.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Callable
from typing import Any

from fakes._env import Env
from fakes._outbound import Reply, TransportError
from fakes.ids import mask
from fakes.store import dumps
from fakes.work import PENDING
from scenarios.desks import Draws, service_rng
from scenarios.model import Fault, Retry

__all__ = ["PLANS", "TERMINAL", "Orchestrator", "build_steps", "public", "results"]

TERMINAL = ("completed", "rejected", "failed")
_DONE = ("done", "skipped")
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_SETTLE = 0.002  # wall seconds past an announced completion before polling it
Doc = dict[str, Any]
Call = tuple[str, str, str, Doc]  # agency, method, path, body
Outcome = tuple[str, Any, int]  # "done" | "rejected" | "failed", answer or problem, calls made
_MIN_CAP_S = 0.25  # a capped pause is never shorter than this (wall): no retry storm at high speed
_MAX_CAP_S = 5.0  # … nor longer (wall): a server on a slow clock (speed 1) retries within seconds


class RetriesExhausted(Exception):
    """A step's retry budget is spent; ``problem`` says on what."""

    def __init__(self, problem: Doc) -> None:
        super().__init__(problem["detail"])
        self.problem = problem


class Budget:
    """The retry budget of one step of one dossier: its policy, when its first transient
    failure was (scenario minute, None before any) and the retries made in this process;
    ``persist`` commits ``retry_since`` on the first failure."""

    def __init__(self, policy: Retry, since: float | None,
                 persist: Callable[[float], Any] | None = None) -> None:
        self.policy, self.since, self.retries, self.persist = policy, since, 0, persist


def build_steps(env: Env, service: str, variant: str, status: str | None) -> list[Doc]:
    """The step records of a new dossier: the variant's steps, ``when_status`` applied."""
    steps = env.scenario.steps
    names = env.scenario.services[service].variants[variant].steps  # type: ignore[index]
    out = []
    for sid in names:
        step = steps[sid]
        skip = step.when_status is not None and status not in step.when_status
        known = step.task in PLANS
        out.append({"step": sid, "agency": step.agency, "task": step.task,
                    "after": [a for a in step.after if a in names],
                    "status": "skipped" if skip or not known else "pending", "attempts": 0,
                    "call": 0, "idempotency_key": None, "location": None, "started_at": None,
                    "finished_at": None, "error": None if known else
                    {"code": "task_not_modelled", "detail": f"the fakes have no task {step.task!r}"},
                    "result": None})
    return out


def _by_task(doc: Doc) -> dict[str, Doc]:
    return {s["task"]: s.get("result") or {} for s in doc["steps"]}


def _claim(d: Doc, agency: str, path: str) -> Call:
    death = d["input"]["death"]
    body = {"death_register_no": _by_task(d)["register_death"]["register_no"],
            "claimant_name": death["claimant_name"],
            "claimant_relation": death["claimant_relation"]}
    if death.get("bank_account"):
        body["bank_account"] = death["bank_account"]
    return agency, "POST", path, body


def _lost(d: Doc, body: Doc, field: str) -> Doc:
    """``body`` without its attachment ``field`` when the portal lost it (incident F10)."""
    if "lost_attachment" in d.get("faults", ()):
        body.pop(field, None)
    return body


def _police(d: Doc, path: str, body: Doc) -> Call:
    """A call to police carrying the portal's dossier code (police records it)."""
    return "police", "POST", path, dict(body, dossier_code=d["id"])


def _birth(d: Doc) -> Call:
    b = d["input"]["birth"]
    body = {"birth_certificate_id": b["birth_certificate_id"], "child_name": b["child_name"],
            "unit_code": b["unit_code"], "declarant_name": d["input"]["applicant_name"],
            "declarant_relation": b["declarant_relation"]}
    if b.get("father_name"):
        body["father_name"] = b["father_name"]
    return "justice", "POST", "/justice/births", _lost(d, body, "birth_certificate_id")


def _residence(d: Doc) -> Call:
    b = d["input"]["birth"]
    return _police(d, "/police/residences", {
        "pid": _by_task(d)["issue_pid"]["pid"], "household_id": b["household_id"],
        "relation_to_head": b["relation_to_head"], "address": b["address"],
        "commune_code": b["unit_code"]})


def _card(d: Doc) -> Call:
    body = {"pid": _by_task(d)["issue_pid"]["pid"]}
    if d["input"]["birth"].get("initial_care_facility"):
        body["initial_care_facility"] = d["input"]["birth"]["initial_care_facility"]
    return "vss", "POST", "/vss/child-cards", body


def _death(d: Doc) -> Call:
    x = d["input"]["death"]
    return "justice", "POST", "/justice/deaths", _lost(d, {
        "death_notice_id": x["death_notice_id"], "unit_code": x["unit_code"],
        "declarant_name": d["input"]["applicant_name"],
        "declarant_relation": x["declarant_relation"], "status": x["status"]}, "death_notice_id")


def _kt(d: Doc) -> Doc:
    return _by_task(d)["register_death"]


#: Agency calls of each task, built from the dossier and earlier steps' results.
PLANS: dict[str, list[Callable[[Doc], Call]]] = {
    "register_birth": [_birth],
    "issue_pid": [lambda d: _police(d, "/police/pids", {
        "birth_register_no": _by_task(d)["register_birth"]["register_no"]})],
    "register_residence": [_residence],
    "issue_child_card": [_card],
    "register_death": [_death],
    "remove_residence": [
        lambda d: ("police", "POST", "/police/deaths", {"death_register_no": _kt(d)["register_no"]}),
        lambda d: _police(d, "/police/residence-removals", {
            "pid": _kt(d)["deceased_pid"], "death_register_no": _kt(d)["register_no"]}),
    ],
    "pay_funeral_allowance": [lambda d: _claim(d, "vss", "/vss/funeral-allowances")],
    "pay_funeral_support": [lambda d: _claim(d, "social", "/social/funeral-supports")],
    "settle_survivor_benefit": [lambda d: _claim(d, "vss", "/vss/survivor-benefits")],
}

_RESULT_FIELDS = {
    "register_birth": {"register_no": "birth_register_no"},
    "issue_pid": {"pid": "pid"},
    "register_residence": {"residence_id": "residence_id", "household_id": "household_id"},
    "issue_child_card": {"card_code": "card_code", "valid_to": "card_valid_to"},
    "register_death": {"register_no": "death_register_no", "deceased_pid": "deceased_pid"},
    "remove_residence": {"removal_id": "removal_id"},
    "pay_funeral_allowance": {"payment_id": "funeral_payment_id", "amount_vnd": "funeral_amount_vnd"},
    "pay_funeral_support": {"payment_id": "funeral_payment_id", "amount_vnd": "funeral_amount_vnd"},
    "settle_survivor_benefit": {"payment_id": "survivor_settlement_id"},
}


def results(doc: Doc) -> Doc:
    """The result bundle of a dossier: identifiers issued by its finished steps."""
    out: Doc = {}
    for s in doc["steps"]:
        if s["status"] == "done" and s.get("result"):
            for src, dst in _RESULT_FIELDS.get(s["task"], {}).items():
                out[dst] = s["result"].get(src)
    return out


class Orchestrator:
    """Drives dossiers of ``env``'s portal store; ``spawn`` one, ``resume`` all on start.

    A dossier being driven is kept in memory (``docs``) as well as on disk: this process owns
    the portal store, so the copy is the stored document; every change is written (and
    committed) before anything acts on it. State changes that need no outbound call between
    them share one commit: a step's result, the claim of the steps it made ready and, at the
    end, the dossier's outcome.
    """

    def __init__(self, env: Env) -> None:
        self.env, self.store = env, env.stores["portal"]
        self.key = env.key_of("portal")
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.docs: dict[str, Doc] = {}
        self.rng = random.Random(env.scenario.meta.seed)
        self.poll_minutes = env.scenario.load.portal_poll_minutes
        self.slow: list[tuple[Fault, Draws]] = [
            (f, Draws(f.delay, service_rng(env.scenario.meta.seed, 0, f"fakes.portal.slow_polling.{i}")))
            for i, f in enumerate(env.scenario.faults)
            if f.kind == "slow_polling" and f.agency in ("portal", "*") and f.delay is not None]

    def spawn(self, dossier_id: str) -> None:
        """Start driving ``dossier_id`` unless it is already being driven."""
        if dossier_id not in self.tasks:
            task = asyncio.get_running_loop().create_task(self.drive(dossier_id))
            self.tasks[dossier_id] = task

            def forget(_t: asyncio.Task[None]) -> None:
                self.tasks.pop(dossier_id, None)
                self.docs.pop(dossier_id, None)

            task.add_done_callback(forget)

    def resume(self) -> int:
        """Re-drive every dossier not completed or rejected; returns how many."""
        rows = self.store.db.execute(
            "SELECT id FROM dossiers WHERE status NOT IN ('completed', 'rejected', 'failed')").fetchall()
        for (dossier_id,) in rows:
            self.spawn(dossier_id)
        return len(rows)

    async def stop(self) -> None:
        """Cancel the drivers (their state is already on disk)."""
        for task in list(self.tasks.values()):
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    def load(self, dossier_id: str) -> Doc:
        """The dossier document (the in-memory copy while it is driven)."""
        doc = self.docs.get(dossier_id)
        if doc is None:
            doc = self.store.doc("SELECT doc FROM dossiers WHERE id = ?", dossier_id)
            assert doc is not None, dossier_id
            if dossier_id in self.tasks:
                self.docs[dossier_id] = doc
        return doc

    async def update(self, dossier_id: str, change: Callable[[Doc], None]) -> Doc:
        """Apply ``change`` to the dossier, write it and wait until it is committed."""
        doc = self.load(dossier_id)
        try:
            with self.store.tx() as db:
                change(doc)
                db.execute("UPDATE dossiers SET status = ?, doc = ? WHERE id = ?",
                           (doc["status"], dumps(doc), dossier_id))
            await self.store.durable()
        except BaseException:
            self.docs.pop(dossier_id, None)  # the copy may be ahead of the disk: reload
            raise
        return doc

    async def drive(self, dossier_id: str) -> None:
        """Run ready steps concurrently until the dossier is terminal.

        Each turn commits, in one write, the outcomes of the steps that ended and the claim
        (``in_flight``, call number, ``Idempotency-Key``) of the steps that became ready, or
        the dossier's end when nothing is ready or running; then it starts the claimed steps.
        """
        running: dict[str, asyncio.Task[Outcome]] = {}
        ended: dict[str, Outcome] = {}
        claimed: list[str] = []
        while True:
            if self.load(dossier_id)["status"] in TERMINAL:
                return
            claimed.clear()

            def change(doc: Doc) -> None:
                now = self.env.clock.now().isoformat()
                for step, (status, payload, call) in ended.items():
                    record = self._step(doc, step)
                    if status == "done":
                        record.update(result=payload, call=call, status="done", error=None,
                                      finished_at=now)
                    else:  # rejected (the agency's refusal) or failed (retries exhausted)
                        record.update(status=status, error=_redact(payload), finished_at=now)
                state = {s["step"]: s["status"] for s in doc["steps"]}
                for s in doc["steps"]:
                    if s["status"] in ("pending", "in_flight", "waiting") \
                            and s["step"] not in running \
                            and all(state[a] in _DONE for a in s["after"]):
                        self._claim(doc, s, now)
                        claimed.append(s["step"])
                if not claimed and not running:
                    self._finish(doc)

            doc = await self.update(dossier_id, change)
            ended.clear()
            if doc["status"] in TERMINAL:
                await self._callback(doc)
                return
            loop = asyncio.get_running_loop()
            for step in claimed:
                running[step] = loop.create_task(self.run_step(dossier_id, step))
            done, _ = await asyncio.wait(running.values(), return_when=asyncio.FIRST_COMPLETED)
            for step, task in list(running.items()):
                if task in done:
                    ended[step] = task.result()
                    del running[step]

    def _claim(self, doc: Doc, record: Doc, now: str) -> None:
        """Mark ``record`` in flight at its current call, with that call's key."""
        if doc["status"] == "accepted":
            doc["status"] = "in_progress"
        record.update(status="in_flight", attempts=record["attempts"] + 1,
                      idempotency_key=f"{doc['id']}:{record['step']}:{record['call']}",
                      started_at=record["started_at"] or now)

    def _finish(self, doc: Doc) -> None:
        ended = {s["status"] for s in doc["steps"]}
        failed = next((s for s in doc["steps"] if s["status"] == "failed"), None)
        for s in doc["steps"]:
            if s["status"] in ("pending", "in_flight", "waiting"):
                s["status"] = "cancelled"
        if failed is not None:  # a system failure wins over a refusal: the finding to act on
            doc["status"] = "failed"
            doc["failure"] = {"step": failed["step"], "agency": failed["agency"],
                              "code": failed["error"].get("code"), "detail": failed["error"].get("detail")}
        else:
            doc["status"] = "rejected" if "rejected" in ended else "completed"
        doc["completed_at"] = self.env.clock.now().isoformat()
        doc["result"] = results(doc)

    def _step(self, doc: Doc, step: str) -> Doc:
        return next(s for s in doc["steps"] if s["step"] == step)

    async def _set(self, dossier_id: str, step: str, **fields: Any) -> Doc:
        """Commit ``fields`` on one step."""
        return await self.update(dossier_id, lambda doc: self._step(doc, step).update(fields))

    async def run_step(self, dossier_id: str, step: str) -> Outcome:
        """Send the claimed step's calls in order: ("done", last answer, calls made),
        ("rejected", problem, call) or ("failed", problem, call) when the step's retry budget
        ran out. The driver has committed the claim of the first call; each later call's number
        and key are committed with the previous answer before it is sent. A call answered 202
        with a ``Location`` is polled there (the location committed first, with the step
        ``waiting``); a step resumed with a location polls it again."""
        doc = self.load(dossier_id)
        record = self._step(doc, step)
        plan = PLANS[record["task"]]
        first = record["call"]
        budget = Budget(self.retry_of(step), _minute_of(self.env, record.get("retry_since")),
                        lambda minute: self._set(dossier_id, step,
                                                 retry_since=self.env.clock.datetime_at(minute).isoformat()))
        n = first
        try:
            for n in range(first, len(plan)):
                agency, method, path, body = plan[n](doc)
                location = self._step(doc, step).get("location") if n == first else None
                if location:  # accepted before a restart: follow the work
                    reply = await self.poll(agency, location, budget=budget)
                else:
                    reply = await self.send(agency, method, path, body, f"{dossier_id}:{step}:{n}", budget)
                    if reply.status == 202 and reply.headers.get("location"):
                        location = reply.headers["location"]
                        doc = await self._set(dossier_id, step, status="waiting", location=location)
                        reply = await self.poll(agency, location, reply.body, budget)
                if not 200 <= reply.status < 300:
                    error = reply.body if isinstance(reply.body, dict) else {"status": reply.status}
                    return "rejected", error, n
                answer = _answer(reply.body)
                if n + 1 < len(plan):  # this answer and the next call's claim in one commit
                    doc = await self._set(dossier_id, step, result=answer, call=n + 1,
                                          status="in_flight", location=None,
                                          idempotency_key=f"{dossier_id}:{step}:{n + 1}")
                else:
                    return "done", answer, n + 1
        except RetriesExhausted as exc:
            return "failed", exc.problem, n
        raise AssertionError(f"{dossier_id} step {step}: no call left")  # pragma: no cover

    def retry_of(self, step: str) -> Retry:
        """The retry policy of ``step``: its own, else the portal's."""
        return self.env.scenario.steps[step].retry or self.env.scenario.load.portal_retry

    async def send(self, agency: str, method: str, path: str, body: Doc | None,
                   key: str | None, budget: Budget | None = None) -> Reply:
        """One call, retried on transient failures with full-jitter exponential backoff (in
        scenario time, as ``budget.policy`` says) until ``budget`` is spent: then
        :class:`RetriesExhausted`. Without a budget, the portal's policy from now."""
        budget = budget or Budget(self.env.scenario.load.portal_retry, None)
        policy, clock = budget.policy, self.env.clock
        metrics = self.env.extras["metrics"].outbound
        while True:
            try:
                reply = await self.env.outbound.call(agency, method, path, self.key, body, key)
            except TransportError as exc:
                metrics[(agency, "transport_error")] += 1
                last = f"no answer ({exc})"
            else:
                if reply.status not in _RETRY_STATUS:
                    metrics[(agency, str(reply.status))] += 1
                    return reply
                metrics[(agency, f"retry_{reply.status}")] += 1
                code = reply.body.get("code") if isinstance(reply.body, dict) else None
                last = f"{reply.status}" + (f" {code}" if code else "")
            now = clock.minute()
            if budget.since is None:
                budget.since = now
                if budget.persist is not None:
                    await budget.persist(now)
            spent = now - budget.since
            if spent >= policy.within or (policy.attempts and budget.retries >= policy.attempts):
                metrics[(agency, "exhausted")] += 1
                raise RetriesExhausted(_exhausted(agency, method, path, last, budget, spent))
            base, cap = policy.backoff
            cap_s = min(max(clock.wall_seconds(cap), _MIN_CAP_S), _MAX_CAP_S)
            pause = min(cap_s, clock.wall_seconds(base) * 2 ** min(budget.retries, 60))
            budget.retries += 1  # never pause past the budget's end: one last try there
            left_s = clock.wall_seconds(policy.within - spent)
            await asyncio.sleep(min(self.rng.uniform(0, pause), left_s))

    async def poll(self, agency: str, location: str, first: Any = None,
                   budget: Budget | None = None) -> Reply:
        """GET ``location`` until its ``status`` is no longer pending (``queued``,
        ``in_work``, ``pending``), waiting as :meth:`wait` says between polls; ``first`` is
        the 202's body (pending: the first poll waits too; None: poll at once). Transient
        failures of the polls spend ``budget`` as :meth:`send` says."""
        body = first if isinstance(first, dict) and first.get("status") in PENDING else None
        late = 0
        while True:
            if body is not None:
                wait, late = self.wait(body, late)
                await asyncio.sleep(wait)
            reply = await self.send(agency, "GET", location, None, None, budget)
            if reply.status != 200 or not isinstance(reply.body, dict) \
                    or reply.body.get("status") not in PENDING:
                return reply
            body = reply.body

    def wait(self, body: Doc, late: int = 0) -> tuple[float, int]:
        """Wall seconds until the next poll of a pending work ``body``, and the count of polls
        since its announced time passed: a draw of a ``slow_polling`` fault's delay while one
        is active on the portal; else until ``available_at`` when the agency announced it (once
        it has passed, soon again, backing off up to the cadence); else every
        ``portal_poll_minutes`` (scenario minutes)."""
        clock = self.env.clock
        now = clock.minute()
        for fault, draws in self.slow:
            if fault.start <= now < fault.end:
                return max(clock.wall_seconds(draws()), _SETTLE), 0
        cadence = clock.wall_seconds(self.poll_minutes)
        at = _minute_of(self.env, body.get("available_at"))
        if at is None:
            return cadence, 0
        if at > now:
            return max(clock.wall(at) - time.time(), 0.0) + _SETTLE, 0
        return min(cadence, _SETTLE * 2 ** (late + 1)), late + 1

    async def _callback(self, doc: Doc) -> None:
        url = doc["input"].get("callback_url")
        if not url:
            return
        view = public(doc)
        for attempt in range(3):
            if await self.env.outbound.post_url(url, view):
                return
            await asyncio.sleep(0.1 * 2 ** attempt)


def _exhausted(agency: str, method: str, path: str, last: str, budget: Budget, spent: float) -> Doc:
    """The ``retries_exhausted`` problem of a step whose budget ran out."""
    policy = budget.policy
    limit = f"{policy.within:g} scenario minutes"
    limit += f" or {policy.attempts} retries" if policy.attempts else ""
    return {"type": "https://lienthong.example/problems/retries_exhausted", "title": "Retries exhausted",
            "status": 503, "code": "retries_exhausted", "agency": agency,
            "detail": f"{agency} did not take {method} {path.split('?')[0]}: last answer {last}; "
                      f"{budget.retries} retries over {spent:,.0f} scenario minutes "
                      f"(budget: {limit})",
            "last": last}


def _minute_of(env: Env, stamp: Any) -> float | None:
    """The scenario minute of an ISO timestamp (None when it is not one)."""
    if not isinstance(stamp, str):
        return None
    try:
        when = dt.datetime.fromisoformat(stamp)
        return (when - env.clock.origin).total_seconds() / 60.0
    except (TypeError, ValueError):  # not ISO, or without an offset
        return None


def _answer(body: Any) -> Any:
    """A step's result from an agency's answer: a done work resource's ``result`` (agencies in
    time), else the answer itself."""
    if isinstance(body, dict) and "work_id" in body and body.get("status") == "done":
        return body.get("result")
    return body


def _redact(error: Doc) -> Doc:
    """A problem document with any 12-digit identifier masked."""
    detail = error.get("detail")
    if isinstance(detail, str):
        error = dict(error, detail=" ".join(mask(w) if w.isdigit() and len(w) >= 10 else w
                                            for w in detail.split(" ")))
    return error


def public(doc: Doc) -> Doc:
    """The dossier as clients see it."""
    return {**{k: doc[k] for k in ("id", "service", "variant", "channel", "status",
                                   "submitted_at", "completed_at", "steps", "result")},
            "failure": doc.get("failure")}

