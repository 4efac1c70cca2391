"""Run folders: ``runs/<id>/`` with a ``manifest.json`` that lets anyone reproduce the run.

The id reads ``20261123-031500-hanoi-baseline-sim-1a2b3c4d``: UTC start time, scenario, run kind
and a short hash of the scenario digest and seed (two runs with the same hash had the same inputs).
The manifest records the scenario digest (SHA-256 of ``scenarios.dump(scenario)``), the seed,
the versions of Python and the main libraries, the command line, and start/end times.

>>> from scenarios import load
>>> run = start_run(load(), kind="sim", root="runs")   # doctest: +SKIP
>>> run.finish(exit_code=0)                              # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import lienthong
from lienthong._report_format import scrub
from scenarios import Scenario, dump

__all__ = ["RunFolder", "run_id", "scenario_digest", "start_run", "versions"]

_LIBRARIES = ("simpy", "numpy", "locust", "fastapi")
_KIND = re.compile(r"^[a-z][a-z0-9-]*$")


def scenario_digest(scenario: Scenario) -> str:
    """SHA-256 (hex) of the fully resolved scenario text, ``scenarios.dump(scenario)``."""
    return hashlib.sha256(dump(scenario).encode("utf-8")).hexdigest()


def versions() -> dict[str, str]:
    """Versions of Python, lienthong and the libraries a run depends on ("missing" if absent)."""
    found = {"python": platform.python_version(), "lienthong": lienthong.__version__}
    for name in _LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def run_id(scenario_name: str, kind: str, digest: str, seed: int, started: datetime) -> str:
    """``'20261123-031500-hanoi-baseline-sim-1a2b3c4d'`` (time in UTC).

    Raises ValueError for a kind that is not a lower-case word (it becomes part of a path).
    """
    if not _KIND.match(kind):
        raise ValueError(f"run kind must be a lower-case word, got {kind!r}")
    short = hashlib.sha256(f"{digest}:{seed}".encode()).hexdigest()[:8]
    stamp = started.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{scenario_name}-{kind}-{short}"


@dataclass
class RunFolder:
    """A run folder and its manifest; :meth:`finish` stamps the end time and outcome."""

    id: str
    path: Path
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def manifest_path(self) -> Path:
        """``<run>/manifest.json``."""
        return self.path / "manifest.json"

    def file(self, name: str) -> Path:
        """A path inside the run folder (sub-folders are created); ValueError if it escapes."""
        target = (self.path / name).resolve()
        if self.path.resolve() not in target.parents:
            raise ValueError(f"{name!r} is outside the run folder {self.path}")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def update(self, **fields: Any) -> None:
        """Adds ``fields`` to the manifest and rewrites it."""
        self.manifest.update(fields)
        self._write()

    def finish(self, *, exit_code: int, **fields: Any) -> None:
        """Records the end time, exit code and the files written, then rewrites the manifest."""
        ended = datetime.now(UTC)
        started = datetime.fromisoformat(self.manifest["started"])
        files = sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file())
        self.manifest.update(
            fields,
            ended=ended.isoformat(timespec="seconds"),
            duration_s=round((ended - started).total_seconds(), 3),
            exit_code=exit_code,
            files=[f for f in files if f != "manifest.json"],
        )
        self._write()

    def _write(self) -> None:
        text = json.dumps(self.manifest, indent=2, ensure_ascii=False, default=str) + "\n"
        self.manifest_path.write_text(text, encoding="utf-8")


def start_run(
    scenario: Scenario,
    *,
    kind: str,
    root: str | Path = "runs",
    seed: int | None = None,
    argv: Sequence[str] | None = None,
    source: str | None = None,
    settings: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    folder: str | Path | None = None,
) -> RunFolder:
    """Creates ``root/<id>/`` (or ``folder`` itself, when the user named it) and writes its manifest.

    ``seed`` defaults to the scenario's; ``argv`` to ``sys.argv`` (personal identifiers in it are
    masked); ``source`` is where the scenario came from (a catalog name or a path);
    ``settings`` are the run's parameters (days, replications, …). A second run with the same id
    in the same second gets a ``-2``, ``-3``… suffix rather than overwriting the first.
    ``root`` is resolved against the current folder: ``RunFolder.path`` is absolute, so paths under it
    can be handed to child processes as they are.
    """
    started = (now or datetime.now(UTC)).astimezone(UTC)
    digest = scenario_digest(scenario)
    seed = scenario.meta.seed if seed is None else seed
    rid = run_id(scenario.meta.name, kind, digest, seed, started)
    if folder is None:
        path = _fresh_folder(Path(root).resolve(), rid)
    else:
        path = Path(folder).resolve()
        path.mkdir(parents=True, exist_ok=True)
    command = [scrub(a) for a in (sys.argv if argv is None else argv)]
    manifest: dict[str, Any] = {
        "id": path.name,
        "kind": kind,
        "scenario": {"name": scenario.meta.name, "source": source, "digest": digest},
        "seed": seed,
        "settings": dict(settings or {}),
        "command": command,
        "started": started.isoformat(timespec="seconds"),
        "ended": None,
        "versions": versions(),
        "platform": {"system": platform.system(), "machine": platform.machine(), "cpus": os.cpu_count()},
        "git": _git_commit(),
    }
    run = RunFolder(path.name, path, manifest)
    run._write()
    return run


def _fresh_folder(root: Path, rid: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        path = root / (rid if n == 1 else f"{rid}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"too many run folders named {rid} in {root}")


def _git_commit() -> str | None:
    """The commit of the source tree when lienthong runs from a git checkout of itself, else None
    (an installed copy inside some other repository — a venv in a user's project — is not that
    repository's commit)."""
    here = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = head.stdout.splitlines()
    if head.returncode != 0 or len(lines) != 2 or Path(lines[0]).resolve() != here:
        return None
    return lines[1]
