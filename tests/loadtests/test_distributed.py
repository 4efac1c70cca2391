"""``lienthong load`` over Locust's own master/worker protocol against the reference fakes.

- 1 master + 2 workers on 127.0.0.1 (``--workers 2``, through :func:`lienthong.live.run_load`);
- across "hosts": the ``lienthong load`` CLI as real processes, the master listening on 127.0.0.2
  (``--master --bind``), one worker connecting from 127.0.0.3 and one from 127.0.0.4
  (``--worker --master … --source …``), the fakes on 127.0.0.1. Distinct: the master's listening
  address and each worker's connection to it (checked on the sockets); the workers take scenario,
  target, keys and pace from the master and send their records back over Locust's channel (no
  shared folder: each worker records into its own temporary folder). Not distinct: the workers'
  HTTP traffic to the fakes leaves from 127.0.0.1, and all processes share one kernel, clock and
  file system;
- a worker SIGKILLed mid-stream: the master names it, counts its arrivals not yet sent as not
  sent, and the run fails (exit 1).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

import scenarios
from fakes.serve import Handle, free_port, start_subprocess
from lienthong.live import run_load
from loadtests._config import LoadConfig
from loadtests._merge import merge
from loadtests._replay import stream_of
from sim.arrivals import split_by_index

SPEED = 1440 * 60 / 6.0  # a scenario day in 6 s
MASTER, SOURCES = "127.0.0.2", ("127.0.0.3", "127.0.0.4")


def _two_local_workers(tmp_path: Path) -> Any:
    s = scenarios.load("hanoi-baseline")
    handle = start_subprocess(s, tmp_path / "fakes", speed=SPEED)
    try:
        return run_load(
            "hanoi-baseline",
            handle.base_url,
            workers=2,
            multiplier=0.2,
            speed=SPEED,
            out=tmp_path,
            drain_s=20,
            max_seconds=90,
        )
    finally:
        _stop(handle)


def _across_hosts(tmp_path: Path) -> tuple[_Cluster, LoadConfig, set[str], set[str], list[int]]:
    """The cluster as it ended, the run's settings, the addresses listening on and connected to its
    master's port while it ran, and the processes' exit codes."""
    handle = start_subprocess(scenarios.load("hanoi-baseline"), tmp_path / "fakes", speed=SPEED, instant=True)
    try:
        cluster = _Cluster(tmp_path, handle.base_url)
        try:
            cfg = cluster.config_once_started()
            listening, peers = _peers(cluster.port)
            codes = cluster.wait()
        finally:
            cluster.kill_all()
    finally:
        _stop(handle)
    return cluster, cfg, listening, peers, codes


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The two runs that must complete, at once (they wait on the compressed clock far more than
    they compute): 2 workers under one ``--workers 2`` master, and master and workers as separate
    CLI processes on distinct loopback addresses."""
    with ThreadPoolExecutor(2) as pool:
        local = pool.submit(_two_local_workers, tmp_path_factory.mktemp("local"))
        hosts = pool.submit(_across_hosts, tmp_path_factory.mktemp("hosts"))
        return {"local": local.result(), "hosts": hosts.result()}


def test_two_workers_split_the_stream_by_index_and_reconcile(both: dict[str, Any]) -> None:
    out = both["local"]
    merged = merge(out.path / "load")
    assert merged.workers == 2
    shares = [json.loads((out.path / "load" / f"worker-{w}.json").read_text()) for w in (0, 1)]
    assert sorted(sh["worker"] for sh in shares) == [0, 1]
    cfg = LoadConfig.read(out.path / "load" / "config.json")
    assert cfg.t0 > 0  # chosen by the master when the test started
    stream = stream_of(scenarios.load(cfg.scenario), cfg)
    # together the workers covered the whole stream exactly once, each its own index class
    assert merged.journeys["dossier"].tolist() == stream["dossier"].tolist()
    w0 = np.load(out.path / "load" / "worker-0.npz")["journeys"]["dossier"]
    assert set(w0 % 2) == {0}
    assert out.reconciliation.passed, out.reconciliation.violations[:5]
    cluster = json.loads((out.path / "load" / "cluster.json").read_text())
    assert sorted(cluster["done"]) == ["0", "1"] and cluster["lost"] == []


# -- across hosts: distinct loopback addresses ------------------------------------------------------


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[Handle]:
    handle = start_subprocess(scenarios.load("hanoi-baseline"), tmp_path / "fakes", speed=SPEED, instant=True)
    try:
        yield handle
    finally:
        _stop(handle)


def _stop(handle: Handle) -> None:
    handle.stop()
    if handle.process is not None and handle.process.stdout is not None:
        handle.process.stdout.close()


