"""``report.html``: one self-contained page per case (no network, no JavaScript): summary, findings, an SVG link
chart of the case graph and an SVG timeline. Prints on A4."""

from __future__ import annotations

import datetime as dt
import math
from html import escape
from typing import Any

import networkx as nx

KIND_STYLE = {
    "person": ("#1f6feb", "circle"),
    "organization": ("#8250df", "square"),
    "account": ("#1a7f37", "rect"),
    "wallet": ("#bc4c00", "diamond"),
    "party": ("#6e7781", "circle"),
}
SEVERITY_COLOR = {"critical": "#a40e26", "high": "#cf222e", "medium": "#9a6700", "low": "#57606a"}

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:24px;color:#1f2328;max-width:1100px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:22px 0 8px;border-bottom:1px solid #d0d7de}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;font-size:13px}
table{border-collapse:collapse;font-size:13px;width:100%} td,th{border:1px solid #d0d7de;padding:4px 6px;
text-align:left;vertical-align:top} th{background:#f6f8fa}
.sev{font-weight:600} svg{border:1px solid #d0d7de;background:#fff;width:100%;height:auto}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
@media print{body{margin:10mm} h2{page-break-after:avoid} svg{page-break-inside:avoid}}
"""


def _node_shape(kind: str, x: float, y: float, label: str, title: str) -> str:
    color, shape = KIND_STYLE.get(kind, KIND_STYLE["party"])
    t = f"<title>{escape(title)}</title>"
    if shape == "circle":
        body = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="11" fill="{color}">{t}</circle>'
    elif shape == "square":
        body = f'<rect x="{x - 11:.1f}" y="{y - 11:.1f}" width="22" height="22" fill="{color}">{t}</rect>'
    elif shape == "diamond":
        body = (
            f'<polygon points="{x:.1f},{y - 13:.1f} {x + 13:.1f},{y:.1f} {x:.1f},{y + 13:.1f} {x - 13:.1f},'
            f'{y:.1f}" fill="{color}">{t}</polygon>'
        )
    else:
        body = f'<rect x="{x - 14:.1f}" y="{y - 8:.1f}" width="28" height="16" rx="4" fill="{color}">{t}</rect>'
    text = (
        f'<text x="{x:.1f}" y="{y + 24:.1f}" font-size="10" text-anchor="middle" fill="#1f2328">'
        f"{escape(label[:28])}</text>"
    )
    return body + text


def link_chart(g: nx.MultiDiGraph, width: int = 1000, height: int = 640) -> str:
    """Deterministic spring layout; money flows are solid arrows with amounts, links (owns, directs, holds) dashed."""
    if g.number_of_nodes() == 0:
        return (
            f'<svg viewBox="0 0 {width} 80" xmlns="http://www.w3.org/2000/svg"><text x="10" y="40">'
            "no graph</text></svg>"
        )
    simple = nx.Graph()
    simple.add_nodes_from(sorted(g.nodes))
    simple.add_edges_from((u, v) for u, v in g.edges())
    if simple.number_of_nodes() < 400:  # networkx switches to scipy (not a dependency) for larger graphs
        pos = nx.spring_layout(simple, seed=7, k=1.6 / math.sqrt(max(simple.number_of_nodes(), 1)), iterations=200)
    else:
        pos = nx.circular_layout(simple)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    minx, maxx, miny, maxy = min(xs), max(xs), min(ys), max(ys)
    pad = 90  # room for labels at the edges

    def xy(node: str) -> tuple[float, float]:
        px, py = pos[node]
        x = pad + (px - minx) / ((maxx - minx) or 1) * (width - 2 * pad)
        y = pad + (py - miny) / ((maxy - miny) or 1) * (height - 2 * pad)
        return float(x), float(y)

    parts = [
        f'<svg viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="link chart">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="22" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#57606a"/></marker></defs>',
    ]
    seen_pairs: dict[tuple[str, str], int] = {}
    for u, v, data in sorted(g.edges(data=True), key=lambda e: (e[0], e[1], str(e[2].get("transaction_id")))):
        (x1, y1), (x2, y2) = xy(u), xy(v)
        n = seen_pairs.get((u, v), 0)
        seen_pairs[(u, v)] = n + 1
        bend = 18 * n
        mx, my = (
            (x1 + x2) / 2 - bend * (y2 - y1) / (math.hypot(x2 - x1, y2 - y1) or 1),
            (y1 + y2) / 2 + bend * (x2 - x1) / (math.hypot(x2 - x1, y2 - y1) or 1),
        )
        if data.get("kind") == "transaction":
            amount = data.get("amount_local") or data.get("amount") or 0
            label = f"{float(amount):,.0f}"
            parts.append(
                f'<path d="M {x1:.1f} {y1:.1f} Q {mx:.1f} {my:.1f} {x2:.1f} {y2:.1f}" fill="none" stroke="#57606a" '
                f'stroke-width="1.4" marker-end="url(#arrow)"><title>{escape(str(data.get("transaction_id")))} '
                f"{escape(str(data.get('timestamp', '')))} {label}</title></path>"
                f'<text x="{mx:.1f}" y="{my - 3:.1f}" font-size="9" fill="#0550ae" text-anchor="middle">'
                f"{label}</text>"
            )
        else:
            parts.append(
                f'<path d="M {x1:.1f} {y1:.1f} Q {mx:.1f} {my:.1f} {x2:.1f} {y2:.1f}" fill="none" stroke="#8c959f" '
                f'stroke-width="1" stroke-dasharray="4 3"><title>{escape(str(data.get("kind")))}</title></path>'
                f'<text x="{mx:.1f}" y="{my - 3:.1f}" font-size="9" fill="#6e7781" text-anchor="middle">'
                f"{escape(str(data.get('kind')))}</text>"
            )
    for node in sorted(g.nodes):
        data = g.nodes[node]
        x, y = xy(node)
        label = str(data.get("label") or node)
        parts.append(_node_shape(str(data.get("kind", "party")), x, y, label, f"{data.get('kind')}: {label} ({node})"))
    parts.append("</svg>")
    return "".join(parts)


def timeline(transactions: list[dict[str, Any]], width: int = 1000, height: int = 220) -> str:
    """Transactions on a time axis; height by amount (log scale)."""
    rows = [t for t in transactions if isinstance(t.get("timestamp"), dt.datetime)]
    if not rows:
        return (
            f'<svg viewBox="0 0 {width} 60" xmlns="http://www.w3.org/2000/svg"><text x="10" y="30">'
            "no dated transactions</text></svg>"
        )
    t0 = min(r["timestamp"] for r in rows)
    t1 = max(r["timestamp"] for r in rows)
    total = (t1 - t0).total_seconds() or 1.0
    amounts = [max(float(r.get("amount_local") or r.get("amount") or 1), 1.0) for r in rows]
    lo, hi = math.log10(min(amounts)), math.log10(max(amounts))
    pad = 50
    parts = [
        f'<svg viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="timeline">',
        f'<line x1="{pad}" y1="{height - 30}" x2="{width - pad}" y2="{height - 30}" stroke="#57606a"/>',
        f'<text x="{pad}" y="{height - 10}" font-size="11">{t0:%Y-%m-%d %H:%M}</text>',
        f'<text x="{width - pad}" y="{height - 10}" font-size="11" text-anchor="end">{t1:%Y-%m-%d %H:%M}</text>',
    ]
    for r, amount in zip(rows, amounts, strict=True):
        x = pad + (r["timestamp"] - t0).total_seconds() / total * (width - 2 * pad)
        y = (height - 40) - ((math.log10(amount) - lo) / ((hi - lo) or 1)) * (height - 80)
        parts.append(
            f'<line x1="{x:.1f}" y1="{height - 30}" x2="{x:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#0969da"><title>{escape(str(r["transaction_id"]))} '
            f"{r['timestamp']:%Y-%m-%d %H:%M} {amount:,.2f}</title></circle>"
        )
        if len(rows) <= 40:
            parts.append(
                f'<text x="{x:.1f}" y="{y - 8:.1f}" font-size="9" text-anchor="middle" fill="#0550ae">'
                f"{amount:,.0f}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def render(
    case: dict[str, Any], g: nx.MultiDiGraph, transactions: list[dict[str, Any]], manifest_info: dict[str, Any]
) -> str:
    rows = []
    for f in case["findings"]:
        color = SEVERITY_COLOR.get(f["severity"], "#57606a")
        rows.append(
            f"<tr><td class='sev' style='color:{color}'>{escape(f['severity'])}</td><td>{escape(f['typology'])}</td>"
            f"<td>{escape(f['rule_id'])}</td><td>{f['score']:.2f}</td><td>{escape(f['explanation'])}</td></tr>"
        )
    subjects = "".join(
        f"<tr><td>{i + 1}</td><td>{escape(str(s.get('label') or s['id']))}</td><td>{escape(str(s.get('kind')))}</td>"
        f"<td>{s['centrality']:.3f}</td></tr>"
        for i, s in enumerate(case["subjects"][:25])
    )
    totals = ", ".join(f"{escape(cur)} {amt:,.2f}" for cur, amt in case["totals"].items())
    legend = "".join(
        f"<span><svg width='14' height='14' viewBox='0 0 14 14' style='border:0;width:14px'>"
        f"<rect width='14' height='14' fill='{c}'/></svg> {escape(k)}</span>"
        for k, (c, _) in KIND_STYLE.items()
        if k != "party"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Case {escape(case["case_id"])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body>
<h1>Case {escape(case["case_id"])} &mdash; risk {case["risk_score"]:.1f}/100</h1>
<p class="note">{escape(manifest_info.get("handling_note", ""))}</p>
<table>
<tr><th>Sender FIU</th><td>{escape(str(manifest_info.get("sender") or "-"))}</td>
<th>Recipient FIU</th><td>{escape(str(manifest_info.get("recipient") or "-"))}</td></tr>
<tr><th>Typologies</th><td>{escape(", ".join(case["typologies"]))}</td>
<th>Jurisdictions</th><td>{escape(", ".join(case["jurisdictions"]))}</td></tr>
<tr><th>Activity</th><td>{escape(str(case["first_activity"]))} &ndash; {escape(str(case["last_activity"]))}</td>
<th>Totals</th><td>{totals}</td></tr>
<tr><th>Transactions</th><td>{len(case["timeline"])}</td><th>Redaction</th>
<td>{escape(str(manifest_info.get("redaction") or "none"))}</td></tr>
</table>
<h2>Findings</h2>
<table><tr><th>Severity</th><th>Typology</th><th>Rule</th><th>Score</th><th>Explanation</th></tr>{"".join(rows)}</table>
<h2>Link chart</h2>
<div class="legend">{legend}<span>solid arrow: money (amount), dashed: ownership / control / holding</span></div>
{link_chart(g)}
<h2>Timeline</h2>
{timeline(transactions)}
<h2>Subjects by centrality</h2>
<table><tr><th>#</th><th>Subject</th><th>Kind</th><th>PageRank</th></tr>{subjects}</table>
<p style="font-size:11px;color:#57606a">Generated by finintel {escape(str(manifest_info.get("finintel_version")))}
(rule pack {escape(str(manifest_info.get("rule_pack_sha256", ""))[:12])}). Verify with
<code>finintel cases verify</code>.</p>
</body></html>
"""
