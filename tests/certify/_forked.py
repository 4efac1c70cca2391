"""Processes for the certification tests, forked from one primed parent instead of started cold.

A vendor process or a ``lienthong certify`` process started as ``python …`` pays ~1 CPU-second of
imports (FastAPI, uvicorn, the fakes, schemathesis) before it does anything; the self-test starts
over thirty of each. Here they are children of one multiprocessing *forkserver* that imported those
modules once (:data:`PRELOAD`): each child is a separate process with its own pid, file
descriptors, working folder, signals and exit status, running the same entry points as the
command line (:func:`run_cli` calls ``lienthong.cli.main`` with ``sys.argv`` set, as
``python -m lienthong`` does), but starts in milliseconds. What a child prints goes to files.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import uuid
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

__all__ = ["PRELOAD", "CliResult", "context", "run_cli"]

#: imported once by the forkserver, before it forks any child
PRELOAD = ["fakes.app", "fakes.serve", "scenarios", "uvicorn", "uvloop", "httpx", "lienthong.cli",
           "lienthong.commands.certify", "certify.runner", "certify.contract", "certify.performance",
           "schemathesis", "cryptography.hazmat.primitives.asymmetric.ed25519", "rich.console"]
_CONTEXT: Any = None


def context() -> Any:
    """The forkserver context (the server starts at the first child, preloading :data:`PRELOAD`)."""
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(PRELOAD)
    return _CONTEXT


def redirect(stdout: Path, stderr: Path) -> None:
    """Point this process's file descriptors 1 and 2 (and sys.stdout/err) at files."""
    for fd, path in ((1, stdout), (2, stderr)):
        f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(f, fd)
        os.close(f)
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115


def _cli_child(argv: list[str], cwd: str, stdout: str, stderr: str) -> None:
    redirect(Path(stdout), Path(stderr))
    os.chdir(cwd)
    sys.argv = ["lienthong", *argv]
    from lienthong.cli import main

    try:
        main()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


class CliResult:
    """What a ``lienthong`` child left: its exit code and what it printed."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_cli(argv: list[str], cwd: Path, timeout: float) -> CliResult:
    """``lienthong *argv`` in a child forked from the primed parent, in ``cwd``; raises
    TimeoutError (after killing it) if it runs longer than ``timeout`` seconds."""
    name = f".cli-{uuid.uuid4().hex}"
    out, err = cwd / f"{name}.out", cwd / f"{name}.err"
    proc: BaseProcess = context().Process(target=_cli_child, args=(argv, str(cwd), str(out), str(err)))
    proc.start()
    proc.join(timeout)
    if proc.exitcode is None:
        proc.kill()
        proc.join(10)
        raise TimeoutError(f"lienthong {' '.join(argv)} ran over {timeout:g} s")
    try:
        return CliResult(proc.exitcode, out.read_text(encoding="utf-8", errors="replace"),
                         err.read_text(encoding="utf-8", errors="replace"))
    finally:
        out.unlink(missing_ok=True)
        err.unlink(missing_ok=True)
