#!/usr/bin/env python3
"""Draws the service graph the test oracle computes from the shipped captures as an SVG (the README's picture).

    python3 tools/render_service_graph.py              # writes docs/images/service-graph.svg
    python3 tools/render_service_graph.py --check      # exit 1 when that file differs from the edges

The edges come from docs/images/service-graph.json, which `ServiceGraphTests.readmeGraph` writes (UPDATE_GOLDEN=1)
and otherwise checks: the OpenTelemetry Collector's `servicegraph` connector rules (ServiceGraphOracle) applied to our
spans and the services' own of all shipped captures, summed. One box per service; a request edge (a call: CLIENT ->
SERVER) is solid, a messaging edge (a cast, fanout or notification: PRODUCER -> CONSUMER) dashed, a virtual node
(nothing answered: a timed-out call, an unroutable publish) dotted; each edge is labelled with its request count and,
in red, its failed count. Services are placed in columns by their distance from the callers nobody calls (nova-api,
the agents' own loops). Only the standard library, so the output is the same on every machine and --check is exact.
"""

from __future__ import annotations

import argparse
import json
import sys
from html import escape
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_EDGES = REPO / "docs" / "images" / "service-graph.json"
DEFAULT_OUTPUT = REPO / "docs" / "images" / "service-graph.svg"

BOX_W, BOX_H = 200, 30
COL_GAP, ROW_GAP = 150, 46
MARGIN = 16
TOP = 96
STYLE = {
    "request": ("#1f5fa8", ""),
    "messaging_system": ("#2e7d32", ' stroke-dasharray="6 4"'),
    "virtual_node": ("#777777", ' stroke-dasharray="2 3"'),
}
# Where an OpenStack service sits in the picture, by its role: callers, the conductor and neutron-server, the
# services they call, the listeners. Others are placed one column right of their first caller.
ROLE_COLUMN = {
    "nova-api": 0, "nova-conductor": 1, "neutron-server": 1, "nova-scheduler": 2, "nova-compute": 2,
    "nova-notify-listener": 3, "ceilometer-agent-notification": 3,
}
VIRTUAL = " (virtual)"


def node_of(edge: dict, side: str) -> str:
    """A virtual node (what the span's `peer.service` names, `unknown` without) is drawn apart from a real sender."""
    name = edge[side]
    return name + VIRTUAL if side == "server" and edge["connection_type"] == "virtual_node" else name


def columns_of(nodes: list[str], edges: list[dict]) -> dict[str, int]:
    column = {n: ROLE_COLUMN[n] for n in nodes if n in ROLE_COLUMN}
    for n in nodes:
        if n.endswith(VIRTUAL):
            column[n] = 3
    for _ in nodes:  # neutron's agents and other services: right of a caller, senders of unknown origin first
        for e in sorted(edges, key=lambda e: (e["client"], e["server"])):
            c, s = node_of(e, "client"), node_of(e, "server")
            if s not in column and c in column:
                column[s] = min(column[c] + 1, 3)
    for n in nodes:
        column.setdefault(n, 0)
    return column


def order_key(name: str) -> tuple:
    group = 0 if name.startswith("nova-") else 1 if name.startswith("neutron-") else 2
    return (name.endswith(VIRTUAL), group, name)


def label(out: list[str], x: float, y: float, edge: dict, color: str) -> None:
    """The request count, in red with the failed count when some failed (one text element: renderers differ on tspans)."""
    text = f'{edge["requests"]} ({edge["failed"]} failed)' if edge["failed"] else str(edge["requests"])
    width = 6.2 * len(text) + 6
    out.append(f'<rect x="{x - width / 2:.0f}" y="{y - 10:.0f}" width="{width:.0f}" height="13" fill="#ffffff" '
               f'fill-opacity="0.85"/>')
    fill = "#c62828" if edge["failed"] else color
    out.append(f'<text x="{x:.0f}" y="{y:.0f}" font-size="11" text-anchor="middle" fill="{fill}">{escape(text)}</text>')


