"""``report.html``: one self-contained page (inline CSS, PNGs as base64 data URIs, no scripts)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from lienthong._report_format import scrub

if TYPE_CHECKING:
    from lienthong.report import Check, Figure, KeyFigure, Report, Section, Table, ThresholdResult

__all__ = ["render_html"]

_CSS = """
:root { --ink:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#f6f8fa; --ok:#1a7f37; --okbg:#dafbe1;
        --bad:#cf222e; --badbg:#ffebe9; --na:#9a6700; --nabg:#fff8c5; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 -apple-system, "Segoe UI", Roboto, "Noto Sans", Helvetica, Arial, sans-serif;
       color:var(--ink); background:#fff; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: var(--muted); font-size: 13px; margin: 0 0 16px; }
.meta span { margin-right: 14px; white-space: nowrap; }
.verdict { font-size: 18px; padding: 14px 18px; border-radius: 6px; border-left: 6px solid;
           margin: 12px 0 18px; }
.verdict.pass { background: var(--okbg); border-color: var(--ok); }
.verdict.fail { background: var(--badbg); border-color: var(--bad); }
.verdict.na { background: var(--nabg); border-color: var(--na); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px;
         margin: 8px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: var(--bg); }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.card .value { font-size: 21px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .note { color: var(--muted); font-size: 12px; }
.card.pass { border-top: 3px solid var(--ok); } .card.fail { border-top: 3px solid var(--bad); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.pass { color: var(--ok); background: var(--okbg); }
.badge.fail { color: var(--bad); background: var(--badbg); }
.badge.na { color: var(--na); background: var(--nabg); }
.tnote, figcaption, .small { color: var(--muted); font-size: 13px; }
figure { margin: 14px 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
ul.notes { color: var(--muted); font-size: 13px; padding-left: 18px; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line);
         padding-top: 8px; }
"""


def render_html(report: Report) -> str:
    """The whole page for ``report``."""
    state = "pass" if report.passed else "fail"
    if report.exit_code not in (0, 1):  # graded between pass and fail (a CONDITIONAL PASS)
        state = "na"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(report.title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(report.title)}</h1>",
        _meta(report),
        f'<p class="verdict {state}" id="verdict">{_e(report.verdict)}</p>',
    ]
    if report.key_figures:
        parts.append('<div class="cards">' + "".join(_card(k) for k in report.key_figures) + "</div>")
    if report.thresholds:
        parts += ["<h2>Thresholds</h2>", _thresholds(report.thresholds)]
    parts += [_section(s) for s in report.sections]
    if report.checks:
        parts += ["<h2>Checks</h2>", _checks(report.checks)]
    if report.notes:
        parts += ["<h2>Notes and assumptions</h2>", '<ul class="notes">']
        parts += [f"<li>{_e(n)}</li>" for n in report.notes]
        parts.append("</ul>")
    parts.append(f"<footer>{_e(report.title)} · exit code {report.exit_code}</footer>")
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def _e(text: object) -> str:
    return escape(scrub(str(text)))


def _meta(report: Report) -> str:
    if not report.meta:
        return ""
    spans = "".join(f"<span><b>{_e(k)}</b> {_e(v)}</span>" for k, v in report.meta.items())
    return f'<p class="meta">{spans}</p>'


def _card(k: KeyFigure) -> str:
    cls = f"card {k.status}" if k.status else "card"
    note = f'<div class="note">{_e(k.note)}</div>' if k.note else ""
    label = f'<div class="label">{_e(k.label)}</div>'
    return f'<div class="{cls}">{label}<div class="value">{_e(k.text)}</div>{note}</div>'


def _badge(status: str) -> str:
    cls = {"pass": "pass", "fail": "fail"}.get(status, "na")
    return f'<span class="badge {cls}">{_e(status)}</span>'


def _grid(columns: Sequence[str], rows: Sequence[str]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _thresholds(results: Sequence[ThresholdResult]) -> str:
    rows = [
        f"<tr><td>{_e(r.metric)}</td><td><code>{_e(r.expr)}</code></td>"
        f'<td class="num">{_e(r.observed_text)}</td><td>{_badge(r.status)}</td>'
        f'<td class="small">{_e(r.note)}</td></tr>'
        for r in results
    ]
    return _grid(("metric", "threshold", "observed", "result", "note"), rows)


def _checks(checks: Sequence[Check]) -> str:
    rows = [
        f"<tr><td>{_e(c.name)}</td><td>{_badge(_check_status(c))}</td><td>{_e(c.detail)}</td></tr>"
        for c in checks
    ]
    return _grid(("check", "result", "detail"), rows)


def _check_status(c: Check) -> str:
    return c.status


def _section(s: Section) -> str:
    parts = [f"<h2>{_e(s.title)}</h2>"]
    parts += [f"<p>{_e(t)}</p>" for t in s.text]
    parts += [_table(t) for t in s.tables]
    parts += [_figure(f) for f in s.figures]
    return "\n".join(parts)


def _is_num(cell: str) -> bool:
    head = cell.lstrip("-−+").replace(",", "")[:1]
    return head.isdigit() or cell in ("–", "∞")


def _table(t: Table) -> str:
    title = f"<h3>{_e(t.title)}</h3>" if t.title else ""
    rows = [
        "<tr>"
        + "".join(f'<td class="num">{_e(c)}</td>' if _is_num(c) else f"<td>{_e(c)}</td>" for c in row)
        + "</tr>"
        for row in t.text_rows()
    ]
    note = f'<p class="tnote">{_e(t.note)}</p>' if t.note else ""
    return f"{title}{_grid(t.columns, rows)}{note}"


def _figure(f: Figure) -> str:
    data = base64.b64encode(Path(f.path).read_bytes()).decode("ascii")
    cap = f"<figcaption><b>{_e(f.title)}</b>{'. ' + _e(f.caption) if f.caption else ''}</figcaption>"
    return f'<figure><img alt="{_e(f.title)}" src="data:image/png;base64,{data}">{cap}</figure>'
