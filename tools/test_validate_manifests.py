#!/usr/bin/env python3
"""Self-test of tools/validate_manifests.py's collector-connector and dashboard checks.

    .venv/bin/python tools/test_validate_manifests.py

Copies deploy/ into a temporary root, checks that the copy validates (exit 0, no ERROR line), then breaks it one way
per case (tail_sampling ahead of the connectors, a connector whose metrics go nowhere, a dashboard with an unknown
metric, overlapping panels, ...) and checks that the validator exits 1 with the expected ERROR line. The known
metric names are the ones tools/agent_metric_names.py reads from this repository's Swift sources. Last, checks that
docs/images/dashboard-layout.svg is what tools/render_dashboard_layout.py draws from the dashboard, and
docs/images/service-graph.svg what tools/render_service_graph.py draws from the oracle's edges. Exit status 1
when any case fails; ConfigCommandTests (Tests/TraceCoreTests) runs this script.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import yaml

REPO = Path(__file__).resolve().parent.parent
TOOLS = REPO / "tools"
COLLECTOR = "deploy/kubernetes/collector/config.yaml"
DASHBOARD = "deploy/grafana/trace-bridge-dashboard.json"


def edit_yaml(path: Path, change: Callable[[dict], None]) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")


def panel(doc: dict, title_start: str) -> dict:
    return next(p for p in doc["panels"] if str(p.get("title", "")).startswith(title_start))


def pipelines(doc: dict) -> dict:
    return doc["service"]["pipelines"]


# --- collector cases

def sampler_ahead(doc: dict) -> None:
    pipelines(doc)["traces/all"]["processors"].append("tail_sampling")


def connectors_behind_forward_after_sampling(doc: dict) -> None:
    doc["connectors"]["forward/sampled"] = {}
    p = pipelines(doc)
    p["traces/sampled"]["exporters"].append("forward/sampled")
    p["traces/all"]["exporters"] = ["forward/sampling"]
    p["traces/metrics"] = {"receivers": ["forward/sampled"], "exporters": ["spanmetrics", "servicegraph"]}


def probabilistic_sampler_ahead(doc: dict) -> None:
    doc["processors"]["probabilistic_sampler"] = {"sampling_percentage": 10}
    pipelines(doc)["traces/all"]["processors"].insert(1, "probabilistic_sampler")


def no_metrics_pipeline(doc: dict) -> None:
    del pipelines(doc)["metrics/spans"]


def no_servicegraph(doc: dict) -> None:
    del doc["connectors"]["servicegraph"]
    pipelines(doc)["traces/all"]["exporters"].remove("servicegraph")
    pipelines(doc)["metrics/spans"]["receivers"].remove("servicegraph")


def undefined_exporter(doc: dict) -> None:
    pipelines(doc)["metrics/spans"]["exporters"] = ["prometheus/missing"]


def undefined_connector(doc: dict) -> None:
    pipelines(doc)["traces/all"]["exporters"].append("spanmetrics/extra")


def prometheus_port_not_exposed(doc: dict) -> None:
    doc["exporters"]["prometheus"]["endpoint"] = "0.0.0.0:9999"


# --- dashboard cases

def unknown_metric(doc: dict) -> None:
    t = panel(doc, "Export: spans exported")["targets"][0]
    t["expr"] = t["expr"].replace("trace_bridge_spans_exported_total", "trace_bridge_spans_sent_total")


def histogram_without_suffix(doc: dict) -> None:
    t = panel(doc, "Queue wait p95")["targets"][0]
    t["expr"] = t["expr"].replace("trace_bridge_messaging_queue_wait_seconds_bucket",
                                  "trace_bridge_messaging_queue_wait_seconds")


def unknown_metric_in_variable(doc: dict) -> None:
    v = next(v for v in doc["templating"]["list"] if v["name"] == "service")
    v["query"]["query"] = v["definition"] = "label_values(rpc_client_calls_total, service_name)"


def duplicate_id(doc: dict) -> None:
    panel(doc, "Queue wait p95")["id"] = panel(doc, "RPC call rate")["id"]


def overlap(doc: dict) -> None:
    panel(doc, "Queue wait p95")["gridPos"]["x"] = 6


def too_wide(doc: dict) -> None:
    panel(doc, "Queue wait p95")["gridPos"]["w"] = 13
    panel(doc, "Queue wait p95")["gridPos"]["x"] = 12
    panel(doc, "Messages sent by sender")["gridPos"]["x"] = 0


def datasource_not_variable(doc: dict) -> None:
    panel(doc, "RPC call rate")["targets"][0]["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}


def datasource_undeclared_variable(doc: dict) -> None:
    panel(doc, "RPC call rate")["datasource"] = {"type": "prometheus", "uid": "${prom}"}


def query_on_trace_datasource(doc: dict) -> None:
    panel(doc, "RPC call rate")["targets"][0]["datasource"] = {"type": "tempo", "uid": "${tracing}"}


def undeclared_variable_in_expr(doc: dict) -> None:
    t = panel(doc, "RPC call rate")["targets"][0]
    t["expr"] = t["expr"].replace('service_name=~"$service"', 'service_name=~"$caller"')


def no_trace_link(doc: dict) -> None:
    doc["links"] = []
    text = panel(doc, "Open a trace")
    text["options"]["content"] = "Paste a trace ID above."


def trace_link_without_trace_id(doc: dict) -> None:
    doc["links"][0]["url"] = "/explore?left=${tracing}"
    text = panel(doc, "Open a trace")
    text["options"]["content"] = "See [the trace backend](/explore?left=${tracing})."


def no_trace_backend_variable(doc: dict) -> None:
    doc["templating"]["list"] = [v for v in doc["templating"]["list"] if v["name"] != "tracing"]


CASES: list[tuple[str, str, Callable[[dict], None] | None, str]] = [
    # name, file, change, expected ERROR line (a substring of it)
    ("tail_sampling ahead of the connectors", COLLECTOR, sampler_ahead,
     "ERROR deploy/kubernetes/collector/config.yaml: pipeline 'traces/all' exports to 'spanmetrics' after sampling "
     "(its processor 'tail_sampling' samples)"),
    ("connectors fed through a forward connector after tail_sampling", COLLECTOR,
     connectors_behind_forward_after_sampling,
     "ERROR deploy/kubernetes/collector/config.yaml: pipeline 'traces/metrics' exports to 'servicegraph' after "
     "sampling (it receives from 'forward/sampled', fed by sampled pipeline 'traces/sampled')"),
    ("probabilistic_sampler ahead of the connectors", COLLECTOR, probabilistic_sampler_ahead,
     "pipeline 'traces/all' exports to 'servicegraph' after sampling (its processor 'probabilistic_sampler' samples)"),
    ("connectors feed no metrics pipeline", COLLECTOR, no_metrics_pipeline,
     "ERROR deploy/kubernetes/collector/config.yaml: connector 'spanmetrics' is not a receiver of any metrics "
     "pipeline: its metrics go nowhere"),
    ("no servicegraph connector", COLLECTOR, no_servicegraph,
     "ERROR deploy/kubernetes/collector/config.yaml: connectors has no servicegraph"),
    ("pipeline names an undefined exporter", COLLECTOR, undefined_exporter,
     "ERROR deploy/kubernetes/collector/config.yaml: pipeline 'metrics/spans' names exporter 'prometheus/missing', "
     "which exporters does not define"),
    ("pipeline names an undefined connector", COLLECTOR, undefined_connector,
     "pipeline 'traces/all' names exporter 'spanmetrics/extra', which exporters does not define"),
    ("prometheus exporter port is not a container port", COLLECTOR, prometheus_port_not_exposed,
     "container otel-collector: exporters.prometheus.endpoint listens on 9999, which is not a container port"),
    ("dashboard uses a metric the agent does not export", DASHBOARD, unknown_metric,
     "query A: metric 'trace_bridge_spans_sent_total' is not one the agent exports (not in --known-metrics)"),
    ("dashboard uses a histogram without its _bucket suffix", DASHBOARD, histogram_without_suffix,
     "metric 'trace_bridge_messaging_queue_wait_seconds' is not one the agent exports"),
    ("dashboard variable queries an unknown metric", DASHBOARD, unknown_metric_in_variable,
     "ERROR deploy/grafana/trace-bridge-dashboard.json variable service: metric 'rpc_client_calls_total' is not one "
     "the agent exports"),
    ("two panels share an id", DASHBOARD, duplicate_id, "'Queue wait p95 by destination': id 3 is also the id of panel"),
    ("two panels overlap", DASHBOARD, overlap, "'Messages sent by sender and kind': gridPos (12, 28, 12, 8) overlaps panel 9 'Queue wait p95 by "
     "destination' at (6, 28, 12, 8)"),
    ("a panel is wider than the grid", DASHBOARD, too_wide, "is outside the 24-column grid"),
    ("a query names a datasource by uid", DASHBOARD, datasource_not_variable,
     "query A: datasource 'P1809F7CD0C75ACF3' is not a template variable"),
    ("a panel names an undeclared datasource variable", DASHBOARD, datasource_undeclared_variable,
     "datasource ${prom} is not a declared datasource variable"),
    ("a PromQL query runs on the trace datasource", DASHBOARD, query_on_trace_datasource,
     "datasource ${tracing} is a tempo datasource, this query is prometheus"),
    ("a query uses an undeclared variable", DASHBOARD, undeclared_variable_in_expr,
     "query A: uses $caller, which is not a template variable of the dashboard"),
    ("no link to the trace backend", DASHBOARD, no_trace_link,
     "ERROR deploy/grafana/trace-bridge-dashboard.json: no dashboard, panel or data link opens the trace backend"),
    ("the trace links name no trace ID", DASHBOARD, trace_link_without_trace_id,
     "none uses a variable for the trace ID"),
    ("no trace backend variable", DASHBOARD, no_trace_backend_variable,
     "no datasource variable for the trace backend (type tempo or jaeger)"),
    ("the dashboard is not JSON", DASHBOARD, None, "ERROR deploy/grafana/trace-bridge-dashboard.json:1: invalid JSON"),
]


def run_validator(root: Path, known_metrics: Path) -> tuple[int, list[str]]:
    out = subprocess.run([sys.executable, str(TOOLS / "validate_manifests.py"), "--root", str(root), "--no-render",
                          "--known-metrics", str(known_metrics)], capture_output=True, text=True, timeout=120)
    return out.returncode, (out.stdout + out.stderr).splitlines()


def main() -> int:
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tb-validate-") as tmp:
        tmpdir = Path(tmp)
        names = subprocess.run([sys.executable, str(TOOLS / "agent_metric_names.py"), "--root", str(REPO)],
                               capture_output=True, text=True, timeout=60)
        if names.returncode != 0 or not names.stdout.strip():
            print(f"FAIL agent_metric_names.py: exit {names.returncode}: {names.stderr.strip()}")
            return 1
        known = tmpdir / "known-metrics.txt"
        known.write_text(names.stdout, encoding="utf-8")
        pristine = tmpdir / "pristine"
        shutil.copytree(REPO / "deploy", pristine / "deploy")
        status, lines = run_validator(pristine, known)
        errors = [l for l in lines if l.startswith("ERROR")]
        if status != 0 or errors:
            failures.append(f"the shipped deploy/ does not validate (exit {status}): " + "; ".join(errors))
        for n, (name, rel_path, change, expected) in enumerate(CASES, 1):
            root = tmpdir / f"case{n}"
            shutil.copytree(pristine, root)
            target = root / rel_path
            if change is None:
                target.write_text("{ not json", encoding="utf-8")
            elif rel_path.endswith(".json"):
                edit_json(target, change)
            else:
                edit_yaml(target, change)
            status, lines = run_validator(root, known)
            hit = [l for l in lines if l.startswith("ERROR") and expected in l]
            if status != 1 or not hit:
                errors = [l for l in lines if l.startswith("ERROR")] or lines[-3:]
                failures.append(f"{name}: expected exit 1 with an ERROR line containing {expected!r}; got exit "
                                f"{status}: " + " | ".join(errors))
            else:
                print(f"ok   {name}: {hit[0]}")
    # The README's pictures are current: each drawing tool's --check compares the committed SVG with its source.
    pictures = [("render_dashboard_layout.py", "docs/images/dashboard-layout.svg", "layout picture matches the dashboard"),
                ("render_service_graph.py", "docs/images/service-graph.svg",
                 "service graph picture matches docs/images/service-graph.json")]
    for tool, picture, what in pictures:
        check = subprocess.run([sys.executable, str(TOOLS / tool), "--check"], capture_output=True, text=True, timeout=60)
        if check.returncode != 0:
            failures.append(f"{picture}: {(check.stdout + check.stderr).strip()}")
        else:
            print(f"ok   the README's {what}")
    for f in failures:
        print(f"FAIL {f}")
    total = len(CASES) + 1 + len(pictures)
    print(f"{total - len(failures)} of {total} cases passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
