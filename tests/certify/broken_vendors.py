"""Vendors for the certification self-test: the reference fakes of one agency, served alone as a
vendor would serve it, and deliberately broken variants of them.

Each variant wraps the reference app (ASGI middleware) or overrides one name inside the vendor's
own process — never an edit of ``fakes/``. ``EXPECTED`` lists, per variant, the agency it breaks
and the exact requirement ids a certification must fail.

``python tests/certify/broken_vendors.py --agency vss --variant slow --upstream URL --run-dir D``
(or ``python -m tests.certify.broken_vendors …`` from the checkout) serves on a free loopback
port and prints ``READY <base_url>``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakes.serve import spawn_ready, stop_process

__all__ = ["EXPECTED", "VARIANTS", "Vendor", "start_vendor"]

Scope = dict[str, Any]

#: variant → (agency it applies to, requirement ids its certification must fail)
EXPECTED: dict[str, tuple[str, frozenset[str]]] = {
    "wrong_prefix": ("vss", frozenset({"VSS-CARD-001"})),
    "card_to_31_12": ("vss", frozenset({"VSS-CARD-002"})),
    "non_idempotent": ("vss", frozenset({"VSS-IDEM-001", "VSS-IDEM-002", "VSS-IDEM-003",
                                         "VSS-RES-001"})),
    "crash_on_bad_input": ("vss", frozenset({"VSS-API-001", "VSS-API-002"})),
    "no_auth_on_reads": ("vss", frozenset({"VSS-SEC-001"})),
    "slow": ("vss", frozenset({"VSS-PERF-001"})),
}
VARIANTS = ("reference", *EXPECTED)


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


def build(agency: str, variant: str, upstream: str, run_dir: Path) -> Any:
    """The vendor app: the reference ``agency`` alone, upstream agencies at ``upstream``."""
    from fakes.agencies import vss
    from fakes.app import AGENCIES, create_app
    from scenarios import load

    scenario = load("hanoi-baseline")
    scenario = scenario.model_copy(update={"faults": ()})
    if variant == "wrong_prefix":  # the vendor hard-coded HCMC's BHYT province (79)
        vss.make_child_bhyt = lambda province2, bhxh: "TE179" + bhxh
    urls = {a: upstream for a in AGENCIES if a != agency}
    app: Any = create_app(scenario, run_dir, agencies=(agency,), speed=1.0, base_urls=urls,
                          instant=True)
    wrap = {"card_to_31_12": CardTo3112, "non_idempotent": NonIdempotent,
            "crash_on_bad_input": CrashOnBadInput, "slow": Slow,
            "no_auth_on_reads": lambda a: NoAuthOnReads(a, scenario.callers["portal"].key)}
    return wrap[variant](app) if variant in wrap else app


@dataclass
class Vendor:
    """A running vendor process and its temporary folder (removed by :meth:`stop`)."""

    process: subprocess.Popen[bytes]
    base_url: str
    run_dir: Path

    def stop(self) -> None:
        if self.process.stdout is not None:
            self.process.stdout.close()
        stop_process(self.process, grace=10.0)
        shutil.rmtree(self.run_dir, ignore_errors=True)


def start_vendor(agency: str, variant: str, upstream: str) -> Vendor:
    """Serve the vendor in a child process; raises RuntimeError if it does not start.

    The child runs this file by its absolute path (``-P``: nothing from the current folder on
    its ``sys.path``), so the tests need not run from the checkout's root.
    """
    run_dir = Path(tempfile.mkdtemp(prefix=f"vendor-{agency}-{variant}-")).resolve()
    cmd = [sys.executable, "-P", str(Path(__file__).resolve()), "--agency", agency,
           "--variant", variant, "--upstream", upstream, "--run-dir", str(run_dir)]
    try:
        proc, info = spawn_ready(cmd, run_dir / "vendor.log", 30.0)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return Vendor(proc, info["base_url"], run_dir)


def main(argv: list[str] | None = None) -> None:
    import socket

    import uvicorn

    p = argparse.ArgumentParser(prog="python tests/certify/broken_vendors.py")
    p.add_argument("--agency", required=True)
    p.add_argument("--variant", default="reference", choices=VARIANTS)
    p.add_argument("--upstream", required=True)
    p.add_argument("--run-dir", required=True)
    a = p.parse_args(argv)
    app = build(a.agency, a.variant, a.upstream, Path(a.run_dir))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))

    async def run() -> None:
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        print("READY " + json.dumps({"base_url": f"http://127.0.0.1:{port}"}), flush=True)
        await task

    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(run())


if __name__ == "__main__":
    main()
