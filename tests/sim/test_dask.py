"""The twin on Dask (``lienthong sim/size --dask``): a real ``dask scheduler`` and two ``dask
worker`` processes started here on 127.0.0.1 (stopped in a ``finally``), and a ``LocalCluster``.

The results must equal the local process pool's with the same seed, bit for bit: ``metrics.json``
is compared as bytes with its only timing (``metrics.wall_s``) and the run id (``meta.run``, a
timestamp) blanked; ``steps.csv`` and ``points.csv`` as they are.

Everything Dask runs in child processes (the CLI, the scheduler, the workers): the test process
never imports ``distributed``, whose client leaves an event-loop thread behind that the other
tests' fork pools should not inherit.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lienthong.cli import app
from tests.sim.conftest import SLOW_CARD_STEP, only_run, tiny_toml, toml_at

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="needs dask.distributed: pip install -e '.[test]'"
)

CHECKOUT = Path(__file__).resolve().parents[2]
TINY = tiny_toml(days=7, replications=4, warmup_days=1)
# The child-card step takes an hour a card at one desk: the sizing search has real work to do.
SLOW_CARD = tiny_toml(days=7, replications=2, warmup_days=1).replace('"tiny"', '"tiny-slow-card"') \
    + SLOW_CARD_STEP
SIZE_ARGS = ["--target", "step.bhyt.p95 <= 1wd", "--days", "7", "-r", "2"]
runner = CliRunner()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(CHECKOUT), "NO_COLOR": "1", "COLUMNS": "200"}


def _dask_cli(command: str) -> list[str]:
    """``dask scheduler`` / ``dask worker`` of this environment (the module when no entry point)."""
    script = Path(sys.executable).with_name("dask")
    if script.exists():
        return [str(script), command]
    return [sys.executable, "-m", f"distributed.cli.dask_{command}"]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stops a process started here in its own session, and its children (a worker's nanny)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # a child outliving its parent in the group
        os.killpg(proc.pid, signal.SIGKILL)


_WAIT_FOR_WORKERS = """
import sys
from distributed import Client
with Client(sys.argv[1], timeout=30, set_as_default=False) as client:
    client.wait_for_workers(2, timeout=60)
    print(len(client.scheduler_info()["workers"]))
