"""Merging the workers' files of a live run and turning them into metrics (private)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from loadtests._records import JOURNEY_DTYPE, REQUEST_DTYPE, REQUEST_KINDS
from loadtests._stats import summary
from loadtests.journeys import STEP_DTYPE

__all__ = ["Merged", "http_metrics", "merge"]


class Merged:
    """All workers' rows: ``journeys``, ``requests``, ``steps``, plus driver counters summed,
    the accepted ``submissions`` (dicts, for reconciliation) and ``end_minute``: the scenario
    minute at which the last worker stopped following dossiers (a dossier not terminal then is
    open at that minute; ``nan`` when no worker said)."""

    def __init__(self) -> None:
        self.journeys: npt.NDArray[np.void] = np.zeros(0, JOURNEY_DTYPE)
        self.requests: npt.NDArray[np.void] = np.zeros(0, REQUEST_DTYPE)
        self.steps: npt.NDArray[np.void] = np.zeros(0, STEP_DTYPE)
        self.driver: dict[str, float] = {}
        self.submissions: list[dict[str, Any]] = []
        self.workers = 0
        self.end_minute = float("nan")
        #: non-dossier traffic (``extra`` surges, loadtests._traffic): its requests and counters
        self.traffic: npt.NDArray[np.void] = np.zeros(0, REQUEST_DTYPE)
        self.traffic_driver: dict[str, float] = {}


def merge(folder: str | Path) -> Merged:
    """Reads every ``worker-<i>.npz``/``.json`` in ``folder``; FileNotFoundError if none."""
    out, folder = Merged(), Path(folder)
    stems = sorted(p.with_suffix("") for p in folder.glob("worker-*.json"))
    if not stems:
        raise FileNotFoundError(f"no worker results in {folder} (did the load process fail?)")
    js, rs, ss, ts = [], [], [], []
    for stem in stems:
        with np.load(stem.with_suffix(".npz")) as data:
            js.append(data["journeys"])
            rs.append(data["requests"])
            ss.append(data["steps"])
            if "traffic" in data.files:
                ts.append(data["traffic"])
        doc = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
        out.submissions += doc["submissions"]
        for k, v in doc.get("traffic", {}).items():
            out.traffic_driver[k] = max(out.traffic_driver.get(k, 0), v) if k.endswith("_s") \
                else out.traffic_driver.get(k, 0) + v
        if doc.get("end_minute") is not None:
            end = float(doc["end_minute"])
            out.end_minute = end if math.isnan(out.end_minute) else max(out.end_minute, end)
        for k, v in doc["driver"].items():
            out.driver[k] = max(out.driver.get(k, 0), v) if k.endswith("_s") else out.driver.get(k, 0) + v
    out.journeys = np.sort(np.concatenate(js), order="dossier")
    out.requests = np.concatenate(rs)
    out.steps = np.concatenate(ss)
    if ts:
        out.traffic = np.concatenate(ts)
    out.workers = len(stems)
    return out


def _counts(status: npt.NDArray[Any]) -> dict[str, int]:
    """``{status: how many}`` (0: no answer), most frequent first."""
    codes, n = np.unique(status, return_counts=True)
    return {str(k): int(v) for k, v in sorted(zip(codes, n, strict=True), key=lambda kv: -kv[1])}


def http_metrics(requests: npt.NDArray[np.void]) -> dict[str, Any]:
    """Exact latency statistics (ms) from the intended start and as service time, per kind.

    ``latency_ms`` is ``end - intended`` (coordinated-omission-safe: time lost before a request
    could start counts), ``service_ms`` is ``end - start``; ``errors`` counts requests the
    journey did not expect (5xx, timeouts, unexpected 4xx), by kind with their statuses
    (``error_status``, 0 = no answer).
    """
    lat = (requests["end"] - requests["intended"]) * 1000.0
    svc = (requests["end"] - requests["start"]) * 1000.0
    bad = ~requests["ok"]
    out: dict[str, Any] = {
        "requests": int(requests.size),
        "errors": int(bad.sum()),
        "error_rate": float(bad.mean()) if requests.size else 0.0,
        "latency_ms": summary(lat, "ms"),
        "service_ms": summary(svc, "ms"),
        "by_kind": {},
        "status": _counts(requests["status"]),
    }
    for code, kind in enumerate(REQUEST_KINDS):
        sel = requests["kind"] == code
        if sel.any():
            out["by_kind"][kind] = {
                "requests": int(sel.sum()),
                "errors": int(bad[sel].sum()),
                "error_status": _counts(requests["status"][sel & bad]),
                "latency_ms": summary(lat[sel], "ms"),
                "service_ms": summary(svc[sel], "ms"),
            }
    return out
