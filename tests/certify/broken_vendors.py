"""Vendors for the certification self-test: the reference fakes of one agency, served alone as a
vendor would serve it, and deliberately broken variants of them, for every agency.

Each variant wraps the reference app (ASGI middleware) or replaces one name inside the vendor's
own process (:func:`_patch`) — never an edit of ``fakes/``. ``EXPECTED`` lists, per variant, the
agency it breaks and the exact requirement ids a certification must fail; ``BROKEN`` says in one
sentence what each variant does wrong (and so why those ids fail).

``python tests/certify/broken_vendors.py --agency vss --variant slow --upstream URL --run-dir D``
(or ``python -m tests.certify.broken_vendors …`` from the checkout) serves on a free loopback
port and prints ``READY <base_url>``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakes.serve import spawn_ready, stop_process

__all__ = ["BROKEN", "EXPECTED", "IN_TIME", "VARIANTS", "Vendor", "start_independent_vss", "start_vendor"]

Scope = dict[str, Any]

#: variant → (agency it applies to, requirement ids its certification must fail)
EXPECTED: dict[str, tuple[str, frozenset[str]]] = {
    # vss
    "wrong_prefix": ("vss", frozenset({"VSS-CARD-001"})),
    "card_to_31_12": ("vss", frozenset({"VSS-CARD-002"})),
    "card_always_to_30_09": ("vss", frozenset({"VSS-CARD-002"})),
    "non_idempotent": ("vss", frozenset({"VSS-IDEM-001", "VSS-IDEM-002", "VSS-IDEM-003",
                                         "VSS-RES-001"})),
    "crash_on_bad_input": ("vss", frozenset({"VSS-API-001", "VSS-API-002"})),
    "no_auth_on_reads": ("vss", frozenset({"VSS-SEC-001"})),
    "slow": ("vss", frozenset({"VSS-PERF-001"})),
    # health
    "future_birth_accepted": ("health", frozenset({"HEALTH-GCS-002"})),
    "refusal_echoes_mother_pid": ("health", frozenset({"HEALTH-SEC-003"})),
    "write_without_key_accepted": ("health", frozenset({"HEALTH-IDEM-004"})),
    # justice
    "birth_date_from_issue_date": ("justice", frozenset({"JUSTICE-KS-001"})),
    "outage_read_as_unknown": ("justice", frozenset({"JUSTICE-RES-002"})),
    "justice_crash_on_bad_input": ("justice", frozenset({"JUSTICE-API-001", "JUSTICE-API-002"})),
    # police
    "pid_year_of_issue": ("police", frozenset({"POLICE-PID-001"})),
    "removal_of_the_living": ("police", frozenset({"POLICE-XTT-001"})),
    "not_found_echoes_pid": ("police", frozenset({"POLICE-SEC-003"})),
    "writes_without_scope": ("police", frozenset({"POLICE-SEC-002"})),
    # social
    "standard_level_of_today": ("social", frozenset({"SOCIAL-FUN-001"})),
    "pensioners_paid": ("social", frozenset({"SOCIAL-FUN-003"})),
    "replay_answered_200": ("social", frozenset({"SOCIAL-IDEM-001", "SOCIAL-IDEM-003",
                                                 "SOCIAL-RES-001"})),
    # portal
    "dossier_code_bhyt_province": ("portal", frozenset({"PORTAL-DOS-001"})),
    "citizen_reads_every_dossier": ("portal", frozenset({"PORTAL-SEC-004"})),
    "portal_non_idempotent": ("portal", frozenset({"PORTAL-IDEM-001", "PORTAL-IDEM-002",
                                                   "PORTAL-IDEM-003"})),
}
#: the reference served with its agencies in time (CONTRACT.md §13): writes answered 202 with a
#: work resource, done a fraction of a second later (around the clock, 0.12 s a desk and a server)
IN_TIME = "in_time"
VARIANTS = ("reference", IN_TIME, *EXPECTED)
_FAST_STEPS = ("ks", "pid", "tt", "bhyt", "kt", "xtt", "funeral_vss", "funeral_social", "survivor")
IN_TIME_SCENARIO = "extends = \"hanoi-baseline\"\n[calendar]\naround_the_clock = true\n" + "".join(
    f"[steps.{s}]\ndesk_time = {{ kind = \"constant\", mean = 0.002 }}\n"
    f"system_time = {{ kind = \"constant\", mean = 0.002 }}\n" for s in _FAST_STEPS)

#: variant → what it does wrong, as the README's list of broken variants says it
BROKEN: dict[str, str] = {
    "wrong_prefix": "card codes carry HCMC's BHYT province 79, not Hanoi's 01",
    "card_to_31_12": "every child card valid to 31/12 of the issue year (incident F8)",
    "card_always_to_30_09": "every child card valid to 30/09 of the sixth year, even when the "
                            "72-month day comes after it (the wrong branch)",
    "non_idempotent": "ignores Idempotency-Key: a replay writes again",
    "crash_on_bad_input": "a bare 500 where a malformed request is refused 422",
    "no_auth_on_reads": "reads without an X-API-Key are served",
    "slow": "one card at a time, 250 ms each: too slow at the declared rate",
    "future_birth_accepted": "a birth certificate dated after today is issued",
    "refusal_echoes_mother_pid": "a refused birth certificate's problem names the mother's PID in full",
    "write_without_key_accepted": "a write without an Idempotency-Key is accepted",
    "birth_date_from_issue_date": "the birth record takes the certificate's issue date as the birth date",
    "outage_read_as_unknown": "health unreachable is taken for an unknown certificate (422, not 502)",
    "justice_crash_on_bad_input": "a bare 500 where a malformed request is refused 422",
    "pid_year_of_issue": "the PID's year digits are the year of issue, not of birth",
    "removal_of_the_living": "the residence of a living person is removed",
    "not_found_echoes_pid": "GET /police/people/{pid} answers 404 naming the PID in full",
    "writes_without_scope": "any known caller may write (no police:write scope check)",
    "standard_level_of_today": "social-protection funeral support at today's standard level, not "
                               "the level in force on the date of death",
    "pensioners_paid": "pensioners get social funeral support (VSS pays them)",
    "replay_answered_200": "a replay answers the first body with 200 instead of the first status",
    "dossier_code_bhyt_province": "dossier codes carry the BHYT province 01, not the PID province 001",
    "citizen_reads_every_dossier": "a citizen reads dossiers others submitted",
    "portal_non_idempotent": "ignores Idempotency-Key: a replay submits a second dossier",
}


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope["headers"] if k.lower() == name), None)


class CardTo3112:
    """Incident F8: every child card valid to 31/12 of the issue year (the fakes' own
    ``wrong_card_expiry`` flag, set on every card request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/vss/child-cards":
            scope.setdefault("state", {})["faults"] = {"wrong_card_expiry": True}
        await self.app(scope, receive, send)


class NonIdempotent:
    """Ignores Idempotency-Key: every write gets a key of its own, so replays write again."""

    def __init__(self, app: Any) -> None:
        self.app, self.n = app, itertools.count()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            scope = dict(scope, headers=[(k, v + f"-{next(self.n)}".encode())
                                         if k.lower() == b"idempotency-key" else (k, v)
                                         for k, v in scope["headers"]])
        await self.app(scope, receive, send)


class KeyOptional:
    """A write without an Idempotency-Key gets one of its own instead of 400."""

    def __init__(self, app: Any) -> None:
        self.app, self.n = app, itertools.count()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" \
                and _header(scope, b"idempotency-key") is None:
            scope = dict(scope, headers=[*scope["headers"],
                                         (b"idempotency-key", f"vendor-own-{next(self.n)}".encode())])
        await self.app(scope, receive, send)


class ReplayAs200:
    """A replay (``Idempotent-Replayed: true``) answers the first body with 200, not the first
    status."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        async def relay(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 201 and any(
                    k.lower() == b"idempotent-replayed" and v == b"true" for k, v in message["headers"]):
                message = dict(message, status=200)
            await send(message)

        await self.app(scope, receive, relay if scope["type"] == "http" else send)


#: edit(scope, request body, status, response body) → (status, new body), or None: unchanged
Edit = Callable[[Scope, bytes, int, bytes], tuple[int, bytes] | None]


class Rewrite:
    """Holds each answer to a request ``match`` accepts and lets ``edit`` rewrite it."""

    def __init__(self, app: Any, match: Callable[[Scope], bool], edit: Edit) -> None:
        self.app, self.match, self.edit = app, match, edit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.match(scope):
            await self.app(scope, receive, send)
            return
        sent: list[bytes] = []
        held: list[dict[str, Any]] = []

        async def listen() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                sent.append(message.get("body", b""))
            return message

        async def capture(message: dict[str, Any]) -> None:
            held.append(message)
            if message["type"] != "http.response.body" or message.get("more_body"):
                return
            start, body = held[0], b"".join(m.get("body", b"") for m in held[1:])
            out = self.edit(scope, b"".join(sent), start["status"], body)
            if out is None:
                for m in held:
                    await send(m)
                return
            status, new = out
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            await send({"type": "http.response.start", "status": status,
                        "headers": [*headers, (b"content-length", str(len(new)).encode())]})
            await send({"type": "http.response.body", "body": new})

        await self.app(scope, listen, capture)


def _with_detail(body: bytes, extra: str) -> bytes:
    doc = json.loads(body)
    doc["detail"] = f"{doc.get('detail', '')} ({extra})"
    return json.dumps(doc, ensure_ascii=False).encode()


def _echo_mother_pid(scope: Scope, request: bytes, status: int, body: bytes) -> tuple[int, bytes] | None:
    """A refused certificate names the mother's PID as sent."""
    try:
        pid = json.loads(request).get("mother_pid")
    except (ValueError, AttributeError):
        return None
    return (status, _with_detail(body, f"mother {pid}")) if status == 422 and isinstance(pid, str) else None


def _echo_person(scope: Scope, request: bytes, status: int, body: bytes) -> tuple[int, bytes] | None:
    """``no person 001226000042``: the 404 of a person read names the PID from the path."""
    pid = scope["path"].rsplit("/", 1)[1]
    return (404, _with_detail(body, f"no person {pid}")) if status == 404 else None


class CrashOnBadInput:
    """Answers a bare 500 where the reference refuses a malformed request 422 validation_error."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[dict[str, Any]] = []

        async def capture(message: dict[str, Any]) -> None:
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                status = held[0]["status"]
                body = b"".join(m.get("body", b"") for m in held[1:])
                if status == 422 and b'"validation_error"' in body:
                    await send({"type": "http.response.start", "status": 500,
                                "headers": [(b"content-type", b"text/plain")]})
                    await send({"type": "http.response.body", "body": b"Internal Server Error"})
                    return
                for m in held:
                    await send(m)

        await self.app(scope, receive, capture)


class NoAuthOnReads:
    """A missing auth check: reads without an X-API-Key are served as the portal's."""

    def __init__(self, app: Any, key: str) -> None:
        self.app, self.key = app, key.encode()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith("/vss/") \
                and not any(k.lower() == b"x-api-key" for k, _ in scope["headers"]):
            scope = dict(scope, headers=[*scope["headers"], (b"x-api-key", self.key)])
        await self.app(scope, receive, send)


class NoScopeOnWrites:
    """A missing scope check: a write by any known caller is served as the one that holds the
    scope (``keys``: the known callers' keys; ``writer``: the key holding the scope)."""

    def __init__(self, app: Any, keys: set[str], writer: str) -> None:
        self.app, self.keys, self.writer = app, {k.encode() for k in keys}, writer.encode()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" \
                and _header(scope, b"x-api-key") in self.keys:
            scope = dict(scope, headers=[(k, self.writer) if k.lower() == b"x-api-key" else (k, v)
                                         for k, v in scope["headers"]])
        await self.app(scope, receive, send)


class Slow:
    """One card at a time, 250 ms each: ~4 cards/s, fine alone, too slow at 8/s."""

    def __init__(self, app: Any, seconds: float = 0.25) -> None:
        self.app, self.seconds = app, seconds
        self.lock: asyncio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/vss/child-cards":
            self.lock = self.lock or asyncio.Lock()
            async with self.lock:
                await asyncio.sleep(self.seconds)
                await self.app(scope, receive, send)
            return
        await self.app(scope, receive, send)


class ClockFromUpstream:
    """The vendor in time takes its scenario clock from the ecosystem it calls, as CONTRACT.md §1
    says an implementation outside the reference server does (``t0`` and ``speed`` of the
    upstream's ``GET /healthz``): a 202's ``available_at`` is then on the reference portal's clock.

    The reference fakes would start their own clock when the vendor starts, before certify starts
    the ecosystem, and announce work done seconds later than it is. So the app is built (its
    ``clock.json`` written from the upstream's) once the upstream answers; until then ``GET
    /healthz`` answers 200 at once (certify only checks that the origin answers) and every other
    request waits for the app.
    """

    def __init__(self, make: Callable[[], Any], upstream: str, run_dir: Path) -> None:
        self.make, self.upstream, self.run_dir = make, upstream.rstrip("/"), run_dir
        self.app: Any = None
        self.ready = asyncio.Event()
        self._inner: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []

    async def _align(self) -> None:
        import httpx

        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                try:
                    r = await http.get(self.upstream + "/healthz")
                    if r.status_code == 200:
                        clock = r.json()
                        break
                except (httpx.HTTPError, ValueError):
                    pass
                await asyncio.sleep(0.05)
        (self.run_dir / "clock.json").write_text(json.dumps({"t0": clock["t0"], "speed": clock["speed"]}))
        self.app = self.make()
        self._tasks.append(asyncio.ensure_future(self.app({"type": "lifespan", "asgi": {"version": "3.0"}},
                                                          self._inner.get, self._sent.put)))
        await self._inner.put({"type": "lifespan.startup"})
        message = await self._sent.get()
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"the vendor app did not start: {message}")
        self.ready.set()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self._tasks.append(asyncio.ensure_future(self._align()))
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.ready.is_set():
                        await self._inner.put({"type": "lifespan.shutdown"})
                        await self._sent.get()
                    for task in self._tasks:
                        task.cancel()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if not self.ready.is_set() and scope["type"] == "http" and scope["path"] == "/healthz":
            body = json.dumps({"status": "starting"}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await asyncio.wait_for(self.ready.wait(), 120.0)
        await self.app(scope, receive, send)


def _patch(variant: str) -> None:
    """Replace one name of the reference inside this (the vendor's) process, for the variants
    whose defect is in the agency's own logic."""
    from fakes import _env, portal
    from fakes.agencies import _benefits, health, justice, police, social, vss

    if variant == "wrong_prefix":  # the vendor hard-coded HCMC's BHYT province (79)
        vss.make_child_bhyt = lambda province2, bhxh: "TE179" + bhxh
    elif variant == "card_always_to_30_09":
        vss.card_validity = lambda birth_date: (
            birth_date, dt.date(_benefits.add_months(birth_date, 72).year, 9, 30))
    elif variant == "future_birth_accepted":
        past = health.check_past
        health.check_past = lambda env, field, day: None if field == "child_birth_date" else \
            past(env, field, day)
    elif variant == "birth_date_from_issue_date":
        insert_birth = justice._insert_birth
        justice._insert_birth = lambda env, db, body, source: insert_birth(env, db, body, justice._Source(
            dict(source.doc, child_birth_date=source.doc["issued_at"][:10])))
    elif variant == "outage_read_as_unknown":
        read = _env.Env.read

        async def read_or_none(self: Any, me: str, agency: str, path: str) -> dict[str, Any] | None:
            try:
                return await read(self, me, agency, path)
            except _env.Problem:  # upstream_error taken for "not there"
                return None

        _env.Env.read = read_or_none  # type: ignore[method-assign]
    elif variant == "pid_year_of_issue":
        issue = police._issue
        police._issue = lambda env, db, req: issue(env, db, dict(
            req, birth_date=env.clock.today().isoformat()))
    elif variant == "removal_of_the_living":
        dead = police._dead

        def _dead(db: Any, pid: str, death_register_no: str) -> dict[str, Any]:
            person = police._person(db, pid)
            return person if person is not None and person["alive"] else dead(db, pid, death_register_no)

        police._dead = _dead
    elif variant == "standard_level_of_today":
        price = _benefits._price
        _benefits._price = lambda env, regime, death_date: price(
            env, regime, env.clock.today() if regime == "social_protection" else death_date)
    elif variant == "pensioners_paid":
        social._REGIMES["pensioner"] = "social_protection"
    elif variant == "dossier_code_bhyt_province":
        code = portal.make_dossier_code
        portal.make_dossier_code = lambda group, province, day, serial: code(
            group, province, day, serial).replace(f"-{province}-", f"-{province[1:]}-", 1)
    elif variant == "citizen_reads_every_dossier":
        portal._visible = lambda who, doc: True


def build(agency: str, variant: str, upstream: str, run_dir: Path) -> Any:
    """The vendor app: the reference ``agency`` alone, upstream agencies at ``upstream``."""
    from fakes.app import AGENCIES, create_app
    from scenarios import load, loads

    scenario = loads(IN_TIME_SCENARIO) if variant == IN_TIME else load("hanoi-baseline")
    scenario = scenario.model_copy(update={"faults": ()})
    _patch(variant)
    urls = {a: upstream for a in AGENCIES if a != agency}
    app: Any = create_app(scenario, run_dir, agencies=(agency,), speed=1.0, base_urls=urls,
                          instant=variant != IN_TIME)
    callers = scenario.callers
    wrap: dict[str, Callable[[Any], Any]] = {
        "card_to_31_12": CardTo3112, "non_idempotent": NonIdempotent, "portal_non_idempotent": NonIdempotent,
        "crash_on_bad_input": CrashOnBadInput, "justice_crash_on_bad_input": CrashOnBadInput,
        "slow": Slow, "no_auth_on_reads": lambda a: NoAuthOnReads(a, callers["portal"].key),
        "write_without_key_accepted": KeyOptional, "replay_answered_200": ReplayAs200,
        "refusal_echoes_mother_pid": lambda a: Rewrite(
            a, lambda s: s["method"] == "POST" and s["path"] == "/health/birth-certificates",
            _echo_mother_pid),
        "not_found_echoes_pid": lambda a: Rewrite(
            a, lambda s: s["method"] == "GET" and s["path"].startswith("/police/people/"), _echo_person),
        "writes_without_scope": lambda a: NoScopeOnWrites(
            a, {c.key for c in callers.values()}, callers["portal"].key),
    }
    return wrap[variant](app) if variant in wrap else app


@dataclass
class Vendor:
    """A running vendor process (a ``subprocess.Popen`` or a forked ``multiprocessing`` process)
    and its temporary folder (removed by :meth:`stop`)."""

    process: Any
    base_url: str
    run_dir: Path

    @property
    def exit_code(self) -> int | None:
        """The process's exit status once stopped (None while it runs)."""
        if isinstance(self.process, subprocess.Popen):
            return self.process.returncode
        return self.process.exitcode

    def stop(self) -> None:
        if isinstance(self.process, subprocess.Popen):
            if self.process.stdout is not None:
                self.process.stdout.close()
            stop_process(self.process, grace=10.0)
        else:
            self.process.terminate()  # SIGTERM: uvicorn shuts down
            self.process.join(10.0)
            if self.process.exitcode is None:
                self.process.kill()
                self.process.join(10.0)
        shutil.rmtree(self.run_dir, ignore_errors=True)


def _vendor_child(agency: str, variant: str, upstream: str, run_dir: str, conn: Any) -> None:
    from tests.certify._forked import redirect

    log = Path(run_dir) / "vendor.log"
    redirect(log, log)
    serve(agency, variant, upstream, Path(run_dir), lambda url: (conn.send(url), conn.close()))


def start_vendor(agency: str, variant: str, upstream: str) -> Vendor:
    """Serve the vendor in a child process; raises RuntimeError if it does not start.

    The child is forked from the tests' primed forkserver (:mod:`tests.certify._forked`: the
    reference's modules already imported), so it starts in milliseconds; it serves exactly what
    ``python tests/certify/broken_vendors.py`` serves, its output in ``<run_dir>/vendor.log``.
    """
    from tests.certify._forked import context

    run_dir = Path(tempfile.mkdtemp(prefix=f"vendor-{agency}-{variant}-")).resolve()
    ctx = context()
    ours, theirs = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_vendor_child, args=(agency, variant, upstream, str(run_dir), theirs))
    try:
        proc.start()
        theirs.close()
        if not ours.poll(30.0):
            raise TimeoutError("not ready in 30 s")
        base_url = ours.recv()
    except BaseException as exc:
        proc.kill()
        proc.join(10.0)
        log = run_dir / "vendor.log"
        said = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(run_dir, ignore_errors=True)
        if isinstance(exc, (EOFError, TimeoutError)):
            raise RuntimeError(f"vendor {agency}/{variant} did not start ({exc or 'it exited'}, exit "
                               f"{proc.exitcode}): {said}") from exc
        raise
    finally:
        ours.close()
    return Vendor(proc, base_url, run_dir)


