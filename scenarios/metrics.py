"""The metric names a threshold may use — defined once, here.

The twin (``sim``), the live run's report (``lienthong``) and the loader (which refuses an
unknown name with a ``ScenarioError`` naming the key) all build names with these functions:

- ``<service>.e2e`` — a linked group end to end (``birth.e2e``, ``death.e2e``), in working days;
- ``step.<step id>`` — one step of a group (``step.bhyt``), in working days;
- ``http.latency``, ``http.service_time`` (ms), ``http.errors`` (rate, count) — live runs only;
- ``reconcile.violations``, ``reconcile.not_verifiable`` (count) — live runs only.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["HTTP", "LIVE_ONLY", "RECONCILE", "e2e", "names", "parse", "step"]

HTTP = ("http.latency", "http.service_time", "http.errors")
RECONCILE = ("reconcile.violations", "reconcile.not_verifiable")
LIVE_ONLY = HTTP + RECONCILE


def e2e(service: str) -> str:
    """The end-to-end metric of a linked group: ``e2e("birth") == "birth.e2e"``."""
    return f"{service}.e2e"


def step(step_id: str) -> str:
    """The metric of one step: ``step("bhyt") == "step.bhyt"``."""
    return f"step.{step_id}"


def names(services: Iterable[str], steps: Iterable[str]) -> tuple[str, ...]:
    """Every metric name a scenario with these services and steps may put a threshold on."""
    return (*(e2e(s) for s in services), *(step(s) for s in steps), *LIVE_ONLY)


def parse(metric: str) -> tuple[str, str]:
    """``("e2e", service)``, ``("step", step id)`` or ``("live", metric)`` for a metric name."""
    head, _, name = metric.partition(".")
    if head == "step" and name:
        return "step", name
    if name == "e2e":
        return "e2e", head
    return "live", metric
