"""``junit.xml``: one testcase per threshold and per check, so CI shows what failed and by how much."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from lienthong._report_format import scrub

if TYPE_CHECKING:
    from lienthong.report import Report

__all__ = ["render_junit"]


def render_junit(report: Report) -> str:
    """The JUnit XML document: a ``thresholds`` suite and one suite per check group."""
    root = ET.Element("testsuites", name=scrub(report.title))
    if report.meta:
        props = ET.SubElement(root, "properties")
        for key, value in report.meta.items():
            ET.SubElement(props, "property", name=str(key), value=scrub(str(value)))
    if report.thresholds:
        suite = _suite(root, "thresholds")
        for r in report.thresholds:
            case = ET.SubElement(suite, "testcase", classname=f"thresholds.{r.metric}", name=r.expr)
            if r.status == "fail":
                msg = f"{r.metric} {r.stat} observed {r.observed_text}, limit {r.limit_text}"
                if r.note:
                    msg += f" ({r.note})"
                ET.SubElement(case, "failure", message=scrub(msg), type="threshold").text = scrub(
                    r.describe()
                )
            elif r.status == "not measured":
                ET.SubElement(case, "skipped", message=scrub(f"not measured: {r.note}"))
            else:
                ET.SubElement(case, "system-out").text = scrub(r.describe())
    groups: dict[str, ET.Element] = {}
    for c in report.checks:
        suite = groups.get(c.group) or groups.setdefault(c.group, _suite(root, c.group))
        case = ET.SubElement(suite, "testcase", classname=c.group, name=scrub(c.name))
        if c.skipped:
            ET.SubElement(case, "skipped", message=scrub(f"not run: {c.detail}" if c.detail else "not run"))
        elif not c.passed and not c.blocking:
            ET.SubElement(case, "system-err").text = scrub(f"warning: {c.detail or 'check failed'}")
        elif not c.passed:
            ET.SubElement(
                case, "failure", message=scrub(c.detail or "check failed"), type="check"
            ).text = scrub("\n".join(filter(None, (c.detail, c.evidence))))
        elif c.detail or c.evidence:
            ET.SubElement(case, "system-out").text = scrub("\n".join(filter(None, (c.detail, c.evidence))))
    for suite in root.iter("testsuite"):
        cases = list(suite)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
        suite.set("errors", "0")
    root.set("tests", str(sum(int(s.get("tests", "0")) for s in root.iter("testsuite"))))
    root.set("failures", str(sum(int(s.get("failures", "0")) for s in root.iter("testsuite"))))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(root: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(root, "testsuite", name=scrub(name))
