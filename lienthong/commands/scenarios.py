"""``lienthong scenarios list | show | validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["check_files", "describe", "list_scenarios", "register"]

app = typer.Typer(help="List, show and validate scenarios.", no_args_is_help=True)


def _out() -> Console:
    """A console made per call, so it sees the terminal (and COLUMNS) of this invocation."""
    return Console()


def _err() -> Console:
    return Console(stderr=True, soft_wrap=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="scenarios")


def list_scenarios() -> list[tuple[str, str, tuple[str, ...]]]:
    """``(name, description, tags)`` of every catalog scenario."""
    import scenarios

    out = []
    for name in scenarios.catalog():
        s = scenarios.load(name)
        out.append((name, s.meta.description, s.meta.tags))
    return out


def describe(name_or_path: str) -> dict[str, object]:
    """Derived figures of a scenario: dossiers per working day and per year by service and variant."""
    import scenarios
    from scenarios.demand import working_days_per_year

    s = scenarios.load(name_or_path)
    wd = working_days_per_year(s)
    per_wd = s.dossiers_per_wd()
    return {
        "scenario": s,
        "working_days_per_year": wd,
        "per_wd": per_wd,
        "per_year": {svc: {v: n * wd for v, n in variants.items()} for svc, variants in per_wd.items()},
    }


def check_files(paths: list[str]) -> list[tuple[str, str | None, list[str]]]:
    """``(path, error or None, warnings)`` for each file: a warning is what the scenario says
    that only part of lienthong runs (a step task the reference fakes do not run: twin only)."""
    import scenarios
    from scenarios.model import live_task_problems

    results: list[tuple[str, str | None, list[str]]] = []
    for path in paths:
        try:
            loaded = scenarios.load(path)
        except scenarios.ScenarioError as exc:
            results.append((path, str(exc), []))
            continue
        warnings = [f"{key}: {message} ('lienthong run' and 'fakes serve' refuse it)"
                    for key, message in live_task_problems(loaded)]
        results.append((path, None, warnings))
    return results


@app.command("list")
def list_cmd() -> None:
    """List the catalog scenarios."""
    table = Table(title="lienthong scenario catalog")
    table.add_column("name", style="bold cyan")
    table.add_column("description")
    table.add_column("tags", style="dim")
    for name, description, tags in list_scenarios():
        short = description if len(description) <= 90 else description[:89] + "…"
        table.add_row(name, short, ", ".join(tags))
    _out().print(table)


@app.command("show")
def show_cmd(
    scenario: str = typer.Argument("hanoi-baseline", help="Catalog name or path to a .toml file."),
    toml: bool = typer.Option(False, "--toml", help="Print the fully resolved scenario as TOML."),
) -> None:
    """Show a resolved scenario with its derived volumes and assumptions."""
    import scenarios

    try:
        info = describe(scenario)
    except scenarios.ScenarioError as exc:
        _fail(exc)
    s: scenarios.Scenario = info["scenario"]  # type: ignore[assignment]
    if toml:
        typer.echo(scenarios.dump(s), nl=False)
        return
    out = _out()
    out.print(f"[bold]{s.meta.name}[/] — {s.meta.description}")
    out.print(
        f"region {s.region.name} ({s.region.scope}, {s.region.communes} communes/wards, "
        f"population {s.region.population:,}), seed {s.meta.seed}, start {s.calendar.start}, "
        f"{info['working_days_per_year']} working days/year"
    )
    out.print(f"legal basis: {s.meta.legal_basis}", highlight=False)
    out.print(_volume_table(s, info))
    out.print(_step_table(s))
    if s.faults:
        out.print(_fault_table(s))
    if s.assumptions:
        out.print(_assumption_table(s))


def _volume_table(s: object, info: dict[str, object]) -> Table:
    table = Table(title="Expected dossiers")
    for col in ("service", "variant", "code", "steps", "per working day", "per year"):
        table.add_column(col, justify="right" if col.startswith("per") else "left")
    per_wd: dict[str, dict[str, float]] = info["per_wd"]  # type: ignore[assignment]
    per_year: dict[str, dict[str, float]] = info["per_year"]  # type: ignore[assignment]
    for svc_id, svc in s.services.items():  # type: ignore[attr-defined]
        for vid, v in svc.variants.items():
            table.add_row(
                svc_id,
                vid,
                v.code,
                " → ".join(v.steps) + _own_limit(svc, vid),
                f"{per_wd[svc_id][vid]:,.1f}",
                f"{per_year[svc_id][vid]:,.0f}",
            )
        table.add_row(
            f"[bold]{svc_id}[/]",
            "[bold]all[/]",
            svc.tthc_code,  # the procedure code of the era's legal basis
            f"deadline {svc.deadline_wd:g} WD ({svc.verification_deadline_wd:g} with verification)",
            f"[bold]{sum(per_wd[svc_id].values()):,.1f}[/]",
            f"[bold]{sum(per_year[svc_id].values()):,.0f}[/]",
        )
    return table


def _own_limit(svc: Any, vid: str) -> str:
    """A variant's own time limit and procedure code, when it has them (else the service's)."""
    v = svc.variants[vid]
    if v.deadline_wd is None and v.verification_deadline_wd is None and not v.tthc_code:
        return ""
    limit = f"deadline {svc.limit_wd(vid, False):g} WD ({svc.limit_wd(vid, True):g} with verification)"
    return f" · {limit}" + (f", {v.tthc_code}" if v.tthc_code else "")


def _step_table(s: object) -> Table:
    table = Table(title="Steps")
    for col in ("step", "agency", "task", "after", "limit", "desk min", "system min", "assumption"):
        table.add_column(col)
    for sid, st in s.steps.items():  # type: ignore[attr-defined]
        table.add_row(
            sid,
            st.agency,
            st.task,
            ", ".join(st.after),
            "—" if st.limit_wd is None else f"{st.limit_wd:g} WD",
            f"{st.desk_time.expected:.1f}" if st.desk_time else "—",
            f"{st.system_time.expected:.1f}" if st.system_time else "—",
            st.assumption or "",
        )
    return table


def _fault_table(s: object) -> Table:
    table = Table(title="Faults on the timeline")
    for col in ("#", "kind", "agency", "from", "to", "params", "incident"):
        table.add_column(col)
    for i, f in enumerate(s.faults):  # type: ignore[attr-defined]
        params = {k: v for k in ("rate", "status", "factor", "extra", "share")
                  if (v := getattr(f, k)) is not None}
        if f.events is not None:  # a surge's shift: the events of this window
            params["events"] = "–".join(_dur(m) for m in f.events)
        table.add_row(str(i), f.kind, f.agency, _dur(f.start), _dur(f.end), str(params or ""), f.incident)
    return table


def _assumption_table(s: object) -> Table:
    table = Table(title="Assumptions (figures not confirmed — DOMAIN.md §11)")
    table.add_column("name", style="yellow")
    table.add_column("value")
    table.add_column("source", style="dim")
    for name, a in s.assumptions.items():  # type: ignore[attr-defined]
        table.add_row(name, a.value, a.source)
    return table


def _dur(minutes: float) -> str:
    days, rest = divmod(int(minutes), 1440)
    return f"{days}d{rest // 60:02d}:{rest % 60:02d}"


@app.command("validate")
def validate_cmd(files: list[Path] = typer.Argument(..., help="Scenario files or catalog names.")) -> None:
    """Validate scenario files; exit 2 naming the offending key on the first error. A valid
    scenario that only the twin can run (a step task the reference fakes do not run) is ok with a
    warning naming the key."""
    failed = False
    for path, error, warnings in check_files([str(f) for f in files]):
        if error is None:
            _out().print(f"[green]ok[/]   {path}")
            for warning in warnings:
                _err().print(f"[yellow]warn[/] {path}: {warning}", markup=True, highlight=False)
        else:
            failed = True
            _err().print(f"[red]FAIL[/] {error}", markup=True, highlight=False)
    if failed:
        raise typer.Exit(2)


def _fail(exc: Exception) -> typer.Exit:
    _err().print(f"[red]error:[/] {exc}", highlight=False)
    raise typer.Exit(2)