"""


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a ``dask scheduler`` on 127.0.0.1 with two single-thread ``dask worker`` s."""
    folder = tmp_path_factory.mktemp("dask")
    info = folder / "scheduler.json"
    logs = folder / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen[bytes]] = []

    def start(cmd: list[str], name: str) -> None:
        with (logs / f"{name}.log").open("wb") as log:
            procs.append(subprocess.Popen(cmd, cwd=folder, env=_env(), stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))  # fmt: skip

    try:
        # --idle-timeout / --death-timeout: should this process die without its finally, they go too
        start([*_dask_cli("scheduler"), "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
               "--scheduler-file", str(info), "--idle-timeout", "600"], "scheduler")  # fmt: skip
        deadline = time.monotonic() + 60
        while not info.exists() or not info.read_text().strip():
            assert procs[0].poll() is None, (logs / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler wrote no scheduler file in 60 s"
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        for i in range(2):
            start([*_dask_cli("worker"), "--scheduler-file", str(info), "--nthreads", "1", "--no-dashboard",
                   "--host", "127.0.0.1", "--local-directory", str(folder / f"w{i}"),
                   "--death-timeout", "60"], f"worker-{i}")  # fmt: skip
        ready = subprocess.run([sys.executable, "-c", _WAIT_FOR_WORKERS, address], env=_env(),
                               capture_output=True, text=True, timeout=120)  # fmt: skip
        assert ready.returncode == 0 and ready.stdout.strip() == "2", ready.stderr[-3000:]
        assert address.startswith("tcp://127.0.0.1:")
        yield address
    finally:
        for proc in reversed(procs):  # workers first
            _stop(proc)


def _lienthong(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``lienthong ARGS`` in a child process."""
    return subprocess.run([sys.executable, "-m", "lienthong", *args], cwd=CHECKOUT, env=_env(),
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def _metrics_bytes(run: Path) -> bytes:
    """``metrics.json`` as written, its timing and run id blanked (nothing else differs)."""
    raw = (run / "metrics.json").read_bytes()
    raw, n = re.subn(rb'\n    "wall_s": [-+.0-9eE]+', b'\n    "wall_s": 0', raw)
    assert n <= 1
    raw, n = re.subn(rb'\n    "run": "[^"]*"', b'\n    "run": ""', raw)
    assert n == 1
    return raw


def _assert_identical(local: Path, other: Path, *files: str) -> None:
    assert _metrics_bytes(other) == _metrics_bytes(local)
    for name in files:
        assert (other / name).read_bytes() == (local / name).read_bytes(), name


@pytest.fixture(scope="module")
def local_sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``lienthong sim`` of TINY (4 replications) on the local process pool of 2 workers."""
    folder = tmp_path_factory.mktemp("local-sim")
    out = folder / "runs"
    scenario = toml_at(folder, TINY, "tiny.toml")
    result = runner.invoke(app, ["sim", scenario, "-r", "4", "-w", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    run = only_run(out)
    assert json.loads((run / "manifest.json").read_text())["executor"] == "local pool, 2 workers"
    return run


def test_sim_on_a_scheduler_equals_the_local_pool(scheduler: str, local_sim: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    done = _lienthong(["sim", toml_at(tmp_path, TINY, "tiny.toml"), "-r", "4", "--dask", scheduler,
                       "--out", str(out)])  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = only_run(out)
    _assert_identical(local_sim, run, "steps.csv")
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["executor"] == f"dask {scheduler}, 2 worker threads at start"
    assert manifest["settings"]["replications"] == 4


def test_sim_on_a_local_cluster_equals_the_local_pool(local_sim: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    done = _lienthong(["sim", toml_at(tmp_path, TINY, "tiny.toml"), "-r", "4", "-w", "2", "--dask", "local",
                       "--out", str(out)])  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = only_run(out)
    _assert_identical(local_sim, run, "steps.csv")
    assert json.loads((run / "manifest.json").read_text())["executor"] == "dask LocalCluster, 2 workers"


def test_size_on_a_scheduler_equals_the_local_pool(scheduler: str, tmp_path: Path) -> None:
    scenario = toml_at(tmp_path, SLOW_CARD, "slow.toml")
    local = runner.invoke(app, ["size", scenario, *SIZE_ARGS, "-w", "2", "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    done = _lienthong(["size", scenario, *SIZE_ARGS, "--dask", scheduler, "--out", str(tmp_path / "dask")])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    local_run, dask_run = only_run(tmp_path / "local"), only_run(tmp_path / "dask")
    _assert_identical(local_run, dask_run, "points.csv")
    points = json.loads((dask_run / "metrics.json").read_text())["metrics"]["points"]
    assert len(points) >= 4 and len({p["value"] for p in points}) >= 3  # a real search, not all zeros
    manifest = json.loads((dask_run / "manifest.json").read_text())
    assert manifest["executor"].startswith(f"dask {scheduler}") and manifest["evaluations"] == len(points)


_PROGRESS = """
import json, sys
import scenarios
from sim.replications import open_executor, run_replications
scenario = scenarios.load(sys.argv[2])
seen = []
with open_executor(sys.argv[1]) as executor:
    summary = run_replications(scenario, 4, 7, warmup_days=1, executor=executor,
                               progress=lambda done, total: seen.append([done, total]))
for m in summary.replications:
    m.pop("wall_s")
print(json.dumps({"seen": seen, "replications": summary.replications}))
"""


def test_progress_moves_as_dask_tasks_finish(scheduler: str, tmp_path: Path) -> None:
    """The progress callback (the CLI's bar) is called in this process as each task completes; the
    per-replication metrics equal the local pool's, in replication order."""
    from scenarios import load
    from sim.replications import run_replications

    scenario = toml_at(tmp_path, TINY, "tiny.toml")
    done = subprocess.run([sys.executable, "-c", _PROGRESS, scheduler, scenario], cwd=CHECKOUT, env=_env(),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    remote = json.loads(done.stdout)
    assert remote["seen"] == [[1, 4], [2, 4], [3, 4], [4, 4]]
    local = run_replications(load(scenario), 4, 7, warmup_days=1, workers=2).replications
    for m in local:
        m.pop("wall_s")
    assert remote["replications"] == json.loads(json.dumps(local))
    assert [m["replication"] for m in remote["replications"]] == [0, 1, 2, 3]


def test_an_unreachable_scheduler_exits_2_naming_it(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    out = tmp_path / "runs"
    done = _lienthong(["sim", toml_at(tmp_path, TINY, "tiny.toml"), "-r", "2", "--dask", address,
                       "--dask-timeout", "1.5", "--out", str(out)])  # fmt: skip
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    message = " ".join(done.stderr.split())
    assert f"cannot connect to the Dask scheduler at {address} within 1.5 s" in message
    assert not out.exists() or not any(out.iterdir())  # no run folder for a run that never started


def test_a_malformed_address_exits_2_naming_it(tmp_path: Path) -> None:
    done = _lienthong(["size", toml_at(tmp_path, SLOW_CARD, "slow.toml"), *SIZE_ARGS, "--dask", "tcp://nohost",
                       "--out", str(tmp_path / "runs")])  # fmt: skip
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    message = " ".join(done.stderr.split())
    assert "not a Dask scheduler address: 'tcp://nohost' (missing port number" in message
    assert "Traceback" not in done.stderr
