#!/usr/bin/env python3
"""Offline checks of the deployment material under deploy/.

    .venv/bin/python tools/validate_manifests.py --known-env ENV.txt --known-keys KEYS.txt --known-metrics METRICS.txt

What it checks, with no network and no cluster:

- every YAML file under deploy/kubernetes parses (multi-document, duplicate keys refused) and is used: a Kubernetes
  object listed by a kustomization.yaml, or a file one of its generators reads;
- every Kubernetes object validates against the bundled JSON schemas of one Kubernetes version (kubernetes-validate,
  strict: unknown fields are errors);
- every kustomization.yaml's resources, components, patches and generator files exist;
- the gateway collector's config: pipelines name only defined receivers, processors, exporters and connectors,
  service.extensions only defined extensions, tail_sampling policies are well formed, every ${env:NAME} it uses is set
  on the collector container, its receivers' and listening exporters' (prometheus) ports are container ports;
- the gateway's connectors: `spanmetrics` and `servicegraph` are defined, each is an exporter of a traces pipeline
  with no sampler (tail_sampling, probabilistic_sampler) in it or upstream of it (through a connector fed by a
  sampled pipeline), so the graphs and RED metrics count every span, and a receiver of a metrics pipeline; every
  connector is both an exporter of one pipeline and a receiver of another (the collector refuses anything else);
- every Grafana dashboard deploy/grafana/*.json: it parses; schemaVersion 36 or later; panel ids are unique; every
  gridPos lies inside the 24 columns and overlaps no other panel; every datasource (panel, query, variable,
  annotation) is `${VAR}` of a declared datasource variable (Prometheus queries on a prometheus one); every `$var` a
  query or link uses is declared; every metric name a PromQL query or a label_values() variable selects is in
  --known-metrics; a datasource variable names the trace backend (tempo or jaeger) and some dashboard, panel or
  data link (or text panel link) opens it with a trace-ID variable;
- the agents' config files (configMapGenerator inputs, YAML values of ConfigMap data, deploy/systemd/config.yaml):
  every key, as a dotted path, is in --known-keys; enumerated values are valid; no amqp.url (the password belongs in
  a Secret file); http.listen is the metrics port; the role matches the workload; shutdown.grace_seconds is below
  the Pod's terminationGracePeriodSeconds (and the unit's TimeoutStopSec);
- cross-checks: agent containers expose 9464 named `metrics`, their probes (/healthz liveness, /readyz readiness)
  and the Services' targetPorts resolve to it; Services select some Pod template of their kustomization and every
  targetPort resolves; one agent image name everywhere (manifests and kustomize `images`); every environment
  variable an agent container or the systemd unit/env example sets is in --known-env; OTEL_EXPORTER_OTLP_ENDPOINT
  names a Service and port of the collector; agent Pods disable Service links (Kubernetes would inject
  TRACE_BRIDGE_<SERVICE>_SERVICE_HOST-style variables); volumes, mounts and ConfigMap references resolve; every
  container runs as non-root with a read-only root, no privilege escalation, all capabilities dropped and resource
  requests and limits;
- when kubectl (or kustomize) is on PATH: every top-level kustomization renders, and the rendered objects validate
  too (--no-render to skip).

Exit status 1 with one `ERROR <where>: <what>` line per problem; 0 otherwise. The last line is always
`validated N objects in M files`.

--known-metrics: the Prometheus series names the agent serves (`_total` counters, gauges, `_bucket`/`_sum`/`_count`
of histograms), one per line, as `tools/agent_metric_names.py` prints them. That list is read from the Swift
sources' registration sites (swift-metrics handles and the bus RED exposition), not from a scrape: a scrape shows
only the series already touched (a histogram appears with its first sample), so a scrape taken offline would reject
names a dashboard rightly uses; the registrations name all of them, and the script fails on a registration whose
name it cannot read. tools/test_validate_manifests.py proves each connector and dashboard check fails when it should.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

try:
    import kubernetes_validate
    import kubernetes_validate.utils as kv_utils
    from kubernetes_validate.version import __version__ as KV_VERSION
except ImportError:  # pragma: no cover - reported as a problem below
    kubernetes_validate = None
    KV_VERSION = None

REPO = Path(__file__).resolve().parent.parent
DEFAULT_K8S_VERSION = "1.30"

AGENT_IMAGE = "trace-bridge"          # the agent's image name (last path component, without tag or digest)
AGENT_PORT = 9464
AGENT_PORT_NAME = "metrics"
AGENT_LIVENESS_PATH = "/healthz"
AGENT_READINESS_PATH = "/readyz"
OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"

# Values the agent accepts for its enumerated keys (see the agent's configuration reference).
AGENT_ENUMS = {
    "source.mode": {"firehose", "publish-only", "selective", "tap"},
    "source.role": {"control-plane", "hypervisor"},
    "synthesis.sender_traced": {"complement", "full"},
    "export.protocol": {"grpc", "http/protobuf", "http/json"},
    "export.compression": {"gzip", "none"},
    "log.format": {"logfmt", "json"},
}

WORKLOAD_KINDS = {"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "CronJob", "Pod"}
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
COLLECTOR_PIPELINE_TYPES = {"traces", "metrics", "logs", "profiles"}
# Connectors that must see every span (the gateway's service graph and span metrics), and the processors that drop
# spans by sampling: none of them may be upstream of those connectors.
UNSAMPLED_CONNECTORS = ("spanmetrics", "servicegraph")
SAMPLER_TYPES = {"tail_sampling", "probabilistic_sampler", "sampling"}
# Exporters that listen (scraped), whose endpoint port must be a container port.
LISTENING_EXPORTERS = {"prometheus"}
ENV_REF = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")


# --------------------------------------------------------------------------------------------------------------------
# Problems and YAML loading


class Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        line = f"ERROR {where}: {message}"
        if line not in self.lines:
            self.lines.append(line)

    def __bool__(self) -> bool:
        return bool(self.lines)


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"duplicate key {key!r}", key_node.start_mark)
        seen[key] = True
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


ROOT = REPO  # set from --root


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def load_docs(path: Path, problems: Problems) -> list[Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        problems.add(rel(path), f"cannot read: {e.strerror}")
        return None
    try:
        return [d for d in yaml.load_all(text, Loader=UniqueKeyLoader) if d is not None]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{rel(path)}:{mark.line + 1}" if mark else rel(path)
        problems.add(where, f"invalid YAML: {getattr(e, 'problem', None) or e}")
        return None


def read_name_list(path: str, problems: Problems, what: str) -> set[str]:
    names: set[str] = set()
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        problems.add(path, f"cannot read {what} list: {e.strerror}")
        return names
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line.split()[0])
    return names


# --------------------------------------------------------------------------------------------------------------------
# Grafana dashboards

GRAFANA_COLUMNS = 24
# Built-in datasources a dashboard may name without a variable (the annotation list's "Annotations & Alerts").
GRAFANA_BUILTIN_DATASOURCES = {"-- Grafana --", "grafana", "-- Dashboard --", "-- Mixed --"}
GRAFANA_GLOBAL_VARIABLES = re.compile(r"^__")       # $__rate_interval, $__interval, ${__field.labels.x}, ...
TRACE_BACKENDS = {"tempo", "jaeger"}
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
                   "offset", "inf", "nan", "atan2", "start", "end"}
VARIABLE_REF = re.compile(r"\$\{([A-Za-z0-9_.]+)(?::[^}]*)?\}|\[\[([A-Za-z0-9_]+)(?::[^\]]*)?\]\]|\$([A-Za-z0-9_]+)")


def variable_refs(text: str) -> set[str]:
    """Names of the Grafana variables a string uses ($name, ${name}, ${name:format}, [[name]]), without globals."""
    out = set()
    for m in VARIABLE_REF.finditer(text):
        name = (m.group(1) or m.group(2) or m.group(3)).split(".", 1)[0]
        if not GRAFANA_GLOBAL_VARIABLES.match(name):
            out.add(name)
    return out


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions, keywords, labels (inside
    matchers or by/without/on/ignoring/group_* lists), durations, numbers or Grafana variables."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\]", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", s):
        if m.group(2) or m.group(1).lower() in PROMQL_KEYWORDS:
            continue
        names.add(m.group(1))
    return names


def variable_query_exprs(query: str) -> list[str]:
    """The PromQL inside a Prometheus query variable: label_values(EXPR, label), query_result(EXPR)."""
    m = re.match(r"^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$", query, re.S)
    if m:
        return [m.group(1)]
    m = re.match(r"^\s*query_result\((.*)\)\s*$", query, re.S)
    if m:
        return [m.group(1)]
    return []


def walk_panels(panels: list, parent: str = "") -> Iterable[tuple[dict, bool]]:
    """Every panel, and whether it sits inside a collapsed row (such panels keep their own gridPos space)."""
    for p in panels or []:
        if not isinstance(p, dict):
            continue
        yield p, bool(parent)
        if p.get("type") == "row" and p.get("panels"):
            yield from walk_panels(p["panels"], parent=str(p.get("title")))


# --------------------------------------------------------------------------------------------------------------------
# Model


@dataclass
class Obj:
    doc: dict
    file: Path

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))

    @property
    def name(self) -> str:
        meta = self.doc.get("metadata") or {}
        return str(meta.get("name", "")) if isinstance(meta, dict) else ""

    @property
    def where(self) -> str:
        return f"{rel(self.file)} {self.kind}/{self.name}"


@dataclass
class GeneratedConfig:
    """A config file in a ConfigMap: a configMapGenerator input, or a YAML value of a ConfigMap's data."""
    name: str
    key: str
    file: Path
    doc: Any          # None when the file did not parse (already reported)
    text: str = ""


