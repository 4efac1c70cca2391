"""Where the twin's tasks run: in this process, a local process pool or a Dask cluster.

:func:`open_executor` gives one :class:`Executor` for a whole command (the replications of
``lienthong sim``, every capacity of a ``lienthong size`` search); its :meth:`Executor.map`
submits the tasks, reports ``progress(done, total)`` as each one finishes (in this process,
whatever finishes first) and returns the results **in task order**, so what is combined never
depends on where or in which order the tasks ran. The one submission/progress loop is
:func:`_collect`; the three kinds differ only in how a task is submitted and how finished ones
are awaited.

- ``open_executor(None, workers)``: a fork ``ProcessPoolExecutor`` of ``workers`` processes,
  started at the first map that needs it and kept until the block ends; one worker, or a single
  task, runs in this process.
- ``open_executor("local", workers)``: a Dask ``LocalCluster`` of ``workers`` single-threaded
  worker processes on 127.0.0.1 (no dashboard), closed at the end.
- ``open_executor("tcp://host:8786")``: a client of an existing ``dask.distributed`` scheduler.
  Raises :class:`ExecutorError` (a ValueError) naming the address when it is malformed, or it
  cannot connect or no worker joins it within ``timeout`` seconds. Its workers need this package
  installed (the same version); they run a task's record sinks on *their* file system.

``dask.distributed`` is imported only by a Dask executor.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol, TypeVar

__all__ = ["Executor", "ExecutorError", "open_executor"]

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]

CONNECT_TIMEOUT_S = 10.0


class ExecutorError(ValueError):
    """The Dask scheduler could not be reached (or has no workers): the message names its address."""


class Executor(Protocol):
    """Runs tasks somewhere and hands their results back in task order."""

    @property
    def description(self) -> str:
        """Where the tasks run, for the manifest: ``"local pool, 2 workers"``, ``"dask tcp://…"``."""
        ...

    def map(self, fn: Callable[[T], R], tasks: Sequence[T], progress: Progress | None = None) -> list[R]:
        """``[fn(t) for t in tasks]``, computed wherever this executor runs them; ``progress(done,
        total)`` after each finishes. The first task to fail raises here (the others cancelled)."""
        ...


def _collect(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    progress: Progress | None,
    submit: Callable[[Callable[[T], R], T], Any],
    completed: Callable[[list[Any]], Iterable[tuple[Any, Any]]],
    cancel: Callable[[list[Any]], None],
) -> list[R]:
    """Submits every task, reports progress as futures complete (``completed`` yields each finished
    future with its result, raising a task's exception), returns the results in task order."""
    total = len(tasks)
    futures = {submit(fn, task): i for i, task in enumerate(tasks)}
    results: dict[int, R] = {}
    try:
        for done, (fut, result) in enumerate(completed(list(futures)), start=1):
            results[futures[fut]] = result
            if progress:
                progress(done, total)
    except BaseException:
        cancel(list(futures))
        raise
    return [results[i] for i in range(total)]


def _with_results(finished: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
    """Each finished future of ``finished`` with its result."""
    for fut in finished:
        yield fut, fut.result()


class _Deferred:
    """A task run in this process when its result is asked for (so progress moves task by task)."""

    __slots__ = ("fn", "task")

    def __init__(self, fn: Callable[[Any], Any], task: Any) -> None:
        self.fn, self.task = fn, task

    def result(self) -> Any:
        return self.fn(self.task)

    def cancel(self) -> bool:
        return True


def _cancel_each(futures: list[Any]) -> None:
    for fut in futures:
        fut.cancel()


def _pool_completed(futures: list[Any]) -> Iterator[tuple[Any, Any]]:
    return _with_results(as_completed(futures))


class LocalPool:
    """``workers`` forked processes on this machine (one worker, or one task: this process)."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"need at least 1 worker, got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    @property
    def description(self) -> str:
        if self.workers == 1:
            return "local pool, 1 worker (this process)"
        return f"local pool, {self.workers} workers"

    def map(self, fn: Callable[[T], R], tasks: Sequence[T], progress: Progress | None = None) -> list[R]:
        if self.workers == 1 or len(tasks) <= 1:
            return _collect(fn, tasks, progress, _Deferred, _with_results, _cancel_each)
        if self._pool is None:
            ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        return _collect(fn, tasks, progress, self._pool.submit, _pool_completed, _cancel_each)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


class DaskCluster:
    """A ``dask.distributed`` client: of a ``LocalCluster`` it started (``"local"``) or of the
    scheduler at ``address``."""

    def __init__(self, address: str, workers: int, timeout: float = CONNECT_TIMEOUT_S) -> None:
        if not address:
            raise ExecutorError("a Dask address is 'local' or a scheduler's, e.g. tcp://10.0.0.5:8786")
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ExecutorError(
                f"running on Dask ({address}) needs dask.distributed, this package's 'dask' extra ({exc})"
            ) from None

        self._cluster: Any = None
        if address == "local":
            if workers < 1:
                raise ValueError(f"need at least 1 worker, got {workers}")
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         host="127.0.0.1", dashboard_address=None)  # fmt: skip
            try:
                self._client = Client(self._cluster, set_as_default=False)
            except BaseException:
                self._cluster.close()
                raise
            self._description = f"dask LocalCluster, {workers} workers"
            return
        _check_address(address)
        try:
            self._client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ExecutorError(
                f"cannot connect to the Dask scheduler at {address} within {timeout:g} s ({exc})"
            ) from None
        try:
            self._client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            self._client.close()
            raise ExecutorError(
                f"the Dask scheduler at {address} has no workers (none joined within {timeout:g} s)"
            ) from exc
        threads = sum(int(w.get("nthreads", 1)) for w in self._client.scheduler_info()["workers"].values())
        self._description = f"dask {address}, {threads} worker threads at start"

    @property
    def description(self) -> str:
        return self._description

    def map(self, fn: Callable[[T], R], tasks: Sequence[T], progress: Progress | None = None) -> list[R]:
        from distributed import as_completed as dask_completed

        client = self._client

        def submit(f: Callable[[T], R], task: T) -> Any:
            return client.submit(f, task, pure=False)

        def completed(futures: list[Any]) -> Iterable[tuple[Any, Any]]:
            # results fetched in batches as they finish, not one round trip per task
            return dask_completed(futures, loop=client.loop, with_results=True)

        return _collect(fn, tasks, progress, submit, completed, client.cancel)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def _check_address(address: str) -> None:
    """Raises ExecutorError for an address no Dask client could connect to, before a client is made
    (one that fails on a malformed address hangs the interpreter's exit for 20 s)."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError as exc:
        raise ExecutorError(
            f"not a Dask scheduler address: {address!r} ({exc}); give 'local' or e.g. tcp://10.0.0.5:8786"
        ) from None


@contextlib.contextmanager
def open_executor(
    dask: str | None = None, workers: int = 2, *, timeout: float = CONNECT_TIMEOUT_S
) -> Iterator[Executor]:
    """The executor for ``dask`` (None: the local pool; ``"local"``: a LocalCluster of ``workers``;
    else a scheduler address), closed when the block ends. Raises ExecutorError for an address
    it cannot use and ValueError for fewer than 1 worker."""
    executor: LocalPool | DaskCluster
    executor = LocalPool(workers) if dask is None else DaskCluster(dask.strip(), workers, timeout)
    try:
        yield executor
    finally:
        executor.close()
