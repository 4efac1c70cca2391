"""Locust users for the real actors of the linked services.

- :class:`ArrivalUser` — the open model: one per load process, it replays that process's share of
  the scenario's arrival stream (hospital document → submission online or at a desk → status
  polls until the dossier is terminal), each journey starting at its intended time.
- Closed-model users for stress ramps (driven by :class:`loadtests.shape.ScenarioShape`):
  :class:`HospitalUser` issues e-birth certificates and death notices, :class:`DeskUser` and
  :class:`OnlineCitizenUser` submit linked dossiers of every variant for the stream's desk and
  online arrivals, :class:`StatusPollerUser` polls the status of submitted dossiers.

Every user takes its settings from :class:`loadtests._config.LoadConfig` (``$LIENTHONG_LOAD_CONFIG``;
on a Locust worker, the settings its master sent: :mod:`loadtests._cluster`) and stops by itself:
the stream is finite (``max_dossiers``) and every wait is bounded by ``max_seconds``. Importing
this module imports Locust (which monkey-patches with gevent): load it only in a load process,
never in a process that also runs an asyncio server.
"""

from __future__ import annotations

import collections
import itertools
import time
from typing import Any, ClassVar

import gevent
import gevent.event
import gevent.lock
from locust import between, constant, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser
from locust.runners import WorkerRunner

from loadtests import _cluster
from loadtests._config import LoadConfig
from loadtests._replay import Prepared, prepare, replay

__all__ = [
    "ArrivalUser",
    "DeskUser",
    "HospitalUser",
    "OnlineCitizenUser",
    "StatusPollerUser",
    "local_done",
]

local_done = gevent.event.AsyncResult()
"""Set (in a local runner) to the replay summary once the ArrivalUser has finished."""


def _config(environment: Any) -> LoadConfig:
    cfg = getattr(environment, "lienthong_config", None)
    if cfg is None and isinstance(environment.runner, WorkerRunner):
        return _cluster.worker_config(environment)  # a worker takes its settings from the master
    if cfg is None:
        cfg = LoadConfig.from_env()
        environment.lienthong_config = cfg
    return cfg


def _worker_index(environment: Any) -> int:
    runner = environment.runner
    return int(getattr(runner, "worker_index", 0) or 0) if runner is not None else 0


class _Configured(FastHttpUser):
    abstract = True

    def __init__(self, environment: Any) -> None:
        cfg = _config(environment)
        self.concurrency = cfg.concurrency
        self.network_timeout = cfg.request_timeout_s
        self.connection_timeout = cfg.request_timeout_s
        self.host = environment.host or cfg.target
        super().__init__(environment)


class ArrivalUser(_Configured):
    """Open model: replays this process's share of the arrival stream, once (a second ArrivalUser
    in the same process, e.g. after Locust re-dispatched a lost worker's user, only idles)."""

    wait_time = constant(1)
    claimed: ClassVar[bool] = False

    @task
    def replay_stream(self) -> None:
        cfg = _config(self.environment)
        index = _worker_index(self.environment)
        runner = self.environment.runner
        worker: _cluster.Worker | None = getattr(self.environment, "lienthong_worker", None)
        if not ArrivalUser.claimed:
            ArrivalUser.claimed = True
            try:
                if worker is not None:
                    worker.phase("preparing")
                p = prepare(cfg, self.client, index)
                summary = replay(p, report=worker.report if worker is not None else None)
                if worker is not None:
                    worker.ship(p, summary)
            except Exception as exc:  # a share that cannot be replayed ends the local run, not loops
                if worker is not None:
                    worker.phase("failed", error=f"{type(exc).__name__}: {exc}"[:500])
                if isinstance(runner, WorkerRunner) or local_done.ready():
                    raise
                local_done.set_exception(exc)
                raise StopUser() from exc
            if not isinstance(runner, WorkerRunner) and not local_done.ready():
                local_done.set(summary)
        # Stay alive (idle) so the shape does not start another replay; the runner stops us.
        end = time.time() + cfg.max_seconds + 60
        while time.time() < end:
            gevent.sleep(1)
        raise StopUser()


# -- closed model ---------------------------------------------------------------------------------


class _Shared:
    """Per-process state of the closed-model users: one prepared share, handed out row by row."""

    lock = gevent.lock.Semaphore()
    prepared: Prepared | None = None
    counters: ClassVar[dict[int, itertools.count[int]]] = {}
    accepted: ClassVar[collections.deque[int]] = collections.deque()

    @classmethod
    def get(cls, user: FastHttpUser) -> Prepared:
        with cls.lock:
            if cls.prepared is None:
                cfg = _config(user.environment)
                cls.prepared = prepare(cfg, user.client, _worker_index(user.environment))
                cls.counters = {0: itertools.count(), 1: itertools.count()}
            return cls.prepared

    @classmethod
    def next_row(cls, user: FastHttpUser, channel: int) -> int:
        """The next unused row of the share for ``channel`` (StopUser when exhausted)."""
        p = cls.get(user)
        rows = p.share["channel"] == channel
        indices = rows.nonzero()[0]
        k = next(cls.counters[channel])
        if k >= indices.size or time.time() > p.deadline:
            raise StopUser()
        return int(indices[k])


class _Submitter(_Configured):
    abstract = True
    channel = 0
    wait_time = between(0.5, 2.0)

    @task
    def submit(self) -> None:
        i = _Shared.next_row(self, self.channel)
        p = _Shared.get(self)
        if p.runner.start(i, time.time()):
            _Shared.accepted.append(i)


class OnlineCitizenUser(_Submitter):
    """A citizen submitting a linked dossier online (VNeID / the public-service portal)."""

    weight = 6
    channel = 0


class DeskUser(_Submitter):
    """A one-stop desk officer entering a linked dossier received in person."""

    weight = 4
    channel = 1


class HospitalUser(_Configured):
    """A hospital pushing e-birth certificates and death notices."""

    weight = 2
    wait_time = between(0.5, 2.0)

    @task
    def issue(self) -> None:
        p = _Shared.get(self)
        i = _Shared.next_row(self, int(p.share["channel"][0]) if p.share.size else 0)
        p.runner._certificate(p.share[i], time.time())


class StatusPollerUser(_Configured):
    """A citizen refreshing the status page of a dossier submitted earlier."""

    weight = 3
    wait_time = between(0.5, 1.5)

    @task
    def poll(self) -> None:
        p = _Shared.get(self)
        if not _Shared.accepted:
            if time.time() > p.deadline:
                raise StopUser()
            return
        i = _Shared.accepted.popleft()
        if not p.runner.poll(i, time.time()):
            _Shared.accepted.append(i)


# -- master and workers: lienthong's messages on Locust's channel (loadtests._cluster) -------------


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    _cluster.install(environment)
