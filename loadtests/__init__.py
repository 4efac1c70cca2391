"""Live runs: synthetic citizens drive the linked services over HTTP, then reconciliation.

Modules (import what you need; ``users``, ``shape`` and ``locustfile`` import Locust, which
monkey-patches the process with gevent — load them only in a load process):

- :mod:`loadtests.driver` — the open-model arrival driver (``OpenModelDriver``);
- :mod:`loadtests.journeys` — journeys followed to completion, times in working days;
- :mod:`loadtests.reconcile` — registers against dossiers after a run;
- :mod:`loadtests.registers` — where reconciliation reads them: each agency's contract reads,
  or the reference fakes' export;
- :mod:`loadtests.run` — ``run_scenario``: the end-to-end ``lienthong run``;
- :mod:`loadtests.distributed` — Locust master + workers on 127.0.0.1 (``lienthong load``);
- :mod:`loadtests.users`, :mod:`loadtests.shape`, ``loadtests/locustfile.py`` — Locust;
- :mod:`loadtests.pytest_plugin` — fixtures for teams' own end-to-end tests.
"""

__all__: list[str] = []
