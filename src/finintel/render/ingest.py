"""Render an :class:`~finintel.ingest.IngestResult`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from finintel.ingest import IngestResult


def to_dict(result: IngestResult, store_path: Path | None) -> dict[str, Any]:
    return {
        "store": str(store_path) if store_path else None,
        "reconciled": result.counts.reconciles(),
        "counts": result.counts.to_dict(),
        "entities": result.entities,
        "files": [
            {
                "file": f.file,
                "kind": f.kind,
                "status": f.status,
                "sha256": f.sha256,
                "reports": f.reports,
                "transactions": f.transactions,
                "problems": f.problems,
            }
            for f in result.files
        ],
        "problems": {
            sev: sum(1 for p in result.problems if p.severity.value == sev)
            for sev in ("info", "warning", "error", "fatal")
        },
    }


def to_json(result: IngestResult, store_path: Path | None) -> str:
    return json.dumps(to_dict(result, store_path), indent=2, ensure_ascii=False) + "\n"


def to_text(result: IngestResult, store_path: Path | None, console: Console) -> None:
    table = Table(title="ingest", header_style="bold")
    table.add_column("records")
    for col in ("read", "stored", "rejected"):
        table.add_column(col, justify="right")
    for kind, c in result.counts.to_dict().items():
        style = "red" if c["rejected"] else ""
        table.add_row(
            kind,
            str(c["read"]),
            str(c["stored"]),
            f"[{style}]{c['rejected']}[/{style}]" if style else str(c["rejected"]),
        )
    console.print(table)
    e = result.entities
    console.print(
        f"entities: {e['party_mentions']} party mentions -> {e['parties']} parties, "
        f"{e['account_mentions']} account mentions -> {e['accounts']} accounts, {e['relations']} relations"
    )
    for f in result.files:
        if f.status != "ingested":
            console.print(f"[yellow]{escape(f.status)}[/yellow]: {escape(f.file)}")
    if store_path is not None:
        console.print(
            f"store written to [bold]{escape(str(store_path))}[/bold]"
            + (f" (rejects: {escape(str(store_path / 'rejects.csv'))})" if result.rejected_total else "")
        )
    if not result.counts.reconciles():  # pragma: no cover - would be a bug
        console.print("[bold red]counts do not reconcile[/bold red]")
