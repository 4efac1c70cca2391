"""Scenarios: the one input that drives the twin, the fakes, the load tests and the certifier.

>>> from scenarios import load
>>> s = load("hanoi-baseline")
>>> s.demand.births_per_wd
450.0
"""

from scenarios.errors import ScenarioError
from scenarios.loader import catalog, dump, load, loads, resolve, validate
from scenarios.model import Dist, Fault, Scenario

__all__ = [
    "Dist",
    "Fault",
    "Scenario",
    "ScenarioError",
    "catalog",
    "dump",
    "load",
    "loads",
    "resolve",
    "validate",
]
