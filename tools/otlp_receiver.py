#!/usr/bin/env python3
"""Independent OTLP trace receiver for the tests, with fault injection.

Decodes what an exporter sends with the official OpenTelemetry protobuf bindings (`opentelemetry-proto`), over
OTLP/gRPC (grpcio) and OTLP/HTTP (protobuf or JSON, optionally gzip), plaintext or TLS (see below), and appends one
JSON line per export request to --out. Listens on 127.0.0.1 only and sends nothing anywhere.

    otlp_receiver.py --out FILE [--grpc-port P1] [--http-port P2] [--control-port P3]
                     [--fail N] [--fail-status CODE] [--retry-after S] [--partial-reject K] [--delay S]
                     [--tls-cert server.pem --tls-key server.key [--tls-client-ca ca.pem]]

Ports default to 0 (a free port is picked); without --control-port there is no control endpoint. Once everything
listens, one JSON line goes to stdout: {"grpc_port": .., "http_port": .., "control_port": .. or null,
"tls": bool, "mtls": bool}.

TLS: with --tls-cert/--tls-key (PEM; tools/make_test_ca.sh DIR makes a test CA and certificates for localhost and
127.0.0.1), the gRPC and the OTLP/HTTP port both serve TLS only (TLS 1.2+; HTTP offers ALPN http/1.1). With
--tls-client-ca too, both require a client certificate that chains to that CA (mutual TLS); a client without one, or
with one from another CA, fails the handshake. A failed handshake is no request and writes no --out line (HTTP ones
are counted in /stats as "http_tls_handshake_failures"; grpcio does not show them). The control endpoint stays plain
HTTP.

Lines appended to --out (flushed after each); every line also has "tls": bool (the request came over TLS) and
"client_cn": the subject CN of the client certificate under mutual TLS, else null:
  accepted: {"transport": "grpc"|"http-protobuf"|"http-json", "received_at": ns, "headers": {..}, "compressed": bool
             (null for gRPC: grpcio hides the message encoding), "spans": [{"trace_id", "span_id", "parent_span_id",
             "name", "kind", "service", "host", "status_code", "message_id",
             "schema_urls": [ResourceSpans.schema_url, ScopeSpans.schema_url]}]}
             (+ "partial_rejected_spans": K when --partial-reject is in force)
  failed:   {"failed": HTTP status (int) or gRPC code name (str), "transport", "received_at", "headers",
             "retry_after": S or null}
  rejected: {"rejected": reason, "transport", "received_at", "headers"}

Fault injection: the first N export requests (whatever their content) fail: HTTP with --fail-status (default 503)
and `Retry-After` when --retry-after is given; gRPC with RESOURCE_EXHAUSTED for 429 (INVALID_ARGUMENT for 400,
UNAUTHENTICATED for 401, PERMISSION_DENIED for 403), UNAVAILABLE otherwise, carrying a google.rpc.Status with a
google.rpc.RetryInfo in the `grpc-status-details-bin` trailer when --retry-after is given. --delay S sleeps before
answering every export request. --partial-reject K accepts but answers partial_success.rejected_spans = K.

Control endpoint (HTTP on --control-port):
  POST /fail?n=N[&status=CODE][&retry_after=S]   replace the failure budget (omitted: status 503, no retry-after)
  POST /delay?s=S                                 set the answer delay
  POST /partial-reject?k=K                        set the partial-success rejected_spans count (0: off)
  GET  /stats                                     {"accepted_requests", "accepted_spans", "failed_requests",
                                                   "rejected_requests", "partially_rejected_spans",
                                                   "http_tls_handshake_failures", "fail_remaining", "delay"}

SIGTERM or SIGINT: requests still in their --delay get UNAVAILABLE / 503 (not recorded), the servers stop, exit 0.
"""
import argparse
import base64
import json
import math
import signal
import ssl
import sys
import threading
import time
import zlib
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import grpc
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, duration_pb2, json_format, message_factory
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    DESCRIPTOR as TRACE_SERVICE_FILE,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

