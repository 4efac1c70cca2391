"""Run the fakes: in this process (``serve``, ``start_thread``) or as a child process
(``start_subprocess``), on 127.0.0.1 by default, all agencies on one port or one port each.

``python -m fakes.serve --scenario S --run-dir D [--port P] [--split] [--speed X]
[--instant | --in-time]`` is the child's entry point; it prints one ``READY <json>`` line once
every port listens. ``instant`` (``--instant``/``--in-time``) overrides the scenario's
``load.agencies`` everywhere here (``fakes.app.with_instant``). With ``--processes 2`` the
agencies' child is supervised: restarted on the same run folder and port when it dies.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scenarios.model import AGENCY_IDS as AGENCIES  # the agencies fakes.app mounts, in order

if TYPE_CHECKING:  # the server stack is imported where it serves: a parent that only starts a
    import uvicorn  # child (a live run, certify, tests) does not pay for FastAPI's import

    from fakes.app import FakesApp
from scenarios import Scenario, dump, load
from scenarios.clock import CLOCK_FILE

__all__ = [
    "Handle",
    "clear_stores",
    "free_port",
    "local_agencies",
    "serve",
    "spawn_ready",
    "start_subprocess",
    "start_thread",
    "stop_process",
    "wait_healthy",
]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Handle:
    """A running fake server: where it listens, its keys, and how to stop it."""

    base_url: str
    urls: dict[str, str]
    keys: dict[str, str]
    run_dir: Path
    process: subprocess.Popen[bytes] | None = None
    _stop: Any = field(default=None, repr=False)

    def key(self, caller: str) -> str:
        """The API key of ``caller`` (a name in scenario.callers)."""
        return self.keys[caller]

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM for a child process) and wait for it."""
        if self.process is not None:
            stop_process(self.process)
            self._close_pipe()
        elif self._stop is not None:
            self._stop()

    def kill(self) -> None:
        """SIGKILL a child process (the crash test)."""
        assert self.process is not None, "kill() needs a subprocess handle"
        self.process.kill()
        self.process.wait()
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Handle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def local_agencies(scenario: Scenario) -> tuple[str, ...]:
    """The agencies to serve for ``scenario``: all but those it places elsewhere (a
    ``base_url``: someone else's implementation, called there)."""
    return tuple(a for a in AGENCIES
                 if (spec := scenario.agencies.get(a)) is None  # type: ignore[call-overload]
                 or not spec.base_url)


def _plan(split: bool, host: str, port: int,
          agencies: tuple[str, ...] = AGENCIES) -> dict[str, int]:
    """Port of each app: one for all ('*'), or one per agency."""
    if not split:
        return {"*": port}
    return {name: (port + i if port else free_port(host)) for i, name in enumerate(agencies)}


def _apps(scenario: Scenario, run_dir: Path, host: str, ports: dict[str, int],
          speed: float | None, agencies: tuple[str, ...] = AGENCIES,
          base_urls: dict[str, str] | None = None) -> dict[str, FakesApp]:
    from fakes.app import create_app

    if "*" in ports:
        return {"*": create_app(scenario, run_dir, agencies=agencies, speed=speed,
                                base_urls=base_urls)}
    urls = {name: f"http://{host}:{p}" for name, p in ports.items()}
    return {name: create_app(scenario, run_dir, agencies=(name,), speed=speed,
                             base_urls={k: v for k, v in urls.items() if k != name})
            for name in ports}


def _servers(apps: dict[str, FakesApp], host: str, ports: dict[str, int]) -> list[uvicorn.Server]:
    import uvicorn

    return [uvicorn.Server(uvicorn.Config(app, host=host, port=ports[name], log_level="warning",
                                          access_log=False, lifespan="on", loop="asyncio",
                                          timeout_graceful_shutdown=3, timeout_keep_alive=30,
                                          backlog=4096))
            for name, app in apps.items()]


