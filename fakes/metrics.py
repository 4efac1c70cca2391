"""Prometheus text metrics: request counts and latency histograms per agency and route, the
fault middleware's injected delay and own overhead, kept apart, and the agencies' desks in time
(work booked and not started, desks busy, work by status) at scrape time."""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from typing import Any

__all__ = ["BUCKETS", "Histogram", "Metrics", "MetricsMiddleware"]

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_PREFIXES = ("health", "justice", "police", "vss", "social", "portal", "admin")


class Histogram:
    """Cumulative-bucket histogram of seconds."""

    __slots__ = ("buckets", "count", "counts", "sum")

    def __init__(self, buckets: tuple[float, ...] = BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.count, self.sum = 0, 0.0

    def observe(self, seconds: float) -> None:
        """Add one observation."""
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.count += 1
        self.sum += seconds

    def lines(self, name: str, labels: str) -> list[str]:
        """Prometheus exposition lines."""
        out, running = [], 0
        for bound, n in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += n
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f'{name}_bucket{{{labels},le="{le}"}} {running}')
        out += [f"{name}_sum{{{labels}}} {self.sum:.6f}", f"{name}_count{{{labels}}} {self.count}"]
        return out


class Metrics:
    """All counters and histograms of one server."""

    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str, str, int], int] = defaultdict(int)
        self.latency: defaultdict[tuple[str, str], Histogram] = defaultdict(Histogram)
        self.faults: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.injected: defaultdict[tuple[str, str], float] = defaultdict(float)
        self.overhead: defaultdict[str, Histogram] = defaultdict(Histogram)
        self.outbound: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.gauges: dict[str, Any] = {}

    def render(self) -> str:
        """The Prometheus text exposition."""
        lines = ["# TYPE lienthong_http_requests_total counter"]
        for (agency, route, method, status), n in sorted(self.requests.items()):
            lines.append(f'lienthong_http_requests_total{{agency="{agency}",route="{route}",'
                         f'method="{method}",status="{status}"}} {n}')
        lines.append("# TYPE lienthong_http_request_seconds histogram")
        for (agency, route), h in sorted(self.latency.items()):
            lines += h.lines("lienthong_http_request_seconds", f'agency="{agency}",route="{route}"')
        lines.append("# TYPE lienthong_faults_total counter")
        for (agency, kind), n in sorted(self.faults.items()):
            lines.append(f'lienthong_faults_total{{agency="{agency}",kind="{kind}"}} {n}')
        lines.append("# TYPE lienthong_fault_injected_seconds_total counter")
        for (agency, kind), s in sorted(self.injected.items()):
            lines.append(f'lienthong_fault_injected_seconds_total{{agency="{agency}",'
                         f'kind="{kind}"}} {s:.6f}')
        lines.append("# TYPE lienthong_fault_overhead_seconds histogram")
        for agency, h in sorted(self.overhead.items()):
            lines += h.lines("lienthong_fault_overhead_seconds", f'agency="{agency}"')
        lines.append("# TYPE lienthong_portal_outbound_total counter")
        for (agency, outcome), n in sorted(self.outbound.items()):
            lines.append(f'lienthong_portal_outbound_total{{agency="{agency}",'
                         f'outcome="{outcome}"}} {n}')
        lines.append("# TYPE lienthong_portal_dossiers gauge")
        for status, n in sorted(self.gauges.get("dossiers", {}).items()):
            lines.append(f'lienthong_portal_dossiers{{status="{status}"}} {n}')
        desks = sorted(self.gauges.get("desks", {}).items())
        for name in ("desk_queue", "desk_busy", "sys_queue", "sys_busy"):  # as the twin's timeline
            lines.append(f"# TYPE lienthong_{name} gauge")
            lines += [f'lienthong_{name}{{agency="{a}"}} {g[name]}' for a, g in desks]
        lines.append("# TYPE lienthong_work gauge")
        lines += [f'lienthong_work{{agency="{a}",status="{status}"}} {n}'
                  for a, g in desks for status, n in g["work"].items()]
        return "\n".join(lines) + "\n"


def agency_of(path: str) -> str:
    """The agency a path belongs to ('-' for operations endpoints)."""
    head = path.split("/", 2)[1] if path.startswith("/") else ""
    return head if head in _PREFIXES else "-"


class MetricsMiddleware:
    """Outermost ASGI middleware: counts and times every HTTP request."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            agency = agency_of(scope["path"])
            self.metrics.requests[(agency, template, scope["method"], status)] += 1
            self.metrics.latency[(agency, template)].observe(time.perf_counter() - start)
