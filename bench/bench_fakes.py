"""Benchmark of the fake agencies and the portal (issue #5). Not a test: run by hand.

    .venv/bin/python bench/bench_fakes.py [--seconds 8] [--dossiers 1500] [--rounds 3]
        [--before WORKTREE]

Servers run as child processes on 127.0.0.1 (one core each at most: one event loop); the load
generator is one aiohttp client in this process. Every loop is bounded in time and count.
Prints one line per figure and the ratios against references measured in the same run:

1. fakes POST /health/birth-certificates req/s vs a bare FastAPI endpoint inserting one
   SQLite row (same uvicorn settings) — goal >= 50 %;
2. the same POST with a 50 ms latency fault vs without, at concurrency 256 and 512 (the
   claim is at enough concurrency: 512 in flight / 50 ms = 10,000 req/s of headroom, far
   above what the server does) — drop <= 20 %;
3. fault-middleware overhead: its own time per request (from /metrics, injected delay apart)
   as a share of the request's server time, and req/s with faults active-but-idle vs none;
4. completed linked birth dossiers (KS+TT+BHYT) per second through the portal: all agencies
   and the portal in one process (in-process hops), and in two processes (``processes=2``:
   the agencies in one, the portal in the other calling them over loopback); medians of
   ``rounds`` fresh servers; per CPU-second of all server processes beside wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakes.ids import make_pid
from fakes.serve import Handle, free_port, start_subprocess
from scenarios import Scenario, dump, load
from scenarios.model import Dist, Fault

_serial = itertools.count(1)
CERT = {"facility_code": "01001", "mother_name": "Nguyễn Thị Lan", "mother_birth_date": "1995-04-12",
        "residence_province": "001", "residence_commune": "00070", "child_sex": "M",
        "child_birth_date": "2026-03-01", "weight_grams": 3100, "place_of_birth": "Bệnh viện"}


# -- the bare reference: FastAPI + one SQLite insert ------------------------------------------

class BareItem(BaseModel):
    """The reference endpoint's body."""

    facility_code: str
    mother_name: str


