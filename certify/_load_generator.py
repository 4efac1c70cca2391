"""The performance phase's load process: ``python -m certify._load_generator CONFIG.json OUT.json``.

Runs in a process of its own because the open-model driver (``loadtests.driver``) is gevent and
needs the socket library monkey-patched, which must never happen in the certifier's process
(it runs asyncio and threads). Sends each prepared request at its intended time and writes, per
request, the intended start, actual start, end and status (wall seconds).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from geventhttpclient import HTTPClient  # noqa: E402
from geventhttpclient.url import URL  # noqa: E402

from loadtests.driver import OpenModelDriver  # noqa: E402


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as fh:
        cfg: dict[str, Any] = json.load(fh)
    reqs = cfg["requests"]
    n = len(reqs)
    rows = np.full((n, 4), np.nan)
    url = URL(cfg["target"])
    client = HTTPClient(url.host, port=url.port, concurrency=int(cfg.get("concurrency", 256)),
                        connection_timeout=cfg["timeout"], network_timeout=cfg["timeout"])

    def action(i: int, intended: float) -> None:
        r = reqs[i]
        start = time.time()
        status = 0
        try:
            resp = client.request(r["method"], r["path"], body=r["body"].encode(), headers=r["headers"])
            resp.read()
            status = resp.status_code
        except Exception:  # timeouts and refused connections count as failures (status 0)
            status = 0
        rows[i] = (intended, start, time.time(), status)

    t0 = time.time() + 0.5
    driver = OpenModelDriver(np.asarray(cfg["due_s"]), action, max_seconds=cfg["max_seconds"],
                             drain_s=cfg["drain_s"], max_in_flight=int(cfg.get("concurrency", 256)))
    stats = driver.run(t0)
    client.close()
    out = {"t0": t0, "rows": [[None if np.isnan(x) else float(x) for x in row] for row in rows],
           "driver": stats.as_dict()}
    with open(argv[1], "w", encoding="utf-8") as fh:
        json.dump(out, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
