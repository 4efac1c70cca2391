"""``lienthong certify AGENCY --base-url URL``: certify a vendor's implementation of one agency.

``certify.certify`` runs the phases and returns the certificate; this command writes its folder
(``lienthong._report_certificate.write_certification``: manifest, certificate.json,
certificate.html, junit.xml) and exits with its verdict.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

    from certify.certificate import Result
    from certify.requirements import Requirement

__all__ = ["register"]

_PHASES = "contract,rules,resilience,security,performance"


def certify_command(
    agency: str = typer.Argument(..., help="health, justice, police, vss, social or portal."),
    base_url: str = typer.Option(None, "--base-url", help="Origin of the vendor's implementation."),
    api_key: str = typer.Option(None, "--api-key", help="Key of the main caller (default: the "
                                "scenario's synthetic key)."),
    rate: float = typer.Option(None, "--rate", help="Declared rate, requests/s (default: "
                               "Hanoi's peak hour × the safety factor)."),
    seed: int = typer.Option(None, "--seed", help="Seed (default: the scenario's)."),
    out: Path = typer.Option(None, "--out", help="Certificate folder (default runs/certify-…)."),
    phases: str = typer.Option(_PHASES, "--phases", help="Comma-separated phases to run."),
    scenario: str = typer.Option("hanoi-baseline", "--scenario", "-s", help="Scenario name or path."),
    ecosystem_port: int = typer.Option(None, "--ecosystem-port", help="Port where the vendor "
                                       "reaches the reference agencies (default: a free port)."),
    perf_seconds: float = typer.Option(60.0, "--perf-seconds", help="Length of the load run."),
    examples: int = typer.Option(25, "--contract-examples", help="Schemathesis examples per "
                                 "operation and mode."),
    list_only: bool = typer.Option(False, "--list", help="List the requirements and exit."),
) -> None:
    """Run contract, rules, resilience, security and performance checks; write the certificate.

    Exit code 0 PASS, 3 CONDITIONAL PASS, 1 FAIL, 2 bad input.
    """
    from rich.console import Console

    from certify.requirements import requirements_for

    console = Console()
    wanted = tuple(p.strip() for p in phases.split(",") if p.strip())
    try:
        reqs = requirements_for(agency, wanted)
    except ValueError as exc:
        console.print(f"[red]bad input:[/red] {exc}")
        raise typer.Exit(2) from None
    if list_only:
        _list(console, reqs)
        return
    if not base_url:
        console.print("[red]bad input:[/red] --base-url is required (the vendor's origin)")
        raise typer.Exit(2)
    if perf_seconds <= 0 or examples < 1:
        console.print("[red]bad input:[/red] --perf-seconds must be > 0 and --contract-examples ≥ 1")
        raise typer.Exit(2)
    folder = (out or Path("runs") / f"certify-{agency}-{datetime.now(UTC):%Y%m%d-%H%M%S}").resolve()
    code = _run(console, agency, base_url, api_key, rate, seed, folder, wanted, scenario,
                ecosystem_port, perf_seconds, examples, len(reqs))
    raise typer.Exit(code)


def _list(console: Console, reqs: list[Requirement]) -> None:
    from rich.table import Table

    table = Table(title="Certification requirements")
    for col in ("id", "phase", "severity", "requirement", "source"):
        table.add_column(col)
    for r in reqs:
        table.add_row(r.id, r.phase, r.severity, r.text, r.source)
    console.print(table)


def _run(console: Console, agency: str, base_url: str, api_key: str | None, rate: float | None,
         seed: int | None, folder: Path, phases: tuple[str, ...], scenario: str,
         ecosystem_port: int | None, perf_seconds: float, examples: int, total: int) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from certify import CertifyError, Options, certify
    from certify.requirements import requirements_for
    from lienthong._report_certificate import mask_argv, write_certification
    from scenarios import ScenarioError, load

    options = Options(rate=rate, perf_seconds=perf_seconds, contract_examples=examples)
    colours = {"pass": "green", "fail": "red", "not run": "yellow"}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as bar:
        tasks: dict[str, TaskID] = {}
        every = requirements_for(agency, phases)

        def progress(event: str, req: Requirement, result: Result | None) -> None:
            phase = req.phase
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=sum(r.phase == phase for r in every))
            if event == "start" or result is None:
                bar.update(tasks[phase], description=f"{phase}: {req.id}")
                return
            bar.update(tasks[phase], advance=1, description=phase)
            if result.status != "pass":
                bar.console.print(f"  [{colours[result.status]}]{result.status}[/] {req.id}: "
                                  f"{result.outcome.detail}")

        started = datetime.now(UTC)
        try:
            base = load(scenario)
            cert = certify(agency, base_url, scenario=base, api_key=api_key, seed=seed,
                           phases=phases, ecosystem_port=ecosystem_port, options=options,
                           progress=progress)
        except (CertifyError, ScenarioError) as exc:
            console.print(f"[red]bad input:[/red] {exc}")
            return 2
    settings = {"agency": agency, "target": base_url, "phases": list(phases),
                "ecosystem_port": ecosystem_port, **vars(options)}
    write_certification(cert, folder, base, started=started, argv=mask_argv(sys.argv),
                        source=scenario, settings=settings)
    doc = cert.document()
    s = doc["summary"]
    colour = {"PASS": "green", "FAIL": "red"}.get(cert.verdict, "yellow")
    console.print(f"[bold {colour}]{cert.verdict}[/] — {s['pass']} passed, {s['fail']} failed, "
                  f"{s['not run']} not run of {s['requirements']}; coverage "
                  f"{doc['coverage']['exercised_count']}/{doc['coverage']['contract_count']} operations")
    if s["failed"]:
        console.print("failed: " + ", ".join(s["failed"]))
    console.print(f"certificate: {folder}/certificate.html (json, junit.xml, manifest beside it); "
                  f"sha256 {doc['sha256'][:16]}…")
    return cert.exit_code


def register(app: typer.Typer) -> None:
    """Mount ``lienthong certify``."""
    app.command("certify")(certify_command)
