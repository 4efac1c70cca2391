"""The reference ecosystem for a certification: the fakes in a child process (private).

``certify`` may not import ``fakes.serve`` (rooms: certify imports scenarios, fakes.ids and
loadtests), so the fakes are run as a program, ``python -m fakes.serve``, exactly as
``lienthong fakes serve`` would, and found by the ``READY <json>`` line it prints. The child
runs in the caller's folder, whatever it is, and every path handed to it is absolute; ``-P``
keeps that folder off its ``sys.path`` (a user's own ``loadtests/`` or ``fakes/`` package there
must not shadow the installed one).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from certify.requirements import AGENCIES
from scenarios import Scenario, dump

__all__ = ["Ecosystem", "free_port", "start_ecosystem"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Ecosystem:
    """A running fakes process: its ``base_url``; :meth:`stop` ends it."""

    def __init__(self, process: subprocess.Popen[bytes], base_url: str, run_dir: Path) -> None:
        self.process, self.base_url, self.run_dir = process, base_url, run_dir

    def stop(self) -> None:
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_ecosystem(scenario: Scenario, run_dir: Path, *, speed: float = 1.0,
                    timeout: float = 30.0) -> Ecosystem:
    """Start every reference agency on a free loopback port with ``scenario``.

    Raises RuntimeError with the tail of the server log if it does not become ready.
    """
    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "scenario.toml"
    path.write_text(dump(scenario), encoding="utf-8")
    # every agency is mounted, the vendor's too: /openapi.json is then the whole contract (the
    # reference document the suite checks the vendor against), while the scenario's base_url
    # sends the ecosystem's own calls to that agency to the vendor
    cmd = [sys.executable, "-P", "-m", "fakes.serve", "--scenario", str(path), "--run-dir",
           str(run_dir), "--port", str(free_port()), "--speed", str(speed),
           "--agencies", ",".join(AGENCIES)]
    log = open(run_dir / "server.log", "ab")  # noqa: SIM115 - the child keeps writing to it
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    log.close()  # the child holds its own descriptor
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(b"READY ") or (not line and proc.poll() is not None):
            break
    if not line.startswith(b"READY "):
        proc.kill()
        proc.wait()
        proc.stdout.close()
        tail = (run_dir / "server.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the reference fakes did not start: {tail}")
    return Ecosystem(proc, json.loads(line[6:])["base_url"], run_dir)
