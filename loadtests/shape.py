"""The load shape of a scenario: Locust ``LoadTestShape`` from ``scenario.load.stages``.

Closed mode (stress ramps): each stage runs its number of users for its duration (stage durations
are wall minutes, scaled by ``LoadConfig.stage_scale``), spread over the closed-model users by
weight; the shape ends after the last stage. Open mode: one :class:`~loadtests.users.ArrivalUser`
per load process for as long as the run may last; the open-model driver, not the shape, sets the
pace. Either way Locust's ``-t/--run-time`` ends the shape (Locust leaves that to the shape).
"""

from __future__ import annotations

from locust import LoadTestShape

from loadtests._config import LoadConfig
from loadtests._stages import Tick, ticks
from loadtests.users import ArrivalUser, DeskUser, HospitalUser, OnlineCitizenUser, StatusPollerUser

__all__ = ["CLOSED_USERS", "ScenarioShape", "Tick", "ticks"]

CLOSED_USERS = (OnlineCitizenUser, DeskUser, HospitalUser, StatusPollerUser)


class ScenarioShape(LoadTestShape):
    """Stages from the scenario in closed mode; one ArrivalUser per worker in open mode."""

    def _cfg(self) -> LoadConfig:
        cfg = getattr(self.runner.environment, "lienthong_config", None) if self.runner else None
        return cfg if cfg is not None else LoadConfig.from_env()

    def _run_time(self) -> float | None:
        """Locust's ``-t/--run-time`` (seconds), which a shape must honour itself."""
        env = self.runner.environment if self.runner else None
        options = getattr(env, "parsed_options", None)
        value = getattr(options, "run_time", None)
        return float(value) if value else None

    def tick(self) -> tuple[int, float, list[type]] | tuple[int, float] | None:
        cfg = self._cfg()
        now = self.get_run_time()
        limit = self._run_time()
        if limit is not None and now >= limit:
            return None
        if cfg.mode == "open":
            if now > cfg.max_seconds + 30:
                return None
            return cfg.workers, float(cfg.workers), [ArrivalUser]
        import scenarios

        for t in ticks(scenarios.load(cfg.scenario).load.stages, cfg.stage_scale):
            if now < t.end_s:
                return t.users, t.spawn_rate, list(CLOSED_USERS)
        return None
