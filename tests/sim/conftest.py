"""Shared pieces of the twin's tests."""

from __future__ import annotations

# hanoi-baseline at 30 births and 10 deaths a working day, with a handful of desks: small
# enough for whole replications in a test, loaded enough for queues to form.
TINY = """
extends = "hanoi-baseline"
[meta]
name = "tiny"
[demand]
births_per_wd = 30
deaths_per_wd = 10
[agencies.justice]
desks = 2
[agencies.police]
desks = 2
[agencies.vss]
desks = 1
[agencies.social]
desks = 1
"""


def tiny_toml(days: int, replications: int, warmup_days: int) -> str:
    """``TINY`` with its ``[sim]`` settings."""
    return TINY + f"[sim]\ndays = {days}\nreplications = {replications}\nwarmup_days = {warmup_days}\n"
