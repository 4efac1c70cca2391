"""Locust's master and workers on any hosts: lienthong's messages on Locust's own channel (private).

Locust gives each worker an index when it connects (``runner.worker_index``, 0, 1, … in order of
arrival); the worker replays ``split_by_index(stream, workers, index)``. Everything else travels as
Locust custom messages (msgpack over the master's ZeroMQ socket), so a load machine needs nothing
but the installed package and the master's address:

- master → workers, ``lienthong_config``, when the test starts: the run's settings
  (:class:`~loadtests._config.LoadConfig`, with minute 0 ``t0`` chosen then, once every worker is
  there) and the text of the scenario file.
- worker → master, ``lienthong_progress``, twice a second: its phase and counters (the heartbeat
  shown in the progress output), the dossiers accepted and the documents issued since the last
  one, so the dossiers of a worker that is lost later are still reconciled.
- worker → master, ``lienthong_chunk``: its result files ``worker-<i>.npz`` / ``.json``,
  zlib-compressed, in pieces of at most 1 MiB; then ``lienthong_done`` with the SHA-256 of each.
  The master writes them into its run folder (the workers' own folders are temporary).

The master watches Locust's own worker states (``missing`` after three missed heartbeats): a
worker missing for longer than ``$LIENTHONG_LOST_AFTER_S`` (10 s; 120 s while it prepares its
share, which holds its event loop) or gone, that has not delivered its results, is *lost*. It is
reported at once and in ``<out>/cluster.json``; the front door counts the arrivals it had not
started by its last heartbeat as not sent (:mod:`loadtests.distributed`). A lost worker is never replaced:
a worker that connects with an index past the expected count is told to quit. The master quits
once every index has delivered or is lost. A worker exits when its master has not answered
heartbeats for 20 s (``$LIENTHONG_MASTER_LOST_S``; its records stay in its temporary folder, whose
path it logs), and, when started by ``lienthong load --worker``, when no master answers within
``$LIENTHONG_WORKER_TIMEOUT`` seconds.

With ``$LIENTHONG_CLUSTER_STATUS`` set the master prints one ``LIENTHONG {json}`` line a second
(and one per event) on stdout for the process that started it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import numpy as np
from locust.rpc import Message
from locust.runners import MasterRunner, WorkerRunner

from loadtests._config import ENV_VAR, LoadConfig
from loadtests._replay import Prepared, _submission
from loadtests.driver import OpenModelDriver

__all__ = [
    "CHUNK",
    "CONFIG",
    "DONE",
    "LOST_AFTER_ENV",
    "MARKER",
    "PROGRESS",
    "SOURCE_ENV",
    "STATUS_ENV",
    "WORKER_TIMEOUT_ENV",
    "Master",
    "Worker",
    "install",
    "worker_config",
]

CONFIG = "lienthong_config"
PROGRESS = "lienthong_progress"
CHUNK = "lienthong_chunk"
DONE = "lienthong_done"
MARKER = "LIENTHONG "
STATUS_ENV = "LIENTHONG_CLUSTER_STATUS"
LOST_AFTER_ENV = "LIENTHONG_LOST_AFTER_S"
WORKER_TIMEOUT_ENV = "LIENTHONG_WORKER_TIMEOUT"
MASTER_ENV = "LIENTHONG_MASTER"  # how the worker names its master in its log (the address given)
SOURCE_ENV = "LIENTHONG_SOURCE"  # the local address a worker's connection to its master leaves from

PIECE = 1 << 20  # bytes of compressed result per chunk message
PREPARING_GRACE_S = 120.0  # a worker computing its share does not heartbeat
MASTER_LOST_ENV = "LIENTHONG_MASTER_LOST_S"  # seconds without an answer from the master before a worker exits
MASTER_LOST_S = 20.0
CONFIG_WAIT_S = 60.0

log = logging.getLogger("lienthong.cluster")


def install(environment: Any) -> None:
    """Hooks the protocol into a Locust process (called from the locustfile's ``init`` event)."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        environment.lienthong_master = Master(environment)
    elif isinstance(runner, WorkerRunner):
        environment.lienthong_worker = Worker(environment)


def worker_config(environment: Any) -> LoadConfig:
    """The settings the master sent this worker (waits for them, at most 60 s)."""
    worker: Worker = environment.lienthong_worker
    try:
        return worker.ready.get(timeout=CONFIG_WAIT_S)
    except gevent.Timeout:
        raise RuntimeError(f"no settings from the master after {CONFIG_WAIT_S:g} s") from None


# -- the master ----------------------------------------------------------------------------------


class Master:
    """The master's side: settings out, heartbeats and results in, lost workers declared."""

    def __init__(self, environment: Any) -> None:
        self.env, self.runner = environment, environment.runner
        cfg = getattr(environment, "lienthong_config", None) or LoadConfig.from_env()
        environment.lienthong_config = cfg
        self.cfg: LoadConfig = cfg
        self.expected = cfg.workers
        self.out = Path(cfg.out)
        self.lost_after = float(os.environ.get(LOST_AFTER_ENV) or 10.0)
        self.status = bool(os.environ.get(STATUS_ENV))
        self.begun = time.time()
        self.started: float | None = None
        self.payload: dict[str, Any] | None = None
        self.heard: dict[str, float] = {}  # client id → wall time of its last heartbeat or message
        self.progress: dict[int, dict[str, Any]] = {}
        self.accepted: dict[int, dict[int, dict[str, Any]]] = {}  # index → arrival → submission
        self.pieces: dict[tuple[int, str], _Incoming] = {}
        self.files: dict[int, dict[str, dict[str, Any]]] = {}
        self.done: dict[int, dict[str, Any]] = {}
        self.lost: dict[int, dict[str, Any]] = {}
        self.missing_since: dict[int, float] = {}
        self.states: dict[int, str] = {}
        self.refused: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.finishing = False
        self.runner.register_message(PROGRESS, self._on_progress)
        self.runner.register_message(CHUNK, self._on_chunk)
        self.runner.register_message(DONE, self._on_done)
        environment.events.worker_connect.add_listener(self._on_connect)
        environment.events.heartbeat_sent.add_listener(self._on_heartbeat)
        environment.events.test_start.add_listener(self._on_test_start)
        environment.events.quitting.add_listener(self._on_quitting)
        gevent.spawn(self._watch)

    # -- events

    def _on_connect(self, client_id: str, **_: Any) -> None:
        self.heard[client_id] = time.time()
        index = self.runner.get_worker_index(client_id)
        if index >= self.expected:
            gevent.spawn(self._refuse, client_id, index)
            return
        self._event("connected", index, client=client_id)
        if self.payload is not None:  # joined after the start (web UI): it still gets its settings
            self.runner.send_message(CONFIG, self.payload, client_id=client_id)

    def _refuse(self, client_id: str, index: int) -> None:
        """A worker past the expected count (a late or restarted one): told to quit, not used."""
        node = self.runner.clients.get(client_id)
        if node is not None:
            del self.runner.clients[client_id]
            dispatcher = getattr(self.runner, "_users_dispatcher", None)
            if dispatcher is not None:
                with contextlib.suppress(Exception):
                    dispatcher.remove_worker(node)
        self.runner.server.send_to_client(Message("quit", None, client_id))
        self.refused.append({"client_id": client_id, "index": index, "at": time.time()})
        self._event("refused", index, client=client_id,
                    detail=f"{self.expected} worker(s) expected: index {index} is not used")

    def _on_heartbeat(self, client_id: str, timestamp: float, **_: Any) -> None:
        self.heard[client_id] = timestamp

    def _on_test_start(self, environment: Any, **_: Any) -> None:
        if self.payload is not None:
            return
        import scenarios
        from loadtests.live import _align, _prep_seconds

        cfg = self.cfg
        s = scenarios.load(cfg.scenario)
        if cfg.t0 <= 0:
            lead = 3.0 + _prep_seconds(s, cfg.days)  # the workers are up: only their share to prepare
            cfg.t0, cfg.shift_minutes, cfg.aligned, cfg.speed = _align(cfg.target, cfg.speed, lead)
        path = os.environ.get(ENV_VAR)
        if path:
            cfg.write(path)  # the front door reads minute 0 from there
        source = Path(cfg.scenario)
        text = source.read_text(encoding="utf-8") if source.is_file() else None
        self.payload = {"config": asdict(cfg), "scenario_text": text}
        self.started = time.time()
        self.runner.send_message(CONFIG, self.payload)  # before the spawn messages: one socket, in order
        log.info("settings sent to %d worker(s); minute 0 at %s", len(self.runner.clients),
                 time.strftime("%H:%M:%S", time.localtime(cfg.t0)))

    def _on_progress(self, environment: Any, msg: Any, **_: Any) -> None:
        data = dict(msg.data)
        index = int(data.pop("index"))
        self.heard[msg.node_id] = time.time()
        known = self.accepted.setdefault(index, {})
        for sub in data.pop("submissions", ()):  # by arrival: an accepted one replaces its pending one
            known[int(sub["index"])] = sub
        self.progress[index] = {**self.progress.get(index, {}), **data, "at": time.time()}

    def _on_chunk(self, environment: Any, msg: Any, **_: Any) -> None:
        d = msg.data
        index, name = int(d["index"]), str(d["name"])
        self.heard[msg.node_id] = time.time()
        if name not in (f"worker-{index}.npz", f"worker-{index}.json"):
            self.errors.append(f"worker {index} sent a file named {name!r}: ignored")
            return
        key = (index, name)
        if d["seq"] == 0:
            self.pieces[key] = _Incoming(self.out / name)
        incoming = self.pieces.get(key)
        if incoming is None or incoming.failed:
            return
        incoming.add(int(d["seq"]), bytes(d["data"]))
        if d["last"]:
            self.files.setdefault(index, {})[name] = incoming.close()
            del self.pieces[key]

    def _on_done(self, environment: Any, msg: Any, **_: Any) -> None:
        d = msg.data
        index = int(d["index"])
        self.heard[msg.node_id] = time.time()
        got = self.files.get(index, {})
        bad = [name for name, digest in d["digests"].items()
               if got.get(name, {}).get("sha256") != digest]
        if bad:
            self.errors.append(f"worker {index}: {', '.join(bad)} did not arrive intact")
            self._event("failed", index, detail=f"{', '.join(bad)} did not arrive intact")
            return
        self.done[index] = {"at": time.time(), "summary": d.get("summary", {}),
                            "bytes": sum(f["compressed"] for f in got.values()),
                            "host": d.get("host", ""), "pid": d.get("pid")}
        was = self.lost.pop(index, None)
        self._event("done", index, bytes=self.done[index]["bytes"],
                    detail="after being declared lost" if was else "")
        self._finish_when_complete()

    def _on_quitting(self, environment: Any, **_: Any) -> None:
        if self.started is not None and self.cfg.mode == "open":  # closed-model users record nothing
            now = time.time()
            for index in range(self.expected):
                if index not in self.done and index not in self.lost:
                    self._declare_lost(index, now, "had not delivered its results when the master stopped")
        self._write()

    # -- the watch: states, lost workers, status lines

    def _watch(self) -> None:
        limit = self.cfg.max_seconds + 3 * 3600  # the master's own bounds end it long before
        while time.time() - self.begun < limit and not self.finishing:
            gevent.sleep(1.0)
            try:
                self._tick(time.time())
            except Exception as exc:  # the watch must not die silently
                log.exception("lienthong cluster watch: %s", exc)

    def _tick(self, now: float) -> None:
        if self.started is None:
            ready = len(self.runner.clients.ready)
            self._say({"phase": "waiting", "connected": min(ready, self.expected),
                       "expected": self.expected, "waited_s": round(now - self.begun, 1)})
            return
        workers = []
        for index in range(self.expected):
            client = self._client_of(index)
            node = self.runner.clients.get(client) if client else None
            locust_state = node.state if node is not None else ("gone" if client else "absent")
            phase = self.progress.get(index, {}).get("phase", "")
            gone = locust_state in ("missing", "gone", "absent")
            state = ("done" if index in self.done else "lost" if index in self.lost
                     else locust_state if gone else phase or locust_state)
            if index not in self.done and index not in self.lost:
                if phase == "failed":
                    self._declare_lost(index, now, f"failed: {self.progress[index].get('error', '')}")
                    state = "lost"
                elif locust_state in ("missing", "gone", "absent"):
                    since = self.missing_since.setdefault(index, now)
                    grace = PREPARING_GRACE_S if phase in ("", "preparing") else self.lost_after
                    if locust_state == "absent":
                        grace = max(grace, 30.0)
                    if now - since >= grace:
                        reason = {"missing": "stopped heartbeating", "gone": "disconnected",
                                  "absent": "never connected"}[locust_state]
                        self._declare_lost(index, now, reason)
                        state = "lost"
                elif self.missing_since.pop(index, None) is not None:
                    self._event("back", index)
            if self.states.get(index) != state:
                if state == "missing":
                    self._event("missing", index)
                self.states[index] = state
            p = self.progress.get(index, {})
            heard = self._last_heard(index)
            workers.append({"index": index, "state": state, "started": p.get("started", 0),
                            "total": p.get("total"), "accepted": p.get("accepted", 0),
                            "minute": p.get("minute"), "heard_s": round(now - heard, 1) if heard else None})
        self._say({"phase": "running", "expected": self.expected, "workers": workers,
                   "done": sorted(self.done), "lost": sorted(self.lost)})
        self._finish_when_complete()

    def _client_of(self, index: int) -> str | None:
        found = [c for c, i in self.runner.worker_indexes.items() if i == index]
        return found[-1] if found else None

    def _last_heard(self, index: int) -> float:
        client = self._client_of(index)
        heard = self.heard.get(client, 0.0) if client else 0.0
        return max(heard, float(self.progress.get(index, {}).get("at", 0.0)))

    def _declare_lost(self, index: int, now: float, reason: str) -> None:
        heard = self._last_heard(index)
        self.lost[index] = {
            "index": index,
            "client_id": self._client_of(index),
            "reason": reason,
            "missing_since": self.missing_since.get(index, now),
            "lost_at": now,
            "last_heard": heard or None,
            "progress": self.progress.get(index, {}),
            "submissions": list(self.accepted.get(index, {}).values()),
        }
        p = self.progress.get(index, {})
        minute = p.get("minute")
        self._event("lost", index, reason=reason, last_heard=heard or None,
                    detail=f"{reason}; last heard {now - heard:.1f} s ago" if heard else reason,
                    started=p.get("started", 0), total=p.get("total"),
                    minute=minute)
        log.error("worker %d LOST (%s): its arrivals due after %s are counted as not sent", index, reason,
                  time.strftime("%H:%M:%S", time.localtime(heard)) if heard else "the start")
        self._write()

    def _finish_when_complete(self) -> None:
        if self.started is None or self.finishing or self.cfg.mode != "open":
            return  # closed mode: the scenario's stages end the test
        if all(i in self.done or i in self.lost for i in range(self.expected)):
            self.finishing = True
            self._write()
            self._say({"phase": "finished", "done": sorted(self.done), "lost": sorted(self.lost)})
            gevent.spawn_later(0.5, self.runner.quit)

    # -- output

    def _event(self, event: str, index: int, **fields: Any) -> None:
        doc = {"event": event, "index": index, "at": time.time(), **fields}
        if not self.status:
            log.info("worker %d %s %s", index, event, fields.get("detail", ""))
        self._say(doc)

    def _say(self, doc: dict[str, Any]) -> None:
        if self.status:
            sys.stdout.write(MARKER + json.dumps(doc) + "\n")
            sys.stdout.flush()

    def _write(self) -> None:
        """``<out>/cluster.json``: the expected workers, who delivered, who was lost and when."""
        doc = {
            "expected": self.expected,
            "started": self.started,
            "t0": self.cfg.t0,
            "done": {str(i): v for i, v in sorted(self.done.items())},
            "lost": [self.lost[i] for i in sorted(self.lost)],
            "refused": self.refused,
            "errors": self.errors,
            "progress": {str(i): v for i, v in sorted(self.progress.items())},
        }
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = self.out / "cluster.json.tmp"
        tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        tmp.replace(self.out / "cluster.json")


class _Incoming:
    """One result file arriving in compressed pieces, written as they come."""

    def __init__(self, path: Path) -> None:
        self.path, self.part = path, path.with_name(path.name + ".part")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.part, "wb")  # noqa: SIM115 - closed in close()
        self.inflate = zlib.decompressobj()
        self.digest = hashlib.sha256()
        self.next, self.compressed, self.failed = 0, 0, False

    def add(self, seq: int, data: bytes) -> None:
        if seq != self.next:
            self.failed = True
            self.file.close()
            return
        raw = self.inflate.decompress(data)
        self.file.write(raw)
        self.digest.update(raw)
        self.next, self.compressed = seq + 1, self.compressed + len(data)

    def close(self) -> dict[str, Any]:
        if self.failed:
            return {"sha256": "", "compressed": self.compressed}
        raw = self.inflate.flush()
        self.file.write(raw)
        self.digest.update(raw)
        self.file.close()
        self.part.replace(self.path)
        return {"sha256": self.digest.hexdigest(), "compressed": self.compressed}


