"""The settings of one live run, shared by the parent, the Locust master and its workers (private).

Written as JSON into the run folder and found by Locust processes through the environment
variable ``LIENTHONG_LOAD_CONFIG`` (a path), so ``locust -f loadtests/locustfile.py`` works the
same in one process, as a master or as a worker.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["ENV_VAR", "LoadConfig"]

ENV_VAR = "LIENTHONG_LOAD_CONFIG"


@dataclass
class LoadConfig:
    """Everything a load process needs. Times are wall seconds (``time.time()``).

    ``t0`` is the wall time of scenario minute 0 on the target's clock; the stream's arrivals
    are shifted by ``shift_minutes`` (to start in the future on a clock that is already
    running). ``aligned`` says the target's timestamps are on this clock (the reference fakes of
    this run). ``mode`` is ``open`` (the arrival stream) or ``closed`` (users and stages).
    ``go_file``: when set and ``t0`` is 0, the load process prepares everything, prints
    ``{"ready": true}`` and waits for ``{"t0": …}`` in that file (so the clock starts only once
    the generator is ready, however slow its start on a busy machine). ``health_url``: where
    hospitals post their documents when health is not at ``target`` (a mixed ecosystem).
    """

    scenario: str = "hanoi-baseline"
    target: str = "http://127.0.0.1:8000"
    out: str = "runs/locust"
    speed: float = 720.0
    days: int = 1
    multiplier: float | None = None
    seed: int | None = None
    t0: float = 0.0
    shift_minutes: float = 0.0
    aligned: bool = False
    workers: int = 1
    mode: str = "open"
    keys: dict[str, str] = field(default_factory=dict)
    max_seconds: float = 600.0
    max_dossiers: int = 1_000_000
    poll_interval_s: float = 0.5
    request_timeout_s: float = 10.0
    drain_s: float = 60.0
    run_tag: str = "run"
    concurrency: int = 1000
    stage_scale: float = 1.0
    progress: bool = False
    go_file: str = ""
    health_url: str = ""

    def __post_init__(self) -> None:
        if self.mode not in ("open", "closed"):
            raise ValueError(f"mode must be 'open' or 'closed', got {self.mode!r}")
        for name in ("speed", "max_seconds", "poll_interval_s", "request_timeout_s", "stage_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if (
            not self.target.startswith(("http://127.0.0.1", "http://localhost", "https://"))
            and "://" not in self.target
        ):
            raise ValueError(f"target must be a URL, got {self.target!r}")

    def write(self, path: str | Path) -> Path:
        """Writes the config as JSON; returns the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        return p

    @classmethod
    def read(cls, path: str | Path) -> LoadConfig:
        """Reads a config written by :meth:`write` (unknown keys are an error)."""
        data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown config keys {unknown}")
        return cls(**data)

    @classmethod
    def from_env(cls) -> LoadConfig:
        """The config named by ``$LIENTHONG_LOAD_CONFIG``, else defaults from the scenario named
        by ``$LIENTHONG_SCENARIO`` (for a plain ``locust -f loadtests/locustfile.py``), with
        ``$LIENTHONG_SPEED``, ``$LIENTHONG_MULTIPLIER``, ``$LIENTHONG_STAGE_SCALE``,
        ``$LIENTHONG_MODE``, ``$LIENTHONG_TARGET`` and ``$LIENTHONG_OUT`` when set."""
        path = os.environ.get(ENV_VAR)
        if path:
            return cls.read(path)
        import scenarios

        name = os.environ.get("LIENTHONG_SCENARIO", "hanoi-baseline")
        s = scenarios.load(name)
        return cls(
            scenario=name,
            target=os.environ.get("LIENTHONG_TARGET", "http://127.0.0.1:8000"),
            out=os.environ.get("LIENTHONG_OUT", f"runs/locust-{time.strftime('%Y%m%d-%H%M%S')}"),
            speed=float(os.environ.get("LIENTHONG_SPEED") or s.load.speed),
            multiplier=float(os.environ["LIENTHONG_MULTIPLIER"])
            if os.environ.get("LIENTHONG_MULTIPLIER")
            else None,
            stage_scale=float(os.environ.get("LIENTHONG_STAGE_SCALE") or 1.0),
            days=s.load.days,
            keys={name: c.key for name, c in s.callers.items()},
            max_seconds=s.load.max_seconds,
            max_dossiers=s.load.max_dossiers,
            poll_interval_s=s.load.poll_interval_s,
            request_timeout_s=s.load.request_timeout_s,
            t0=0.0,
            mode=os.environ.get("LIENTHONG_MODE", "open"),
        )
