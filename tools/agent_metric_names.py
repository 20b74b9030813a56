#!/usr/bin/env python3
"""The Prometheus series names the agent's /metrics can serve, read from the Swift sources that register them.

    python3 tools/agent_metric_names.py [--root DIR] > known-metrics.txt

One name per line, with the suffixes a scrape shows: counters as registered (every name already ends in `_total`),
gauges as registered, histograms as `<name>_bucket`, `<name>_sum` and `<name>_count`. This is the list
`tools/validate_manifests.py --known-metrics` checks the Grafana dashboard's PromQL against.

Why the sources and not a scrape: a scrape of a running agent only shows the series that have been touched (a
histogram appears after its first sample, a labelled counter after its first label set), so an offline scrape would
miss names a dashboard rightly uses; the registration sites name every one. They are few and literal:

- swift-metrics through swift-prometheus 2.x (`Sources/Agent/AgentMetrics.swift`, the exporter):
  `add("NAME", ...)` (AgentMetrics' counter helper), `Counter(label: "NAME"`, `Gauge(label: "NAME"`,
  `Meter(label: "NAME"` (gauges), `Timer(label: "NAME"` and `Recorder(label: "NAME"` (histograms: swift-prometheus
  makes a duration or value histogram of them); swift-prometheus keeps the name as given (it adds no `_total`);
- the bus RED exposition (`BusREDMetrics+Exposition.swift`): each `FamilyFormat(name: "NAME", ..., histogram: BOOL)`
  and `overflowName = "NAME"` (a counter).

A registration site whose name is not a string literal cannot be read: it is an error (exit 1) rather than a name
silently missing. Sources/TraceCore/Synthesis and /Concurrency register nothing and are read like the rest.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# swift-metrics handles: kind of Prometheus family swift-prometheus 2.x makes of each.
HANDLE_KINDS = {"Counter": "counter", "FloatingPointCounter": "counter", "Gauge": "gauge", "Meter": "gauge",
                "Timer": "histogram", "Recorder": "histogram"}
HANDLE = re.compile(r"\b(?:Metrics\.)?(" + "|".join(HANDLE_KINDS) + r")\(\s*label:\s*(\S[^,)]*)")
ADD_ANY = re.compile(r"\badd\(\s*([^,()]*),")
FAMILY = re.compile(r"FamilyFormat\(\s*name:\s*(\"[^\"]*\")(.*?)histogram:\s*(true|false)\s*\)", re.S)
OVERFLOW = re.compile(r"\boverflowName\s*=\s*(\"[^\"]*\")")
LITERAL = re.compile(r"^\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"$")


def series(name: str, kind: str) -> list[str]:
    if kind == "histogram":
        return [f"{name}_bucket", f"{name}_sum", f"{name}_count"]
    return [name]


def collect(root: Path) -> tuple[dict[str, str], list[str]]:
    """Family name -> kind, and the problems (registration sites whose name is not a literal)."""
    families: dict[str, str] = {}
    problems: list[str] = []
    for path in sorted((root / "Sources").rglob("*.swift")):
        text = path.read_text(encoding="utf-8")
        where = lambda m: f"{path.relative_to(root)}:{text.count(chr(10), 0, m.start()) + 1}"  # noqa: E731
        for m in HANDLE.finditer(text):
            literal = LITERAL.match(m.group(2).strip())
            if literal is None:
                # AgentMetrics' add(name, ...) helper: its names are read at its call sites below.
                if not (path.name == "AgentMetrics.swift" and m.group(2).strip() == "name"):
                    problems.append(f"{where(m)}: {m.group(1)}(label: {m.group(2).strip()}) is not a string literal")
                continue
            families[literal.group(1)] = HANDLE_KINDS[m.group(1)]
        if path.name == "AgentMetrics.swift":
            for m in ADD_ANY.finditer(text):
                literal = LITERAL.match(m.group(1).strip())
                if literal is None:
                    if not m.group(1).startswith("_ "):  # the helper's own declaration
                        problems.append(f"{where(m)}: add({m.group(1).strip()}, ...) is not a string literal")
                    continue
                families[literal.group(1)] = "counter"
        for m in FAMILY.finditer(text):
            families[m.group(1).strip('"')] = "histogram" if m.group(3) == "true" else "counter"
        for m in OVERFLOW.finditer(text):
            families[m.group(1).strip('"')] = "counter"
    return families, problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=str(REPO), help="repository root (default: this script's repository)")
    ap.add_argument("--families", action="store_true", help="print family names and kinds instead of series names")
    args = ap.parse_args(argv)
    families, problems = collect(Path(args.root).resolve())
    for p in problems:
        print(f"ERROR {p}", file=sys.stderr)
    if not families:
        print(f"ERROR {args.root}: no metric registration found under Sources/", file=sys.stderr)
        return 1
    for name in sorted(families):
        if args.families:
            print(f"{name} {families[name]}")
        else:
            for s in series(name, families[name]):
                print(s)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