def _urls(host: str, ports: dict[str, int],
          elsewhere: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
    if "*" in ports:
        base = f"http://{host}:{ports['*']}"
        return base, {name: (elsewhere or {}).get(name, base) for name in AGENCIES}
    urls = {**(elsewhere or {}), **{name: f"http://{host}:{p}" for name, p in ports.items()}}
    return urls.get("portal", next(iter(urls.values()))), urls


def serve(scenario: Scenario, host: str = "127.0.0.1", port: int = 8000,
          run_dir: str | Path = "runs/fakes", *, split: bool = False,
          speed: float | None = None, ready: Any = None, processes: int = 1,
          agencies: tuple[str, ...] = AGENCIES, base_urls: dict[str, str] | None = None,
          watch_parent: bool = False, agencies_port: int | None = None,
          instant: bool | None = None) -> None:
    """Serve the fakes until interrupted; ``ready(base_url, urls)`` is called once listening.

    ``processes=2`` runs the agencies in a child process (on ``agencies_port``, default
    ``port + 1``, or a free one when ``port`` is 0) and the portal here, calling them over
    loopback: two event loops, so two cores. ``agencies``/``base_urls`` mount only some
    agencies and reach the others at those URLs; ``watch_parent`` stops the server when its
    parent process dies. ``instant``: True, every write is answered at once (201); False, the
    agencies work in time (202 and a work resource); None, as ``scenario.load.agencies`` says.

    Under ``processes=2`` the parent supervises the agencies' child (:class:`_Supervisor`): one
    that dies unasked is restarted on the same run folder and port, at most
    ``_Supervisor.LIMIT`` times in ``_Supervisor.WINDOW_S`` seconds; meanwhile the portal's
    ``/healthz`` answers 503 naming the agencies.

    Raises ValueError for ``processes`` other than 1 or 2, or 2 with ``split``.
    """
    if processes not in (1, 2) or (processes == 2 and split):
        raise ValueError("processes is 1 or 2 (and 2 does not combine with split)")
    from fakes.app import with_instant

    scenario = with_instant(scenario, instant)  # the agencies' process gets it in its file
    _use_uvloop()
    run_dir = Path(run_dir)
    supervisor: _Supervisor | None = None
    elsewhere: dict[str, str] = {}
    if processes == 2:
        if agencies_port is None:
            agencies_port = port + 1 if port else 0
        served = tuple(a for a in agencies if a != "portal")
        child, child_url = _agencies_child(scenario, run_dir, host, agencies_port, speed, served)
        same_port = urllib.parse.urlsplit(child_url).port or agencies_port
        supervisor = _Supervisor(
            lambda: _agencies_child(scenario, run_dir, host, same_port, speed, served)[0],
            child, run_dir.resolve())
        agencies = ("portal",)
        elsewhere = dict.fromkeys(served, child_url)
        base_urls = dict(elsewhere)
    ports = _plan(split, host, port, agencies)
    elsewhere = {**{a: str(spec.base_url) for a, spec in scenario.agencies.items()
                    if spec.base_url and a not in agencies}, **elsewhere}
    try:
        servers = _servers(_apps(scenario, run_dir, host, ports, speed, agencies, base_urls),
                           host, ports)

        async def main() -> None:
            tasks = [asyncio.ensure_future(s.serve()) for s in servers]
            while not all(s.started for s in servers):
                if any(t.done() for t in tasks):
                    break
                await asyncio.sleep(0.01)
            if ready is not None and all(s.started for s in servers):
                ready(*_urls(host, ports, elsewhere))
            if watch_parent:
                tasks.append(asyncio.ensure_future(_watch_parent(servers)))
            if supervisor is not None:
                tasks.append(asyncio.ensure_future(supervisor.watch(servers)))
            await asyncio.gather(*tasks)

        asyncio.run(main())
    finally:
        if supervisor is not None:
            supervisor.stop()


class _Supervisor:
    """Keeps the agencies' child of ``processes=2`` alive: :meth:`watch` (in the parent's event
    loop) restarts a child that exits unasked with ``start()`` (same run folder and port, so its
    SQLite state resumes), at most ``LIMIT`` times in ``WINDOW_S`` seconds, then gives up (the
    portal's ``/healthz`` stays 503). Every event goes to ``<run_dir>/agencies.log`` and stderr;
    the child's pid is kept in ``<run_dir>/agencies.pid``. :meth:`stop` stops the child, for good.
    """

    LIMIT, WINDOW_S, POLL_S, SETTLE_S = 5, 60.0, 0.1, 0.2

    def __init__(self, start: Callable[[], subprocess.Popen[bytes]],
                 proc: subprocess.Popen[bytes], run_dir: Path) -> None:
        self.start, self.proc = start, proc
        self.log_path, self.pid_path = run_dir / "agencies.log", run_dir / "agencies.pid"
        self.restarts: deque[float] = deque()
        self.stopping = False
        self._write_pid()

    async def watch(self, servers: list[uvicorn.Server]) -> None:
        """Poll the child until the servers stop; restart it whenever it has died unasked."""
        def done() -> bool:
            return self.stopping or all(s.should_exit for s in servers)

        while not done():
            if self.proc.poll() is None:
                await asyncio.sleep(self.POLL_S)
                continue
            await asyncio.sleep(self.SETTLE_S)  # a Ctrl-C reaches the whole group: the parent too
            if not done() and not await self._restart(done):
                self._forget_pid()
                return
        # shutting down: uvicorn may re-raise its SIGTERM before serve()'s cleanup, so the
        # child is told now (it also stops by itself once this process has gone)
        self.stopping = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self._forget_pid()

    async def _restart(self, done: Callable[[], bool]) -> bool:
        """Restart the dead child, retrying a failed start; False once the budget is spent."""
        code = self.proc.returncode
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        failures = 0
        while not done():
            now = time.monotonic()
            while self.restarts and now - self.restarts[0] > self.WINDOW_S:
                self.restarts.popleft()
            if len(self.restarts) >= self.LIMIT:
                self.note(f"agencies child exited {code}; {self.LIMIT} restarts in the last "
                          f"{self.WINDOW_S:.0f} s: not restarting it again (the portal's /healthz "
                          "answers 503 until this server is restarted)")
                return False
            self.restarts.append(now)
            try:
                await asyncio.to_thread(self._spawn)
            except (RuntimeError, OSError) as exc:  # no READY line; or no process at all
                failures += 1
                self.note(f"agencies child exited {code}; restart failed: {str(exc)[-300:]}")
                await asyncio.sleep(min(5.0, 0.5 * 2 ** failures))
                continue
            self.note(f"agencies child exited {code}, restarted (pid {self.proc.pid})")
            return True
        return True

    def _spawn(self) -> None:
        """Start a child (in a worker thread) and hold it at once, so :meth:`stop` stops it
        even when the server was shut down meanwhile."""
        self.proc = self.start()
        self._write_pid()
        if self.stopping:
            _stop_child(self.proc)

    def _write_pid(self) -> None:
        with contextlib.suppress(OSError):
            self.pid_path.write_text(f"{self.proc.pid}\n", encoding="utf-8")

    def _forget_pid(self) -> None:
        with contextlib.suppress(OSError):
            self.pid_path.unlink()

    def note(self, message: str) -> None:
        """Log a supervision event to the run folder's agencies.log and to stderr."""
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: {message}\n"
        with contextlib.suppress(OSError), open(self.log_path, "a", encoding="utf-8") as log:
            log.write(line)
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(line)
            sys.stderr.flush()

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after 15 s) and restart it no more."""
        self.stopping = True
        _stop_child(self.proc)
        self._forget_pid()


async def _watch_parent(servers: list[uvicorn.Server]) -> None:
    """Stop ``servers`` once the parent process has gone (even if it was SIGKILLed)."""
    parent = os.getppid()
    while not all(s.should_exit for s in servers):
        if os.getppid() != parent:
            for s in servers:
                s.should_exit = True
            return
        await asyncio.sleep(0.1)


def _agencies_child(scenario: Scenario, run_dir: Path, host: str, port: int,
                    speed: float | None,
                    served: tuple[str, ...]) -> tuple[subprocess.Popen[bytes], str]:
    """Start the agencies ``served`` (not the portal) in a child process; (process, base URL)."""
    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "scenario.toml"
    path.write_text(dump(scenario), encoding="utf-8")
    cmd = [sys.executable, "-P", "-m", "fakes.serve", "--scenario", str(path), "--run-dir",
           str(run_dir), "--host", host, "--port", str(port or free_port(host)),
           "--agencies", ",".join(served), "--watch-parent"]
    cmd += ["--speed", str(speed)] if speed else []
    proc, info = spawn_ready(cmd, run_dir / "agencies.log", 30.0)
    return proc, str(info["base_url"])


def clear_stores(run_dir: Path) -> list[Path]:
    """Deletes what a serve keeps in ``run_dir`` — each agency's SQLite register (and its journal
    files) and the scenario clock — and nothing else; returns the files deleted."""
    patterns = ("*.db", "*.db-wal", "*.db-shm", "*.db-journal", CLOCK_FILE)
    gone = sorted({p for pattern in patterns for p in run_dir.glob(pattern) if p.is_file()})
    for path in gone:
        path.unlink()
    return gone


def stop_process(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM ``process``, wait up to ``grace`` seconds, then SIGKILL it; returns once it is gone."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def spawn_ready(cmd: list[str], log_path: Path, timeout: float,
                primed: Any = None) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Run ``cmd`` (a child printing one ``READY <json>`` line when it listens) and wait for it.

    ``primed``: the child was started with ``--primed``: once it prints ``PRIMED`` (imports
    done), ``primed()`` is called (it writes the run's clock) and the child is told to go on.
    stderr goes to ``log_path``. Raises RuntimeError with the log's tail if no READY line comes
    within ``timeout`` seconds (the child is killed).
    """
    with open(log_path, "ab") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log,
                                stdin=subprocess.PIPE if primed is not None else None,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(b"PRIMED") and primed is not None and proc.stdin is not None:
            primed()
            with contextlib.suppress(OSError):
                proc.stdin.write(b"go\n")
                proc.stdin.close()
            continue
        if line.startswith(b"READY ") or (not line and proc.poll() is not None):
            break
    if not line.startswith(b"READY "):
        proc.kill()
        proc.wait()
        proc.stdout.close()
        name = cmd[cmd.index("-m") + 1] if "-m" in cmd else cmd[0]
        raise RuntimeError(f"{name} did not start: {log_path.read_text()[-2000:]}")
    info: dict[str, Any] = json.loads(line[6:])
    return proc, info


