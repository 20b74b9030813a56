#!/usr/bin/env python3
"""Draws a Grafana dashboard's panel layout (gridPos) as an SVG: one box per panel with its title and type.

    python3 tools/render_dashboard_layout.py                 # writes docs/images/dashboard-layout.svg
    python3 tools/render_dashboard_layout.py --check         # exit 1 when that file differs from the dashboard

Reads deploy/grafana/trace-bridge-dashboard.json by default. Rows are drawn as bands; a panel's box spans its
gridPos (24 columns; heights in Grafana's grid units, drawn smaller) and names the metrics its queries read
(`trace_bridge_` and histogram suffixes dropped). Only the standard library: the output is the
same on every machine, so --check can tell that the committed picture matches the JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from html import escape
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DASHBOARD = REPO / "deploy" / "grafana" / "trace-bridge-dashboard.json"
DEFAULT_OUTPUT = REPO / "docs" / "images" / "dashboard-layout.svg"

COLUMN = 40          # px per grid column (24 columns)
UNIT = 14            # px per grid height unit
MARGIN = 8
FILL = {"timeseries": "#e8f1fb", "stat": "#e9f7ec", "text": "#fdf6e3", "table": "#f3eefb"}


def panels(doc: dict) -> list[dict]:
    out = []
    for p in doc.get("panels") or []:
        out.append(p)
        if p.get("type") == "row" and p.get("collapsed"):
            out.extend(p.get("panels") or [])
    return out


def fit(text: str, width_px: int, char_px: float) -> str:
    room = max(int(width_px / char_px), 4)
    return text if len(text) <= room else text[: room - 1] + "…"


def render(doc: dict) -> str:
    items = [p for p in panels(doc) if isinstance(p.get("gridPos"), dict)]
    bottom = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in items), default=1)
    width, height = 24 * COLUMN + 2 * MARGIN, bottom * UNIT + 2 * MARGIN + 24
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{MARGIN}" y="{MARGIN + 12}" font-size="13" font-weight="bold">'
           f'{escape(str(doc.get("title", "")))}: panel layout (24-column grid)</text>']
    top = MARGIN + 24
    for p in items:
        g = p["gridPos"]
        x, y = MARGIN + g["x"] * COLUMN, top + g["y"] * UNIT
        w, h = g["w"] * COLUMN, g["h"] * UNIT
        title = str(p.get("title", ""))
        if p.get("type") == "row":
            out.append(f'<rect x="{x}" y="{y + 1}" width="{w}" height="{h - 2}" fill="#44546a"/>')
            out.append(f'<text x="{x + 6}" y="{y + h - 4}" font-size="11" fill="#ffffff" font-weight="bold">'
                       f'{escape(fit(title, w - 12, 6.2))}</text>')
            continue
        fill = FILL.get(str(p.get("type")), "#eeeeee")
        out.append(f'<rect x="{x + 2}" y="{y + 2}" width="{w - 4}" height="{h - 4}" rx="3" fill="{fill}" '
                   f'stroke="#8a9bb0"/>')
        out.append(f'<text x="{x + 8}" y="{y + 16}" font-size="11">{escape(fit(title, w - 16, 6.0))}</text>')
        families: list[str] = []
        for t in p.get("targets") or []:
            expr = re.sub(r"\{[^}]*\}|\b(?:by|without)\s*\([^)]*\)", " ", str(t.get("expr", "")))  # labels
            for name in re.findall(r"\b((?:trace_bridge|rpc|messaging)_[a-z_]+)", expr):
                name = re.sub(r"_(bucket|sum|count)$", "", name).removeprefix("trace_bridge_")
                if name not in families:
                    families.append(name)
        detail = f'{p.get("type")} #{p.get("id")}' + (f": {', '.join(families)}" if families else "")
        if h >= 3 * UNIT:
            out.append(f'<text x="{x + 8}" y="{y + 30}" font-size="9" fill="#5a6b80">'
                       f'{escape(fit(detail, w - 16, 5.0))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dashboard", default=str(DEFAULT_DASHBOARD))
    ap.add_argument("--output", default=str(DEFAULT_OUTPUT))
    ap.add_argument("--check", action="store_true", help="compare with --output instead of writing it")
    args = ap.parse_args(argv)
    svg = render(json.loads(Path(args.dashboard).read_text(encoding="utf-8")))
    out = Path(args.output)
    if args.check:
        if not out.is_file() or out.read_text(encoding="utf-8") != svg:
            print(f"ERROR {out}: differs from {args.dashboard}: run tools/render_dashboard_layout.py")
            return 1
        print(f"{out}: up to date")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(svg, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