def bare_server(port: int, run_dir: str) -> None:
    """A bare FastAPI app inserting one row per POST (the reference), served like the fakes."""
    import uvicorn
    import uvloop
    from fastapi import FastAPI

    db = sqlite3.connect(Path(run_dir) / "bare.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, doc TEXT)")
    app = FastAPI()

    @app.post("/items", status_code=201)
    async def create(item: BareItem) -> dict[str, Any]:
        cur = db.execute("INSERT INTO t (doc) VALUES (?)", (item.model_dump_json(),))
        return {"id": cur.lastrowid}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_bare(run_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--bare-server", str(port), str(run_dir)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            import urllib.request

            urllib.request.urlopen(url + "/healthz", timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("bare server did not start")


# -- load generation ----------------------------------------------------------------------------

async def post_load(url: str, path: str, key: str | None, seconds: float, concurrency: int,
                    max_requests: int, make_body: Any) -> tuple[float, int, int]:
    """Closed-loop POSTs for ``seconds`` (at most ``max_requests``): (req/s, ok, errors)."""
    ok = errors = sent = 0
    stop = time.perf_counter() + seconds
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as http:
        async def worker() -> None:
            nonlocal ok, errors, sent
            while time.perf_counter() < stop and sent < max_requests:
                sent += 1
                headers = {"Idempotency-Key": uuid.uuid4().hex}
                if key:
                    headers["X-API-Key"] = key
                async with http.post(url + path, json=make_body(), headers=headers) as r:
                    await r.read()
                    if r.status < 300:
                        ok += 1
                    else:
                        errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return ok / elapsed, ok, errors


def cert_body() -> dict[str, Any]:
    return {**CERT, "mother_pid": make_pid("001", "F", 1995, next(_serial))}


def metric_sum(text: str, pattern: str) -> float:
    rx = re.compile(pattern)
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if rx.match(line))


async def get_text(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        return await r.text()


# -- dossier throughput ---------------------------------------------------------------------------

def fakes_cpu(h: Handle) -> float:
    """Requests per CPU-second of the whole run of server ``h`` (from /metrics and psutil)."""
    text = asyncio.run(get_text(h.base_url + "/metrics"))
    requests = metric_sum(text, r"lienthong_http_request_seconds_count")
    return requests / (cpu_seconds(pid(h)) - START_CPU.get(pid(h), 0.0))


START_CPU: dict[int, float] = {}


def started(h: Handle) -> Handle:
    """Note the server's CPU time after start-up (imports), to leave it out of per-request CPU."""
    START_CPU[pid(h)] = cpu_seconds(pid(h))
    return h


def pid(h: Handle) -> int:
    assert h.process is not None
    return h.process.pid


def server_pids(h: Handle) -> list[int]:
    """The server's process and its children (the agencies' process with processes=2)."""
    return [pid(h)] + [c.pid for c in psutil.Process(pid(h)).children()]


async def dossier_throughput(h: Handle, n: int, concurrency: int, limit_s: float,
                             pids: list[int]) -> dict[str, float]:
    """Create n certificates, then submit n KS+TT+BHYT dossiers; completed dossiers per second
    from the first submission to the last completion (status from the /metrics gauge)."""
    conn = aiohttp.TCPConnector(limit=concurrency)
    portal_url = h.urls["portal"]
    async with aiohttp.ClientSession(connector=conn) as http:
        sem = asyncio.Semaphore(concurrency)

        async def post(url: str, body: dict[str, Any], who: str) -> dict[str, Any]:
            async with sem, http.post(url, json=body, headers={
                    "X-API-Key": h.keys[who], "Idempotency-Key": uuid.uuid4().hex}) as r:
                doc: dict[str, Any] = await r.json()
                assert r.status in (201, 202), doc
                return doc

        certs = await asyncio.gather(*(post(h.urls["health"] + "/health/birth-certificates",
                                            cert_body(), "hospital") for _ in range(n)))
        start, cpu0 = time.perf_counter(), sum(cpu_seconds(p) for p in pids)
        await asyncio.gather(*(post(portal_url + "/portal/dossiers", {
            "service": "birth", "variant": "ks_tt_bhyt", "applicant_name": "Nguyễn Thị Lan",
            "applicant_pid": c["mother_pid"],
            "birth": {"birth_certificate_id": c["id"], "child_name": "Trần Minh An",
                      "unit_code": "00070", "declarant_relation": "mother",
                      "household_id": f"HK{i:010d}", "relation_to_head": "child",
                      "address": "12 Phố Huế"}}, "desk") for i, c in enumerate(certs)))
        submitted = time.perf_counter() - start
        done = rejected = 0.0
        while time.perf_counter() - start < limit_s:
            try:
                async with http.get(portal_url + "/metrics") as r:
                    text = await r.text()
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
                continue
            done = metric_sum(text, r'lienthong_portal_dossiers\{status="completed"\}')
            rejected = metric_sum(text, r'lienthong_portal_dossiers\{status="rejected"\}')
            if done + rejected >= n:
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - start
        cpu = sum(cpu_seconds(p) for p in pids) - cpu0
    return {"completed": done, "rejected": rejected, "seconds": elapsed,
            "per_s": done / elapsed, "per_cpu_s": done / cpu, "submit_per_s": n / submitted}


# -- main -----------------------------------------------------------------------------------------

def with_faults(s: Scenario, *faults: Fault) -> Scenario:
    return s.model_copy(update={"faults": faults})


Rates = dict[str, float]


def ab(a: Any, b: Any, rounds: int) -> tuple[Rates, Rates, Rates]:
    """Alternate ``a()`` and ``b()`` (each returning {"wall": req/s, "cpu": req per server
    CPU-second}) ``rounds`` times: the median of each and of the per-round ratios b/a. The
    CPU-normalised figure is the robust one on a shared, loaded machine."""
    ra: list[Rates] = []
    rb: list[Rates] = []
    for _ in range(rounds):
        ra.append(a())
        rb.append(b())
    med = {k: statistics.median(r[k] for r in ra) for k in ("wall", "cpu")}
    med_b = {k: statistics.median(r[k] for r in rb) for k in ("wall", "cpu")}
    ratio = {k: statistics.median(y[k] / x[k] for x, y in zip(ra, rb, strict=True))
             for k in ("wall", "cpu")}
    return med, med_b, ratio


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (and its threads)."""
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def post_rate(url: str, path: str, key: str | None, seconds: float, concurrency: int,
              body: Any, pid: int) -> Rates:
    before = cpu_seconds(pid)
    rate, ok, errors = asyncio.run(post_load(url, path, key, seconds, concurrency, 10**6, body))
    assert errors == 0, f"{errors} errors on {url}{path}"
    return {"wall": rate, "cpu": ok / max(cpu_seconds(pid) - before, 1e-9)}


def start_at(checkout: Path, scenario: Scenario, run_dir: Path) -> Handle:
    """``python -m fakes.serve`` of another checkout of the repository (e.g. a git worktree
    of an earlier commit), all agencies in one process, for a before/after comparison."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "scenario.toml").write_text(dump(scenario), encoding="utf-8")
    cmd = [sys.executable, "-m", "fakes.serve", "--scenario", str(run_dir / "scenario.toml"),
           "--run-dir", str(run_dir), "--port", str(free_port()), "--speed", "1.0"]
    with open(run_dir / "server.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, cwd=checkout,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the READY line (or EOF when it failed)
    if not line.startswith(b"READY "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{checkout}: fakes did not start: {(run_dir / 'server.log').read_text()}")
    info = json.loads(line[6:])
    return Handle(info["base_url"], info["urls"], {n: c.key for n, c in scenario.callers.items()},
                  run_dir, process=proc)


def run(seconds: float, dossiers: int, rounds: int, before: Path | None = None) -> None:
    base = load("hanoi-baseline")
    tmp = Path(tempfile.mkdtemp(prefix="bench-fakes-"))
    cert = "/health/birth-certificates"

    # 1. POST req/s: fakes vs bare FastAPI + SQLite, alternating rounds
    proc, bare_url = start_bare(tmp)
    h = started(start_subprocess(base, tmp / "plain", speed=1.0))
    try:
        bare, fakes, ratio = ab(
            lambda: post_rate(bare_url, "/items", None, seconds, 64,
                              lambda: {"facility_code": "01001", "mother_name": "Lan"}, proc.pid),
            lambda: post_rate(h.base_url, cert, h.keys["hospital"], seconds, 64, cert_body,
                              pid(h)),
            rounds)
        none = _overhead(asyncio.run(get_text(h.base_url + "/metrics")), fakes_cpu(h))
    finally:
        proc.terminate()
        proc.wait()
        h.stop()
    print(f"bare FastAPI+SQLite POST: {bare['wall']:6.0f} req/s, {bare['cpu']:6.0f} req/CPU-s "
          f"(medians of {rounds} alternating rounds)")
    print(f"fakes POST (certificate): {fakes['wall']:6.0f} req/s, {fakes['cpu']:6.0f} req/CPU-s  "
          f"ratio {ratio['wall']:.2f} wall, {ratio['cpu']:.2f} CPU (goal >= 0.50)")

    # 2. 50 ms injected latency vs none, at concurrency 256 and 512
    lat = with_faults(base, Fault(kind="latency", agency="health", start=0, end=1e12,
                                  latency=Dist(kind="constant", mean=50.0)))
    latency = (0.0, 0.0)
    for conc in (256, 512):
        h1 = started(start_subprocess(base, tmp / f"c{conc}_plain", speed=1.0))
        h2 = started(start_subprocess(lat, tmp / f"c{conc}_latency", speed=1.0))
        try:
            plain, delayed, kept = ab(
                lambda: post_rate(h1.base_url, cert, h1.keys["hospital"], seconds, conc,  # noqa: B023
                                  cert_body, pid(h1)),  # noqa: B023
                lambda: post_rate(h2.base_url, cert, h2.keys["hospital"], seconds, conc,  # noqa: B023
                                  cert_body, pid(h2)),  # noqa: B023
                rounds)
            latency = _overhead(asyncio.run(get_text(h2.base_url + "/metrics")), fakes_cpu(h2))
        finally:
            h1.stop()
            h2.stop()
        print(f"POST at c={conc} no fault:   {plain['wall']:6.0f} req/s, {plain['cpu']:6.0f} "
              f"req/CPU-s")
        print(f"POST at c={conc} +50 ms:     {delayed['wall']:6.0f} req/s, {delayed['cpu']:6.0f} "
              f"req/CPU-s  kept {kept['wall']:.2f} of the rate (goal: drop <= 20%)")

    # 3. fault middleware active but idle (rate-0 error on every agency) vs no faults
    idle_s = with_faults(base, Fault(kind="error", agency="*", start=0, end=1e12, rate=0.0,
                                     status=500))
    h1 = started(start_subprocess(base, tmp / "none", speed=1.0))
    h2 = started(start_subprocess(idle_s, tmp / "idle", speed=1.0))
    try:
        r_none, r_idle, idle_ratio = ab(
            lambda: post_rate(h1.base_url, cert, h1.keys["hospital"], seconds, 64, cert_body,
                              pid(h1)),
            lambda: post_rate(h2.base_url, cert, h2.keys["hospital"], seconds, 64, cert_body,
                              pid(h2)),
            rounds)
        idle = _overhead(asyncio.run(get_text(h2.base_url + "/metrics")), fakes_cpu(h2))
    finally:
        h1.stop()
        h2.stop()
    for name, (per, share) in (("no faults", none), ("idle fault", idle), ("50 ms", latency)):
        print(f"fault middleware own time ({name:10s}): {per * 1e6:6.1f} µs/request = "
              f"{share:.1%} of a request's server CPU time, injected delay apart (goal <= 10%)")
    print(f"POST with an idle fault:  {r_idle['cpu']:6.0f} req/CPU-s vs {r_none['cpu']:.0f} "
          f"without: {idle_ratio['cpu']:.2f} (wall {idle_ratio['wall']:.2f})")

    # 4. completed linked birth dossiers per second: placements (and an earlier checkout of
    # the fakes, if given) interleaved round by round, so they see the same machine load
    placements: list[tuple[str, Any]] = []
    if before is not None:
        placements.append(("before", lambda d: start_at(before, base, d)))
    placements += [("one process", lambda d: start_subprocess(base, d, speed=1.0)),
                   ("two processes", lambda d: start_subprocess(base, d, speed=1.0,
                                                                processes=2))]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in placements}
    for r in range(rounds):
        for name, start in placements:
            h = start(tmp / f"dossiers_{name.replace(' ', '_')}_{r}")
            try:
                runs[name].append(asyncio.run(dossier_throughput(h, dossiers, 128, 120,
                                                                 server_pids(h))))
            finally:
                h.stop()
    for name, rs in runs.items():
        d = {k: statistics.median(x[k] for x in rs) for k in rs[0]}
        print(f"birth dossiers ({name:13s}): {d['per_s']:6.0f} completed/s wall, "
              f"{d['per_cpu_s']:6.0f} per server CPU-s (medians of {rounds}; "
              f"{d['completed']:.0f} completed, {d['rejected']:.0f} rejected in "
              f"{d['seconds']:.1f} s; intake {d['submit_per_s']:.0f}/s) (goal >= 200/s)")
    print(f"cores: {os.cpu_count()}  load average: {os.getloadavg()}  run dir: {tmp}")


def _overhead(text: str, req_per_cpu_s: float) -> tuple[float, float]:
    """(fault-middleware seconds per request, share of the server CPU time per request)."""
    own = metric_sum(text, r'lienthong_fault_overhead_seconds_sum\{agency="health"')
    count = metric_sum(text, r'lienthong_fault_overhead_seconds_count\{agency="health"')
    per = own / max(count, 1)
    return per, per * req_per_cpu_s


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--dossiers", type=int, default=1500)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--before", type=Path, default=None,
                   help="another checkout of the repo (e.g. a git worktree of an earlier "
                        "commit) whose fakes join the dossier rounds, one process")
    p.add_argument("--bare-server", nargs=2, metavar=("PORT", "DIR"))
    args = p.parse_args()
    if args.bare_server:
        bare_server(int(args.bare_server[0]), args.bare_server[1])
        return
    run(args.seconds, args.dossiers, args.rounds, args.before)


if __name__ == "__main__":
    main()
