"""The rooms of docs/ARCHITECTURE.md hold: import-linter's contracts (pyproject.toml) are kept, and
no room reaches into another room's private (underscore) module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOMS = ("scenarios", "fakes", "sim", "loadtests", "certify", "lienthong")
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_lint_imports_keeps_every_contract() -> None:
    script = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(script), "--config", str(PYPROJECT), "--no-cache"], capture_output=True,
                          text=True, timeout=300, cwd=PYPROJECT.parent)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _private(module: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in module.split(".")[1:])


def test_no_room_imports_another_rooms_private_module() -> None:
    graph = grimp.build_graph(*ROOMS)
    reached = sorted(
        f"{importer} -> {imported}"
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.split(".")[0] != importer.split(".")[0] and _private(imported)
    )
    assert reached == [], "\n".join(reached)
