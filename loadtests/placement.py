"""Where each agency of a live run lives: a real system at a URL, or the run's reference fakes.

``place(scenario, target, fakes_url)`` reads the scenario's ``agencies.<id>.base_url`` (set from
``lienthong run --agency ID=URL`` by :func:`with_agencies`): an agency with a URL is someone
else's implementation of the contract; the others are at ``--target`` when given, else served
by the fakes the run starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import scenarios
from scenarios import Scenario
from scenarios.model import AGENCY_IDS

__all__ = ["Placement", "agency_problem", "place", "with_agencies", "with_multiplier", "with_time"]


def with_multiplier(s: Scenario, k: float | None) -> Scenario:
    """``s`` at ``k`` times its volumes (``None``: as it is)."""
    if k is None:
        return s
    return s.model_copy(update={"demand": s.demand.model_copy(update={"multiplier": float(k)})})


@dataclass(frozen=True)
class Placement:
    """Where each agency (and the portal) of a run lives: ``urls`` (agency → origin) and which
    of them the run's own reference fakes serve (``embedded``); the others are real systems,
    someone else's implementation of the contract."""

    urls: dict[str, str]
    embedded: tuple[str, ...]

    @property
    def portal(self) -> str:
        """Where dossiers are submitted."""
        return self.urls["portal"]

    def lines(self) -> list[str]:
        """One line per agency: real or fake, and where."""
        return [
            f"{a:8} {'reference fakes (started by this run)' if a in self.embedded else 'real system':38} "
            f"{self.urls[a]}"
            for a in AGENCY_IDS
        ]

    def as_dict(self) -> dict[str, Any]:
        return {a: {"url": self.urls[a], "fake": a in self.embedded} for a in AGENCY_IDS}


def place(s: Scenario, target: str | None, fakes_url: str | None) -> Placement:
    """The placement of scenario ``s`` (its ``agencies.<id>.base_url`` already applied): an agency
    with a base URL is a real system there; the others are at ``target`` when given (someone
    else's whole ecosystem), else served by the run's fakes at ``fakes_url``."""
    urls: dict[str, str] = {}
    for a in AGENCY_IDS:
        spec = s.agencies.get(a)  # type: ignore[call-overload]
        urls[a] = ((spec.base_url if spec is not None else None) or target or str(fakes_url)).rstrip("/")
    embedded = () if target or not fakes_url else tuple(a for a in AGENCY_IDS if urls[a] == fakes_url)
    return Placement(urls, embedded)


def agency_problem(agency: str, url: str) -> str | None:
    """Why ``agency`` cannot be placed at ``url`` (an unknown agency, a URL that is not
    http(s)), or None when it can."""
    if agency not in AGENCY_IDS:
        return f"unknown agency {agency!r}; expected one of {', '.join(AGENCY_IDS)}"
    if not url.startswith(("http://", "https://")):
        return f"{url!r} is not an http(s) URL"
    return None


def with_agencies(s: Scenario, urls: Mapping[str, str]) -> Scenario:
    """``s`` with ``agencies.<id>.base_url`` set from ``urls`` (``--agency id=URL``).

    Raises ScenarioError naming an unknown agency or a URL that is not http(s).
    """
    if not urls:
        return s
    agencies = dict(s.agencies)
    for a, url in urls.items():
        if problem := agency_problem(a, url):
            key = f"agencies.{a}.base_url" if a in AGENCY_IDS else f"agencies.{a}"
            raise scenarios.ScenarioError([(key, problem)])
        agencies[a] = agencies[a].model_copy(update={"base_url": url.rstrip("/")})  # type: ignore[index]
    return s.model_copy(update={"agencies": agencies})


def with_time(s: Scenario, instant: bool | None) -> Scenario:
    """``s`` with ``load.agencies`` set by ``instant`` (None: as the scenario says)."""
    if instant is None:
        return s
    mode = "instant" if instant else "in_time"
    return s.model_copy(update={"load": s.load.model_copy(update={"agencies": mode})})
