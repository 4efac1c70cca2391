"""CLI command groups: every public module here defines ``register(app: typer.Typer)``."""