@dataclass
class Kustomization:
    dir: Path
    file: Path
    doc: dict
    children: list["Kustomization"] = field(default_factory=list)
    objects: list[Obj] = field(default_factory=list)           # its own resource files
    configs: list[GeneratedConfig] = field(default_factory=list)
    referenced: bool = False                                    # listed by another kustomization

    def all_objects(self) -> list[Obj]:
        out = list(self.objects)
        for c in self.children:
            out.extend(c.all_objects())
        return out

    def all_configs(self) -> list[GeneratedConfig]:
        out = list(self.configs)
        for c in self.children:
            out.extend(c.all_configs())
        return out


def is_collector_config(doc: Any) -> bool:
    return isinstance(doc, dict) and "receivers" in doc and "exporters" in doc and "service" in doc


def image_base(image: str) -> str:
    image = image.split("@", 1)[0]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def pod_spec(obj: Obj) -> dict | None:
    d = obj.doc
    try:
        if obj.kind == "Pod":
            return d["spec"]
        if obj.kind == "CronJob":
            return d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        if obj.kind in WORKLOAD_KINDS:
            return d["spec"]["template"]["spec"]
    except (KeyError, TypeError):
        return None
    return None


def pod_labels(obj: Obj) -> dict:
    d = obj.doc
    try:
        if obj.kind == "Pod":
            return d["metadata"].get("labels") or {}
        if obj.kind == "CronJob":
            return d["spec"]["jobTemplate"]["spec"]["template"]["metadata"].get("labels") or {}
        return d["spec"]["template"]["metadata"].get("labels") or {}
    except (KeyError, TypeError, AttributeError):
        return {}


def containers(spec: dict) -> list[dict]:
    return [c for c in (spec.get("initContainers") or []) + (spec.get("containers") or []) if isinstance(c, dict)]


