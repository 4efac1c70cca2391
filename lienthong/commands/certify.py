"""``lienthong certify AGENCY --base-url URL``: certify a vendor's implementation of one agency;
``lienthong certify verify FILE [--pubkey K]`` and ``lienthong certify keygen DIR`` for signed
certificates.

``certify.certify`` runs the phases and returns the certificate; this command writes its folder
(``lienthong._report_certificate.write_certification``: manifest, certificate.json,
certificate.html, junit.xml) and exits with its verdict. ``lienthong certify AGENCY …`` is short
for ``lienthong certify run AGENCY …``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

    from certify.certificate import Result
    from certify.requirements import Requirement

__all__ = ["register"]

_PHASES = "contract,rules,resilience,security,performance"
_COLOURS = {"pass": "green", "fail": "red", "not run": "yellow", "error": "magenta"}
_MAX_CASES_SHOWN = 12


class _DefaultRun(TyperGroup):
    """``certify AGENCY …`` runs a certification: a first word that is no subcommand (nor an
    option) is the agency of ``certify run``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


certify_app = typer.Typer(
    cls=_DefaultRun, no_args_is_help=True, rich_markup_mode="rich",
    help="Certify a vendor's implementation of one agency: [bold]lienthong certify AGENCY "
         "--base-url URL[/] (short for [bold]certify run[/]). Exit 0 PASS, 3 CONDITIONAL PASS, "
         "1 FAIL, 4 INCOMPLETE (a suite error), 2 bad input.")


