"""Non-dossier traffic of a live run: the scenario's ``extra`` surges as requests (private).

A surge of extra demand of a named kind (``scenarios.model.SURGE_EXTRA``) is not linked dossiers:
:func:`sim.arrivals.traffic` gives its request times, and here each one is a request on the
endpoints its kind hits, fired open-model at its time by the same driver as the dossiers:

- ``vneid_traffic`` (F5: people on VNeID after an announcement): a status look-up at the portal,
  ``GET /portal/dossiers/{id}`` of a dossier number nobody holds, as the desk caller (404
  ``unknown_dossier`` is the expected answer; it reads the portal's store like any status poll);
- ``residence_registration`` (F6: standalone residence registrations before a deadline): the
  citizen look-up the residence form makes first, ``GET /police/people/{pid}`` of an applicant's
  PID, as the portal caller (200, or 404 ``unknown_person`` for a person the fake was not told of),
  at the scenario's ``agencies.police.base_url`` when it names one, else at the run's target.

Bounded in time (inside the fault's window and the run's deadline) and in count (the stream's
``(factor − 1) × the window's dossiers``, at most :data:`MAX_REQUESTS` per worker), one attempt
each (no retry: unrelated users give up), recorded in their own request table (``traffic`` in the
worker's ``.npz``) and counted apart from the dossiers' requests (``metrics.json`` ``traffic``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from loadtests._http import Caller
from loadtests._stats import summary
from scenarios import Scenario
from scenarios.model import SURGE_EXTRA
from sim.arrivals import traffic

__all__ = ["MAX_REQUESTS", "TrafficRunner", "traffic_metrics", "traffic_share"]

MAX_REQUESTS = 200_000
#: Per kind of extra demand: (request kind in ``REQUEST_KINDS``, method, path template, caller role,
#: statuses that are expected answers besides 2xx).
ENDPOINTS: dict[str, tuple[str, str, str, str, tuple[int, ...]]] = {
    "vneid_traffic": ("traffic.vneid_traffic", "GET", "/portal/dossiers/{ref}", "desk", (404,)),
    "residence_registration": ("traffic.residence_registration", "GET", "/police/people/{pid}", "portal",
                               (404,)),
}


def traffic_share(scenario: Scenario, stream: npt.NDArray[np.void], days: int, workers: int,
                  worker_index: int, shift_minutes: float = 0.0) -> npt.NDArray[np.void]:
    """This worker's rows of the run's traffic (every ``workers``-th, from ``worker_index``),
    their minutes shifted like the dossiers'; at most :data:`MAX_REQUESTS`."""
    rows = traffic(scenario, days, stream=stream)[worker_index::workers][:MAX_REQUESTS].copy()
    rows["minute"] += shift_minutes
    return rows


class TrafficRunner:
    """The driver's action for traffic row ``i``: one request on its kind's endpoint."""

    def __init__(self, rows: npt.NDArray[np.void], callers: dict[str, Caller], pids: list[str],
                 run_tag: str) -> None:
        """``callers``: ``desk`` and ``portal`` (police at its own origin); ``pids``: applicants'."""
        if not set(SURGE_EXTRA) <= set(ENDPOINTS):
            raise ValueError(f"no endpoint for extra demand {sorted(set(SURGE_EXTRA) - set(ENDPOINTS))}")
        self.rows, self.callers, self.pids, self.tag = rows, callers, pids or ["001000000000"], run_tag

    def __call__(self, i: int, intended: float) -> None:
        extra = SURGE_EXTRA[int(self.rows[i]["extra"])]
        kind, method, path, role, expect = ENDPOINTS[extra]
        ref = f"VNEID-{self.tag}-{i:07d}"
        url = path.format(ref=ref, pid=self.pids[i % len(self.pids)])
        self.callers[role].call(method, url, kind=kind, intended=intended, name=path, expect=expect)


def traffic_metrics(requests: npt.NDArray[np.void], kinds: tuple[str, ...]) -> dict[str, Any]:
    """Per kind of traffic: requests, answers by status, errors (no answer, 5xx or an unexpected
    4xx) and latency from the intended start (ms). ``kinds``: ``REQUEST_KINDS``."""
    out: dict[str, Any] = {}
    for code, kind in enumerate(kinds):
        if not kind.startswith("traffic."):
            continue
        sel = requests[requests["kind"] == code]
        if not sel.size:
            continue
        statuses, counts = np.unique(sel["status"], return_counts=True)
        out[kind.removeprefix("traffic.")] = {
            "requests": int(sel.size),
            "errors": int((~sel["ok"]).sum()),
            "status": {str(int(k)): int(v) for k, v in zip(statuses, counts, strict=True)},
            "latency_ms": summary((sel["end"] - sel["intended"]) * 1000.0, "ms"),
        }
    return out


def traffic_section(merged: Any) -> dict[str, Any]:
    """``metrics.json`` ``traffic`` of a merged run (``loadtests._merge.Merged``): the driver's
    counters (``planned``, ``started``, ``not_sent``, …) and :func:`traffic_metrics` per kind;
    empty when the scenario has no extra demand."""
    from loadtests._records import REQUEST_KINDS

    driver = dict(merged.traffic_driver)
    if not driver.get("planned") and not merged.traffic.size:
        return {}
    return {"driver": driver, "by_kind": traffic_metrics(merged.traffic, REQUEST_KINDS)}
