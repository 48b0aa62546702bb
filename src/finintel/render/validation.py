"""Render a :class:`~finintel.problems.ValidationReport` as text, JSON or JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from finintel.problems import FileReport, Severity, ValidationReport

_STYLE = {Severity.INFO: "dim", Severity.WARNING: "yellow", Severity.ERROR: "red", Severity.FATAL: "bold red"}


def to_json(report: ValidationReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def to_junit(report: ValidationReport) -> str:
    """JUnit XML: one testcase per file; <failure> for invalid files, <error> for unreadable ones."""
    summary = report.summary()
    suites = ET.Element(
        "testsuites",
        name="finintel validate",
        tests=str(summary["files"]),
        failures=str(summary["invalid_files"] - summary["unreadable_files"]),
        errors=str(summary["unreadable_files"]),
    )
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="finintel.validate",
        tests=str(summary["files"]),
        failures=str(summary["invalid_files"] - summary["unreadable_files"]),
        errors=str(summary["unreadable_files"]),
        skipped="0",
    )
    for f in report.files:
        case = ET.SubElement(suite, "testcase", classname=f"finintel.validate.{f.kind}", name=f.file, file=f.file)
        lines = [_line(p_file=f, index=i) for i in range(len(f.problems))]
        if f.fatal:
            el = ET.SubElement(case, "error", type="unreadable", message=_first_message(f, Severity.FATAL))
            el.text = "\n".join(lines)
        elif f.failed(report.threshold):
            el = ET.SubElement(
                case,
                "failure",
                type="invalid",
                message=f"{sum(1 for p in f.problems if p.severity.rank >= report.threshold.rank)} "
                f"problem(s) at or above {report.threshold.value}",
            )
            el.text = "\n".join(lines)
        elif f.problems:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(lines)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _first_message(f: FileReport, severity: Severity) -> str:
    return next((p.message for p in f.problems if p.severity is severity), "")


def _line(p_file: FileReport, index: int) -> str:
    p = p_file.problems[index]
    where = p.location()
    path = f" [{p.path}]" if p.path else ""
    return f"{where}: {p.severity.value} {p.code} {p.name}: {p.message}{path}"


def to_text(report: ValidationReport, console: Console, *, quiet: bool = False) -> None:
    for f in report.files:
        if not f.problems:
            if not quiet:
                console.print(f"[green]ok[/green]    {escape(f.file)}")
            continue
        status = (
            "[bold red]unreadable[/]"
            if f.fatal
            else ("[red]invalid[/red]" if f.failed(report.threshold) else "[yellow]warnings[/yellow]")
        )
        console.print(f"{status} {escape(f.file)}")
        for p in f.problems:
            if quiet and p.severity.rank < report.threshold.rank:
                continue
            style = _STYLE[p.severity]
            path = f" [dim]{escape(p.path)}[/dim]" if p.path else ""
            console.print(
                f"  {escape(p.location())}: [{style}]{p.severity.value}[/{style}] [bold]{p.code}[/bold] "
                f"{escape(p.message)}{path}",
                highlight=False,
                soft_wrap=True,
            )
    s = report.summary()
    table = Table(title="validation summary", show_header=True, header_style="bold")
    for col in ("files", "valid", "invalid", "unreadable", "errors", "warnings"):
        table.add_column(col, justify="right")
    table.add_row(
        str(s["files"]),
        str(s["valid_files"]),
        str(s["invalid_files"]),
        str(s["unreadable_files"]),
        str(s["problems"]["error"] + s["problems"]["fatal"]),
        str(s["problems"]["warning"]),
    )
    console.print(table)


RENDERERS: dict[str, Callable[[ValidationReport], str]] = {"json": to_json, "junit": to_junit}
