"""Crash test: SIGKILL the fake server (a real subprocess) mid-stream, restart it on the same
run dir and show every accepted dossier completes exactly once."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from fakes.serve import Handle, start_subprocess
from scenarios import Scenario
from scenarios.model import Dist, Fault
from tests.fakes.conftest import Api

BIRTHS, DEATHS, KILL_AFTER = 48, 16, 20


def _bodies(api: Api) -> list[tuple[str, dict[str, Any]]]:
    births = [(f"crash-b{i}", api.birth_dossier("ks_tt_bhyt")) for i in range(BIRTHS)]
    deaths = [(f"crash-d{i}", api.death_dossier("kt_xtt_funeral_survivor", "pensioner"))
              for i in range(DEATHS)]
    return [x for pair in zip(births[::3], births[1::3], births[2::3], deaths, strict=True)
            for x in pair]


def _submit(handle_ref: list[Handle], key: str, body: dict[str, Any]) -> str | None:
    """POST once; the dossier id, or None when the server was unreachable (retry later)."""
    handle = handle_ref[0]
    try:
        r = httpx.post(handle.base_url + "/portal/dossiers", json=body, timeout=10,
                       headers={"X-API-Key": handle.keys["desk"], "Idempotency-Key": key})
    except httpx.TransportError:
        return None
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def test_sigkill_mid_stream_loses_and_duplicates_nothing(scenario: Scenario, tmp_path: Path) -> None:
    slow = scenario.model_copy(update={"faults": (
        Fault(kind="latency", agency="police", start=0, end=1e9,
              latency=Dist(kind="constant", mean=40.0)),
        Fault(kind="latency", agency="vss", start=0, end=1e9,
              latency=Dist(kind="constant", mean=40.0)))})
    run_dir = tmp_path / "run"
    handle = start_subprocess(slow, run_dir, speed=1.0)
    ref = [handle]
    api = Api(handle)
    try:
        stream = _bodies(api)
        accepted: dict[str, str] = {}
        lock = threading.Lock()

        def one(item: tuple[str, dict[str, Any]]) -> None:
            dossier = _submit(ref, *item)
            if dossier is not None:
                with lock:
                    accepted[item[0]] = dossier

        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(one, item) for item in stream]
            while len(accepted) < KILL_AFTER:
                time.sleep(0.005)
            handle.kill()  # SIGKILL with dossiers in flight and submissions on the wire
            for f in futures:
                f.result()
        before_restart = dict(accepted)
        with sqlite3.connect(run_dir / "portal.db") as db:  # what the crash left unfinished
            unfinished = db.execute("SELECT count(*) FROM dossiers WHERE status NOT IN "
                                    "('completed', 'rejected')").fetchone()[0]
        assert unfinished > 0
        handle = start_subprocess(slow, run_dir, speed=1.0)
        ref[0] = handle
        api.http.close()
        api = Api(handle)
        for key, body in stream:  # clients retry with the same key after a failure
            dossier = _submit(ref, key, body)
            assert dossier is not None
            assert accepted.setdefault(key, dossier) == dossier
        assert len(before_restart) < len(stream)
        docs = [api.wait(d, timeout=60) for d in accepted.values()]
        assert [d["status"] for d in docs] == ["completed"] * len(stream)
        _assert_exactly_once(api, docs)
        resumed = [s for d in docs for s in d["steps"] if s["attempts"] > 1]
        assert resumed, "no call was resumed after the crash"
    finally:
        api.http.close()
        ref[0].stop()


def _assert_exactly_once(api: Api, docs: list[dict[str, Any]]) -> None:
    reg = api.exports()
    assert len(reg["portal"]["dossiers"]) == BIRTHS + DEATHS
    births = [d["result"] for d in docs if d["service"] == "birth"]
    deaths = [d["result"] for d in docs if d["service"] == "death"]
    assert len(reg["justice"]["births"]) == BIRTHS
    assert sorted(p["pid"] for p in reg["police"]["people"] if not p["legacy"]) == \
        sorted(b["pid"] for b in births)
    assert sorted(r["pid"] for r in reg["police"]["residences"]) == sorted(b["pid"] for b in births)
    assert sorted(c["pid"] for c in reg["vss"]["cards"]) == sorted(b["pid"] for b in births)
    assert len({c["bhxh"] for c in reg["vss"]["cards"]}) == BIRTHS
    kts = sorted(d["death_register_no"] for d in deaths)
    assert sorted(d["register_no"] for d in reg["justice"]["deaths"]) == kts
    assert sorted(p["death_register_no"] for p in reg["vss"]["funeral_allowances"]) == kts
    assert sorted(p["death_register_no"] for p in reg["vss"]["survivor_benefits"]) == kts
    assert sorted(r["death_register_no"] for r in reg["police"]["removals"]) == kts
    assert reg["social"]["funeral_supports"] == []
