"""The ``lienthong`` command line.

Each command group lives in its own module under :mod:`lienthong.commands` and exposes
``register(app)``; this module only discovers and mounts them, so commands stay thin and each is
a plain function callable from Python. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

import lienthong
from lienthong import commands

__all__ = ["app", "main"]

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


def _mount_commands() -> None:
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{commands.__name__}.{info.name}").register(app)


_mount_commands()


def main() -> None:
    """Console-script entry point."""
    app()
