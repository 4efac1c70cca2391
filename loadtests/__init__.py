"""Live runs: synthetic citizens drive the linked services over HTTP, then reconciliation.

The engines return results (:class:`loadtests.results.LiveRun`); the front door (``lienthong``)
owns the run folder and writes the report.

Modules (import what you need; ``users``, ``shape`` and ``locustfile`` import Locust, which
monkey-patches the process with gevent — load them only in a load process):

- :mod:`loadtests.driver` — the open-model arrival driver (``OpenModelDriver``);
- :mod:`loadtests.journeys` — journeys followed to completion, times in working days;
- :mod:`loadtests.reconcile` — registers against dossiers after a run;
- :mod:`loadtests.registers` — where reconciliation reads them: each agency's contract reads,
  or the reference fakes' export;
- :mod:`loadtests.live` — the live run's engine (``plan_live``, ``drive_live``): fakes, load,
  reconciliation, for ``lienthong run``;
- :mod:`loadtests.results` — what the engines return (``LiveRun``) and the records behind it;
- :mod:`loadtests.distributed` — Locust master + workers on 127.0.0.1 (``drive_load``, for
  ``lienthong load``);
- :mod:`loadtests.users`, :mod:`loadtests.shape`, ``loadtests/locustfile.py`` — Locust;
- :mod:`loadtests.pytest_plugin` — fixtures for teams' own end-to-end tests.
"""

__all__: list[str] = []