# -- a worker ------------------------------------------------------------------------------------


class Worker:
    """A worker's side: takes its settings from the master, reports, sends its results back."""

    def __init__(self, environment: Any) -> None:
        self.env, self.runner = environment, environment.runner
        self.ready: gevent.event.AsyncResult = gevent.event.AsyncResult()
        self.folder: Path | None = None
        self.heard = time.time()
        self.sent_subs = self.sent_docs = 0
        self.shipped = False
        self.master = os.environ.get(MASTER_ENV) or f"{self.runner.master_host}:{self.runner.master_port}"
        _connected.set()
        self.runner.register_message(CONFIG, self._on_config)
        environment.events.heartbeat_received.add_listener(self._on_heartbeat)
        environment.events.quitting.add_listener(self._on_quitting)
        gevent.spawn(self._watch_master)
        log.info("lienthong worker %d connected to the master at %s", self.index, self.master)

    @property
    def index(self) -> int:
        return int(getattr(self.runner, "worker_index", 0) or 0)

    def _on_heartbeat(self, **_: Any) -> None:
        self.heard = time.time()

    def _on_config(self, environment: Any, msg: Any, **_: Any) -> None:
        self.heard = time.time()
        if self.ready.ready():
            return  # sent again after a reconnect: the first settings stand
        data = msg.data
        folder = Path(tempfile.mkdtemp(prefix=f"lienthong-worker-{self.index}-"))
        values = dict(data["config"])
        if data.get("scenario_text"):
            path = folder / "scenario.toml"
            path.write_text(data["scenario_text"], encoding="utf-8")
            values["scenario"] = str(path)
        values.update(out=str(folder / "load"), progress=False, go_file="")
        cfg = LoadConfig(**values)
        self.folder = folder
        environment.lienthong_config = cfg
        self.ready.set(cfg)
        first = cfg.t0 + cfg.shift_minutes * 60.0 / cfg.speed
        log.info("lienthong worker %d: settings received (%s against %s, speed %g, %d worker(s)); the stream "
                 "starts in %.1f s; records in %s", self.index, Path(cfg.scenario).name, cfg.target,
                 cfg.speed, cfg.workers, first - time.time(), folder)

    def phase(self, phase: str, **fields: Any) -> None:
        """Tells the master what this worker does now."""
        self.runner.send_message(PROGRESS, {"index": self.index, "phase": phase, **fields})

    def report(self, p: Prepared, driver: OpenModelDriver) -> None:
        """The heartbeat while the share is driven: counters and the dossiers newly accepted."""
        ids, docs = p.runner.ids, p.runner.docs
        new = [_submission(p, i) for i in itertools.islice(ids, self.sent_subs, None)]
        self.sent_subs += len(new)
        # documents issued but not (yet) accepted: searched for in the register if this worker is lost
        new += [_submission(p, i, answered=False) for i in itertools.islice(docs, self.sent_docs, None)
                if i not in ids]
        self.sent_docs = len(docs)
        rows = p.runner.rows
        self.phase(
            "replaying",
            started=driver.stats.started,
            total=int(p.share.size),
            accepted=len(ids),
            finished=int(np.count_nonzero(np.isfinite(rows["finished"]))),
            requests=len(p.log),
            minute=float(p.clock.minute(time.time())),
            submissions=new,
        )

    def ship(self, p: Prepared, summary: dict[str, Any]) -> None:
        """Sends the worker's result files to the master, then ``lienthong_done``."""
        digests, sent = {}, 0
        self.phase("shipping", started=summary["driver"].get("started", 0), total=int(p.share.size),
                   accepted=len(p.runner.ids))
        for suffix in (".npz", ".json"):
            path = Path(p.cfg.out) / f"worker-{p.worker_index}{suffix}"
            digests[path.name], n = self._send_file(path)
            sent += n
        self.runner.send_message(DONE, {"index": p.worker_index, "summary": summary, "digests": digests,
                                        "host": socket.gethostname(), "pid": os.getpid()})
        self.shipped = True
        log.info("lienthong worker %d: results sent to the master (%d bytes compressed)",
                 p.worker_index, sent)

    def _send_file(self, path: Path) -> tuple[str, int]:
        digest, deflate = hashlib.sha256(), zlib.compressobj(1)
        pending, seq, total = b"", 0, 0
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(PIECE), b""):
                digest.update(block)
                pending += deflate.compress(block)
                while len(pending) >= PIECE:
                    self._chunk(path.name, seq, pending[:PIECE], last=False)
                    total, seq, pending = total + PIECE, seq + 1, pending[PIECE:]
                    gevent.sleep(0)
        pending += deflate.flush()
        self._chunk(path.name, seq, pending, last=True)
        return digest.hexdigest(), total + len(pending)

    def _chunk(self, name: str, seq: int, data: bytes, last: bool) -> None:
        self.runner.send_message(CHUNK, {"index": self.index, "name": name, "seq": seq, "last": last,
                                         "data": data})

    def _watch_master(self) -> None:
        """Exits the worker when the master stops answering heartbeats (bounded, like the run)."""
        patience = float(os.environ.get(MASTER_LOST_ENV) or MASTER_LOST_S)
        while True:
            gevent.sleep(1.0)
            if time.time() - self.heard > patience:
                kept = f"; its records stay in {self.folder}" if self.folder and not self.shipped else ""
                log.error("lienthong worker %d: the master at %s has not answered for %.0f s: exiting%s",
                          self.index, self.master, patience, kept)
                self.env.process_exit_code = 3
                self.runner.quit()
                return

    def _on_quitting(self, **_: Any) -> None:
        if self.folder is not None and self.shipped:
            shutil.rmtree(self.folder, ignore_errors=True)