def render(doc: dict) -> str:
    edges = sorted(doc["edges"], key=lambda e: (e["client"], e["server"], e["connection_type"]))
    nodes = sorted({node_of(e, "client") for e in edges} | {node_of(e, "server") for e in edges}, key=order_key)
    column = columns_of(nodes, edges)
    pos: dict[str, tuple[int, int]] = {}
    rows: dict[int, int] = {}
    for n in nodes:
        c = column[n]
        pos[n] = (MARGIN + c * (BOX_W + COL_GAP), TOP + rows.get(c, 0) * (BOX_H + ROW_GAP))
        rows[c] = rows.get(c, 0) + 1
    width = MARGIN * 2 + (max(column.values()) + 1) * (BOX_W + COL_GAP) - COL_GAP + 60
    height = TOP + max(rows.values()) * (BOX_H + ROW_GAP) + 60
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#444444"/></marker></defs>',
           f'<text x="{MARGIN}" y="{MARGIN + 14}" font-size="14" font-weight="bold">Service graph of the shipped '
           f'captures ({escape(doc.get("tool", "servicegraph connector"))} rules, {doc.get("captures", "?")} captures)'
           '</text>']
    labels: list[str] = []
    for e in edges:
        c, s = node_of(e, "client"), node_of(e, "server")
        (x1, y1), (x2, y2) = pos[c], pos[s]
        color, dash = STYLE[e["connection_type"]]
        side = {"request": -1, "messaging_system": 1, "virtual_node": 0}[e["connection_type"]]
        if c == s:  # a service calling itself (another host of it): a loop on the box's right end
            sx, sy, tx, ty = x1 + BOX_W - 40, y1, x1 + BOX_W, y1 + 8
            reach = 30 if side < 0 else 52
            path = f"M {sx} {sy} C {sx} {sy - reach} {tx + reach} {ty - reach} {tx} {ty}"
            lx, ly = tx + reach * 0.55, sy - reach * 0.7
        elif column[s] == column[c] + 1:  # forward to the next column: right end to left end
            sx, sy, tx, ty = x1 + BOX_W, y1 + BOX_H / 2 + 5 * side, x2, y2 + BOX_H / 2 + 5 * side
            mx, my = (sx + tx) / 2, (sy + ty) / 2 + 24 * side
            path = f"M {sx:.0f} {sy:.0f} Q {mx:.0f} {my:.0f} {tx:.0f} {ty:.0f}"
            lx, ly = (sx + 2 * mx + tx) / 4, (sy + 2 * my + ty) / 4 + 4 + 6 * side
        elif column[s] > column[c]:  # over a column: above the top row, or below a lower one
            over = y1 == TOP or y2 == TOP
            sx, tx = x1 + BOX_W / 2 + 30 * side, x2 + BOX_W / 2 + 30 * side
            sy, ty = (y1, y2) if over else (y1 + BOX_H, y2 + BOX_H)
            reach = 40 + 14 * side + 10 * abs(column[s] - column[c])
            if over:
                level = min(sy, ty) - reach
            else:  # under every box of the columns it passes
                lowest = max(y + BOX_H for n, (_, y) in pos.items() if column[c] <= column[n] <= column[s])
                level = lowest + reach - 20
            path = f"M {sx:.0f} {sy:.0f} C {sx:.0f} {level:.0f} {tx:.0f} {level:.0f} {tx:.0f} {ty:.0f}"
            lx, ly = (sx + tx) / 2, (sy + ty) / 8 + 3 * level / 4 + 4
        elif column[s] < column[c]:  # back: left end to right end, bent below
            sx, sy, tx, ty = x1, y1 + BOX_H - 4, x2 + BOX_W, y2 + BOX_H - 4
            mx, my = (sx + tx) / 2, max(sy, ty) + 36 + 14 * side
            path = f"M {sx:.0f} {sy:.0f} Q {mx:.0f} {my:.0f} {tx:.0f} {ty:.0f}"
            t = 0.22  # near its source: the middle is where the forward edges' labels are
            lx = (1 - t) ** 2 * sx + 2 * (1 - t) * t * mx + t * t * tx
            ly = (1 - t) ** 2 * sy + 2 * (1 - t) * t * my + t * t * ty + 4
        else:  # same column: an arc out of the right ends
            sx, sy, tx, ty = x1 + BOX_W, y1 + BOX_H / 2, x2 + BOX_W, y2 + BOX_H / 2
            mx, my = x1 + BOX_W + 70 + 20 * side, (sy + ty) / 2
            path = f"M {sx:.0f} {sy:.0f} Q {mx:.0f} {my:.0f} {tx:.0f} {ty:.0f}"
            lx, ly = (sx + 2 * mx + tx) / 4, (sy + 2 * my + ty) / 4 + 4
        out.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="1.6"{dash} marker-end="url(#arrow)"/>')
        label(labels, lx, ly, e, color)
    for n in nodes:
        x, y = pos[n]
        dashed = ' stroke-dasharray="3 3"' if n.endswith(VIRTUAL) else ""
        out.append(f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="#f5f7fa" stroke="#333333"{dashed}/>')
        out.append(f'<text x="{x + BOX_W / 2:.0f}" y="{y + 19}" font-size="12" text-anchor="middle">{escape(n)}</text>')
    out.extend(labels)
    ly = height - MARGIN - 4
    x = MARGIN
    for kind, text in (("request", "call (CLIENT → SERVER): calls (failed)"),
                       ("messaging_system", "cast, fanout, notification (PRODUCER → CONSUMER): messages"),
                       ("virtual_node", "nothing answered (virtual node: a timeout, an unread notification)")):
        color, dash = STYLE[kind]
        out.append(f'<line x1="{x}" y1="{ly - 4}" x2="{x + 34}" y2="{ly - 4}" stroke="{color}" stroke-width="1.6"{dash}/>')
        out.append(f'<text x="{x + 40}" y="{ly}" font-size="11">{escape(text)}</text>')
        x += 60 + 6 * len(text)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=Path, default=DEFAULT_EDGES)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 when --output differs from what --edges draws")
    args = parser.parse_args()
    svg = render(json.loads(args.edges.read_text()))
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != svg:
            print(f"ERROR {args.output}: differs from {args.edges}: run tools/render_service_graph.py")
            return 1
        print(f"ok   {args.output} matches {args.edges}")
        return 0
    args.output.write_text(svg)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
