"""Stages of a closed-model ramp as Locust wants them (private; no Locust import)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Tick", "ticks"]


@dataclass(frozen=True)
class Tick:
    """One stage for Locust: until ``end_s`` (cumulative wall seconds), ``users`` at ``spawn_rate``."""

    end_s: float
    users: int
    spawn_rate: float


def ticks(stages: Iterable[Any], scale: float = 1.0) -> list[Tick]:
    """Cumulative stage ends in wall seconds (stage ``duration`` in minutes × 60 × ``scale``).

    Raises ValueError for a non-positive ``scale``.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    out, end = [], 0.0
    for st in stages:
        end += float(st.duration) * 60.0 * scale
        out.append(Tick(end, int(st.users), float(st.spawn_rate)))
    return out