def start_independent_vss(upstream: str) -> Vendor:
    """Serve ``tests/vendor_vss`` (a VSS written from the contract alone, no reference code) with
    the hanoi-baseline scenario, calling its upstream agencies at ``upstream``.

    Raises RuntimeError if it does not start.
    """
    from scenarios import dump, load

    run_dir = Path(tempfile.mkdtemp(prefix="vendor-vss-independent-")).resolve()
    toml = run_dir / "scenario.toml"
    toml.write_text(dump(load("hanoi-baseline")), encoding="utf-8")
    root = str(Path(__file__).resolve().parents[2])  # the checkout, wherever pytest runs
    boot = f"import sys; sys.path.insert(0, {root!r}); from tests.vendor_vss.__main__ import main; " \
        "raise SystemExit(main())"
    cmd = [sys.executable, "-P", "-c", boot, "--scenario", str(toml), "--port", "0",
           "--upstream", upstream, "--db", str(run_dir / "vss.db")]
    try:
        proc, info = spawn_ready(cmd, run_dir / "vendor.log", 30.0)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return Vendor(proc, info["base_url"], run_dir)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python tests/certify/broken_vendors.py")
    p.add_argument("--agency", required=True)
    p.add_argument("--variant", default="reference", choices=VARIANTS)
    p.add_argument("--upstream", required=True)
    p.add_argument("--run-dir", required=True)
    a = p.parse_args(argv)
    serve(a.agency, a.variant, a.upstream, Path(a.run_dir),
          lambda url: print("READY " + json.dumps({"base_url": url}), flush=True))


def serve(agency: str, variant: str, upstream: str, run_dir: Path, ready: Callable[[str], Any]) -> None:
    """Serve the vendor on a free loopback port until SIGTERM; ``ready(base_url)`` once it listens."""
    import socket

    import uvicorn

    app = ClockFromUpstream(lambda: build(agency, variant, upstream, run_dir), upstream, run_dir) \
        if variant == IN_TIME else build(agency, variant, upstream, run_dir)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))

    async def run() -> None:
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        ready(f"http://127.0.0.1:{port}")
        await task

    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(run())


if __name__ == "__main__":
    main()
