"""Placement: the portal and the agencies in two processes (``processes=2``)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psutil
import pytest

from fakes.serve import serve, start_subprocess
from scenarios import Scenario
from tests.fakes.conftest import Api


def test_two_processes_complete_dossiers_and_die_together(scenario: Scenario,
                                                          tmp_path: Path) -> None:
    handle = start_subprocess(scenario, tmp_path, speed=1.0, processes=2)
    assert handle.process is not None
    children = psutil.Process(handle.process.pid).children()
    api, portal = Api(handle), Api(handle)
    try:
        assert len(children) == 1
        agencies = {handle.urls[a] for a in ("health", "justice", "police", "vss", "social")}
        assert len(agencies) == 1 and handle.urls["portal"] == handle.base_url
        assert agencies != {handle.base_url}
        api.http.base_url = httpx.URL(agencies.pop())  # certificates are issued by health
        body = api.birth_dossier("ks_tt_bhyt")
        doc = portal.submit_and_wait(body)
        assert doc["status"] == "completed", doc
        assert [c["pid"] for c in api.export("vss")["cards"]] == [doc["result"]["pid"]]
        assert [d["id"] for d in portal.export("portal")["dossiers"]] == [doc["id"]]
        assert portal.get("admin", "/admin/export/vss").json()["code"] == "unknown_agency"
    finally:
        api.http.close()
        portal.http.close()
        handle.kill()  # SIGKILL the portal: its agencies child notices and stops
    deadline = time.monotonic() + 10
    while any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children):
        assert time.monotonic() < deadline, "the agencies process outlived its parent"
        time.sleep(0.05)
    again = start_subprocess(scenario, tmp_path, speed=1.0, processes=2)
    client = Api(again)
    try:
        assert client.wait(doc["id"])["status"] == "completed"
    finally:
        client.http.close()
        again.stop()


def test_two_processes_do_not_combine_with_split(scenario: Scenario, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="processes"):
        serve(scenario, run_dir=tmp_path, split=True, processes=2)
