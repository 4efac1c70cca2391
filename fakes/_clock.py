"""The scenario clock of a fake server: wall time compressed by ``speed`` from ``t0``."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from scenarios import Scenario

__all__ = ["Clock"]


class Clock:
    """``now = calendar.start 00:00 + (wall - t0) * speed``; minutes are scenario minutes.

    Raises ValueError for a speed that is not positive.
    """

    def __init__(self, scenario: Scenario, speed: float, t0: float) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, not {speed!r}")
        self.speed, self.t0 = float(speed), float(t0)
        tz = ZoneInfo(scenario.calendar.timezone)
        self.origin = dt.datetime.combine(scenario.calendar.start, dt.time(), tzinfo=tz)

    @classmethod
    def for_run(cls, scenario: Scenario, run_dir: Path, speed: float | None = None) -> Clock:
        """The clock of ``run_dir``: ``t0`` and speed from ``clock.json`` if a previous start
        wrote it, else now and ``speed`` (default ``scenario.load.speed``), written there."""
        path = run_dir / "clock.json"
        if path.exists():
            saved = json.loads(path.read_text())
            return cls(scenario, float(saved["speed"]), float(saved["t0"]))
        clock = cls(scenario, speed or scenario.load.speed, time.time())
        run_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"t0": clock.t0, "speed": clock.speed}))
        return clock

    def minute(self, wall: float | None = None) -> float:
        """Scenario minutes since the calendar start."""
        return ((time.time() if wall is None else wall) - self.t0) * self.speed / 60.0

    def now(self) -> dt.datetime:
        """The scenario date-time now."""
        return self.origin + dt.timedelta(minutes=self.minute())

    def today(self) -> dt.date:
        """The scenario date now."""
        return self.now().date()

    def wall_seconds(self, minutes: float) -> float:
        """Wall seconds that ``minutes`` scenario minutes take."""
        return minutes * 60.0 / self.speed
