"""The scenario clock of a fake server: :class:`scenarios.clock.CalendarClock`, kept in ``clock.json``
of its run folder so a restarted server continues the same clock (``Clock.for_run``), and
:class:`StoppedClock`, the same clock stopped at one minute (a write dated at its completion)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scenarios.clock import CalendarClock as Clock

__all__ = ["Clock", "StoppedClock"]


@dataclass(frozen=True)
class StoppedClock(Clock):
    """``clock`` read at scenario minute ``at`` whenever it is asked for "now" (``minute()``,
    ``now()``, ``today()``); wall conversions are the clock's."""

    at: float = field(kw_only=True)

    @classmethod
    def stop(cls, clock: Clock, at: float) -> StoppedClock:
        """``clock`` stopped at minute ``at``."""
        return cls(clock.t0, clock.speed, origin=clock.origin, at=at)

    def minute(self, wall: Any = None) -> Any:
        return self.at if wall is None else super().minute(wall)
