#!/usr/bin/env python3
"""Independent OTLP receiver for the tests: decodes trace-bridge output with the official OpenTelemetry protobuf
bindings (the `opentelemetry-proto` package) and prints a JSON summary of what it decoded.

    otlp_check.py json FILE    # OTLP/JSON, one ExportTraceServiceRequest per line (the Collector file exporter's format)
    otlp_check.py proto FILE   # one binary ExportTraceServiceRequest
    otlp_check.py spans proto|json FILE   # every decoded span as one JSON line, in the format of the captures'
                                          # `<capture>.spans.jsonl` (what ServiceGraphTests' oracle reads)

Exits 1, naming the line and the reason, on anything the bindings reject. OTLP/JSON differs from the plain proto3
JSON mapping in one way (OTLP spec, "JSON Protobuf Encoding"): trace and span IDs are hex, not base64, so they are
checked and converted before json_format.Parse, which rejects unknown fields and wrong types itself.
"""
import base64
import json
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

ID_LENGTHS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


def hex_ids_to_base64(node, where):
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key in ID_LENGTHS and isinstance(value, str):
                raw = bytes.fromhex(value)  # raises on non-hex
                if len(raw) != ID_LENGTHS[key] or value != value.lower():
                    raise ValueError(f"{where}: {key} {value!r} is not {ID_LENGTHS[key]} bytes of lower-case hex")
                node[key] = base64.b64encode(raw).decode()
            else:
                hex_ids_to_base64(value, where)
    elif isinstance(node, list):
        for item in node:
            hex_ids_to_base64(item, where)


def summarize(requests):
    spans, services, traces, kinds, statuses = 0, set(), set(), {}, {}
    resource_spans = 0
    for request in requests:
        for rs in request.resource_spans:
            resource_spans += 1
            attrs = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
            service = attrs.get("service.name")
            if not service:
                raise ValueError("a resource has no service.name")
            host = attrs.get("host.name")
            services.add(f"{service}@{host}" if host else service)
            for ss in rs.scope_spans:
                for span in ss.spans:
                    spans += 1
                    if len(span.trace_id) != 16 or len(span.span_id) != 8:
                        raise ValueError(f"span {span.name!r} has a malformed trace or span id")
                    if span.parent_span_id and len(span.parent_span_id) != 8:
                        raise ValueError(f"span {span.name!r} has a malformed parent id")
                    if span.end_time_unix_nano < span.start_time_unix_nano:
                        raise ValueError(f"span {span.name!r} ends before it starts")
                    traces.add(span.trace_id.hex())
                    kind = span.SpanKind.Name(span.kind)
                    kinds[kind] = kinds.get(kind, 0) + 1
                    code = span.status.StatusCode.Name(span.status.code)
                    statuses[code] = statuses.get(code, 0) + 1
    return {"requests": len(requests), "resource_spans": resource_spans, "spans": spans,
            "services": sorted(services), "trace_ids": sorted(traces), "kinds": kinds, "statuses": statuses}


def any_value(value):
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind in ("string_value", "int_value", "bool_value", "double_value") else None


def span_lines(requests):
    """One JSON object per span: IDs as hex, kind and status code by enum name, times, resource, scope, attributes."""
    for request in requests:
        for rs in request.resource_spans:
            resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    yield {
                        "resource": resource, "scope": {"name": ss.scope.name},
                        "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(), "name": span.name,
                        "kind": span.SpanKind.Name(span.kind),
                        "start_time_unix_nano": span.start_time_unix_nano, "end_time_unix_nano": span.end_time_unix_nano,
                        "status": {"code": span.status.StatusCode.Name(span.status.code)},
                        "attributes": {kv.key: any_value(kv.value) for kv in span.attributes},
                    }


def main():
    as_spans = len(sys.argv) == 4 and sys.argv[1] == "spans"
    arguments = sys.argv[2:] if as_spans else sys.argv[1:]
    if len(arguments) != 2 or arguments[0] not in ("json", "proto"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, path = arguments
    requests = []
    try:
        if mode == "proto":
            request = ExportTraceServiceRequest()
            with open(path, "rb") as f:
                request.ParseFromString(f.read())
            requests.append(request)
        else:
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    document = json.loads(line)
                    hex_ids_to_base64(document, f"line {number}")
                    requests.append(json_format.Parse(json.dumps(document), ExportTraceServiceRequest()))
        if as_spans:
            for line in span_lines(requests):
                print(json.dumps(line, sort_keys=True))
        else:
            print(json.dumps(summarize(requests), sort_keys=True))
    except Exception as error:  # any rejection is a test failure, reported with its reason
        print(f"otlp_check: {path}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