@certify_app.command("run")
def certify_command(
    agency: str = typer.Argument(..., help="health, justice, police, vss, social or portal."),
    base_url: str = typer.Option(None, "--base-url", help="Origin of the vendor's implementation."),
    api_key: str = typer.Option(None, "--api-key", help="Key of the main caller (default: the "
                                "scenario's synthetic key)."),
    rate: float = typer.Option(None, "--rate", help="Declared rate, requests/s (default: the "
                               "national peak for the agency, from the scenario catalog)."),
    seed: int = typer.Option(None, "--seed", help="Seed (default: the scenario's)."),
    out: Path = typer.Option(None, "--out", help="Certificate folder (default runs/certify-…)."),
    phases: str = typer.Option(_PHASES, "--phases", help="Comma-separated phases to run (any "
                               "left out: at best CONDITIONAL PASS)."),
    scenario: str = typer.Option("hanoi-baseline", "--scenario", "-s", help="Scenario name or path."),
    ecosystem_port: int = typer.Option(None, "--ecosystem-port", help="Port where the vendor "
                                       "reaches the reference agencies (default: a free port)."),
    perf_seconds: float = typer.Option(20.0, "--perf-seconds", help="Length of the load run, s."),
    examples: int = typer.Option(25, "--contract-examples", help="Schemathesis examples per "
                                 "operation and mode."),
    sign: Path = typer.Option(None, "--sign", help="Sign the certificate with this Ed25519 "
                              "private key (PEM; make one with `lienthong certify keygen DIR`)."),
    list_only: bool = typer.Option(False, "--list", help="List the requirements and exit."),
) -> None:
    """Run contract, rules, resilience, security and performance checks; write the certificate.

    Exit code 0 PASS, 3 CONDITIONAL PASS, 1 FAIL, 4 INCOMPLETE (a check broke: a suite error,
    no verdict on the vendor), 2 bad input.
    """
    from rich.console import Console

    from certify.certificate import load_private_key
    from certify.requirements import requirements_for

    console = Console()
    wanted = tuple(p.strip() for p in phases.split(",") if p.strip())
    try:
        reqs = requirements_for(agency, wanted)
    except ValueError as exc:
        _bad(console, str(exc))
    if list_only:
        _list(reqs)
        return
    if not base_url:
        _bad(console, "--base-url is required (the vendor's origin)")
    if perf_seconds <= 0 or examples < 1:
        _bad(console, "--perf-seconds must be > 0 and --contract-examples ≥ 1")
    signer = None
    if sign is not None:
        try:
            signer = load_private_key(sign)
        except ValueError as exc:
            _bad(console, str(exc))
    folder = (out or Path("runs") / f"certify-{agency}-{datetime.now(UTC):%Y%m%d-%H%M%S}").resolve()
    # Ctrl-C and SIGTERM stop the run at once and clean up (a KeyboardInterrupt could be
    # swallowed by the libraries the checks use, and the run would go on)
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = _run(console, agency, base_url, api_key, rate, seed, folder, wanted, scenario,
                    ecosystem_port, perf_seconds, examples, signer)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    raise typer.Exit(code)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Stop the certification now: its load process, proxy and reference fakes, its temporary
    folders; no certificate; exit 130."""
    from certify.runner import abort

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.stdout.write(f"\ninterrupted ({signal.Signals(signum).name}): stopping the reference "
                     "ecosystem and removing the temporary folders; no certificate written\n")
    sys.stdout.flush()
    abort()
    sys.stdout.flush()
    os._exit(130)


def _bad(console: Console, text: str) -> None:
    from rich.markup import escape

    console.print(f"[red]bad input:[/red] {escape(text)}")
    raise typer.Exit(2)


def _list(reqs: list[Requirement]) -> None:
    """The requirements as plain text that reads at any width (80 columns and up): a heading per
    phase, then per requirement its id, severity, the sentence and the source, wrapped."""
    width = max(60, shutil.get_terminal_size((100, 24)).columns) - 1
    lines = [f"Certification requirements ({len(reqs)})"]
    phase = None
    for r in reqs:
        if r.phase != phase:
            phase = r.phase
            lines += ["", f"{phase}", "-" * len(phase)]
        lines.append(f"{r.id}  ({r.severity})")
        lines += textwrap.wrap(r.text, width, initial_indent="  ", subsequent_indent="  ")
        lines += textwrap.wrap(f"source: {r.source}", width, initial_indent="  ",
                               subsequent_indent="          ")
    typer.echo("\n".join(lines))


def _cases(result: Result) -> list[str]:
    from certify.certificate import case_text

    cases = result.outcome.data.get("cases") if result.outcome.data else None
    if not isinstance(cases, list) or not cases:
        return []
    shown = [f"      {case_text(c)}" for c in cases[:_MAX_CASES_SHOWN]]
    more = len(cases) - len(shown)
    tail = [f"      … {more} more in certificate.json"] if more else []
    return [f"    {len(cases)} cases:", *shown, *tail]


def _run(console: Console, agency: str, base_url: str, api_key: str | None, rate: float | None,
         seed: int | None, folder: Path, phases: tuple[str, ...], scenario: str,
         ecosystem_port: int | None, perf_seconds: float, examples: int, signer: Any) -> int:
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from certify import CertifyError, Options, certify
    from certify.requirements import requirements_for
    from lienthong._report_certificate import mask_argv, write_certification
    from scenarios import ScenarioError, load

    options = Options(rate=rate, perf_seconds=perf_seconds, contract_examples=examples)
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
            cases = _cases(result)  # listed under a requirement that did not pass (all are in the json)
            if result.status != "pass" or cases:
                bar.console.print(f"  [{_COLOURS.get(result.status, 'white')}]{result.status}[/] "
                                  f"{req.id}: {escape(result.outcome.detail)}")
                for line in cases if result.status != "pass" else ():
                    bar.console.print(escape(line), highlight=False)

        started = datetime.now(UTC)
        try:
            base = load(scenario)
            cert = certify(agency, base_url, scenario=base, api_key=api_key, seed=seed,
                           phases=phases, ecosystem_port=ecosystem_port, options=options,
                           progress=progress, signer=signer)
        except (CertifyError, ScenarioError) as exc:
            console.print(f"[red]bad input:[/red] {escape(str(exc))}")
            return 2
    settings = {"agency": agency, "target": base_url, "phases": list(phases),
                "ecosystem_port": ecosystem_port, "signed": signer is not None, **vars(options)}
    write_certification(cert, folder, base, started=started, argv=mask_argv(sys.argv),
                        source=scenario, settings=settings)
    doc = cert.document()
    s = doc["summary"]
    colour = {"PASS": "green", "FAIL": "red", "INCOMPLETE": "magenta"}.get(cert.verdict, "yellow")
    errors = f", {s['error']} suite errors" if s["error"] else ""
    console.print(f"[bold {colour}]{cert.verdict}[/] — {s['pass']} passed, {s['fail']} failed, "
                  f"{s['not run']} not run{errors} of {s['requirements']}; coverage "
                  f"{doc['coverage']['exercised_count']}/{doc['coverage']['contract_count']} operations")
    if s["failed"]:
        console.print("failed: " + ", ".join(s["failed"]))
    if s["errors"]:
        console.print("suite errors (not a verdict on the vendor): " + ", ".join(s["errors"]))
    left_out = doc["not_run"]["phases"]
    if left_out:
        console.print("not run: " + ", ".join(left_out))
    others = [r["id"] for r in doc["not_run"]["requirements"] if r["phase"] not in left_out]
    if others:
        console.print("not run: " + ", ".join(others) + " (reasons in the certificate)")
    perf = doc.get("performance") or {}
    if perf:
        console.print(f"performance: declared {perf['declared_rate_per_s']}/s, achieved "
                      f"{perf.get('achieved_rate_per_s')}/s over {perf['sent']} requests sent")
    signed = f"; signed by key {doc['signature']['key_id']}" if "signature" in doc else ""
    console.print(f"certificate: {folder}/certificate.html (json, junit.xml, manifest beside it); "
                  f"sha256 {doc['sha256'][:16]}…{signed}")
    return cert.exit_code


@certify_app.command("verify")
def verify_command(
    file: Path = typer.Argument(..., help="certificate.json (or the certificate's folder)."),
    pubkey: Path = typer.Option(None, "--pubkey", help="The signer's Ed25519 public key (PEM): "
                                "the certificate must be signed by it."),
) -> None:
    """Check a certificate's sha256 and its signature. Exit 0 valid, 1 invalid or tampered,
    2 usage (no such file, not JSON, unreadable key)."""
    from certify.certificate import check_document, load_public_key

    path = file / "certificate.json" if file.is_dir() else file
    try:
        doc: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        typer.echo(f"bad input: cannot read a certificate from {path}: {exc}")
        raise typer.Exit(2) from None
    if not isinstance(doc, dict):
        typer.echo(f"bad input: {path} is JSON but not a certificate (no object)")
        raise typer.Exit(2)
    key = None
    if pubkey is not None:
        try:
            key = load_public_key(pubkey)
        except ValueError as exc:
            typer.echo(f"bad input: {exc}")
            raise typer.Exit(2) from None
    check = check_document(doc, key)
    typer.echo(("VALID" if check.valid else "INVALID") + f" — {path}")
    for line in check.problems:
        typer.echo(f"  ✗ {line}")
    for line in check.notes:
        typer.echo(f"  ✓ {line}" if "not signed" not in line else f"  · {line}")
    raise typer.Exit(0 if check.valid else 1)


@certify_app.command("keygen")
def keygen_command(
    folder: Path = typer.Argument(..., help="Where to write certify-signing.key and .pub."),
) -> None:
    """Make an Ed25519 key pair for `--sign` (private key mode 0600; never overwrites)."""
    from certify.certificate import generate_keys

    try:
        private, public = generate_keys(folder)
    except (FileExistsError, OSError) as exc:
        typer.echo(f"bad input: {exc}")
        raise typer.Exit(2) from None
    typer.echo(f"private key: {private} (keep it secret; lienthong certify … --sign {private})")
    typer.echo(f"public key:  {public} (give it to whoever verifies: lienthong certify verify "
               f"certificate.json --pubkey {public})")


def register(app: typer.Typer) -> None:
    """Mount ``lienthong certify`` (run, verify, keygen)."""
    app.add_typer(certify_app, name="certify")
