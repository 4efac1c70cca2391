"""Locust entry point: ``locust -f loadtests/locustfile.py --host URL`` (web UI or ``--headless``).

Settings come from ``$LIENTHONG_LOAD_CONFIG`` (written by ``lienthong run``/``lienthong load``)
or, for a plain Locust start, from ``$LIENTHONG_SCENARIO`` (default ``hanoi-baseline``) and
``$LIENTHONG_MODE`` (``open``: the scenario's arrival stream; ``closed``: the scenario's stages).
The shape decides which users run, so the users below need no ``-u``/``-r`` flags.
"""

from loadtests.shape import ScenarioShape
from loadtests.users import ArrivalUser, DeskUser, HospitalUser, OnlineCitizenUser, StatusPollerUser

__all__ = [
    "ArrivalUser",
    "DeskUser",
    "HospitalUser",
    "OnlineCitizenUser",
    "ScenarioShape",
    "StatusPollerUser",
]
