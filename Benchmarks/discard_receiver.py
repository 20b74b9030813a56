"""A minimal OTLP/HTTP trace receiver for the live benchmarks: it reads each request and throws it away.

    discard_receiver.py [--port P] [--stall]

Answers POST /v1/traces with 200 and an empty ExportTraceServiceResponse (zero bytes is a valid protobuf message)
after reading the body; it never decodes (tools/otlp_receiver.py decodes with the official bindings, which costs
more CPU than the agent does per span and would crowd it out on two cores). GET /stats returns {"requests": N,
"bytes": B, "spans": S}: spans are counted without decoding, as the tags of the spans field (0x12) directly inside
each ScopeSpans, so the drain benchmark can check that every span arrived.

--stall: accepts connections and never answers (a collector that hangs): the memory benchmark uses it.

Prints {"port": P} once listening, on 127.0.0.1 only.
"""

import argparse
import http.server
import json
import socket
import sys
import threading
import time

stats = {"requests": 0, "bytes": 0, "spans": 0}
lock = threading.Lock()


def varint(data, index):
    value, shift = 0, 0
    while True:
        byte = data[index]
        index += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, index
        shift += 7


def fields(data, start, end):
    """(field number, wire type, payload start, payload end) of each field in data[start:end]."""
    index = start
    while index < end:
        key, index = varint(data, index)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, after = varint(data, index)
        elif wire == 1:
            after = index + 8
        elif wire == 2:
            length, index = varint(data, index)
            after = index + length
        elif wire == 5:
            after = index + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, index, after
        index = after


def count_spans(data):
    """ExportTraceServiceRequest.resource_spans(1) -> ResourceSpans.scope_spans(2) -> ScopeSpans.spans(2)."""
    spans = 0
    for number, wire, start, end in fields(data, 0, len(data)):
        if number != 1 or wire != 2:
            continue
        for number2, wire2, start2, end2 in fields(data, start, end):
            if number2 != 2 or wire2 != 2:
                continue
            spans += sum(1 for n, w, _, _ in fields(data, start2, end2) if n == 2 and w == 2)
    return spans


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        spans = count_spans(body) if self.headers.get("Content-Encoding") != "gzip" else 0
        with lock:
            stats["requests"] += 1
            stats["bytes"] += len(body)
            stats["spans"] += spans
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        with lock:
            payload = json.dumps(stats).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def stall(port):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    print(json.dumps({"port": listener.getsockname()[1]}), flush=True)
    held = []
    while True:
        connection, _ = listener.accept()
        held.append(connection)  # never read, never answered, never closed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stall", action="store_true")
    args = parser.parse_args()
    if args.stall:
        stall(args.port)
        return
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
