"""The fakes a live run starts listen before minute 0, however slowly their process starts: the
run's clock is planned once the child has imported everything (``--primed``), so a busy machine
cannot turn the lead into lateness of the first arrivals."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

import scenarios
from fakes.serve import free_port
from loadtests._embedded import Embedded, stop
from loadtests._machine import Machine


@pytest.fixture
def slow_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> float:
    """Every Python child started from here spends 3 s before its first import, as on a machine
    busy with something else."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import time\ntime.sleep(3.0)\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(site))
    return 3.0


def test_the_fakes_listen_before_minute_0_even_when_they_start_slowly(tmp_path: Path, slow_start: float) -> None:
    lead = 1.0
    s = scenarios.load("hanoi-baseline")
    began = time.time()
    embedded = Embedded(s, tmp_path, speed=1440.0, lead_s=lead, machine=Machine(None), port=free_port(),
                        agencies=("portal", "justice", "police", "vss", "health", "social"))
    t0 = embedded.start(tmp_path / "go.json")
    try:
        listening = time.time()
        assert listening - began > slow_start  # the start really was slow …
        assert listening < t0  # … and still the fakes listened before minute 0
        assert json.loads((tmp_path / "go.json").read_text())["t0"] == t0
        assert json.loads((tmp_path / "fakes" / "clock.json").read_text())["t0"] == t0
        with urllib.request.urlopen(embedded.base_url + "/healthz", timeout=5) as r:
            health = json.loads(r.read())
        assert health["t0"] == pytest.approx(t0)
    finally:
        stop(embedded.handle)
