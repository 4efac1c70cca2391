"""``python -m tests.vendor_vss --scenario FILE --port P --upstream URL --db FILE``.

Prints ``READY {"base_url": "http://127.0.0.1:P"}`` once listening; SIGTERM or SIGINT stop it
gracefully with exit code 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
from collections.abc import Iterator

import uvicorn

from tests.vendor_vss.app import create_app, load_config


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # uvicorn's re-raises the signal on exit: no clean code
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.handle_exit)
        yield


async def _serve(server: _Server, sock: socket.socket) -> None:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        host, port = sock.getsockname()[:2]
        print("READY " + json.dumps({"base_url": f"http://{host}:{port}"}), flush=True)
    await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.vendor_vss", description=__doc__)
    parser.add_argument("--scenario", required=True, help="resolved scenario TOML file")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--upstream", required=True, help="origin serving /justice and /police")
    parser.add_argument("--db", required=True, help="SQLite file (WAL)")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    app = create_app(load_config(args.scenario, args.upstream), args.db)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    server = _Server(uvicorn.Config(app, log_level="warning", access_log=False))
    asyncio.run(_serve(server, sock))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