# -- a worker started by ``lienthong load --worker``: bounded wait for its master ------------------

_connected = gevent.event.Event()


def _arm_connect_timeout() -> None:
    """In a worker started by ``lienthong load --worker`` (``$LIENTHONG_WORKER_TIMEOUT`` set): exit 2
    when no master acknowledges it within that many seconds (Locust alone retries for 5 minutes)."""
    raw = os.environ.get(WORKER_TIMEOUT_ENV)
    if not raw or "--worker" not in sys.argv:
        return
    timeout = float(raw)

    def check() -> None:
        if not _connected.is_set():
            where = os.environ.get(MASTER_ENV, "the master")
            sys.stderr.write(f"lienthong worker: no master answered at {where} within {timeout:g} s\n")
            sys.stderr.flush()
            os._exit(2)

    gevent.spawn_later(timeout, check)


def _bind_source() -> None:
    """In a worker given ``--source ADDRESS`` (``$LIENTHONG_SOURCE``): its connection to the master
    leaves from that local address (ZeroMQ's ``tcp://source:0;host:port``), for a load machine with
    several addresses. Locust's own client, with only the address it connects from changed."""
    source = os.environ.get(SOURCE_ENV)
    if not source or "--worker" not in sys.argv:
        return
    import zmq.green as zmq
    from locust.rpc import zmqrpc

    class Sourced(zmqrpc.Client):
        def __init__(self, host: str, port: int, identity: str) -> None:
            zmqrpc.BaseSocket.__init__(self, zmq.DEALER, self.ipv4_only(host, port))
            self.socket.setsockopt(zmq.IDENTITY, identity.encode())
            self.socket.connect(f"tcp://{source}:0;{host}:{port}")

    zmqrpc.Client = Sourced  # type: ignore[misc]


_arm_connect_timeout()
_bind_source()