class _Cluster:
    """``lienthong load --master`` on 127.0.0.2 and ``lienthong load --worker`` processes from
    127.0.0.3, 127.0.0.4, each in its own session (so the master's Locust child dies with it)."""

    def __init__(self, tmp: Path, target: str, *, expect: int = 2, workers: int = 2,
                 master_timeout: float = 30, worker_env: dict[str, str] | None = None) -> None:
        self.tmp, self.port = tmp, free_port(MASTER)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs = [tmp / "master.out", *(tmp / f"worker-{i}.out" for i in range(workers))]
        master = ["hanoi-baseline", "--target", target, "--master", "--bind", f"{MASTER}:{self.port}",
                  "--expect-workers", str(expect), "--speed", f"{SPEED:g}", "--multiplier", "0.2", "--out",
                  str(tmp / "runs"), "--drain", "15", "--lost-after", "2",
                  "--worker-timeout", f"{master_timeout:g}"]
        self._start(master, self.logs[0])
        for source, log in zip(SOURCES, self.logs[1:], strict=False):
            self._start(["--worker", "--master", f"{MASTER}:{self.port}", "--source", source,
                         "--worker-timeout", "30"], log, worker_env)

    def _start(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.procs.append(_lienthong_load(args, log, env))

    def run_folder(self) -> Path:
        return next((self.tmp / "runs").glob("*-load-*"))

    def config_once_started(self, timeout: float = 30.0) -> LoadConfig:
        """The run's settings once the master started the test (t0 chosen), waiting at most ``timeout``."""
        end = time.time() + timeout
        while time.time() < end:
            with contextlib.suppress(StopIteration, OSError, ValueError, KeyError):
                cfg = LoadConfig.read(self.run_folder() / "load" / "config.json")
                if cfg.t0 > 0:
                    return cfg
            assert self.procs[0].poll() is None, self.text(0)
            time.sleep(0.1)
        raise AssertionError(f"the master did not start the test in {timeout} s:\n{self.text(0)}")

    def worker_index(self, w: int) -> int:
        """The index the master gave worker process ``w`` (from its log)."""
        for line in self.text(w + 1).splitlines():
            if "lienthong worker " in line and " connected to the master" in line:
                return int(line.split("lienthong worker ")[1].split()[0])
        raise AssertionError(self.text(w + 1))

    def wait(self, timeout: float = 60.0) -> list[int]:
        end = time.time() + timeout
        return [p.wait(timeout=max(1.0, end - time.time())) for p in self.procs]

    def text(self, i: int) -> str:
        return self.logs[i].read_text(errors="replace")

    def kill_all(self) -> None:
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=10)
        for i in range(1, len(self.logs)):  # a worker that did not deliver keeps its temporary folder
            for line in self.text(i).splitlines():
                if "; records in " in line:
                    shutil.rmtree(line.rsplit("; records in ", 1)[1].strip(), ignore_errors=True)


