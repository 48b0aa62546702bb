"""Validate goAML report files and tabular datasets; every problem with file, line, element path and code."""

from __future__ import annotations

import datetime as dt
import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from finintel import codes
from finintel.codes import Profile
from finintel.errors import InputError
from finintel.formats import tabular
from finintel.formats.goaml import fast
from finintel.formats.goaml.reader import GoamlReader, RejectedUnit, TransactionUnit
from finintel.inputs import Input, discover
from finintel.problems import FileReport, Severity, ValidationReport, make_problem


def validate_goaml(
    path: Path, profile: Profile | None = None, *, now: dt.datetime | None = None, fast_path: bool = True
) -> FileReport:
    """Every problem of one goAML file. A file the compiled pass certifies clean skips the walk (``fast.py``; files
    of 64 KiB or more, where it gains); ``fast_path=False`` always walks."""
    profile = profile or codes.default_profile()
    if fast_path and fast.worthwhile(path):
        certified = fast.certify(path, profile, now=now)
        if certified is not None:
            return certified
    reader = GoamlReader(path, profile, now=now)
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
    jobs: int | None = None,
) -> ValidationReport:
    """Validate every goAML file and dataset under ``paths``. Missing paths become fatal problems, not exceptions.

    ``jobs`` files are validated at once in threads (default: one per CPU): the compiled pass and polars release the
    GIL, so clean goAML files validate in parallel; the report lists files in input order whatever ``jobs`` is.
    """
    profile = profile or codes.default_profile()
    files: list[FileReport] = []
    items: list[Input] = []
    for raw in paths:
        try:
            items.extend(discover([raw]))
        except InputError as exc:
            fr = FileReport(file=str(raw), kind="unknown")
            fr.problems.append(make_problem("FI-R001", file=str(raw), reason=exc.message))
            files.append(fr)

    def one(item: Input) -> FileReport:
        if item.kind == "goaml":
            return validate_goaml(item.path, profile, now=now)
        if item.kind == "tabular":
            return validate_dataset(item.path)
        fr = FileReport(file=str(item.path), kind="store")
        fr.problems.append(
            make_problem("FI-R007", file=str(item.path), reason="a finintel store is validated at ingest time")
        )
        return fr

    workers = max(1, min(jobs or os.cpu_count() or 1, len(items)))
    if workers == 1:
        for item in items:
            if progress is not None:
                progress(item)
            files.append(one(item))
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # a bounded window of files in flight, collected in input order
            pending: deque[tuple[Input, Future[FileReport]]] = deque()
            for item in items:
                pending.append((item, pool.submit(one, item)))
                if len(pending) > 2 * workers:
                    files.append(_next(pending, progress))
            while pending:
                files.append(_next(pending, progress))
    return ValidationReport(files=files, threshold=threshold)


def _next(pending: deque[tuple[Input, Future[FileReport]]], progress: Callable[[Input], None] | None) -> FileReport:
    item, future = pending.popleft()
    if progress is not None:
        progress(item)
    return future.result()
