"""What a live run saw of the machine: load average, the priority given to its children and the
CPU they used (private)."""

from __future__ import annotations

import os
import time
from typing import Any

__all__ = ["Machine"]


class Machine:
    """What the run saw of the machine: load average, priorities set, CPU used by the children."""

    def __init__(self, nice: int | None) -> None:
        self.nice = nice
        self.cores = os.cpu_count() or 1
        self.load_start = os.getloadavg()[0]
        self.load_end = float("nan")
        self.started = time.time()
        self.niced: dict[str, int] = {}
        self.cpu_s: dict[str, float] = {}
        self.wall_s = float("nan")

    def boost(self, pid: int, name: str) -> None:
        """Sets every thread of process ``pid`` and of its descendants to ``self.nice`` (silently
        skipped where not allowed)."""
        if self.nice is None:
            return
        tids = []
        for p in [pid, *_descendants(pid)]:
            try:
                tids += [int(t) for t in os.listdir(f"/proc/{p}/task")]
            except OSError:
                tids.append(p)
        try:
            for tid in tids:
                os.setpriority(os.PRIO_PROCESS, tid, self.nice)
        except OSError:
            return
        self.niced[name] = self.nice

    def cpu_of(self, pid: int, name: str) -> None:
        """Records the CPU seconds (user + system) process ``pid`` and its descendants have used."""
        try:
            import psutil

            procs = [psutil.Process(pid)]
            procs += procs[0].children(recursive=True)
            total = 0.0
            for proc in procs:
                t = proc.cpu_times()
                total += t.user + t.system
            self.cpu_s[name] = round(total, 2)
        except Exception:  # the process may be gone; the figure is only informative
            pass

    def done(self) -> None:
        self.load_end = os.getloadavg()[0]
        self.wall_s = time.time() - self.started

    def as_dict(self) -> dict[str, Any]:
        return {
            "cores": self.cores,
            "load_avg_start": round(self.load_start, 2),
            "load_avg_end": round(self.load_end, 2),
            "nice": self.niced,
            "cpu_s": self.cpu_s,
            "wall_s": round(self.wall_s, 1),
        }


def _descendants(pid: int) -> list[int]:
    try:
        import psutil

        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except Exception:  # psutil missing or the process gone: the process alone
        return []
