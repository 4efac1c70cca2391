"""Supervision: the portal's ``/healthz`` reflects the agencies it calls over HTTP (503
``dependency_unavailable`` naming the dead ones), and under ``processes=2`` a killed agencies'
child is restarted on its run folder (its state resumes) while the dossiers in flight complete."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import psutil
import pytest

from fakes.serve import _Supervisor, free_port, start_subprocess
from scenarios import Scenario
from scenarios.model import Dist, Fault
from tests.fakes.conftest import Api

AGENCIES = ("health", "justice", "police", "vss", "social")
SPEED = 1440.0  # a scenario minute a 24th of a second: the portal's retry backoff (scenario time) is short


def _poll(what: Callable[[], Any], timeout: float, step: float = 0.05) -> Any:
    """``what()`` once it is truthy; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (got := what()):
        assert time.monotonic() < deadline, f"still {got!r} after {timeout} s"
        time.sleep(step)
    return got


def _health(base_url: str) -> httpx.Response | None:
    try:
        return httpx.get(base_url + "/healthz", timeout=5)
    except httpx.TransportError:
        return None


def _health_is(base_url: str, status: int, seen: list[int] | None = None,
               ) -> Callable[[], httpx.Response | None]:
    """A check that answers the ``/healthz`` reply once it has ``status``; the statuses it saw go
    to ``seen`` (0: no reply), for the failure message."""
    def check() -> httpx.Response | None:
        r = _health(base_url)
        if seen is not None:
            seen.append(0 if r is None else r.status_code)
        return r if r is not None and r.status_code == status else None
    return check


def _pid(run_dir: Path) -> int | None:
    try:
        return int((run_dir / "agencies.pid").read_text())
    except (OSError, ValueError):
        return None


