"""The compressed clock of a live run: wall time ↔ scenario time.

A live run compresses time by ``speed`` (scenario seconds per wall second) from the wall instant
``t0`` of scenario minute 0: ``minute = (wall - t0) * speed / 60``. Minute 0 is the scenario's
calendar start, a Monday at 00:00 in its timezone (Asia/Ho_Chi_Minh), as in the twin. The fakes
stamp their registers with this clock and the load driver reads its wall timestamps with it, so
both speak the same scenario time.

A run folder keeps ``t0`` and ``speed`` in ``clock.json`` (:func:`write`, :func:`read`), so a
server restarted in that folder continues the same clock.

>>> clock = ScenarioClock(t0=1000.0, speed=60.0)   # a scenario minute per wall second
>>> clock.minute(1090.0), clock.wall(90.0)
(90.0, 1090.0)
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from scenarios.model import Scenario

__all__ = ["CLOCK_FILE", "CalendarClock", "ScenarioClock", "read", "write"]

CLOCK_FILE = "clock.json"


@dataclass(frozen=True)
class ScenarioClock:
    """Wall time ↔ scenario minutes: ``minute = (wall - t0) * speed / 60``.

    Raises ValueError for a speed that is not positive.
    """

    t0: float
    speed: float

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be positive, got {self.speed!r}")

    def minute(self, wall: Any = None) -> Any:
        """The scenario minute of a wall time (default: now; works on arrays)."""
        return ((time.time() if wall is None else wall) - self.t0) * self.speed / 60.0

    def wall(self, minute: Any) -> Any:
        """The wall time of a scenario minute (works on arrays)."""
        return self.t0 + minute * 60.0 / self.speed

    def wall_seconds(self, minutes: float) -> float:
        """Wall seconds that ``minutes`` scenario minutes take."""
        return minutes * 60.0 / self.speed


@dataclass(frozen=True)
class CalendarClock(ScenarioClock):
    """A :class:`ScenarioClock` that also tells the scenario date: minute 0 is ``origin``
    (aware, in the scenario's timezone)."""

    origin: dt.datetime = field(kw_only=True)

    @classmethod
    def of(cls, scenario: Scenario, t0: float, speed: float) -> CalendarClock:
        """The clock of ``scenario`` (minute 0: its calendar start, 00:00 local) from ``t0``."""
        tz = ZoneInfo(scenario.calendar.timezone)
        origin = dt.datetime.combine(scenario.calendar.start, dt.time(), tzinfo=tz)
        return cls(float(t0), float(speed), origin=origin)

    @classmethod
    def for_run(cls, scenario: Scenario, run_dir: Path, speed: float | None = None) -> CalendarClock:
        """The clock of ``run_dir``: as :func:`read` finds it there, else started now at ``speed``
        (default ``scenario.load.speed``) and written there."""
        saved = read(run_dir)
        if saved is not None:
            return cls.of(scenario, saved.t0, saved.speed)
        clock = cls.of(scenario, time.time(), speed or scenario.load.speed)
        write(run_dir, clock)
        return clock

    def now(self) -> dt.datetime:
        """The scenario date-time now."""
        return self.datetime_at(self.minute())

    def datetime_at(self, minute: float) -> dt.datetime:
        """The scenario date-time of scenario ``minute``."""
        return self.origin + dt.timedelta(minutes=minute)

    def today(self) -> dt.date:
        """The scenario date now."""
        return self.now().date()


def write(run_dir: Path, clock: ScenarioClock) -> Path:
    """Records ``clock`` in ``run_dir/clock.json`` (``{"t0", "speed"}``; creates the folder)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / CLOCK_FILE
    path.write_text(json.dumps({"t0": clock.t0, "speed": clock.speed}))
    return path


def read(run_dir: Path) -> ScenarioClock | None:
    """The clock recorded in ``run_dir/clock.json``, or None when there is none.

    Raises ValueError (naming the file) when the file is not a clock.
    """
    path = run_dir / CLOCK_FILE
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
        return ScenarioClock(float(saved["t0"]), float(saved["speed"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f'{path}: not a clock ({{"t0": …, "speed": …}}): {exc}') from None
