"""Render scan results: rich text (summary table by typology, top findings) and JSON."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from finintel.scan import ScanResult

_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim"}


def to_json(result: ScanResult, *, timings: bool = False) -> str:
    return json.dumps(result.to_dict(timings=timings), indent=2, ensure_ascii=False) + "\n"


def to_text(result: ScanResult, console: Console, *, top: int = 20, timings: bool = False) -> None:
    s = result.summary()
    table = Table(
        title=f"{s['findings']} findings in {s['transactions_scanned']} transactions ({s['rules']} rules)",
        header_style="bold",
    )
    table.add_column("typology")
    table.add_column("findings", justify="right")
    table.add_column("worst severity")
    for typology, n in s["by_typology"].items():
        worst = next(f.severity for f in result.findings if f.typology == typology)
        table.add_row(typology, str(n), f"[{_STYLE[worst]}]{worst}[/]")
    console.print(table)
    for f in result.findings[:top]:
        console.print(
            f"[{_STYLE[f.severity]}]{f.severity:8s}[/] {f.finding_id} {f.rule_id} [bold]{f.typology}[/bold] "
            f"score {f.score:.2f}: {escape(f.explanation)}",
            highlight=False,
            soft_wrap=True,
        )
    if len(result.findings) > top:
        console.print(f"… {len(result.findings) - top} more (use --format json or --out FILE for all)")
    if result.consolidated:
        console.print(f"{result.consolidated} findings were folded into more specific ones (details.also_matches)")
    if timings:
        t = Table(title="timings (seconds)", header_style="bold")
        t.add_column("step")
        t.add_column("seconds", justify="right")
        for step, sec in result.timings.items():
            t.add_row(step, f"{sec:.3f}")
        console.print(t)