def flatten_keys(doc: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                yield from flatten_keys(v, path)
            else:
                yield path, v


def get_path(doc: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def port_of(endpoint: Any) -> int | None:
    """The port of host:port, [v6]:port, or scheme://host:port/path."""
    if not isinstance(endpoint, str):
        return None
    m = re.match(r"^(?:[a-z][a-z0-9+.-]*://)?(\[[^\]]*\]|[^/:]*)(?::(\d+))?", endpoint.strip())
    if m and m.group(2):
        return int(m.group(2))
    return None


def host_of(endpoint: str) -> str:
    m = re.match(r"^(?:[a-z][a-z0-9+.-]*://)?(\[[^\]]*\]|[^/:]*)", endpoint.strip())
    return m.group(1) if m else ""


def resolve_port(port: Any, container: dict) -> int | None:
    """A probe's or Service's port (number or name) as a number of this container's ports, or None."""
    for p in container.get("ports") or []:
        if isinstance(port, int) and p.get("containerPort") == port:
            return port
        if isinstance(port, str) and p.get("name") == port:
            return p.get("containerPort")
    return None


# --------------------------------------------------------------------------------------------------------------------
# The checker


class Checker:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.p = Problems()
        global ROOT
        self.root = ROOT = Path(args.root).resolve()
        self.kroot = self.root / "deploy" / "kubernetes"
        self.files_read: set[Path] = set()
        self.objects_validated = 0
        self.rendered = 0
        self.kustomizations: dict[Path, Kustomization] = {}
        self.used_files: set[Path] = set()
        self.known_env: set[str] | None = None
        self.known_keys: set[str] | None = None
        self.notes: list[str] = []
        env = set(args.env or [])
        for f in args.known_env or []:
            env |= read_name_list(f, self.p, "environment variable")
        if args.known_env or args.env:
            self.known_env = env
        keys = set(args.key or [])
        for f in args.known_keys or []:
            keys |= read_name_list(f, self.p, "config key")
        if args.known_keys or args.key:
            self.known_keys = keys
        self.known_metrics: set[str] | None = None
        metrics = set(args.metric or [])
        for f in args.known_metrics or []:
            metrics |= read_name_list(f, self.p, "metric name")
        if args.known_metrics or args.metric:
            self.known_metrics = metrics

    # ---- loading

    def load(self, path: Path) -> list[Any] | None:
        self.files_read.add(path.resolve())
        return load_docs(path, self.p)

    def load_kustomization(self, d: Path) -> Kustomization | None:
        d = d.resolve()
        if d in self.kustomizations:
            return self.kustomizations[d]
        kfile = next((d / n for n in KUSTOMIZATION_NAMES if (d / n).is_file()), None)
        if kfile is None:
            return None
        docs = self.load(kfile)
        self.used_files.add(kfile.resolve())
        doc = docs[0] if docs and isinstance(docs[0], dict) else {}
        k = Kustomization(dir=d, file=kfile, doc=doc)
        self.kustomizations[d] = k
        where = rel(kfile)
        if docs is not None and (len(docs) != 1 or not isinstance(docs[0], dict)):
            self.p.add(where, "a kustomization must be exactly one YAML mapping")
            return k
        if doc.get("kind", "Kustomization") not in ("Kustomization", "Component"):
            self.p.add(where, f"kind {doc.get('kind')!r} is not Kustomization or Component")

        def local(entry: Any, what: str) -> Path | None:
            if not isinstance(entry, str) or not entry:
                self.p.add(where, f"{what} entry {entry!r} is not a path")
                return None
            if "://" in entry or entry.startswith(("github.com/", "git@")):
                self.p.add(where, f"{what} {entry!r} is remote: it cannot be checked offline")
                return None
            return (d / entry).resolve()

        for what in ("resources", "components"):
            for entry in doc.get(what) or []:
                path = local(entry, what)
                if path is None:
                    continue
                if path.is_dir():
                    child = self.load_kustomization(path)
                    if child is None:
                        self.p.add(where, f"{what} {entry!r} is a directory without a kustomization.yaml")
                    else:
                        child.referenced = True
                        k.children.append(child)
                elif path.is_file():
                    self.used_files.add(path)
                    docs = self.load(path)
                    for i, o in enumerate(docs or []):
                        if not isinstance(o, dict) or "apiVersion" not in o or "kind" not in o:
                            self.p.add(rel(path), f"document {i + 1} is not a Kubernetes object "
                                                  "(no apiVersion/kind)")
                            continue
                        k.objects.append(Obj(o, path))
                        if o.get("kind") == "ConfigMap":
                            self.inline_configs(k, Obj(o, path))
                else:
                    self.p.add(where, f"{what} {entry!r} does not exist")
        for entry in doc.get("patches") or []:
            if isinstance(entry, dict) and "path" in entry:
                path = local(entry["path"], "patches path")
                if path is not None:
                    if path.is_file():
                        self.used_files.add(path)
                        self.load(path)
                    else:
                        self.p.add(where, f"patch {entry['path']!r} does not exist")
        for entry in doc.get("patchesStrategicMerge") or []:
            path = local(entry, "patchesStrategicMerge")
            if path is not None:
                if path.is_file():
                    self.used_files.add(path)
                    self.load(path)
                else:
                    self.p.add(where, f"patch {entry!r} does not exist")
        for gen in ("configMapGenerator", "secretGenerator"):
            for g in doc.get(gen) or []:
                if not isinstance(g, dict) or not g.get("name"):
                    self.p.add(where, f"{gen} entry without a name")
                    continue
                for f in g.get("files") or []:
                    key, _, fname = str(f).rpartition("=") if "=" in str(f) else ("", "", str(f))
                    path = local(fname, f"{gen} {g['name']} file")
                    if path is None:
                        continue
                    if not path.is_file():
                        self.p.add(where, f"{gen} {g['name']}: file {fname!r} does not exist")
                        continue
                    self.used_files.add(path)
                    if gen == "configMapGenerator" and path.suffix in (".yaml", ".yml"):
                        docs = self.load(path)
                        if docs is not None and len(docs) != 1:
                            self.p.add(rel(path), "a config file must hold exactly one YAML document")
                        # Recorded even when unreadable (doc None), so that references to it still resolve.
                        cfg = docs[0] if docs is not None and len(docs) == 1 else None
                        k.configs.append(GeneratedConfig(g["name"], key or path.name, path, cfg,
                                                         path.read_text(encoding="utf-8")))
                for f in g.get("envs") or []:
                    path = local(f, f"{gen} {g['name']} envs")
                    if path is not None and not path.is_file():
                        self.p.add(where, f"{gen} {g['name']}: envs file {f!r} does not exist")
                    elif path is not None:
                        self.used_files.add(path)
        return k

    def inline_configs(self, k: Kustomization, cm: Obj) -> None:
        """YAML values of a ConfigMap's data (e.g. data: {config.yaml: |...}) are config files too."""
        for key, value in ((cm.doc.get("data") or {}).items()):
            if not str(key).endswith((".yaml", ".yml")) or not isinstance(value, str):
                continue
            try:
                docs = [d for d in yaml.load_all(value, Loader=UniqueKeyLoader) if d is not None]
            except yaml.YAMLError as e:
                self.p.add(f"{cm.where} data.{key}", f"invalid YAML: {getattr(e, 'problem', None) or e}")
                docs = None
            if docs is not None and len(docs) != 1:
                self.p.add(f"{cm.where} data.{key}", "a config file must hold exactly one YAML document")
            cfg = docs[0] if docs is not None and len(docs) == 1 else None
            k.configs.append(GeneratedConfig(cm.name, str(key), cm.file, cfg, value))

    # ---- schema validation

    def validate_schema(self, obj: Obj, where: str | None = None) -> bool:
        where = where or obj.where
        if kubernetes_validate is None:
            return False
        try:
            kubernetes_validate.validate(obj.doc, self.args.k8s_version, strict=True)
            return True
        except kv_utils.ValidationError as e:
            path = ".".join(str(x) for x in e.path) or "(top level)"
            self.p.add(where, f"schema (Kubernetes {e.version}): {path}: {e.message}")
        except kv_utils.SchemaNotFoundError as e:
            self.p.add(where, e.message)
        except kv_utils.VersionNotSupportedError as e:
            self.p.add("--k8s-version", e.message)
        except Exception as e:  # noqa: BLE001 - any other failure is a problem to report, not a crash
            self.p.add(where, f"could not be validated: {e}")
        return False

    # ---- agent configuration files

    def check_agent_config(self, doc: Any, where: str) -> None:
        if not isinstance(doc, dict):
            self.p.add(where, "agent config is not a YAML mapping")
            return
        for key, value in flatten_keys(doc):
            if self.known_keys is not None and key not in self.known_keys:
                self.p.add(where, f"unknown config key {key!r} (not in --known-keys)")
            allowed = AGENT_ENUMS.get(key)
            if allowed is not None and value not in allowed:
                self.p.add(where, f"{key}: {value!r} is not one of {', '.join(sorted(allowed))}")
        if get_path(doc, "amqp.url") is not None:
            self.p.add(where, "amqp.url holds the broker password in a config file: use amqp.url_file "
                              "(a mounted Secret)")
        if get_path(doc, "source.role") is None:
            self.p.add(where, "source.role is not set")

    # ---- collector configuration

    def check_collector_config(self, doc: dict, where: str) -> None:
        defined: dict[str, set[str]] = {}
        for section in ("receivers", "processors", "exporters", "extensions", "connectors"):
            sec = doc.get(section) or {}
            if not isinstance(sec, dict):
                self.p.add(where, f"{section} is not a mapping")
                sec = {}
            defined[section] = set(map(str, sec))
        service = doc.get("service") or {}
        for ext in service.get("extensions") or []:
            if ext not in defined["extensions"]:
                self.p.add(where, f"service.extensions names {ext!r}, which extensions does not define")
        pipelines = service.get("pipelines") or {}
        if not pipelines:
            self.p.add(where, "service.pipelines is empty")
        for pname, pipe in pipelines.items():
            if str(pname).split("/", 1)[0] not in COLLECTOR_PIPELINE_TYPES:
                self.p.add(where, f"pipeline {pname!r}: unknown signal type")
            pipe = pipe or {}
            for role, section, extra in (("receivers", "receivers", "connectors"),
                                         ("processors", "processors", None),
                                         ("exporters", "exporters", "connectors")):
                ids = pipe.get(role) or []
                if role != "processors" and not ids:
                    self.p.add(where, f"pipeline {pname!r} has no {role}")
                for cid in ids:
                    if cid not in defined[section] and not (extra and cid in defined[extra]):
                        self.p.add(where, f"pipeline {pname!r} names {role[:-1]} {cid!r}, "
                                          f"which {section} does not define")
        for pid, cfg in (doc.get("processors") or {}).items():
            if str(pid).split("/", 1)[0] == "tail_sampling":
                self.check_tail_sampling(cfg or {}, f"{where} processors.{pid}")
        self.check_connectors(doc, pipelines, defined["connectors"], where)

    def check_connectors(self, doc: dict, pipelines: dict, connectors: set[str], where: str) -> None:
        """Connectors join pipelines; spanmetrics and servicegraph must see every span, before any sampler.

        A pipeline is *sampled* when one of its processors samples, or when it receives from a connector that a
        sampled pipeline exports to (a forward connector after tail_sampling passes only what was kept).
        """
        def ctype(cid: str) -> str:
            return str(cid).split("/", 1)[0]

        def ids(pipe: Any, role: str) -> list[str]:
            return [str(i) for i in ((pipe or {}).get(role) or [])] if isinstance(pipe, dict) else []

        as_exporter: dict[str, list[str]] = {}
        as_receiver: dict[str, list[str]] = {}
        for pname, pipe in pipelines.items():
            for cid in ids(pipe, "exporters"):
                if cid in connectors:
                    as_exporter.setdefault(cid, []).append(str(pname))
            for cid in ids(pipe, "receivers"):
                if cid in connectors:
                    as_receiver.setdefault(cid, []).append(str(pname))
        # The collector refuses a connector that is not both an exporter of one pipeline and a receiver of another.
        for cid in sorted(set(as_exporter) | set(as_receiver)):
            if cid not in as_receiver:
                self.p.add(where, f"connector {cid!r} is an exporter of {', '.join(as_exporter[cid])} but the receiver "
                                  "of no pipeline")
            if cid not in as_exporter:
                self.p.add(where, f"connector {cid!r} is a receiver of {', '.join(as_receiver[cid])} but the exporter "
                                  "of no pipeline")
        sampled: dict[str, str] = {}     # pipeline -> why
        changed = True
        while changed:
            changed = False
            for pname, pipe in pipelines.items():
                pname = str(pname)
                if pname in sampled:
                    continue
                samplers = [p for p in ids(pipe, "processors") if ctype(p) in SAMPLER_TYPES]
                if samplers:
                    sampled[pname] = f"its processor {samplers[0]!r} samples"
                else:
                    for cid in ids(pipe, "receivers"):
                        upstream = [u for u in as_exporter.get(cid, []) if u in sampled]
                        if cid in connectors and upstream:
                            sampled[pname] = f"it receives from {cid!r}, fed by sampled pipeline {upstream[0]!r}"
                            break
                if pname in sampled:
                    changed = True
        for kind in UNSAMPLED_CONNECTORS:
            cids = sorted(c for c in connectors if ctype(c) == kind)
            if not cids:
                self.p.add(where, f"connectors has no {kind}: the gateway must compute "
                                  f"{'service graph' if kind == 'servicegraph' else 'span'} metrics on every span")
            for cid in cids:
                feeders = [pn for pn in as_exporter.get(cid, []) if pn.split("/", 1)[0] == "traces"]
                if not feeders:
                    self.p.add(where, f"connector {cid!r} is not an exporter of any traces pipeline")
                for pn in feeders:
                    if pn in sampled:
                        self.p.add(where, f"pipeline {pn!r} exports to {cid!r} after sampling ({sampled[pn]}): "
                                          f"{cid} must see every span, ahead of tail_sampling")
                if not any(pn.split("/", 1)[0] == "metrics" for pn in as_receiver.get(cid, [])):
                    self.p.add(where, f"connector {cid!r} is not a receiver of any metrics pipeline: its metrics go "
                                      "nowhere")

    def check_tail_sampling(self, cfg: dict, where: str) -> None:
        policies = cfg.get("policies")
        if not policies:
            self.p.add(where, "no policies (required)")
            return
        names = set()
        for i, pol in enumerate(policies):
            if not isinstance(pol, dict):
                self.p.add(where, f"policy {i + 1} is not a mapping")
                continue
            name, ptype = pol.get("name"), pol.get("type")
            if not name:
                self.p.add(where, f"policy {i + 1} has no name")
            elif name in names:
                self.p.add(where, f"policy name {name!r} is used twice")
            names.add(name)
            if not ptype:
                self.p.add(where, f"policy {name!r} has no type")
            elif ptype != "always_sample" and not isinstance(pol.get(ptype), dict):
                self.p.add(where, f"policy {name!r} of type {ptype} has no {ptype}: block")

    # ---- workloads, Services and their cross-references (one kustomization tree at a time)

    def check_unit(self, k: Kustomization) -> None:
        objs = k.all_objects()
        configs = {c.name: c for c in k.all_configs()}
        configmaps = {o.name for o in objs if o.kind == "ConfigMap"} | set(configs)
        workloads = [o for o in objs if pod_spec(o) is not None]
        for w in workloads:
            self.check_workload(w, configs, configmaps)
        for s in (o for o in objs if o.kind == "Service"):
            self.check_service(s, workloads)

    def check_workload(self, w: Obj, configs: dict[str, GeneratedConfig], configmaps: set[str]) -> None:
        spec = pod_spec(w) or {}
        psc = spec.get("securityContext") or {}
        volumes = {v.get("name"): v for v in spec.get("volumes") or [] if isinstance(v, dict)}
        for vname, v in volumes.items():
            cm = (v.get("configMap") or {}).get("name")
            if cm is not None and cm not in configmaps and not (v["configMap"].get("optional")):
                self.p.add(w.where, f"volume {vname!r} uses ConfigMap {cm!r}, which this kustomization neither "
                                    "generates nor defines")
        for c in containers(spec):
            cw = f"{w.where} container {c.get('name')}"
            self.check_container_basics(c, psc, volumes, cw)
            image = str(c.get("image", ""))
            mounted = self.mounted_configs(c, volumes, configs)
            if image_base(image) == AGENT_IMAGE:
                self.check_agent_container(w, c, spec, volumes, mounted, cw)
            for path, gc in mounted.items():
                if gc.doc is not None and is_collector_config(gc.doc):
                    self.check_collector_container(c, gc, volumes, cw)

    def check_container_basics(self, c: dict, psc: dict, volumes: dict, cw: str) -> None:
        sc = c.get("securityContext") or {}
        if not (sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True):
            self.p.add(cw, "runAsNonRoot is not true (container or Pod securityContext)")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            self.p.add(cw, "runs as user 0")
        if sc.get("readOnlyRootFilesystem") is not True:
            self.p.add(cw, "securityContext.readOnlyRootFilesystem is not true")
        if sc.get("allowPrivilegeEscalation") is not False:
            self.p.add(cw, "securityContext.allowPrivilegeEscalation is not false")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            self.p.add(cw, "securityContext.capabilities.drop does not include ALL")
        if sc.get("privileged"):
            self.p.add(cw, "privileged")
        res = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in (res.get(kind) or {}):
                    self.p.add(cw, f"resources.{kind}.{r} is not set")
        names = [p.get("name") for p in c.get("ports") or [] if p.get("name")]
        for n in {n for n in names if names.count(n) > 1}:
            self.p.add(cw, f"port name {n!r} is used twice")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            pr = c.get(probe)
            if not pr:
                continue
            for how in ("httpGet", "tcpSocket", "grpc"):
                if how in pr and resolve_port(pr[how].get("port"), c) is None:
                    self.p.add(cw, f"{probe}.{how}.port {pr[how].get('port')!r} is not a port of the container")
        mounts = [m for m in c.get("volumeMounts") or [] if isinstance(m, dict)]
        for m in mounts:
            if m.get("name") not in volumes:
                self.p.add(cw, f"volumeMount {m.get('name')!r} names no volume of the Pod")
        paths = sorted(str(m.get("mountPath", "")).rstrip("/") for m in mounts)
        for a in paths:
            for b in paths:
                if a != b and b.startswith(a + "/"):
                    self.p.add(cw, f"mountPath {b} is inside mountPath {a} (nested volume mounts fail on "
                                   "read-only ConfigMap/Secret volumes)")

    def mounted_configs(self, c: dict, volumes: dict,
                        configs: dict[str, GeneratedConfig]) -> dict[str, GeneratedConfig]:
        """File path inside the container -> generated config mounted there."""
        out = {}
        for m in c.get("volumeMounts") or []:
            v = volumes.get(m.get("name")) or {}
            cm = (v.get("configMap") or {}).get("name")
            if cm not in configs:
                continue
            gc = configs[cm]
            items = (v.get("configMap") or {}).get("items")
            if items:
                for it in items:
                    if it.get("key") == gc.key:
                        out[f"{m['mountPath'].rstrip('/')}/{it.get('path')}"] = gc
            elif m.get("subPath"):
                if m["subPath"] == gc.key:
                    out[m["mountPath"]] = gc
            else:
                out[f"{m['mountPath'].rstrip('/')}/{gc.key}"] = gc
        return out

    def secret_file(self, c: dict, volumes: dict, path: str) -> bool:
        """Is `path` a file of a Secret volume mounted in this container?"""
        for m in c.get("volumeMounts") or []:
            base = str(m.get("mountPath", "")).rstrip("/") + "/"
            if not path.startswith(base):
                continue
            sec = (volumes.get(m.get("name")) or {}).get("secret")
            if sec is None:
                continue
            items = sec.get("items")
            name = path[len(base):]
            return not items or any(it.get("path") == name for it in items)
        return False

    def check_agent_container(self, w: Obj, c: dict, spec: dict, volumes: dict,
                              mounted: dict[str, GeneratedConfig], cw: str) -> None:
        if spec.get("enableServiceLinks", True) is not False:
            self.p.add(w.where, "enableServiceLinks is not false: Kubernetes would set <SERVICE>_SERVICE_HOST/_PORT "
                                "variables, e.g. TRACE_BRIDGE_..._SERVICE_HOST, among the agent's TRACE_BRIDGE_*")
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
        if ports.get(AGENT_PORT_NAME) != AGENT_PORT:
            self.p.add(cw, f"no container port {AGENT_PORT} named {AGENT_PORT_NAME!r}")
        for probe, path in (("livenessProbe", AGENT_LIVENESS_PATH), ("readinessProbe", AGENT_READINESS_PATH)):
            http = (c.get(probe) or {}).get("httpGet")
            if not http:
                self.p.add(cw, f"no {probe} (HTTP GET {path} on {AGENT_PORT})")
                continue
            if http.get("path") != path:
                self.p.add(cw, f"{probe} path is {http.get('path')!r}, expected {path}")
            if resolve_port(http.get("port"), c) != AGENT_PORT:
                self.p.add(cw, f"{probe} port {http.get('port')!r} is not {AGENT_PORT}")
        for e in c.get("env") or []:
            name = e.get("name")
            if self.known_env is not None and name not in self.known_env:
                self.p.add(cw, f"environment variable {name} is not one the agent reads (not in --known-env)")
            if name == OTLP_ENDPOINT_ENV and "value" in e:
                self.otlp_endpoints.append((cw, str(e["value"])))
        if c.get("envFrom"):
            self.p.add(cw, "envFrom: the variable names cannot be checked; list them under env")
        argv = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
        cfg_path = argv[argv.index("--config") + 1] if "--config" in argv[:-1] else None
        if cfg_path is None:
            self.p.add(cw, "no --config PATH in command/args")
            return
        gc = mounted.get(cfg_path)
        if gc is None:
            self.p.add(cw, f"--config {cfg_path}: no generated ConfigMap of this kustomization is mounted there")
            return
        self.agent_configs_in_pods.add((gc.file.resolve(), gc.name, gc.key))
        if gc.doc is None:
            return
        cwhere = f"{rel(gc.file)} (ConfigMap {gc.name}, used by {w.kind}/{w.name})"
        doc = gc.doc if isinstance(gc.doc, dict) else {}
        listen = get_path(doc, "http.listen")
        if port_of(listen) != AGENT_PORT:
            self.p.add(cwhere, f"http.listen {listen!r} is not port {AGENT_PORT}, the container's metrics port")
        elif host_of(str(listen)) in ("127.0.0.1", "localhost", "[::1]"):
            self.p.add(cwhere, f"http.listen {listen!r} is loopback: probes and the Service cannot reach it")
        role = get_path(doc, "source.role")
        component = pod_labels(w).get("app.kubernetes.io/component")
        if component in AGENT_ENUMS["source.role"] and role != component:
            self.p.add(cwhere, f"source.role {role!r} but the workload is labelled component={component}")
        grace = get_path(doc, "shutdown.grace_seconds")
        tgp = spec.get("terminationGracePeriodSeconds", 30)
        if isinstance(grace, (int, float)) and not grace < tgp:
            self.p.add(cwhere, f"shutdown.grace_seconds {grace} is not below the Pod's "
                               f"terminationGracePeriodSeconds {tgp}")
        url_file = get_path(doc, "amqp.url_file")
        if url_file and not self.secret_file(c, volumes, str(url_file)):
            self.p.add(cwhere, f"amqp.url_file {url_file} is not a file of a Secret volume mounted in {cw}")
        if role == "hypervisor" and get_path(doc, "source.host") is None:
            if not any(e.get("name") == "TRACE_BRIDGE_SOURCE_HOST" for e in c.get("env") or []):
                self.p.add(cw, "hypervisor role without source.host nor TRACE_BRIDGE_SOURCE_HOST")

    def check_collector_container(self, c: dict, gc: GeneratedConfig, volumes: dict, cw: str) -> None:
        env = {e.get("name") for e in c.get("env") or []}
        text = gc.text
        for m in ENV_REF.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            if text[text.rfind("\n", 0, m.start()) + 1:m.start()].lstrip().startswith("#"):
                continue  # in a comment
            if m.group(2) is None and m.group(1) not in env:
                self.p.add(f"{rel(gc.file)}:{line}", f"${{env:{m.group(1)}}} is not set on {cw}")
        cports = {p.get("containerPort") for p in c.get("ports") or []}
        doc = gc.doc
        for section in ("receivers", "extensions", "exporters"):
            for cid, cfg in (doc.get(section) or {}).items():
                if section == "exporters" and str(cid).split("/", 1)[0] not in LISTENING_EXPORTERS:
                    continue  # an exporter's endpoint is where it sends, not where it listens
                for key, value in flatten_keys(cfg or {}, f"{section}.{cid}"):
                    if key.endswith(".endpoint") and port_of(value) is not None and port_of(value) not in cports:
                        self.p.add(cw, f"{key} listens on {port_of(value)}, which is not a container port")
        mounts = [str(m.get("mountPath", "")).rstrip("/") + "/" for m in c.get("volumeMounts") or []]
        for key, value in flatten_keys(doc):
            if key.rsplit(".", 1)[-1] in ("ca_file", "cert_file", "key_file") and isinstance(value, str):
                if not any(value.startswith(m) for m in mounts):
                    self.p.add(f"{rel(gc.file)} {key}", f"{value} is not under any volume mounted in {cw}")
        self.collector_configs_in_pods.append(gc.doc)

    def check_service(self, s: Obj, workloads: list[Obj]) -> None:
        sel = (s.doc.get("spec") or {}).get("selector") or {}
        if not sel:
            return
        pods = [w for w in workloads if all(pod_labels(w).get(k) == v for k, v in sel.items())]
        if not pods:
            self.p.add(s.where, f"selector {sel} matches no Pod template of this kustomization")
            return
        cs = [c for w in pods for c in (pod_spec(w) or {}).get("containers") or []]
        is_agent = any(image_base(str(c.get("image", ""))) == AGENT_IMAGE for c in cs)
        ports = (s.doc.get("spec") or {}).get("ports") or []
        for p in ports:
            target = p.get("targetPort", p.get("port"))
            resolved = {resolve_port(target, c) for c in cs} - {None}
            if not resolved:
                self.p.add(s.where, f"port {p.get('name') or p.get('port')}: targetPort {target!r} is not a "
                                    "container port of the selected Pods")
            self.services.append((s, p, resolved))
        if is_agent:
            named = [p for p in ports if p.get("name") == AGENT_PORT_NAME]
            if not named:
                self.p.add(s.where, f"no port named {AGENT_PORT_NAME!r}")
            for p in named:
                if p.get("port") != AGENT_PORT:
                    self.p.add(s.where, f"port {AGENT_PORT_NAME!r} is {p.get('port')}, expected {AGENT_PORT}")
                if {resolve_port(p.get("targetPort", p.get("port")), c) for c in cs} - {None} != {AGENT_PORT}:
                    self.p.add(s.where, f"port {AGENT_PORT_NAME!r} does not target container port {AGENT_PORT}")

    # ---- images

    def check_images(self) -> None:
        agent_images = {}
        for k in self.kustomizations.values():
            for o in k.objects:
                for c in containers(pod_spec(o) or {}):
                    img = str(c.get("image", ""))
                    if image_base(img) == AGENT_IMAGE:
                        agent_images.setdefault(img, []).append(o.where)
        if len(agent_images) > 1:
            detail = "; ".join(f"{img} in {', '.join(sorted(set(w)))}" for img, w in sorted(agent_images.items()))
            self.p.add("deploy/kubernetes", f"the agent's image is named differently: {detail}")
        overrides = {}
        for k in self.kustomizations.values():
            for im in k.doc.get("images") or []:
                if isinstance(im, dict) and image_base(str(im.get("name", ""))) == AGENT_IMAGE:
                    key = (im.get("newName"), im.get("newTag"), im.get("digest"))
                    overrides.setdefault(key, []).append(rel(k.file))
                    if agent_images and im.get("name") not in agent_images:
                        self.p.add(rel(k.file), f"images entry {im.get('name')!r} matches no container image "
                                                f"(they use {', '.join(sorted(agent_images))})")
        if len(overrides) > 1:
            detail = "; ".join(f"{n}:{t or d} in {', '.join(w)}" for (n, t, d), w in overrides.items())
            self.p.add("deploy/kubernetes", f"kustomizations set different agent images: {detail}")
        # Any image written with a tag must not be :latest (pull-policy and reproducibility).
        for k in self.kustomizations.values():
            for o in k.objects:
                for c in containers(pod_spec(o) or {}):
                    img = str(c.get("image", ""))
                    if img.endswith(":latest"):
                        self.p.add(f"{o.where} container {c.get('name')}", f"image {img} uses the latest tag")

    # ---- OTLP endpoint -> collector Service

    def check_otlp_endpoints(self) -> None:
        for cw, endpoint in self.otlp_endpoints:
            host, port = host_of(endpoint), port_of(endpoint)
            svc_name = host.split(".", 1)[0]
            matches = [(s, p, r) for s, p, r in self.services if s.name == svc_name]
            if not matches:
                self.p.add(cw, f"{OTLP_ENDPOINT_ENV}={endpoint}: no Service named {svc_name!r} under deploy/kubernetes")
                continue
            hit = [(s, p, r) for s, p, r in matches if p.get("port") == port]
            if not hit:
                self.p.add(cw, f"{OTLP_ENDPOINT_ENV}={endpoint}: Service {svc_name} has no port {port}")
                continue
            collector_ports = set()
            for doc in self.collector_configs_in_pods:
                for cid, cfg in (doc.get("receivers") or {}).items():
                    for key, value in flatten_keys(cfg or {}):
                        if key.endswith("endpoint") and port_of(value):
                            collector_ports.add(port_of(value))
            targets = set().union(*(r for _, _, r in hit))
            if collector_ports and not targets & collector_ports:
                self.p.add(cw, f"{OTLP_ENDPOINT_ENV}={endpoint}: Service {svc_name} port {port} targets "
                               f"{sorted(targets)}, where no collector receiver listens ({sorted(collector_ports)})")

    # ---- systemd

    def check_systemd(self) -> None:
        sd = self.root / "deploy" / "systemd"
        unit_path = sd / "trace-bridge.service"
        cfg_path = sd / "config.yaml"
        grace = None
        if cfg_path.is_file():
            docs = self.load(cfg_path)
            if docs is not None:
                if len(docs) != 1:
                    self.p.add(rel(cfg_path), "a config file must hold exactly one YAML document")
                else:
                    self.check_agent_config(docs[0], rel(cfg_path))
                    grace = get_path(docs[0], "shutdown.grace_seconds")
                    if port_of(get_path(docs[0], "http.listen")) not in (None, AGENT_PORT):
                        self.p.add(rel(cfg_path), f"http.listen is not port {AGENT_PORT}")
        else:
            self.p.add(rel(cfg_path), "missing")
        if not unit_path.is_file():
            self.p.add(rel(unit_path), "missing")
            return
        self.files_read.add(unit_path.resolve())
        section, settings = None, []
        for n, line in enumerate(unit_path.read_text(encoding="utf-8").splitlines(), 1):
            s = line.strip()
            if not s or s.startswith(("#", ";")):
                continue
            if s.startswith("[") and s.endswith("]"):
                section = s[1:-1]
                continue
            if "=" not in s:
                self.p.add(f"{rel(unit_path)}:{n}", f"not a KEY=VALUE line: {s!r}")
                continue
            key, value = s.split("=", 1)
            settings.append((section, key.strip(), value.strip(), n))
        svc = {}
        for section_, key, value, n in settings:
            if section_ == "Service":
                svc.setdefault(key, []).append((value, n))
                if key == "Environment":
                    for assignment in re.findall(r'"[^"]*"|\S+', value):
                        name = assignment.strip('"').split("=", 1)[0]
                        if self.known_env is not None and name not in self.known_env:
                            self.p.add(f"{rel(unit_path)}:{n}", f"Environment {name} is not one the agent reads "
                                                                 "(not in --known-env)")
        exec_start = (svc.get("ExecStart") or [("", 0)])[-1][0]
        argv = exec_start.split()
        if "--config" not in argv[:-1]:
            self.p.add(rel(unit_path), "ExecStart has no --config PATH")
        elif argv[argv.index("--config") + 1] != "/etc/trace-bridge/config.yaml":
            self.p.add(rel(unit_path), "ExecStart --config is not /etc/trace-bridge/config.yaml, where the "
                                       "documented install puts deploy/systemd/config.yaml")
        user = (svc.get("User") or [("", 0)])[-1][0]
        if not user or user == "root" or user == "0":
            self.p.add(rel(unit_path), "no User= (or root): run as the trace-bridge user")
        stop = (svc.get("TimeoutStopSec") or [("", 0)])[-1][0]
        m = re.fullmatch(r"(\d+)(s)?", stop)
        if not m:
            self.p.add(rel(unit_path), f"TimeoutStopSec {stop!r} is not a number of seconds")
        elif isinstance(grace, (int, float)) and not grace < int(m.group(1)):
            self.p.add(rel(unit_path), f"TimeoutStopSec {stop} is not above shutdown.grace_seconds {grace} "
                                       f"of {rel(cfg_path)}")
        env_example = sd / "env.example"
        if env_example.is_file():
            self.files_read.add(env_example.resolve())
            for n, line in enumerate(env_example.read_text(encoding="utf-8").splitlines(), 1):
                m = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
                if m and self.known_env is not None and m.group(1) not in self.known_env:
                    self.p.add(f"{rel(env_example)}:{n}", f"{m.group(1)} is not one the agent reads "
                                                          "(not in --known-env)")

    # ---- Grafana dashboards

    def check_dashboards(self) -> None:
        gdir = self.root / "deploy" / "grafana"
        files = sorted(gdir.glob("*.json")) if gdir.is_dir() else []
        if not files:
            self.p.add(rel(gdir), "no Grafana dashboard (*.json)")
        for f in files:
            self.check_dashboard(f)

    def check_dashboard(self, path: Path) -> None:
        where = rel(path)
        self.files_read.add(path.resolve())
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            self.p.add(where, f"cannot read: {e.strerror}")
            return
        except json.JSONDecodeError as e:
            self.p.add(f"{where}:{e.lineno}", f"invalid JSON: {e.msg}")
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("panels"), list):
            self.p.add(where, "not a Grafana dashboard (no panels list)")
            return
        if not isinstance(doc.get("schemaVersion"), int) or doc["schemaVersion"] < 36:
            self.p.add(where, f"schemaVersion {doc.get('schemaVersion')!r}: below 36 (Grafana 9), datasource "
                              "references by uid are not understood")
        # Template variables.
        variables: dict[str, dict] = {}
        for v in (doc.get("templating") or {}).get("list") or []:
            name = v.get("name") if isinstance(v, dict) else None
            if not name:
                self.p.add(where, "a template variable has no name")
            elif name in variables:
                self.p.add(where, f"template variable {name!r} is declared twice")
            else:
                variables[name] = v
        datasource_vars = {n: str(v.get("query")) for n, v in variables.items() if v.get("type") == "datasource"}

        def check_datasource(ref: Any, at: str, expect: str | None = None) -> None:
            if ref is None:
                return
            uid = ref.get("uid") if isinstance(ref, dict) else ref
            if isinstance(uid, str) and uid in GRAFANA_BUILTIN_DATASOURCES:
                return
            m = re.fullmatch(r"\$\{([A-Za-z0-9_]+)\}|\$([A-Za-z0-9_]+)", str(uid)) if uid is not None else None
            name = (m.group(1) or m.group(2)) if m else None
            if name is None:
                self.p.add(at, f"datasource {uid!r} is not a template variable: use ${{VAR}} of a datasource variable "
                               "so the dashboard imports into any Grafana")
            elif name not in datasource_vars:
                self.p.add(at, f"datasource ${{{name}}} is not a declared datasource variable "
                               f"(declared: {', '.join(sorted(datasource_vars)) or 'none'})")
            elif expect and datasource_vars[name] != expect:
                self.p.add(at, f"datasource ${{{name}}} is a {datasource_vars[name]} datasource, this query is {expect}")

        def check_expr(expr: str, at: str) -> None:
            for ref in sorted(variable_refs(expr) - set(variables)):
                self.p.add(at, f"uses ${ref}, which is not a template variable of the dashboard")
            if self.known_metrics is None:
                return
            for metric in sorted(promql_metric_names(expr)):
                if metric not in self.known_metrics:
                    self.p.add(at, f"metric {metric!r} is not one the agent exports (not in --known-metrics)")

        for n, v in variables.items():
            at = f"{where} variable {n}"
            if v.get("type") == "query":
                check_datasource(v.get("datasource"), at, "prometheus")
                q = v.get("query")
                q = q.get("query") if isinstance(q, dict) else q
                for expr in variable_query_exprs(str(q or "")):
                    check_expr(expr, at)
        for i, a in enumerate((doc.get("annotations") or {}).get("list") or []):
            check_datasource((a or {}).get("datasource"), f"{where} annotation {i + 1}")
        # Panels: unique ids, grid positions inside 24 columns and not overlapping, datasources, queries.
        ids: dict[Any, str] = {}
        boxes: dict[bool, list[tuple[tuple[int, int, int, int], str]]] = {False: [], True: []}
        links: list[tuple[str, str]] = [(f"{where} link {l.get('title')!r}", str(l.get("url", "")))
                                        for l in doc.get("links") or [] if isinstance(l, dict)]
        for p, nested in walk_panels(doc["panels"]):
            title = p.get("title", "")
            at = f"{where} panel {p.get('id')} {title!r}"
            pid = p.get("id")
            if not isinstance(pid, int):
                self.p.add(at, "no integer id")
            elif pid in ids:
                self.p.add(at, f"id {pid} is also the id of panel {ids[pid]!r}")
            else:
                ids[pid] = title
            g = p.get("gridPos") or {}
            if not all(isinstance(g.get(k), int) for k in ("x", "y", "w", "h")):
                self.p.add(at, "gridPos needs integer x, y, w and h")
            else:
                box = (g["x"], g["y"], g["w"], g["h"])
                if g["x"] < 0 or g["y"] < 0 or g["w"] < 1 or g["h"] < 1 or g["x"] + g["w"] > GRAFANA_COLUMNS:
                    self.p.add(at, f"gridPos {box} is outside the {GRAFANA_COLUMNS}-column grid")
                for other, other_at in boxes[nested]:
                    if (box[0] < other[0] + other[2] and other[0] < box[0] + box[2]
                            and box[1] < other[1] + other[3] and other[1] < box[1] + box[3]):
                        self.p.add(at, f"gridPos {box} overlaps panel {other_at.split(' panel ', 1)[1]} at {other}")
                boxes[nested].append((box, at))
            if p.get("type") == "row":
                continue
            panel_ds = p.get("datasource")
            check_datasource(panel_ds, at)
            for t in p.get("targets") or []:
                if not isinstance(t, dict):
                    continue
                tat = f"{at} query {t.get('refId')}"
                check_datasource(t.get("datasource"), tat, "prometheus" if "expr" in t else None)
                if "expr" in t:
                    check_expr(str(t["expr"]), tat)
            for l in p.get("links") or []:
                if isinstance(l, dict):
                    links.append((f"{at} link {l.get('title')!r}", str(l.get("url", ""))))
            for l in ((p.get("fieldConfig") or {}).get("defaults") or {}).get("links") or []:
                if isinstance(l, dict):
                    links.append((f"{at} data link {l.get('title')!r}", str(l.get("url", ""))))
            if p.get("type") == "text":
                for url in re.findall(r"\]\(([^)\s]+)\)", str((p.get("options") or {}).get("content", ""))):
                    links.append((f"{at} text link", url))
        for at, url in links:
            for ref in sorted(variable_refs(url) - set(variables)):
                self.p.add(at, f"uses ${ref}, which is not a template variable of the dashboard")
        # A way from the metrics to the trace backend: some link names the trace backend's datasource variable.
        backends = sorted(n for n, q in datasource_vars.items() if q in TRACE_BACKENDS)
        if not backends:
            self.p.add(where, "no datasource variable for the trace backend (type tempo or jaeger)")
        elif not any(variable_refs(url) & set(backends) for _, url in links):
            self.p.add(where, f"no dashboard, panel or data link opens the trace backend: no link URL uses "
                              f"${{{backends[0]}}}")
        elif not any(variable_refs(url) & set(backends) and variable_refs(url) - set(backends) for _, url in links):
            self.p.add(where, f"the links to ${{{backends[0]}}} name no trace: none uses a variable for the trace ID")

    # ---- rendering with kustomize

    def render(self, tops: list[Kustomization]) -> None:
        tool = None
        if shutil.which("kustomize"):
            tool = ["kustomize", "build"]
        elif shutil.which("kubectl"):
            tool = ["kubectl", "kustomize"]
        if tool is None:
            self.notes.append("kustomize/kubectl not found: overlays not rendered")
            return
        for k in tops:
            try:
                out = subprocess.run(tool + [str(k.dir)], capture_output=True, text=True, timeout=120)
            except (OSError, subprocess.TimeoutExpired) as e:
                self.p.add(rel(k.dir), f"{' '.join(tool)} failed: {e}")
                continue
            if out.returncode != 0:
                last = (out.stderr.strip().splitlines() or ["(no message)"])[-1]
                m = re.search(r'err="(.*)"\s*$', last)
                self.p.add(rel(k.dir), f"{' '.join(tool)} failed: {m.group(1) if m else last}")
                continue
            try:
                docs = [d for d in yaml.safe_load_all(out.stdout) if d]
            except yaml.YAMLError as e:
                self.p.add(rel(k.dir), f"rendered output is not YAML: {e}")
                continue
            for d in docs:
                o = Obj(d, k.dir)
                # Generated names carry a hash suffix; an object already reported from its file is not reported again.
                if (o.kind, o.name) not in self.invalid_raw:
                    self.validate_schema(o, f"{rel(k.dir)} (rendered) {o.kind}/{o.name}")
                self.rendered += 1

    # ---- everything

    def run(self) -> int:
        if kubernetes_validate is None:
            self.p.add("tools/validate_manifests.py", "kubernetes-validate is not installed "
                                                      "(pip install -r tools/requirements-test.txt)")
        self.otlp_endpoints: list[tuple[str, str]] = []
        self.invalid_raw: set[tuple[str, str]] = set()
        self.services: list[tuple[Obj, dict, set]] = []
        self.agent_configs_in_pods: set[tuple[Path, str, str]] = set()
        self.collector_configs_in_pods: list[dict] = []
        if not self.kroot.is_dir():
            self.p.add(rel(self.kroot), "missing")
            return self.finish()
        yaml_files = sorted(p for p in self.kroot.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        kdirs = sorted({p.parent for p in self.kroot.rglob("*") if p.name in KUSTOMIZATION_NAMES})
        for d in kdirs:
            self.load_kustomization(d)
        for f in yaml_files:
            if f.resolve() not in self.used_files:
                self.load(f)  # parse errors are still worth reporting
                self.p.add(rel(f), "not used by any kustomization.yaml (resources, patches or generator files)")
        # Schema validation of every object, once.
        seen: set[int] = set()
        for k in self.kustomizations.values():
            for o in k.objects:
                if id(o.doc) not in seen:
                    seen.add(id(o.doc))
                    if not o.name:
                        self.p.add(rel(o.file), f"{o.kind} without metadata.name")
                    if (o.doc.get("metadata") or {}).get("namespace"):
                        self.p.add(o.where, "sets metadata.namespace: leave it to the kustomization")
                    if not self.validate_schema(o):
                        self.invalid_raw.add((o.kind, o.name))
                    self.objects_validated += 1
        # Configs read by generators.
        for k in self.kustomizations.values():
            for gc in k.configs:
                if gc.doc is not None and is_collector_config(gc.doc):
                    self.check_collector_config(gc.doc, rel(gc.file))
        # Cross-checks within each top-level kustomization (a tree of overlays and bases).
        tops = [k for k in self.kustomizations.values() if not k.referenced]
        for k in tops:
            self.check_unit(k)
        for k in self.kustomizations.values():
            for gc in k.configs:
                if gc.doc is not None and not is_collector_config(gc.doc):
                    self.check_agent_config(gc.doc, rel(gc.file))
                    if (gc.file.resolve(), gc.name, gc.key) not in self.agent_configs_in_pods:
                        self.p.add(rel(gc.file), f"ConfigMap {gc.name} is not the --config of any agent container")
        self.check_images()
        self.check_otlp_endpoints()
        self.check_systemd()
        self.check_dashboards()
        if not self.args.no_render:
            self.render(tops)
        return self.finish()

    def finish(self) -> int:
        for line in self.p.lines:
            print(line)
        for note in self.notes:
            print(f"NOTE {note}")
        if self.known_env is None:
            print("NOTE environment variable names not checked (no --known-env)")
        if self.known_keys is None:
            print("NOTE config keys not checked (no --known-keys)")
        if self.known_metrics is None:
            print("NOTE dashboard metric names not checked (no --known-metrics)")
        if KV_VERSION:
            print(f"schemas: kubernetes-validate {KV_VERSION}, Kubernetes {self.args.k8s_version} (strict)"
                  + (f"; rendered {self.rendered} objects with kustomize" if self.rendered else ""))
        if self.p:
            print(f"{len(self.p.lines)} problem(s)")
        print(f"validated {self.objects_validated} objects in {len(self.files_read)} files")
        return 1 if self.p else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(REPO), help="repository root (default: this script's repository)")
    ap.add_argument("--k8s-version", default=DEFAULT_K8S_VERSION,
                    help=f"Kubernetes version whose schemas to use (default {DEFAULT_K8S_VERSION})")
    ap.add_argument("--known-env", action="append", metavar="FILE",
                    help="file of environment variable names the agent reads, one per line (repeatable)")
    ap.add_argument("--env", action="append", metavar="NAME", help="one more known environment variable name")
    ap.add_argument("--known-keys", action="append", metavar="FILE",
                    help="file of the agent's config keys as dotted paths, one per line (repeatable)")
    ap.add_argument("--key", action="append", metavar="DOTTED.PATH", help="one more known config key")
    ap.add_argument("--known-metrics", action="append", metavar="FILE",
                    help="file of the Prometheus series names the agent serves, one per line, as "
                         "tools/agent_metric_names.py prints them (repeatable)")
    ap.add_argument("--metric", action="append", metavar="NAME", help="one more known metric name")
    ap.add_argument("--no-render", action="store_true", help="do not render the kustomizations with kubectl/kustomize")
    args = ap.parse_args(argv)
    return Checker(args).run()


if __name__ == "__main__":
    sys.exit(main())
