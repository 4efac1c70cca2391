"""The ``lienthong`` command line.

Each command group lives in its own module under :mod:`lienthong.commands` and exposes
``register(app)``; :data:`COMMANDS` below is the one list of what is mounted, in the order
``--help`` shows it. Commands stay thin and each is a plain function callable from Python; heavy
imports happen inside the commands.
"""

from __future__ import annotations

import typer

import lienthong
from lienthong.commands import certify, fakes, load, people, run, scenarios, sim

__all__ = ["COMMANDS", "app", "main"]

# the main job first, then each user's commands
COMMANDS = (run, load, sim, certify, fakes, people, scenarios)

app = typer.Typer(
    name="lienthong",
    help="Simulation and load-testing harness for Vietnam's linked public services (liên thông).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lienthong {lienthong.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Synthetic citizens, fake ministries, a SimPy twin and Locust load tests for Đề án 06."""


for _command in COMMANDS:
    _command.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
