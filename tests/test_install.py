"""A normal install used from an empty folder: the wheel of this checkout in a fresh virtual
environment, every command run from a folder that holds nothing.

The wheel is built from a copy of the checkout (``pip wheel --no-deps``, ``--no-build-isolation``
when this environment has what it takes; the copy keeps setuptools' ``build/`` and
``*.egg-info`` out of the checkout) and installed with
``--no-deps`` into a new venv. The dependencies are not reinstalled: a ``.pth`` file in the new
venv lists this interpreter's site-packages folders, whose own ``.pth`` files (the editable
install's finder among them) are not processed — so ``import fakes`` finds the wheel's copy, and
nothing can fall back on the checkout. Everything runs on 127.0.0.1; every process started here is
stopped in a ``finally``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import json
import os
import re
import shutil
import signal
import site
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fakes.serve import stop_process, wait_healthy
from loadtests.pytest_plugin import EXAMPLE

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[1]
PACKAGES = ("scenarios", "fakes", "sim", "loadtests", "certify", "lienthong")
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "runs", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
    ".hypothesis", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".benchmarks", "bench",
)


def _free_ports(n: int = 1) -> list[int]:
    """``n`` distinct TCP ports free on 127.0.0.1 right now."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


def _call(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _isolation(cwd: Path) -> list[str]:
    """``--no-build-isolation --no-index`` when this environment can build a wheel (setuptools ≥ 70.1,
    or the ``wheel`` package); else nothing, and pip fetches ``[build-system] requires`` as
    ``pip install -e .`` does (a fresh venv of Python 3.11 has setuptools 65 and no ``wheel``)."""
    probe = "try:\n import setuptools.command.bdist_wheel\nexcept ImportError:\n import wheel.bdist_wheel"
    able = _call([sys.executable, "-c", probe], cwd).returncode == 0
    return ["--no-build-isolation", "--no-index"] if able else []


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (
        f"{proc.args} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


class Venv:
    """The fresh venv with the wheel installed: its folder, interpreter, ``lienthong`` and env."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.python = root / "bin" / "python"
        self.lienthong = root / "bin" / "lienthong"
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("PYTHON", "PYTEST", "LIENTHONG_", "VIRTUAL_ENV", "COV"))}
        self.env = {**keep, "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                    "VIRTUAL_ENV": str(root), "COLUMNS": "1000"}

    def run(self, args: list[str], cwd: Path, timeout: float = 150,
            **env: str) -> subprocess.CompletedProcess[str]:
        return _call([str(self.lienthong), *args], cwd, {**self.env, **env}, timeout)

    @contextlib.contextmanager
    def background(self, cmd: list[str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
        """``cmd`` in the background in ``cwd``, output to ``log``; SIGTERM (then SIGKILL) at the end."""
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, cwd=cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            stop_process(proc)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    root = tmp_path_factory.mktemp("install")
    src, wheels, folder = root / "src", root / "wheels", root / "venv"
    shutil.copytree(CHECKOUT, src, ignore=_NOT_SOURCE)
    _ok(_call([sys.executable, "-m", "pip", "wheel", "--no-deps", *_isolation(root), "-q", "-w", str(wheels),
               str(src)], root, timeout=300))
    (wheel,) = wheels.glob("lienthong-*.whl")
    _ok(_call([sys.executable, "-m", "venv", "--without-pip", str(folder)], root))
    v = Venv(folder)
    # installed before the .pth below exists: this pip sees an empty venv, nothing to replace
    _ok(_call([sys.executable, "-m", "pip", "--python", str(v.python), "install", "--no-deps",
               "--no-index", "-q", str(wheel)], root, timeout=300))
    purelib = Path(_ok(_call([str(v.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             root, v.env)).strip())
    here = [*site.getsitepackages(), *([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])]
    deps = [p for p in here if Path(p).is_dir()]  # (the checkout's own venv may live inside it)
    (purelib / "_lienthong_test_dependencies.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    return v


def _empty(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def _report(proc: subprocess.CompletedProcess[str], folder: Path) -> Path:
    """Exit 0, a ``Yes`` verdict printed, ``report: <path>`` under ``folder/runs`` saying the same."""
    out = _ok(proc)
    match = re.search(r"^report: (\S+report\.html)\s*$", out, re.M)
    assert match, out[-3000:]
    report = Path(match[1])
    assert report.is_file() and (folder / "runs").resolve() in report.resolve().parents, report
    verdicts = [line.strip() for line in out.splitlines() if line.startswith("Yes")]
    assert verdicts, out[-3000:]
    assert verdicts[0] in html.unescape(report.read_text(encoding="utf-8"))
    return report


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(20)


def test_the_wheel_is_what_is_imported_and_holds_every_file(venv: Venv, tmp_path: Path) -> None:
    folder = _empty(tmp_path)
    code = "import json, " + ", ".join(PACKAGES) + "; print(json.dumps({n: globals()[n].__file__ for n in "
    code += repr(PACKAGES) + "}))"
    files = json.loads(_ok(_call([str(venv.python), "-c", code], folder, venv.env)))
    for name, file in files.items():
        path = Path(file).resolve()
        assert venv.root.resolve() in path.parents and CHECKOUT not in path.parents, (name, file)
    for name in PACKAGES:  # every file of every package (data, TOMLs, locustfile …) is installed
        installed = Path(files[name]).parent
        source = CHECKOUT / name
        missing = [str(p.relative_to(CHECKOUT)) for p in source.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
                   and not (installed / p.relative_to(source)).is_file()]
        assert missing == []


# the plugin's documented test, as a user copies it, and one more
_PLUGIN_TEST = EXAMPLE + '''

def test_the_ecosystem_is_on_loopback(lienthong_ecosystem):
    assert lienthong_ecosystem.base_url.startswith("http://127.0.0.1:")
'''


@dataclasses.dataclass
class Done:
    """What one command from an empty folder left: its process, folder and what else it noted."""

    proc: subprocess.CompletedProcess[str]
    folder: Path
    notes: dict[str, Any] = dataclasses.field(default_factory=dict)


def _run(venv: Venv, root: Path) -> Done:
    folder = _empty(root)
    return Done(venv.run(["run", "hanoi-baseline", "--days", "1", "--speed", "21600", "--multiplier", "0.1",
                          "--drain", "10"], folder), folder)


def _sim(venv: Venv, root: Path) -> Done:
    folder = _empty(root)
    return Done(venv.run(["sim", "hanoi-baseline", "--days", "7", "-r", "2"], folder), folder)


def _fakes_then_load(venv: Venv, root: Path) -> Done:
    folder = _empty(root)
    (port,) = _free_ports()
    url = f"http://127.0.0.1:{port}"
    log = root / "fakes.log"
    with venv.background([str(venv.lienthong), "fakes", "serve", "--port", str(port), "--speed", "21600"],
                         folder, log) as fakes:
        wait_healthy(url, 30, process=fakes, log=log)
        stores = (folder / "runs" / "fakes").is_dir()
        args = ["load", "hanoi-baseline", "--target", url, "--days", "1", "--multiplier", "0.1", "--speed",
                "21600", "--drain", "10"]
        load = venv.run(args, folder)
        again = venv.run(args, folder)  # the same days and seed again, on the same registers
        stopped = _stop(fakes)
    return Done(load, folder, {"stores": stores, "stopped": stopped, "log": log.read_text(errors="replace"),
                               "again": again})


def _certify(venv: Venv, root: Path) -> Done:
    # the vendor: the reference vss alone, calling its upstream agencies through the
    # certification's ecosystem port (as a vendor's implementation would)
    folder = _empty(root)
    eco, vendor = _free_ports(2)
    upstream = "".join(f'[agencies.{a}]\nbase_url = "http://127.0.0.1:{eco}"\n'
                       for a in ("health", "justice", "police", "social", "portal"))
    (folder / "vendor.toml").write_text(f'extends = "hanoi-baseline"\n\n[meta]\nname = "vss-vendor"\n\n'
                                        f"{upstream}", encoding="utf-8")
    temp = root / "temp"  # the certifier's temporary folders: none may stay behind
    temp.mkdir()
    log = root / "vendor.log"
    cmd = [str(venv.python), "-m", "fakes.serve", "--scenario", "vendor.toml", "--agencies", "vss",
           "--instant", "--port", str(vendor), "--run-dir", "vendor"]
    with venv.background(cmd, folder, log) as proc:
        wait_healthy(f"http://127.0.0.1:{vendor}", 30, process=proc, log=log)
        cert = venv.run(["certify", "vss", "--base-url", f"http://127.0.0.1:{vendor}", "--ecosystem-port",
                         str(eco), "--phases", "security,performance", "--rate", "4", "--perf-seconds", "2"],
                        folder, TMPDIR=str(temp))
    return Done(cert, folder, {"temp": temp})


def _plugin(venv: Venv, root: Path) -> Done:
    folder = _empty(root)
    (folder / "test_linked_services.py").write_text(_PLUGIN_TEST, encoding="utf-8")
    temp = root / "pytest-temp"  # the inner session's tmp_path_factory, not the outer one's
    temp.mkdir()
    proc = _call([str(venv.python), "-m", "pytest", "-q"], folder,
                 {**venv.env, "PYTEST_DEBUG_TEMPROOT": str(temp)}, timeout=150)
    return Done(proc, folder)


COMMANDS: dict[str, Callable[[Venv, Path], Done]] = {
    "run": _run, "fakes_then_load": _fakes_then_load, "certify": _certify, "sim": _sim, "plugin": _plugin,
}


@pytest.fixture(scope="module")
def done(venv: Venv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Done]:
    """Each command of the tests below, all at once (they mostly wait on their compressed clocks and
    servers: one after another they took about 80 s, together about half)."""
    roots = {name: tmp_path_factory.mktemp(name) for name in COMMANDS}
    with ThreadPoolExecutor(len(COMMANDS)) as pool:
        futures = {name: pool.submit(command, venv, roots[name]) for name, command in COMMANDS.items()}
        return {name: future.result() for name, future in futures.items()}


def test_run_writes_its_report_in_the_current_folder(done: dict[str, Done]) -> None:
    _report(done["run"].proc, done["run"].folder)


def test_sim_writes_its_report_in_the_current_folder(done: dict[str, Done]) -> None:
    _report(done["sim"].proc, done["sim"].folder)


def test_fakes_serve_then_load_against_them(done: dict[str, Done]) -> None:
    d = done["fakes_then_load"]
    assert d.notes["stores"]  # the stores: under the current folder
    _report(d.proc, d.folder)
    # a prompt stop; uvicorn re-raises the SIGTERM it handled once shut down (-15)
    assert d.notes["stopped"] in (0, -signal.SIGTERM), d.notes["log"][-3000:]


def test_the_same_load_again_on_the_same_registers_fails_saying_why(done: dict[str, Done]) -> None:
    again = done["fakes_then_load"].notes["again"]
    out = " ".join(again.stdout.split())
    assert again.returncode == 1, out[-3000:] + again.stderr[-3000:]
    assert "health.birth_certificate 409 ×" in out, out[-3000:]
    assert "already holds" in out and "serve the fakes with --fresh" in out, out[-3000:]


def test_certify_the_reference_vss_passes(done: dict[str, Done]) -> None:
    cert, folder = done["certify"].proc, done["certify"].folder
    out = cert.stdout  # two phases of five: at best CONDITIONAL PASS (exit 3), never PASS
    assert cert.returncode == 3, out[-3000:] + cert.stderr[-3000:]
    assert re.search(r"^CONDITIONAL PASS — 5 passed, 0 failed, 18 not run of 23", out, re.M), out[-3000:]
    (where,) = (folder / "runs").glob("certify-vss-*")
    assert {p.name for p in where.iterdir()} >= {"certificate.html", "certificate.json", "junit.xml"}
    assert [p.name for p in done["certify"].notes["temp"].iterdir() if p.name.startswith("certify-")] == []


def test_the_pytest_plugin_in_a_users_own_suite(done: dict[str, Done]) -> None:
    out = _ok(done["plugin"].proc)
    assert "2 passed" in out, out[-3000:]
