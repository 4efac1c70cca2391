"""A trivial loopback HTTP endpoint in its own process, for driver tests and the benchmark.

Answers every request with ``200 ok`` (keep-alive) from a bare asyncio protocol, so the server is
not the bottleneck when a load generator on the same machine is measured. Only 127.0.0.1.

``python -m loadtests._echo [--port P] [--delay-ms D]`` prints ``PORT <n>`` once listening and
serves until killed (or ``--max-seconds`` pass).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass

__all__ = ["EchoServer", "start_echo"]

_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class _Echo(asyncio.Protocol):
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            length = _content_length(head)
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self._answer()

    def _answer(self) -> None:
        if self.delay > 0:
            asyncio.get_running_loop().call_later(self.delay, self._write)
        else:
            self._write()

    def _write(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(_RESPONSE)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


async def _serve(port: int, delay: float, max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Echo(delay), "127.0.0.1", port, backlog=4096)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await asyncio.sleep(max_seconds)


@dataclass
class EchoServer:
    """A running echo server process: its ``base_url``; :meth:`stop` ends it."""

    process: subprocess.Popen[str]
    base_url: str

    def stop(self) -> None:
        """Terminates the process (and waits for it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_echo(delay_ms: float = 0.0, max_seconds: float = 600.0) -> EchoServer:
    """Starts the echo server on a free loopback port in a child process."""
    cmd = [
        sys.executable,
        "-m",
        "loadtests._echo",
        "--delay-ms",
        str(delay_ms),
        "--max-seconds",
        str(max_seconds),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    line = proc.stdout.readline()
    if not line.startswith("PORT ") or time.monotonic() > deadline:
        proc.kill()
        raise RuntimeError(f"echo server did not start: {line!r}")
    return EchoServer(proc, f"http://127.0.0.1:{int(line.split()[1])}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m loadtests._echo")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--delay-ms", type=float, default=0.0)
    p.add_argument("--max-seconds", type=float, default=600.0)
    a = p.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(a.port, a.delay_ms / 1000.0, a.max_seconds))


if __name__ == "__main__":
    main()
