"""The scenario clock of a fake server: :class:`scenarios.clock.CalendarClock`, kept in ``clock.json``
of its run folder so a restarted server continues the same clock (``Clock.for_run``)."""

from __future__ import annotations

from scenarios.clock import CalendarClock as Clock

__all__ = ["Clock"]
