"""The reference ecosystem of a certification: every reference agency in a child process, and
the registers read back from it (private).

The fakes run as a program, ``python -P -m fakes.serve``, exactly as ``lienthong fakes serve``
would (``fakes.serve.start_subprocess``): in the caller's folder, whatever it is, with absolute
paths, and ``-P`` keeps that folder off the child's ``sys.path`` (a user's own ``loadtests/`` or
``fakes/`` package there must not shadow the installed one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from certify._outcomes import Blocked
from certify._run_context import Ctx
from certify.requirements import AGENCIES
from fakes.serve import Handle, start_subprocess
from scenarios import Scenario

__all__ = ["reference_registers", "start_reference_fakes"]


def start_reference_fakes(scenario: Scenario, run_dir: Path, *, speed: float = 1.0,
                          timeout: float = 30.0) -> Handle:
    """Start every reference agency on a free loopback port with ``scenario``.

    Raises RuntimeError with the tail of the server log if it does not become ready.
    """
    # every agency is mounted, the vendor's too: /openapi.json is then the whole contract (the
    # reference document the suite checks the vendor against), while the scenario's base_url
    # sends the ecosystem's own calls to that agency to the vendor
    # instant: the suite checks answers and registers, not the agencies' desks in time
    return start_subprocess(scenario, run_dir, speed=speed, timeout=timeout, agencies=AGENCIES,
                            instant=True)


def reference_registers(ctx: Ctx, agency: str) -> dict[str, list[dict[str, Any]]]:
    """The reference fakes' registers of ``agency`` (admin export; never the vendor's).

    Raises Blocked (the requirement is not run) when the export is refused.
    """
    ex = ctx.eco.get(f"/admin/export/{agency}", "admin")
    if ex.status != 200:
        raise Blocked(f"cannot export the reference {agency} registers: {ex.status}", ex)
    return dict(ex.response["registers"])
