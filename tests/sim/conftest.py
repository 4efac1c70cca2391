"""Shared pieces of the twin's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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


# The child-card step at an hour a card on one desk (~3.6 desks of work a day): it fails, and a
# sizing search has real work to do.
SLOW_CARD_STEP = """
[steps.bhyt]
agency = "vss"
task = "issue_child_card"
name_vi = "Cấp thẻ BHYT cho trẻ em dưới 6 tuổi"
after = ["pid"]
limit_wd = 2
desk_time = { kind = "lognormal", mean = 60.0, cv = 0.5 }
system_time = { kind = "lognormal", mean = 1.0, cv = 1.0 }
"""


def toml_at(tmp_path: Path, text: str, name: str = "tiny.toml") -> str:
    """``text`` written as a scenario file in ``tmp_path``; its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def only_run(out: Path) -> Path:
    """The one run folder under ``out``."""
    [run] = list(out.iterdir())
    return run


def assert_close(a: Any, b: Any, path: str = "") -> None:
    """Equal structures, floats equal to 1e-9 relative."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert b == pytest.approx(a, rel=1e-9, nan_ok=True), path
    else:
        assert a == b, path
