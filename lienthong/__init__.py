"""lienthong — the front door: the Typer CLI and the report writer shared by all commands."""

__version__ = "0.1.0"
__all__ = ["__version__"]
