"""``lienthong fakes serve`` as a user runs it: its stores resume across a restart (as after a
crash) unless ``--fresh`` asks for empty registers. Real server processes on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import scenarios
from fakes.serve import Handle, free_port, stop_process, wait_healthy
from tests.fakes.conftest import Api

CHECKOUT = Path(__file__).resolve().parents[2]


@contextmanager
def _serving(run_dir: Path, log: Path, *extra: str) -> Iterator[Api]:
    port = free_port()
    cmd = [sys.executable, "-m", "lienthong", "fakes", "serve", "--port", str(port),
           "--run-dir", str(run_dir), "--instant", *extra]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=CHECKOUT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, 30, process=proc, log=log)
        keys = {name: c.key for name, c in scenarios.load("hanoi-baseline").callers.items() if c.key}
        api = Api(Handle(base_url=url, urls={}, keys=keys, run_dir=run_dir))
        try:
            yield api
        finally:
            api.http.close()
    finally:
        stop_process(proc)


def _certificates(api: Api) -> int:
    return len(api.export("health")["birth_certificates"])


def test_the_registers_resume_after_a_restart_and_fresh_starts_them_empty(tmp_path: Path) -> None:
    stores = tmp_path / "stores"
    (tmp_path / "notes.txt").write_text("not a store", encoding="utf-8")
    with _serving(stores, tmp_path / "first.log") as api:
        api.cert()
        assert _certificates(api) == 1
    with _serving(stores, tmp_path / "again.log") as api:
        assert _certificates(api) == 1  # resumed, as after a crash
    with _serving(stores, tmp_path / "fresh.log", "--fresh") as api:
        assert _certificates(api) == 0
        api.cert()  # the same hospital numbering starts again without a conflict
        assert _certificates(api) == 1
    said = (tmp_path / "fresh.log").read_text(errors="replace")
    assert "--fresh: deleted" in said and str(stores) in " ".join(said.split()), said[-2000:]
    assert (tmp_path / "notes.txt").exists()  # only the stores go
