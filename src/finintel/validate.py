"""Validate goAML report files and tabular datasets; every problem with file, line, element path and code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path

from finintel import codes
from finintel.codes import Profile
from finintel.errors import InputError
from finintel.formats import tabular
from finintel.formats.goaml.reader import GoamlReader, RejectedUnit, TransactionUnit
from finintel.ingest import Input, discover
from finintel.problems import FileReport, Severity, ValidationReport, make_problem


def validate_goaml(path: Path, profile: Profile | None = None, *, now: dt.datetime | None = None) -> FileReport:
    reader = GoamlReader(path, profile or codes.default_profile(), now=now)
    accepted = rejected = 0
    for unit in reader:
        if isinstance(unit, TransactionUnit):
            accepted += 1
        elif isinstance(unit, RejectedUnit):
            rejected += 1
    report = FileReport(file=str(path), kind="goaml", schema_version=reader.schema_version)
    report.problems = sorted(reader.problems, key=lambda p: (p.line or 0, p.code))
    report.stats = {**reader.stats, "transactions_unusable": rejected}
    return report


def validate_dataset(folder: Path) -> FileReport:
    result = tabular.read_dataset(folder)
    report = FileReport(file=str(folder), kind="tabular")
    report.problems = sorted(result.problems, key=lambda p: (p.file, p.line or 0, p.code))
    report.stats = {f"{k}_rows": v for k, v in result.read.items()}
    report.stats["rows_unusable"] = len(result.rejects)
    return report


def validate_paths(
    paths: Iterable[str | Path],
    profile: Profile | None = None,
    *,
    threshold: Severity = Severity.ERROR,
    now: dt.datetime | None = None,
    progress: Callable[[Input], None] | None = None,
) -> ValidationReport:
    """Validate every goAML file and dataset under ``paths``. Missing paths become fatal problems, not exceptions."""
    files: list[FileReport] = []
    items: list[Input] = []
    for raw in paths:
        try:
            items.extend(discover([raw]))
        except InputError as exc:
            fr = FileReport(file=str(raw), kind="unknown")
            fr.problems.append(make_problem("FI-R001", file=str(raw), reason=exc.message))
            files.append(fr)
    for item in items:
        if progress is not None:
            progress(item)
        if item.kind == "goaml":
            files.append(validate_goaml(item.path, profile, now=now))
        elif item.kind == "tabular":
            files.append(validate_dataset(item.path))
        else:
            fr = FileReport(file=str(item.path), kind="store")
            fr.problems.append(
                make_problem("FI-R007", file=str(item.path), reason="a finintel store is validated at ingest time")
            )
            files.append(fr)
    return ValidationReport(files=files, threshold=threshold)
