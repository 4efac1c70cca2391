"""Locust in library mode, in a process of its own: ``python -m loadtests._child CONFIG.json``.

``lienthong run`` (and the tests) start this child so that Locust's gevent monkey-patching never
touches the parent process (which may run asyncio code, httpx or pytest). The child runs one
:class:`~loadtests.users.ArrivalUser` in a local runner, prints progress as JSON lines, writes
Locust's own request statistics to ``<out>/locust_stats.json`` and exits 0 when the replay ended.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m loadtests._child CONFIG.json", file=sys.stderr)
        return 2
    from locust.env import Environment

    from loadtests._config import LoadConfig
    from loadtests.users import ArrivalUser, local_done

    cfg = LoadConfig.read(args[0])
    env = Environment(user_classes=[ArrivalUser], host=cfg.target)
    env.lienthong_config = cfg  # type: ignore[attr-defined]
    runner = env.create_local_runner()
    runner.start(1, spawn_rate=1)
    try:
        summary = local_done.get(timeout=cfg.max_seconds + 120)
    finally:
        _write_stats(env, Path(cfg.out))
        runner.quit()
    print(json.dumps({"done": True, "summary": summary}), flush=True)
    return 0


def _write_stats(env: object, out: Path) -> None:
    stats = env.stats  # type: ignore[attr-defined]
    rows = [
        {
            "name": e.name,
            "method": e.method,
            "requests": e.num_requests,
            "failures": e.num_failures,
            "median_ms": e.median_response_time,
            "p95_ms": e.get_response_time_percentile(0.95),
            "rps": e.total_rps,
        }
        for e in stats.entries.values()
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "locust_stats.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
