"""``lienthong people generate``: synthetic citizens and a period of their life events."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["generate_people", "register"]

app = typer.Typer(help="Synthetic citizens: households, identities and life events.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True, soft_wrap=True)
FORMATS = ("csv", "jsonl")
SAMPLE_FIELDS = (
    "person",
    "pid",
    "full_name",
    "sex",
    "dob",
    "relation",
    "household",
    "unit_name",
    "status",
    "bhyt",
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="people")


def generate_people(
    scenario: str,
    out: Path,
    *,
    size: int | None = None,
    days: int = 365,
    seed: int | None = None,
    formats: tuple[str, ...] = FORMATS,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Generate the population of ``scenario`` and ``days`` of life events into ``out``.

    Writes ``people.csv`` / ``people.jsonl`` (the population at the end of the period, newborns
    and deaths included), ``events.jsonl``, ``births.csv``, ``deaths.csv`` (when days > 0) and
    ``manifest.json`` (scenario, seed, counts, SHA-256 of each file). Personal data in these files
    is unmasked: they are test data for the fakes. Returns the manifest.
    Raises scenarios.ScenarioError for a bad scenario and ValueError for bad arguments.
    """
    import numpy as np

    import scenarios
    from fakes import events, people

    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"unknown format {bad[0] if bad else ''!r}; use csv, jsonl or both")
    s = scenarios.load(scenario)
    seed = s.meta.seed if seed is None else seed
    if seed < 0:
        raise ValueError(f"seed must be >= 0, not {seed}")
    report = progress or (lambda stage, fraction: None)
    rng = np.random.default_rng(seed)
    pop = people.generate(s, rng, size, progress=lambda st, f: report(st, 0.4 * f))
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, int] = {}
    births = deaths = 0
    if days:
        ev = events.simulate(pop, s, rng, days)
        pop, births, deaths = ev.population, len(ev.births), len(ev.deaths)
        files.update(events.write_events(ev, out))
    report("events", 0.45)
    share = 0.55 / len(formats)
    for i, fmt in enumerate(formats):
        write = people.write_csv if fmt == "csv" else people.write_jsonl
        files[f"people.{fmt}"] = write(
            pop, out / f"people.{fmt}", progress=_shifted(report, 0.45 + i * share, share)
        )
    manifest = {
        "scenario": s.meta.name, "seed": seed, "size": pop.size - births, "days": days,
        "households": pop.households, "births": births, "deaths": deaths,
        "files": {n: {"rows": rows, "sha256": _sha256(out / n)} for n, rows in sorted(files.items())},
    }  # fmt: skip
    (out / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    report("done", 1.0)
    return manifest


def _shifted(report: Callable[[str, float], None], base: float, share: float) -> Callable[[str, float], None]:
    """``report`` with fractions mapped into [base, base + share]."""
    return lambda stage, fraction: report(stage, base + share * fraction)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _masked_sample(out: Path, k: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``k`` masked people and up to ``k`` masked events read back from the written files."""
    import random

    from fakes.people import mask_record

    pick = random.Random(seed)
    people_rows: list[dict[str, Any]] = []
    source = out / "people.jsonl"
    if source.exists():
        with source.open(encoding="utf-8") as fh:
            people_rows = _reservoir((json.loads(line) for line in fh), k, pick)
    else:
        import csv

        with (out / "people.csv").open(encoding="utf-8", newline="") as fh:
            people_rows = _reservoir(csv.DictReader(fh), k, pick)
    event_rows: list[dict[str, Any]] = []
    if (out / "events.jsonl").exists():
        with (out / "events.jsonl").open(encoding="utf-8") as fh:
            event_rows = _reservoir((json.loads(line) for line in fh), k, pick)
    return [mask_record(r) for r in people_rows], [mask_record(r) for r in event_rows]


def _reservoir(rows: Any, k: int, pick: Any) -> list[dict[str, Any]]:
    """A uniform sample of ``k`` rows from a stream (reservoir sampling), in stream order."""
    chosen: list[tuple[int, dict[str, Any]]] = []
    for i, row in enumerate(rows):
        if len(chosen) < k:
            chosen.append((i, row))
        elif (j := pick.randrange(i + 1)) < k:
            chosen[j] = (i, row)
    return [row for _, row in sorted(chosen, key=lambda t: t[0])]


@app.command("generate")
def generate_cmd(
    scenario: str = typer.Option(
        "hanoi-baseline", "--scenario", "-s", help="Catalog name or path to a .toml file."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    size: int | None = typer.Option(
        None, "--size", "-n", help="People to generate (default: the region's population)."
    ),
    days: int = typer.Option(
        365, "--days", "-d", help="Days of life events from the scenario start (0: none)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (default: the scenario's seed)."),
    fmt: str = typer.Option(
        "csv,jsonl", "--format", help="Files to write for people: csv, jsonl or csv,jsonl."
    ),
    sample: int = typer.Option(
        0, "--sample", help="Print this many people and events, personal data masked."
    ),
) -> None:
    """Generate a synthetic population and its life events (CSV / JSON Lines)."""
    import scenarios

    if size is not None and size < 1:
        _fail(f"--size must be at least 1, not {size}")
    if days < 0:
        _fail(f"--days must be >= 0, not {days}")
    if sample < 0:
        _fail(f"--sample must be >= 0, not {sample}")
    formats = tuple(f.strip() for f in fmt.split(",") if f.strip())
    columns = (TextColumn("{task.description:<12}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"))
    try:
        with Progress(*columns, TimeElapsedColumn(), console=console, transient=False) as bar:
            task = bar.add_task("people", total=1.0)
            manifest = generate_people(
                scenario, out, size=size, days=days, seed=seed, formats=formats,
                progress=lambda stage, f: bar.update(task, completed=f, description=stage),
            )  # fmt: skip
    except (scenarios.ScenarioError, ValueError) as exc:
        _fail(str(exc))
    _summary(manifest, out)
    if sample:
        _print_sample(out, sample, manifest["seed"])


def _fail(message: str) -> None:
    errors.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def _summary(manifest: dict[str, Any], out: Path) -> None:
    console.print(
        f"[bold]{manifest['scenario']}[/bold] seed {manifest['seed']}: {manifest['size']:,} people in "
        f"{manifest['households']:,} households; {manifest['days']} days: {manifest['births']:,} births, "
        f"{manifest['deaths']:,} deaths → {out}"
    )


def _print_sample(out: Path, k: int, seed: int) -> None:
    """Print ``k`` people and up to ``k`` events read back from the files, personal data masked."""
    persons, evs = _masked_sample(out, k, seed)
    console.rule(f"{len(persons)} people (personal data masked)")
    for rec in persons:
        line = json.dumps({c: rec.get(c) for c in SAMPLE_FIELDS}, ensure_ascii=False)
        console.print(line, soft_wrap=True, markup=False, highlight=False)
    if evs:
        console.rule(f"{len(evs)} life events (personal data masked)")
        for rec in evs:
            console.print(json.dumps(rec, ensure_ascii=False), soft_wrap=True, markup=False, highlight=False)