def _submit(portal: Api, body: dict[str, Any]) -> str:
    r = portal.post("desk", "/portal/dossiers", body)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def test_a_killed_agencies_child_is_restarted_and_the_dossiers_complete(scenario: Scenario,
                                                                        tmp_path: Path) -> None:
    # vss answers after 1.5 s: the dossiers submitted before the kill are in flight at it
    slow = scenario.model_copy(update={"faults": (
        Fault(kind="latency", agency="vss", start=0, end=1e9,
              latency=Dist(kind="constant", mean=1500.0)),)})
    handle = start_subprocess(slow, tmp_path, speed=SPEED, processes=2, instant=True)
    assert handle.process is not None
    agencies_url = handle.urls["vss"]
    health, portal = Api(handle), Api(handle)
    health.http.base_url = httpx.URL(agencies_url)  # certificates are issued by health
    try:
        first = _pid(tmp_path)
        assert first is not None
        assert [c.pid for c in psutil.Process(handle.process.pid).children()] == [first]
        assert _health(handle.base_url).status_code == 200  # type: ignore[union-attr]
        bodies = [health.birth_dossier("ks_tt_bhyt") for _ in range(6)]
        before = [_submit(portal, b) for b in bodies[:3]]

        os.kill(first, signal.SIGKILL)
        seen: list[int] = []
        try:
            down = _poll(_health_is(handle.base_url, 503, seen), 10)
        except AssertionError as exc:  # say what /healthz answered meanwhile, and the supervisor's log
            log = (tmp_path / "agencies.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"{exc}; /healthz answered {Counter(seen)}; agencies.log: {log}") from None
        doc = down.json()
        assert down.headers["content-type"].startswith("application/problem+json")
        assert doc["code"] == "dependency_unavailable" and doc["health"] == "degraded"
        assert set(doc["unavailable"]) == set(AGENCIES)
        assert all(a in doc["detail"] for a in AGENCIES) and agencies_url in doc["detail"]
        assert {"t0", "speed", "now", "minute", "scenario"} <= set(doc)
        during = [_submit(portal, b) for b in bodies[3:]]  # the portal takes dossiers meanwhile

        up = _poll(_health_is(handle.base_url, 200), 15)
        assert up.json()["status"] == "ok"
        second = _poll(lambda: (p := _pid(tmp_path)) != first and p, 5)
        assert [c.pid for c in psutil.Process(handle.process.pid).children()] == [second]
        log = (tmp_path / "agencies.log").read_text()
        assert f"supervisor: agencies child exited -9, restarted (pid {second})" in log
        assert httpx.get(agencies_url + "/healthz", timeout=5).json()["agencies"] == list(AGENCIES)
        after = [_submit(portal, health.birth_dossier("ks_tt_bhyt")) for _ in range(2)]

        docs = [portal.wait(d, timeout=15) for d in before + during + after]
        assert [d["status"] for d in docs] == ["completed"] * len(docs), docs
        metrics = httpx.get(handle.base_url + "/metrics", timeout=5).text  # retried over the outage
        assert 'outcome="transport_error"' in metrics, metrics
        cards = {c["pid"] for c in health.export("vss")["cards"]}  # the state resumed: every card
        assert cards == {d["result"]["pid"] for d in docs}
    finally:
        health.http.close()
        portal.http.close()
        handle.stop()  # SIGTERM: the child stops too, and is not restarted
    assert (tmp_path / "agencies.log").read_text().count("restarted") == 1
    assert not (tmp_path / "agencies.pid").exists()
    _poll(lambda: not _running(second), 5)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def answers_404() -> Iterator[str]:
    """An origin that answers every GET 404: someone else's agency without a /healthz."""

    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("split", [False, True], ids=["one-process", "split"])
def test_the_portal_healthz_names_an_agency_at_a_dead_url(scenario: Scenario, tmp_path: Path,
                                                          answers_404: str, split: bool) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    agencies = dict(scenario.agencies)
    agencies["social"] = agencies["social"].model_copy(update={"base_url": dead})
    agencies["vss"] = agencies["vss"].model_copy(update={"base_url": answers_404})
    placed = scenario.model_copy(update={"agencies": agencies})
    handle = start_subprocess(placed, tmp_path, speed=SPEED, split=split, instant=True)
    try:
        assert handle.urls["social"] == dead and handle.urls["vss"] == answers_404
        r = _health(handle.urls["portal"])
        assert r is not None and r.status_code == 503, r and r.text
        doc = r.json()
        assert doc["status"] == 503 and doc["code"] == "dependency_unavailable"
        assert doc["unavailable"] == {"social": dead}  # vss answers HTTP (404): alive
        assert f"social at {dead}" in doc["detail"]
        assert doc["agencies"] == (["portal"] if split else ["health", "justice", "police", "portal"])
        if split:  # the agencies themselves do not probe: only the portal's /healthz does
            assert _health(handle.urls["justice"]).status_code == 200  # type: ignore[union-attr]
    finally:
        handle.stop()


class _Exits:
    """A child that exits at once (``start()``) or runs until stopped (``start(long=True)``)."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def __call__(self, long: bool = False) -> subprocess.Popen[bytes]:
        code = "import time; time.sleep(30)" if long else "raise SystemExit(3)"
        self.started.append(subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE))
        return self.started[-1]


def test_restarts_are_bounded_then_given_up(tmp_path: Path) -> None:
    start = _Exits()
    supervisor = _Supervisor(start, start(), tmp_path)
    servers: Any = [SimpleNamespace(should_exit=False)]
    began = time.monotonic()
    asyncio.run(asyncio.wait_for(supervisor.watch(servers), 10))  # returns once it gives up
    assert time.monotonic() - began < 5
    assert len(start.started) == 1 + _Supervisor.LIMIT
    log = (tmp_path / "agencies.log").read_text()
    assert log.count("supervisor: agencies child exited 3, restarted") == _Supervisor.LIMIT
    assert "not restarting it again" in log
    assert not (tmp_path / "agencies.pid").exists()  # no child runs
    supervisor.stop()


def test_a_stop_is_not_followed_by_a_restart(tmp_path: Path) -> None:
    start = _Exits()
    supervisor = _Supervisor(lambda: start(long=True), start(long=True), tmp_path)
    servers: Any = [SimpleNamespace(should_exit=False)]

    async def run() -> None:
        watcher = asyncio.ensure_future(supervisor.watch(servers))
        await asyncio.sleep(0.3)
        servers[0].should_exit = True  # the server is shutting down (SIGTERM): so is its child
        await asyncio.wait_for(watcher, 5)

    asyncio.run(run())
    assert start.started[0].wait(5) == -signal.SIGTERM
    assert not (tmp_path / "agencies.pid").exists()
    supervisor.stop()
    assert len(start.started) == 1
    assert not (tmp_path / "agencies.log").exists()  # nothing to report: no restart