HOST = "127.0.0.1"
MAX_BODY = 20 * 1024 * 1024  # the Collector's confighttp default max_request_body_size; also caps gzip output
SERVICE_NAME = TRACE_SERVICE_FILE.services_by_name["TraceService"].full_name
ID_LENGTHS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
RETRYABLE_HINT = {429, 502, 503, 504}
TLS_HANDSHAKE_TIMEOUT = 10.0  # seconds; a connection that does not finish its handshake by then is dropped
GRPC_FOR_HTTP = {400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED,
                 403: grpc.StatusCode.PERMISSION_DENIED, 429: grpc.StatusCode.RESOURCE_EXHAUSTED}


# --- google.rpc.Status and google.rpc.RetryInfo, built by hand in a private descriptor pool --------------------------
# (the googleapis protos are not a dependency; the wire format is what matters, and it is the same)

def _build_rpc_messages():
    pool = descriptor_pool.DescriptorPool()
    for well_known in (any_pb2.DESCRIPTOR, duration_pb2.DESCRIPTOR):
        proto = descriptor_pb2.FileDescriptorProto()
        well_known.CopyToProto(proto)
        pool.Add(proto)
    F = descriptor_pb2.FieldDescriptorProto

    status_file = descriptor_pb2.FileDescriptorProto(
        name="google/rpc/status.proto", package="google.rpc", syntax="proto3",
        dependency=["google/protobuf/any.proto"])
    status = status_file.message_type.add(name="Status")
    status.field.add(name="code", json_name="code", number=1, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    status.field.add(name="message", json_name="message", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    status.field.add(name="details", json_name="details", number=3, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                     type_name=".google.protobuf.Any")
    pool.Add(status_file)

    details_file = descriptor_pb2.FileDescriptorProto(
        name="google/rpc/error_details.proto", package="google.rpc", syntax="proto3",
        dependency=["google/protobuf/duration.proto"])
    retry_info = details_file.message_type.add(name="RetryInfo")
    retry_info.field.add(name="retry_delay", json_name="retryDelay", number=1, type=F.TYPE_MESSAGE,
                         label=F.LABEL_OPTIONAL, type_name=".google.protobuf.Duration")
    pool.Add(details_file)

    return (pool, message_factory.GetMessageClass(pool.FindMessageTypeByName("google.rpc.Status")),
            message_factory.GetMessageClass(pool.FindMessageTypeByName("google.rpc.RetryInfo")))


RPC_POOL, RpcStatus, RetryInfo = _build_rpc_messages()


def rpc_status(code, message, retry_after=None):
    """A google.rpc.Status with `code` (a grpc.StatusCode), and a RetryInfo detail when retry_after is set."""
    status = RpcStatus(code=code.value[0], message=message)
    if retry_after is not None:
        info = RetryInfo()
        seconds = math.floor(retry_after)
        info.retry_delay.seconds = seconds
        info.retry_delay.nanos = int(round((retry_after - seconds) * 1e9))
        status.details.add(type_url="type.googleapis.com/google.rpc.RetryInfo", value=info.SerializeToString())
    return status


# --- shared state -----------------------------------------------------------------------------------------------------

class Receiver:
    def __init__(self, out_path, fail, fail_status, retry_after, partial_reject, delay):
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # set on SIGTERM/SIGINT; cuts --delay sleeps short
        self.out = open(out_path, "a", encoding="utf-8")
        self.fail_remaining, self.fail_status, self.retry_after = fail, fail_status, retry_after
        self.partial_reject, self.delay = partial_reject, delay
        self.stats = {"accepted_requests": 0, "accepted_spans": 0, "failed_requests": 0, "rejected_requests": 0,
                      "partially_rejected_spans": 0, "http_tls_handshake_failures": 0}

    def count(self, counter):
        with self.lock:
            self.stats[counter] += 1

    def record(self, line, counter, spans=0):
        with self.lock:
            self.stats[counter] += 1
            if spans:
                self.stats["accepted_spans"] += spans
            if line.get("partial_rejected_spans"):
                self.stats["partially_rejected_spans"] += line["partial_rejected_spans"]
            if not self.out.closed:
                self.out.write(json.dumps(line, sort_keys=True) + "\n")
                self.out.flush()

    def take_failure(self):
        """(status, retry_after) when this request must fail, else None; consumes one unit of the budget."""
        with self.lock:
            if self.fail_remaining > 0:
                self.fail_remaining -= 1
                return self.fail_status, self.retry_after
            return None

    def current_delay_and_partial(self):
        with self.lock:
            return self.delay, self.partial_reject

    def sleep_or_stopping(self, delay):
        """Sleeps `delay` seconds (the injected slowness); True when the receiver is shutting down."""
        return self.stopping.wait(delay) if delay > 0 else self.stopping.is_set()

    def snapshot(self):
        with self.lock:
            return dict(self.stats, fail_remaining=self.fail_remaining, delay=self.delay)

    def close(self):
        with self.lock:
            self.out.close()


def anyvalue(value):
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind in ("string_value", "int_value", "bool_value", "double_value") else None


def check_id(raw, length, what, span_name, optional=False):
    if optional and not raw:
        return
    if len(raw) != length or not any(raw):
        raise ValueError(f"span {span_name!r}: {what} {raw.hex()!r} is not a valid {length}-byte id")


def summarize(request):
    """The spans of a decoded ExportTraceServiceRequest; ValueError on invalid ids (the proto's own rule: all-zero
    or wrong-length trace/span ids are invalid; the Collector rejects wrong lengths too)."""
    spans = []
    for rs in request.resource_spans:
        resource = {kv.key: anyvalue(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for span in ss.spans:
                check_id(span.trace_id, 16, "trace_id", span.name)
                check_id(span.span_id, 8, "span_id", span.name)
                check_id(span.parent_span_id, 8, "parent_span_id", span.name, optional=True)
                message_id = None
                for kv in span.attributes:
                    if kv.key == "messaging.message.id":
                        message_id = anyvalue(kv.value)
                spans.append({
                    "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex() or None, "name": span.name, "kind": span.kind,
                    "service": resource.get("service.name"), "host": resource.get("host.name"),
                    "status_code": span.status.code, "message_id": message_id,
                    "schema_urls": [rs.schema_url, ss.schema_url],
                })
    return spans


def hex_ids_to_base64(node):
    """OTLP/JSON carries trace and span ids as hex (OTLP spec, JSON Protobuf Encoding); the proto3 JSON mapping that
    json_format.Parse implements wants base64. Same checks as otlp_check.py, except that an empty id is let through
    (summarize then names it; an empty parentSpanId is a root span)."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key in ID_LENGTHS and isinstance(value, str):
                raw = bytes.fromhex(value)  # raises on non-hex
                if raw and (len(raw) != ID_LENGTHS[key] or value != value.lower()):
                    raise ValueError(f"{key} {value!r} is not {ID_LENGTHS[key]} bytes of lower-case hex")
                node[key] = base64.b64encode(raw).decode()
            else:
                hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            hex_ids_to_base64(item)


def interesting_headers(pairs):
    headers = {}
    for name, value in pairs:
        name = name.lower()
        if name.startswith("x-") or name.startswith("authorization"):
            if isinstance(value, bytes):  # gRPC "-bin" metadata
                value = base64.b64encode(value).decode()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def export_response(rejected_spans, span_count):
    response = ExportTraceServiceResponse()
    if rejected_spans:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = (
            f"otlp_receiver: --partial-reject {rejected_spans} (request had {span_count} spans)")
    return response


# --- OTLP/gRPC --------------------------------------------------------------------------------------------------------

class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    """Registered with a raw-bytes deserializer (not add_TraceServiceServicer_to_server) so that bytes the bindings
    reject become INVALID_ARGUMENT and a {"rejected"} line, instead of grpcio's own INTERNAL."""

    def __init__(self, receiver):
        self.receiver = receiver

    def Export(self, request_bytes, context):
        received_at = time.time_ns()
        base = {"transport": "grpc", "received_at": received_at,
                "headers": interesting_headers((m.key, m.value) for m in context.invocation_metadata())}
        base.update(grpc_tls_info(context))
        delay, partial = self.receiver.current_delay_and_partial()
        if self.receiver.sleep_or_stopping(delay):
            context.abort(grpc.StatusCode.UNAVAILABLE, "otlp_receiver: shutting down")
        failure = self.receiver.take_failure()
        if failure is not None:
            http_status, retry_after = failure
            code = GRPC_FOR_HTTP.get(http_status, grpc.StatusCode.UNAVAILABLE)
            message = f"otlp_receiver: injected failure ({code.name})"
            self.receiver.record(dict(base, failed=code.name, retry_after=retry_after), "failed_requests")
            if retry_after is not None:
                status = rpc_status(code, message, retry_after)
                context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
            context.abort(code, message)
        try:
            request = ExportTraceServiceRequest.FromString(request_bytes)
            spans = summarize(request)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            self.receiver.record(dict(base, rejected=reason), "rejected_requests")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"otlp_receiver: {reason}")
        line = dict(base, compressed=None, spans=spans)
        if partial:
            line["partial_rejected_spans"] = partial
        self.receiver.record(line, "accepted_requests", len(spans))
        return export_response(partial, len(spans))


def grpc_tls_info(context):
    """{"tls", "client_cn"} from the call's auth context: grpcio's TLS transport sets transport_security_type to
    b"ssl" and, when the client presented a (verified) certificate, x509_common_name."""
    auth = context.auth_context()
    cn = auth.get("x509_common_name")
    return {"tls": auth.get("transport_security_type") == [b"ssl"],
            "client_cn": cn[0].decode("utf-8", "replace") if cn else None}


def start_grpc(receiver, port, tls=None):
    """tls: None (plaintext) or a TlsFiles; then the port serves TLS only."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=[("grpc.so_reuseport", 0)])
    handler = grpc.unary_unary_rpc_method_handler(
        TraceService(receiver).Export, request_deserializer=None,
        response_serializer=ExportTraceServiceResponse.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, {"Export": handler}),))
    if tls is None:
        bound = server.add_insecure_port(f"{HOST}:{port}")
    else:
        credentials = grpc.ssl_server_credentials(
            [(tls.key, tls.cert)], root_certificates=tls.client_ca, require_client_auth=tls.client_ca is not None)
        bound = server.add_secure_port(f"{HOST}:{port}", credentials)
    if bound == 0:
        raise OSError(f"cannot listen for gRPC on {HOST}:{port}")
    server.start()
    return server, bound


# --- OTLP/HTTP --------------------------------------------------------------------------------------------------------

class Rejection(Exception):
    def __init__(self, http_status, reason):
        super().__init__(reason)
        self.http_status = http_status


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as exporters expect; every answer carries Content-Length

    def log_message(self, format, *args):
        pass

    def send(self, status, body=b"", content_type="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise Rejection(413, f"body larger than {MAX_BODY} bytes")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True  # the body is left unread
            raise Rejection(413, f"body larger than {MAX_BODY} bytes")
        return self.rfile.read(length)


class OtlpHttpHandler(QuietHandler):
    receiver = None  # set on the subclass made in start_http

    def do_GET(self):
        self.send(405 if urlsplit(self.path).path == "/v1/traces" else 404, extra=(("Allow", "POST"),))

    def do_POST(self):
        if urlsplit(self.path).path != "/v1/traces":
            self.send(404)
            return
        receiver = self.receiver
        received_at = time.time_ns()
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        is_json = content_type == "application/json"
        transport = "http-json" if is_json else "http-protobuf"
        reply_type = "application/json" if is_json else "application/x-protobuf"
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        base = {"transport": transport, "received_at": received_at,
                "headers": interesting_headers(self.headers.items())}
        base.update(http_tls_info(self.connection))

        def reply_status(http_status, code, message, retry_after=None, extra=()):
            status = rpc_status(code, message, retry_after)
            body = (json_format.MessageToJson(status, indent=None, descriptor_pool=RPC_POOL).encode() if is_json
                    else status.SerializeToString())
            self.send(http_status, body, reply_type, extra)

        try:
            body = self.read_body()
        except Rejection as error:
            receiver.record(dict(base, rejected=str(error)), "rejected_requests")
            reply_status(error.http_status, grpc.StatusCode.RESOURCE_EXHAUSTED, f"otlp_receiver: {error}")
            return
        delay, partial = receiver.current_delay_and_partial()
        if receiver.sleep_or_stopping(delay):
            reply_status(503, grpc.StatusCode.UNAVAILABLE, "otlp_receiver: shutting down")
            return
        failure = receiver.take_failure()
        if failure is not None:
            http_status, retry_after = failure
            receiver.record(dict(base, failed=http_status, retry_after=retry_after), "failed_requests")
            extra = () if retry_after is None else (("Retry-After", str(math.ceil(retry_after))),)
            code = GRPC_FOR_HTTP.get(http_status, grpc.StatusCode.UNAVAILABLE)
            reply_status(http_status, code, f"otlp_receiver: injected failure (HTTP {http_status})",
                         retry_after, extra)
            return
        try:
            if content_type not in ("application/json", "application/x-protobuf"):
                raise Rejection(415, f"unsupported Content-Type {content_type!r}")
            if encoding == "gzip":
                try:
                    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                    body = decompressor.decompress(body, MAX_BODY + 1)
                except zlib.error as error:
                    raise Rejection(400, f"bad gzip body: {error}")
                if len(body) > MAX_BODY:
                    raise Rejection(413, f"decompressed body larger than {MAX_BODY} bytes")
                if not decompressor.eof:
                    raise Rejection(400, "bad gzip body: truncated")
            elif encoding not in ("", "identity"):
                raise Rejection(415, f"unsupported Content-Encoding {encoding!r}")
            try:
                if is_json:
                    document = json.loads(body.decode("utf-8"))
                    hex_ids_to_base64(document)
                    request = json_format.Parse(json.dumps(document), ExportTraceServiceRequest())
                else:
                    request = ExportTraceServiceRequest.FromString(body)
                spans = summarize(request)
            except Exception as error:
                raise Rejection(400, f"{type(error).__name__}: {error}")
        except Rejection as error:
            receiver.record(dict(base, rejected=str(error)), "rejected_requests")
            reply_status(error.http_status, grpc.StatusCode.INVALID_ARGUMENT, f"otlp_receiver: {error}")
            return
        line = dict(base, compressed=encoding == "gzip", spans=spans)
        if partial:
            line["partial_rejected_spans"] = partial
        receiver.record(line, "accepted_requests", len(spans))
        response = export_response(partial, len(spans))
        self.send(200, json_format.MessageToJson(response, indent=None).encode() if is_json
                  else response.SerializeToString(), reply_type)


class ControlHandler(QuietHandler):
    receiver = None

    def answer(self, document, status=200):
        self.send(status, (json.dumps(document, sort_keys=True) + "\n").encode())

    def do_GET(self):
        if urlsplit(self.path).path == "/stats":
            self.answer(self.receiver.snapshot())
        else:
            self.answer({"error": "not found"}, 404)

    def do_POST(self):
        self.read_body()
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        receiver = self.receiver
        try:
            if url.path == "/fail":
                n, status = int(query.get("n", "1")), int(query.get("status", "503"))
                retry_after = float(query["retry_after"]) if "retry_after" in query else None
                if n < 0 or not 100 <= status <= 599 or (retry_after is not None and retry_after < 0):
                    raise ValueError("n >= 0, 100 <= status <= 599, retry_after >= 0")
                with receiver.lock:
                    receiver.fail_remaining, receiver.fail_status, receiver.retry_after = n, status, retry_after
                self.answer({"fail_remaining": n, "fail_status": status, "retry_after": retry_after})
            elif url.path == "/delay":
                s = float(query.get("s", "0"))
                if s < 0:
                    raise ValueError("s >= 0")
                with receiver.lock:
                    receiver.delay = s
                self.answer({"delay": s})
            elif url.path == "/partial-reject":
                k = int(query.get("k", "0"))
                if k < 0:
                    raise ValueError("k >= 0")
                with receiver.lock:
                    receiver.partial_reject = k
                self.answer({"partial_reject": k})
            else:
                self.answer({"error": "not found"}, 404)
        except ValueError as error:
            self.answer({"error": str(error)}, 400)


def http_tls_info(connection):
    if not isinstance(connection, ssl.SSLSocket):
        return {"tls": False, "client_cn": None}
    cn = None
    for rdn in (connection.getpeercert() or {}).get("subject", ()):  # {} unless a client cert was asked for
        for key, value in rdn:
            if key == "commonName":
                cn = value
    return {"tls": True, "client_cn": cn}


class TlsFiles:
    """The PEM bytes of --tls-cert/--tls-key/--tls-client-ca, and the ssl.SSLContext for the HTTP port. Loading
    them here checks the files before anything listens."""

    def __init__(self, cert_path, key_path, client_ca_path):
        with open(cert_path, "rb") as f:
            self.cert = f.read()
        with open(key_path, "rb") as f:
            self.key = f.read()
        self.client_ca = None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # TLS 1.2 minimum, no compression, secure defaults
        context.load_cert_chain(cert_path, key_path)
        context.set_alpn_protocols(["http/1.1"])
        if client_ca_path is not None:
            with open(client_ca_path, "rb") as f:
                self.client_ca = f.read()
            context.load_verify_locations(cafile=client_ca_path)
            context.verify_mode = ssl.CERT_REQUIRED
        self.http_context = context


class TlsThreadingHTTPServer(ThreadingHTTPServer):
    """Its listening socket is wrapped by an SSLContext without handshake on accept: the handshake runs in the
    connection's own thread (bounded by TLS_HANDSHAKE_TIMEOUT), so a slow or silent client cannot stall accept()."""
    receiver = None

    def finish_request(self, request, client_address):
        try:
            request.settimeout(TLS_HANDSHAKE_TIMEOUT)
            request.do_handshake()
            request.settimeout(None)
        except (ssl.SSLError, OSError):  # e.g. no or untrusted client certificate, client distrusts ours, plaintext
            if self.receiver is not None:
                self.receiver.count("http_tls_handshake_failures")
            return
        super().finish_request(request, client_address)


def start_http(handler_base, receiver, port, ssl_context=None):
    handler = type(handler_base.__name__, (handler_base,), {"receiver": receiver})
    if ssl_context is None:
        server = ThreadingHTTPServer((HOST, port), handler)
    else:
        server = TlsThreadingHTTPServer((HOST, port), handler)
        server.receiver = receiver
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=handler_base.__name__, daemon=True)
    thread.start()
    return server, server.server_address[1]


# --- main -------------------------------------------------------------------------------------------------------------

def non_negative(kind):
    def parse(text):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text} is negative")
        return value
    return parse


def http_status(text):
    value = int(text)
    if not 100 <= value <= 599:
        raise argparse.ArgumentTypeError(f"{text} is not an HTTP status")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grpc-port", type=non_negative(int), default=0)
    parser.add_argument("--http-port", type=non_negative(int), default=0)
    parser.add_argument("--control-port", type=non_negative(int), default=None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fail", type=non_negative(int), default=0)
    parser.add_argument("--fail-status", type=http_status, default=503, metavar="CODE")
    parser.add_argument("--retry-after", type=non_negative(float), default=None)
    parser.add_argument("--partial-reject", type=non_negative(int), default=0)
    parser.add_argument("--delay", type=non_negative(float), default=0.0)
    parser.add_argument("--tls-cert", metavar="PEM", help="server certificate (chain): gRPC and HTTP serve TLS only")
    parser.add_argument("--tls-key", metavar="PEM", help="the server certificate's private key (unencrypted)")
    parser.add_argument("--tls-client-ca", metavar="PEM", help="require client certificates from this CA (mTLS)")
    args = parser.parse_args()
    tls = None
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_client_ca is not None and args.tls_cert is None:
        parser.error("--tls-client-ca needs --tls-cert and --tls-key")
    if args.tls_cert is not None:
        try:
            tls = TlsFiles(args.tls_cert, args.tls_key, args.tls_client_ca)
        except (OSError, ssl.SSLError) as error:
            parser.error(f"TLS files: {error}")

    receiver = Receiver(args.out, args.fail, args.fail_status, args.retry_after, args.partial_reject, args.delay)
    stop = receiver.stopping
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    grpc_server, grpc_port = start_grpc(receiver, args.grpc_port, tls)
    http_servers = []
    http_server, http_port = start_http(OtlpHttpHandler, receiver, args.http_port,
                                        tls.http_context if tls is not None else None)
    http_servers.append(http_server)
    control_port = None
    if args.control_port is not None:
        control_server, control_port = start_http(ControlHandler, receiver, args.control_port)
        http_servers.append(control_server)
    print(json.dumps({"grpc_port": grpc_port, "http_port": http_port, "control_port": control_port,
                      "tls": tls is not None, "mtls": tls is not None and tls.client_ca is not None}), flush=True)

    while not stop.wait(0.1):
        pass
    grpc_server.stop(grace=1).wait()
    for server in http_servers:
        server.shutdown()
        server.server_close()
    receiver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