def _stop_child(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - plain asyncio works, only slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - plain asyncio works, only slower
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _keys(scenario: Scenario) -> dict[str, str]:
    return {name: c.key for name, c in scenario.callers.items()}


def start_thread(scenario: Scenario, run_dir: str | Path, *, speed: float | None = None,
                 split: bool = False, host: str = "127.0.0.1", timeout: float = 20.0,
                 instant: bool | None = None) -> Handle:
    """Serve in a background thread of this process (its own event loop) on free ports."""
    from fakes.app import with_instant

    scenario = with_instant(scenario, instant)
    ports = _plan(split, host, 0 if split else free_port(host))
    servers = _servers(_apps(scenario, Path(run_dir), host, ports, speed), host, ports)
    loop = _new_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(asyncio.gather(*(s.serve() for s in servers)))

    thread = threading.Thread(target=run, name="fakes-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not all(s.started for s in servers):
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake server did not start")
        time.sleep(0.01)

    def stop() -> None:
        for s in servers:
            s.should_exit = True
        thread.join(timeout)
        loop.close()

    base, urls = _urls(host, ports)
    return Handle(base, urls, _keys(scenario), Path(run_dir), _stop=stop)


def start_subprocess(scenario: Scenario | str | Path = "hanoi-baseline",
                     run_dir: str | Path = "runs/fakes", *, port: int = 0,
                     speed: float | None = None, split: bool = False,
                     host: str = "127.0.0.1", timeout: float = 30.0,
                     processes: int = 1, agencies: tuple[str, ...] | None = None,
                     instant: bool | None = None, primed: Any = None) -> Handle:
    """Start ``python -m fakes.serve`` as a child process and wait until it listens.

    ``scenario`` is a Scenario (written to ``run_dir/scenario.toml``), a catalog name or a
    path. ``processes=2``: the child serves the portal and starts the agencies in a
    grandchild (``Handle.urls`` says where each agency is; ``kill()`` takes both down).
    ``agencies``: the ones to serve (default: every agency the scenario gives no base URL).
    ``instant`` overrides ``load.agencies`` of the scenario (see :func:`serve`).
    ``primed()``, when given, runs once the child has imported everything and before it reads
    the run folder: a live run writes its clock there, so the clock's lead is not eaten by a
    slow start (imports take seconds on a busy machine).
    Raises RuntimeError with the child's output if it does not become ready. Every path handed
    to the child is absolute: it runs in this process's folder, whatever that is.
    """
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(scenario, Scenario):
        path = run_dir / "scenario.toml"
        path.write_text(dump(scenario), encoding="utf-8")
        scenario_obj, arg = scenario, str(path)
    else:
        scenario_obj = load(scenario)
        arg = str(Path(scenario).resolve()) if Path(scenario).is_file() else str(scenario)
    cmd = [sys.executable, "-P", "-m", "fakes.serve", "--scenario", arg, "--run-dir", str(run_dir),
           "--host", host, "--port", str(port or free_port(host))]
    cmd += ["--speed", str(speed)] if speed else []
    cmd += ["--split"] if split else []
    cmd += ["--agencies", ",".join(agencies)] if agencies else []
    cmd += [] if instant is None else ["--instant" if instant else "--in-time"]
    if processes != 1:
        cmd += ["--processes", str(processes), "--agencies-port", str(free_port(host))]
    cmd += ["--primed"] if primed is not None else []
    proc, info = spawn_ready(cmd, run_dir / "server.log", timeout, primed)
    return Handle(info["base_url"], info["urls"], _keys(scenario_obj), run_dir, process=proc)


def wait_healthy(base_url: str, timeout: float = 10.0, *,
                 process: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> None:
    """Poll ``/healthz`` until it answers 200. Raises RuntimeError on timeout, or as soon as
    ``process`` (the server, when known) has exited; the message ends with ``log``'s tail."""
    tail = (lambda: ": " + log.read_text(errors="replace")[-3000:]) if log is not None else (lambda: "")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{base_url} exited {process.returncode} before it was healthy{tail()}")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{base_url} not healthy after {timeout}s{tail()}")


def main(argv: list[str] | None = None) -> None:
    """Child-process entry point."""
    p = argparse.ArgumentParser(prog="python -m fakes.serve")
    p.add_argument("--scenario", default="hanoi-baseline")
    p.add_argument("--run-dir", default="runs/fakes")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--speed", type=float, default=None)
    p.add_argument("--split", action="store_true")
    p.add_argument("--processes", type=int, default=1, choices=(1, 2))
    p.add_argument("--agencies", default=None,
                   help="comma-separated agencies to serve (default: those without a base URL)")
    p.add_argument("--watch-parent", action="store_true")
    p.add_argument("--agencies-port", type=int, default=None)
    p.add_argument("--primed", action="store_true",
                   help="print PRIMED once imported and wait for a line on stdin before reading the "
                        "run folder")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--instant", dest="instant", action="store_const", const=True, default=None,
                      help="answer every write at once (201), whatever the scenario says")
    mode.add_argument("--in-time", dest="instant", action="store_const", const=False,
                      help="book the writes on the agencies' desks (202 and a work resource)")
    args = p.parse_args(argv)

    def ready(base: str, urls: dict[str, str]) -> None:
        print("READY " + json.dumps({"base_url": base, "urls": urls}), flush=True)

    import uvicorn  # noqa: F401 - the server stack, imported before PRIMED: what is slow to start

    import fakes.app  # noqa: F401

    if args.primed:
        print("PRIMED", flush=True)
        sys.stdin.readline()
    scenario = load(args.scenario)
    agencies = tuple(args.agencies.split(",")) if args.agencies else local_agencies(scenario)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn turns SIGTERM/SIGINT into a stop
        serve(scenario, args.host, args.port, args.run_dir, split=args.split,
              speed=args.speed, ready=ready, processes=args.processes,
              agencies=agencies, watch_parent=args.watch_parent,
              agencies_port=args.agencies_port, instant=args.instant)


if __name__ == "__main__":
    main()