def _lienthong_load(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        return subprocess.Popen([sys.executable, "-m", "lienthong", "load", *args], stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=dict(os.environ, COLUMNS="200", **(env or {})))


def _peers(port: int) -> tuple[set[str], set[str]]:
    """``(addresses listening on port, addresses connected to it)`` on this machine."""
    listening, peers = set(), set()
    for c in psutil.net_connections("tcp"):
        if c.laddr and c.laddr.port == port:
            if c.status == psutil.CONN_LISTEN:
                listening.add(c.laddr.ip.removeprefix("::ffff:"))
            elif c.status == psutil.CONN_ESTABLISHED and c.raddr:
                peers.add(c.raddr.ip.removeprefix("::ffff:"))
    return listening, peers


def _shares(cfg: LoadConfig) -> tuple[Any, list[Any]]:
    full = stream_of(scenarios.load(cfg.scenario), cfg)
    return full, [split_by_index(full, 2, i) for i in (0, 1)]


def test_master_and_workers_on_distinct_addresses_split_by_index_and_reconcile(both: dict[str, Any]) -> None:
    cluster, cfg, listening, peers, codes = both["hosts"]
    assert codes == [0, 0, 0], cluster.text(0)[-3000:] + cluster.text(1)[-2000:]
    assert listening == {MASTER}
    assert set(SOURCES) <= peers, peers  # each worker's connection came from its own address
    run = cluster.run_folder()
    load = run / "load"
    full, shares = _shares(LoadConfig.read(load / "config.json"))
    assert cfg.workers == 2
    for i in (0, 1):  # each worker replayed exactly its index class: dossier % 2 == i
        got = np.load(load / f"worker-{i}.npz")["journeys"]["dossier"]
        assert got.tolist() == shares[i]["dossier"].tolist()
        assert set((got % 2).tolist()) == {i}
    merged = merge(load)
    assert merged.journeys["dossier"].tolist() == full["dossier"].tolist()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["exit_code"] == 0
    m = metrics["metrics"]
    assert m["workers"] == 2 and m["driver"]["not_sent"] == 0 and m["driver"].get("lost_workers", 0) == 0
    assert m["reconciliation"]["passed"] and m["reconciliation"]["complete"], m["reconciliation"]["first"][:5]
    assert len(merged.submissions) == m["outcomes"]["completed"] + m["outcomes"]["rejected"] > 0
    out = cluster.text(0)
    assert "worker #0 connected" in out and "worker #1 done" in out
    assert sorted(cluster.worker_index(w) for w in (0, 1)) == [0, 1]


def test_a_worker_killed_mid_run_is_reported_and_its_rest_counted_as_not_sent(
    fakes: Handle, tmp_path: Path
) -> None:
    cluster = _Cluster(tmp_path, fakes.base_url)
    try:
        cfg = cluster.config_once_started()
        first = cfg.t0 + cfg.shift_minutes * 60.0 / cfg.speed  # wall time of the stream's first minute
        time.sleep(max(0.0, first + 2.2 - time.time()))  # over a third into the 6 s stream
        victim = cluster.worker_index(1)
        killed_at = time.time()
        os.kill(cluster.procs[2].pid, signal.SIGKILL)  # the worker process itself (lienthong execs Locust)
        codes = cluster.wait()
    finally:
        cluster.kill_all()
    assert codes[0] == 1, cluster.text(0)[-3000:]  # the run failed: a worker was lost
    assert codes[1] == 0 and codes[2] == -signal.SIGKILL
    out = cluster.text(0)
    assert f"worker #{victim} LOST" in out, out[-3000:]
    run = cluster.run_folder()
    load = run / "load"
    metrics = json.loads((run / "metrics.json").read_text())
    m = metrics["metrics"]
    assert metrics["exit_code"] == 1 and not metrics["passed"]
    assert f"Locust worker {victim} was lost" in m["error"], m["error"]
    assert f"Locust worker {victim} was lost" in metrics["verdict"]
    # the lost worker's rest is not sent, never silently dropped
    lost = json.loads((load / f"worker-{victim}.json").read_text())
    _, shares = _shares(LoadConfig.read(load / "config.json"))
    share = shares[victim]
    info = lost["lost"]
    assert 0 < info["not_sent"] < share.size, info
    assert info["not_sent"] + info["sent_unrecorded"] == share.size
    assert m["driver"]["not_sent"] == info["not_sent"] and m["driver"]["lost_workers"] == 1
    assert m["outcomes"]["not_started"] == info["not_sent"]
    rows = np.load(load / f"worker-{victim}.npz")["journeys"]
    assert rows["dossier"].tolist() == share["dossier"][-info["not_sent"]:].tolist()  # its tail, by index
    cfg2 = LoadConfig.read(load / "config.json")
    due = cfg2.t0 + (share["submitted"] + cfg2.shift_minutes) * 60.0 / cfg2.speed
    sent = due[: info["sent_unrecorded"]]
    assert sent.max() <= killed_at + 0.5  # nothing counted as sent was due after the kill
    assert rows["intended"].min() >= killed_at - 3.0  # not sent: due from its last heartbeat on
    assert info["last_heard"] <= killed_at + 0.5 and info["lost_at"] > killed_at
    assert len(lost["submissions"]) > 0  # its accepted dossiers, from its heartbeats, are reconciled
    # the other worker delivered its whole share
    other = 1 - victim
    got = np.load(load / f"worker-{other}.npz")["journeys"]["dossier"]
    assert got.tolist() == shares[other]["dossier"].tolist()
    checks = {c["name"]: c for c in metrics["checks"]}
    assert not checks["open-model driver kept the schedule"]["passed"]
    cluster_doc = json.loads((load / "cluster.json").read_text())
    assert [x["index"] for x in cluster_doc["lost"]] == [victim]
    assert str(other) in cluster_doc["done"]


# -- every wait is bounded -----------------------------------------------------------------------------


def test_a_master_short_of_workers_gives_up_with_exit_2_naming_how_many_came(tmp_path: Path) -> None:
    cluster = _Cluster(tmp_path, f"http://127.0.0.1:{free_port()}", expect=2, workers=1, master_timeout=4)
    try:
        codes = cluster.wait(timeout=40)
    finally:
        cluster.kill_all()
    out = cluster.text(0)
    assert codes[0] == 2, out[-3000:]
    said = " ".join(out.split())
    assert "1 of 2 Locust worker(s) connected to the master at 127.0.0.2" in said, out[-2000:]
    assert codes[1] == 0, cluster.text(1)[-2000:]  # the master told the worker that came to quit


def test_a_worker_exits_when_no_master_answers_and_when_its_master_vanishes(tmp_path: Path) -> None:
    alone = ["--worker", "--master", f"{MASTER}:{free_port(MASTER)}", "--worker-timeout", "3"]
    nobody = _lienthong_load(alone, tmp_path / "alone.out")
    cluster = _Cluster(tmp_path, f"http://127.0.0.1:{free_port()}", expect=1, workers=1,
                       worker_env={"LIENTHONG_MASTER_LOST_S": "4"})
    try:
        cluster.config_once_started()
        os.killpg(cluster.procs[0].pid, signal.SIGKILL)  # the master and its Locust child
        vanished = time.time()
        assert cluster.procs[1].wait(timeout=20) == 3, cluster.text(1)[-2000:]
        assert time.time() - vanished < 15
        assert nobody.wait(timeout=20) == 2
    finally:
        cluster.kill_all()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(nobody.pid, signal.SIGKILL)
        nobody.wait(timeout=10)
    assert "no master answered" in (tmp_path / "alone.out").read_text()
    assert "has not answered for 4 s: exiting" in cluster.text(1)
