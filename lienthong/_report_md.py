"""``report.md``: the same report in Markdown, PNG figures referenced beside it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from lienthong._report_format import scrub

if TYPE_CHECKING:
    from lienthong.report import Figure, Report, Section, Table

__all__ = ["render_markdown"]

_MARK = {"pass": "✅ pass", "fail": "❌ fail", "not measured": "⚠️ not measured", "warning": "⚠️ warning",
         "not run": "⏭️ not run"}


def render_markdown(report: Report, folder: Path) -> str:
    """The Markdown text; figures outside ``folder`` are copied into it."""
    lines = [f"# {_c(report.title)}", ""]
    if report.meta:
        lines += [" · ".join(f"**{_c(k)}** {_c(v)}" for k, v in report.meta.items()), ""]
    lines += [f"**{_c(report.verdict)}**", ""]
    if report.key_figures:
        lines += ["| figure | value | |", "|---|---:|---|"]
        lines += [
            f"| {_c(k.label)} | {_c(k.text)} | {_MARK.get(k.status or '', '')} {_c(k.note)} |".replace(
                "  |", " |"
            )
            for k in report.key_figures
        ]
        lines.append("")
    if report.thresholds:
        lines += [
            "## Thresholds",
            "",
            "| metric | threshold | observed | result | note |",
            "|---|---|---:|---|---|",
        ]
        lines += [
            f"| {_c(r.metric)} | `{_c(r.expr)}` | {_c(r.observed_text)} | {_MARK[r.status]} | {_c(r.note)} |"
            for r in report.thresholds
        ]
        lines.append("")
    for s in report.sections:
        lines += _section(s, folder)
    if report.checks:
        lines += ["## Checks", "", "| check | result | detail |", "|---|---|---|"]
        lines += [
            f"| {_c(c.name)} | {_MARK[_status(c.passed, c.blocking, c.skipped)]} | {_c(c.detail)} |"
            for c in report.checks
        ]
        lines.append("")
    if report.notes:
        lines += ["## Notes and assumptions", ""] + [f"- {_c(n)}" for n in report.notes] + [""]
    return "\n".join(lines)


def _status(passed: bool, blocking: bool, skipped: bool = False) -> str:
    if skipped:
        return "not run"
    return "pass" if passed else ("fail" if blocking else "warning")


def _c(text: object) -> str:
    """Scrubbed text safe inside a table cell."""
    return scrub(str(text)).replace("|", "\\|").replace("\n", " ")


def _section(s: Section, folder: Path) -> list[str]:
    lines = [f"## {_c(s.title)}", ""]
    for t in s.text:
        lines += [scrub(t), ""]
    for table in s.tables:
        lines += _table(table)
    for f in s.figures:
        lines += _figure(f, folder)
    return lines


def _table(t: Table) -> list[str]:
    lines = [f"### {_c(t.title)}", ""] if t.title else []
    lines += ["| " + " | ".join(_c(c) for c in t.columns) + " |", "|" + "---|" * len(t.columns)]
    lines += ["| " + " | ".join(_c(c) for c in row) + " |" for row in t.text_rows()]
    lines.append("")
    if t.note:
        lines += [f"*{_c(t.note)}*", ""]
    return lines


def _figure(f: Figure, folder: Path) -> list[str]:
    src = Path(f.path)
    dest = folder / src.name
    if src.resolve() != dest.resolve():
        shutil.copyfile(src, dest)
    caption = f" — {_c(f.caption)}" if f.caption else ""
    return [f"![{_c(f.title)}]({dest.name})", "", f"*{_c(f.title)}*{caption}", ""]
