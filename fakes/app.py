"""The app factory: agencies, portal, admin and operations endpoints behind the middleware.

``create_app(scenario, run_dir)`` mounts every agency (or the ones named) on one FastAPI app and
wraps it, outermost first, in metrics, the gate of writes (auth, Idempotency-Key, body size,
content type, in the contract's order) and one fault middleware per agency.
With ``scenario.load.agencies == "in_time"`` (see :func:`with_instant`) the agencies' writes are
booked on their desks (``fakes.work``).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse
from starlette.responses import Response

from fakes import portal
from fakes._clock import Clock
from fakes._direct_routes import DirectRoutes, api_routes, json_type
from fakes._env import Env
from fakes._orchestrator import Orchestrator
from fakes._outbound import Outbound
from fakes._request_body import replay_body
from fakes.agencies import health, justice, police, social, vss
from fakes.auth import Auth, Who, require
from fakes.faults import FaultMiddleware
from fakes.idempotency import KEY_PATTERN
from fakes.metrics import Metrics, MetricsMiddleware
from fakes.problems import (
    HEALTH_RESPONSES,
    PROBLEM_RESPONSES,
    Problem,
    dependency_unavailable,
    install_handlers,
    internal_error,
    problem_response,
)
from fakes.store import Store
from fakes.work import gauges, install
from scenarios import Scenario
from scenarios.errors import ScenarioError
from scenarios.model import live_task_problems

__all__ = ["AGENCIES", "BODY_LIMIT", "FakesApp", "Gate", "create_app", "with_instant"]

AGENCIES = ("health", "justice", "police", "vss", "social", "portal")
BODY_LIMIT = 64 * 1024
_KEY = re.compile(KEY_PATTERN)
_PROBE_TIMEOUT_S, _PROBE_TTL_S = 0.75, 1.0  # /healthz's probe of the agencies over HTTP
_MODULES: dict[str, Any] = {"health": health, "justice": justice, "police": police,
                            "vss": vss, "social": social, "portal": portal}


class Gate:
    """The refusals of a write that come before its body is validated, in the contract's order
    (CONTRACT.md §3 "Order of checks"): 401 ``unauthenticated``, 403 ``forbidden``, 400
    ``idempotency_key_missing`` / ``idempotency_key_invalid``, 413 ``payload_too_large`` (bodies
    over ``limit`` bytes, declared or streamed), 415 ``unsupported_media_type`` (not
    ``application/json`` or ``application/*+json``), 400 ``invalid_json`` (an empty body; a
    malformed one is FastAPI's). A write that passes goes on, body replayed, to ``app``, where
    the same checks pass again. Paths and methods that are not a write of ``api`` go on untouched.
    """

    def __init__(self, app: Any, api: FastAPI, auth: Auth, limit: int = BODY_LIMIT) -> None:
        self.app, self.auth, self.limit = app, auth, limit
        self.writes = [(route.path_regex, scope) for route in api_routes(api.routes)
                       if "POST" in (route.methods or ()) and (scope := _scope(route.dependant))]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        need = next((s for regex, s in self.writes if regex.match(path)), None)
        if need is None:
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)
        try:
            self.auth.check(_text(headers.get(b"x-api-key")), need)
            key = headers.get(b"idempotency-key")
            if key is None:
                raise Problem(400, "idempotency_key_missing", "writes need an Idempotency-Key header")
            if not _KEY.fullmatch(key.decode("latin-1")):
                raise Problem(400, "idempotency_key_invalid",
                              "Idempotency-Key must be 1-128 characters of A-Za-z0-9._:-")
            declared = headers.get(b"content-length", b"0")
            if declared.isdigit() and int(declared) > self.limit:
                raise self._too_large()
            ctype = headers.get(b"content-type")
            if ctype is None or not json_type(ctype):
                raise Problem(415, "unsupported_media_type", "a write's body is JSON: send "
                              "Content-Type: application/json")
            body = await self._body(receive)
            if not body.strip():
                raise Problem(400, "invalid_json", "the body is empty; send a JSON object")
        except Problem as problem:
            await problem_response(problem)(scope, receive, send)
            return
        await self.app(scope, replay_body(body, receive), send)

    async def _body(self, receive: Any) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                raise self._too_large()
            if not message.get("more_body"):
                return b"".join(chunks)

    def _too_large(self) -> Problem:
        return Problem(413, "payload_too_large", f"bodies are limited to {self.limit} bytes")


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _scope(dependant: Any) -> str | None:
    """The scope a route's ``require(scope)`` dependency needs, if any."""
    for dep in dependant.dependencies:
        scope = getattr(dep.call, "scope", None) or _scope(dep)
        if scope:
            return str(scope)
    return None


class FakesApp:
    """The ASGI app of one fake server: ``api`` is the FastAPI app, ``env`` its context."""

    def __init__(self, api: FastAPI, env: Env, asgi: Any) -> None:
        self.api, self.env, self._asgi = api, env, asgi

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._asgi(scope, receive, send)
            return
        started = False

        async def watched(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._asgi(scope, receive, watched)
        except ConnectionError:  # an injected outage refuses an in-process caller's connection
            raise
        except Exception as exc:  # every 5xx is a problem document, logged with a request id
            if started:
                if getattr(exc, "lienthong_answered", False):
                    return  # FastAPI's handler answered and logged it
                raise
            problem = internal_error(exc, scope.get("method", ""), scope.get("path", ""))
            body = json.dumps(problem.body(), ensure_ascii=False).encode()
            headers = [(b"content-type", b"application/problem+json"),
                       (b"content-length", str(len(body)).encode()),
                       *((k.lower().encode(), v.encode()) for k, v in problem.headers.items())]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": body})


def with_instant(scenario: Scenario, instant: bool | None) -> Scenario:
    """``scenario`` with its agencies instant (True: every write answered at once, 201) or in
    time (False: booked on the desks, 202 and a work resource); None leaves
    ``scenario.load.agencies`` as it is."""
    mode = None if instant is None else "instant" if instant else "in_time"
    if mode is None or scenario.load.agencies == mode:
        return scenario
    return scenario.model_copy(update={"load": scenario.load.model_copy(update={"agencies": mode})})


def create_app(scenario: Scenario, run_dir: str | Path, *, agencies: Iterable[str] = AGENCIES,
               speed: float | None = None, base_urls: Mapping[str, str] | None = None,
               instant: bool | None = None) -> FakesApp:
    """A fake server for ``agencies`` with its stores under ``run_dir``.

    Agencies not mounted here are called at ``base_urls`` (else the scenario's
    ``agencies.<id>.base_url``). ``instant`` overrides ``scenario.load.agencies``
    (:func:`with_instant`). Raises ValueError for an unknown agency or one neither mounted
    nor reachable, or a step needing desks or servers its agency lacks (agencies in time).
    """
    scenario = with_instant(scenario, instant)
    mounted = tuple(agencies)
    if unknown := [a for a in mounted if a not in AGENCIES]:
        raise ValueError(f"unknown agency {unknown[0]!r}; expected some of {', '.join(AGENCIES)}")
    if problems := live_task_problems(scenario):
        raise ScenarioError(problems)
    run_dir = Path(run_dir)
    urls = _base_urls(scenario, mounted, base_urls or {})
    env = Env(scenario, run_dir, Clock.for_run(scenario, run_dir, speed), Auth(scenario.callers),
              Outbound(urls, scenario.load.request_timeout_s))
    for name in mounted:
        env.stores[name] = Store(run_dir / f"{name}.db", _MODULES[name].SCHEMA)
    install(env, mounted)  # the desks in time, resumed from the work registers
    metrics = Metrics()
    env.extras["metrics"] = metrics
    api = _api(env, mounted)
    asgi: Any = DirectRoutes(api, env.auth)  # hot routes without FastAPI's per-request work
    for name in mounted:  # the stream of each agency is the same whatever the placement
        asgi = FaultMiddleware(asgi, agency=name, prefix=f"/{name}", faults=scenario.faults,
                               clock=env.clock, rng=env.rng(100 + AGENCIES.index(name)),
                               metrics=metrics)
    app = FakesApp(api, env, MetricsMiddleware(Gate(asgi, api, env.auth), metrics))
    env.outbound.app = app
    return app


def _base_urls(scenario: Scenario, mounted: tuple[str, ...],
               overrides: Mapping[str, str]) -> dict[str, str | None]:
    urls: dict[str, str | None] = {}
    for name in AGENCIES:
        spec = scenario.agencies.get(name)  # type: ignore[call-overload]
        url = overrides.get(name) or (spec.base_url if spec else None)
        urls[name] = url if url or name not in mounted else None
        if url is None and name not in mounted:
            urls[name] = None  # unreachable: a call fails with upstream_error naming it
    return urls


def _api(env: Env, mounted: tuple[str, ...]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for name in mounted:
            if hasattr(_MODULES[name], "startup"):
                _MODULES[name].startup(env)
        if "portal" in mounted:
            orchestrator = Orchestrator(env)
            env.extras["orchestrator"] = orchestrator
            orchestrator.resume()
        yield
        if "portal" in mounted:
            await env.extras["orchestrator"].stop()
        await env.outbound.close()
        for store in env.stores.values():
            store.close()

    api = FastAPI(title="lienthong fake agencies", version="1",
                  description="Reference fakes of the linked birth and death services. "
                              "See fakes/CONTRACT.md.", lifespan=lifespan)
    api.state.env = env
    install_handlers(api)
    for name in mounted:
        api.include_router(_MODULES[name].router)
    _operations(api, env, mounted)
    return api


def _operations(api: FastAPI, env: Env, mounted: tuple[str, ...]) -> None:
    # The agencies the portal calls over HTTP (not mounted here): its /healthz probes them.
    remote = {a: str(url) for a, url in env.outbound.base_urls.items()
              if url and a not in mounted} if "portal" in mounted else {}
    theirs = {a for a, url in remote.items()  # someone else's: /healthz only recommended (§1)
              if (spec := env.scenario.agencies.get(a)) and spec.base_url == url}  # type: ignore[call-overload]
    probed: dict[str, Any] = {"at": -1e9, "dead": {}, "lock": None}

    async def alive(session: aiohttp.ClientSession, agency: str, url: str) -> bool:
        """Ours answer 200 on /healthz; someone else's answer any HTTP to a GET of the origin."""
        try:
            async with session.get(url.rstrip("/") + ("" if agency in theirs else "/healthz"),
                                   allow_redirects=False) as resp:
                return agency in theirs or resp.status == 200
        except (TimeoutError, OSError, aiohttp.ClientError):
            return False

    async def dead_agencies() -> dict[str, str]:
        """The remote agencies that did not answer, probed at most once a second."""
        if not remote:
            return {}
        probed["lock"] = probed["lock"] or asyncio.Lock()
        async with probed["lock"]:
            if time.monotonic() - probed["at"] >= _PROBE_TTL_S:
                async with aiohttp.ClientSession(
                        timeout=aiohttp.ClientTimeout(total=_PROBE_TIMEOUT_S)) as session:
                    up = await asyncio.gather(*(alive(session, a, u) for a, u in remote.items()))
                probed["dead"] = {a: u for (a, u), ok in zip(remote.items(), up, strict=True) if not ok}
                probed["at"] = time.monotonic()
            return dict(probed["dead"])

    @api.get("/healthz", tags=["operations"], responses=HEALTH_RESPONSES)
    async def healthz() -> dict[str, Any]:
        """Liveness, the mounted agencies, whether they work in time and the scenario clock;
        503 ``dependency_unavailable`` naming them when an agency the portal calls over HTTP
        does not answer (probed with a short timeout, at most once a second)."""
        doc = {"status": "ok", "scenario": env.scenario.meta.name, "agencies": list(mounted),
               "agencies_in_time": env.scenario.load.agencies == "in_time",
               "now": env.clock.now().isoformat(), "minute": env.clock.minute(),
               "speed": env.clock.speed, "t0": env.clock.t0}
        if dead := await dead_agencies():
            del doc["status"]  # a problem's status is the HTTP one
            raise dependency_unavailable(dead, health="degraded", **doc)
        return doc

    @api.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def metrics() -> str:
        """Prometheus text metrics."""
        m = env.extras["metrics"]
        if "portal" in mounted:
            rows = env.stores["portal"].db.execute(
                "SELECT status, count(*) FROM dossiers GROUP BY status").fetchall()
            m.gauges["dossiers"] = {r[0]: r[1] for r in rows}
        desks = {}
        for agency in env.extras.get("desks") or {}:
            await env.stores[agency].settled()
            desks[agency] = gauges(env, agency)
        m.gauges["desks"] = desks
        return str(m.render())

    @api.get("/admin/export/{agency}", tags=["admin"], responses=PROBLEM_RESPONSES)
    async def export(agency: str, request: Request,
                     who: Who = Depends(require("admin"))) -> Response:
        """Every register of ``agency`` as JSON, for reconciliation."""
        if agency not in mounted:
            raise Problem(404, "unknown_agency", f"no agency {agency!r} on this server")
        store = env.stores[agency]
        await store.settled()
        registers = {table: store.docs(sql) for table, sql in _MODULES[agency].EXPORT.items()}
        from fakes.agencies._common import json_response

        return json_response({"agency": agency, "exported_at": env.clock.now().isoformat(),
                              "registers": registers})
