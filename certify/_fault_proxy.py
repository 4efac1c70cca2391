"""The vendor's view of the ecosystem: a small reverse proxy in front of the reference fakes
whose faults the suite switches on and off (private).

The vendor calls its upstream agencies at the proxy's URL; the proxy forwards to the fakes
unless a rule says otherwise: ``outage`` answers 503 ``unavailable`` (as the fakes' own fault
middleware does) and ``delay`` holds the request for a number of seconds first. Rules match a
path prefix. Runs its own event loop in a thread, on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

__all__ = ["FaultProxy"]

_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


@dataclass
class _Rules:
    outage: set[str] = field(default_factory=set)
    delay: dict[str, float] = field(default_factory=dict)
    seen: list[tuple[str, str, int]] = field(default_factory=list)


class FaultProxy:
    """Forwards ``127.0.0.1:port`` to ``target``; :meth:`outage`, :meth:`delay`, :meth:`clear`."""

    def __init__(self, target: str, port: int) -> None:
        self.target, self.port = target.rstrip("/"), port
        self.url = f"http://127.0.0.1:{port}"
        self.rules = _Rules()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="certify-proxy", daemon=True)

    # -- control -------------------------------------------------------------------------
    def outage(self, prefix: str = "/") -> None:
        """Answer 503 ``unavailable`` for paths under ``prefix`` until :meth:`clear`."""
        with self._lock:
            self.rules.outage.add(prefix)

    def delay(self, seconds: float, prefix: str = "/") -> None:
        """Hold requests under ``prefix`` for ``seconds`` before forwarding them."""
        with self._lock:
            self.rules.delay[prefix] = seconds

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self.rules.outage.clear()
            self.rules.delay.clear()

    def seen(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request the proxy answered, in order."""
        with self._lock:
            return list(self.rules.seen)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(15) or self._error is not None:
            raise RuntimeError(f"proxy on port {self.port} did not start: {self._error}")
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._close())
        self._loop.close()

    async def _serve(self) -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def _close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        with self._lock:
            down = any(path.startswith(p) for p in self.rules.outage)
            wait = max((s for p, s in self.rules.delay.items() if path.startswith(p)), default=0.0)
        if wait:
            await asyncio.sleep(wait)
        if down:
            body = {"type": "https://lienthong.example/problems/unavailable", "title": "Unavailable",
                    "status": 503, "detail": "upstream outage injected by the certifier",
                    "code": "unavailable"}
            self._note(request.method, path, 503)
            return web.Response(status=503, text=json.dumps(body),
                                content_type="application/problem+json",
                                headers={"Retry-After": "1", "X-Fault": "outage"})
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        data = await request.read()
        async with self._session.request(request.method, self.target + request.path_qs,
                                         headers=headers, data=data or None) as up:
            payload = await up.read()
            out = {k: v for k, v in up.headers.items() if k.lower() not in _HOP}
            self._note(request.method, path, up.status)
            return web.Response(status=up.status, body=payload, headers=out)

    def _note(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.rules.seen.append((method, path, status))

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
