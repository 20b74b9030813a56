#!/usr/bin/env python3
"""Builds the fuzzers' seed corpus from the shipped captures (Fuzz/corpus/<target>/), deterministically.

  tools/fuzz_seeds.py            rewrite Fuzz/corpus from fixtures/*.jsonl

- FixtureLine: capture lines (firehose and tap records of every fixture, a few of each kind).
- Oslo: message bodies (requests, replies with and without failures, notifications, traced and not).
- FieldTable: each record's headers in the AMQP wire format (0-9-1 field tables, RabbitMQ's type tags), built from
  the capture's `header_types`, so the fuzzer starts from what the firehose really sends.
- TraceParent: every traceparent/tracestate seen, plus the W3C examples.
- Decompression: bodies compressed by kombu (fixtures/compressed/, tools/compression_vectors.py), each prefixed with
  the byte that picks its codec in the harness (BodyCompression.allCases order), plus the small bombs.
"""
import base64, hashlib, json, os, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = ["a_boot", "b_failure", "c_fanout", "d_notify", "e_otel", "f_osprofiler", "g_timeout"]
# The Decompression harness's codec byte: its index here (BodyCompression.allCases in Sources/BodyDecompression).
CODECS = [("gzip", "application/x-gzip"), ("bzip2", "application/x-bz2"), ("xz", "application/x-lzma"),
          ("zstd", "application/zstd"), ("brotli", "application/x-brotli")]


def short_string(text):
    data = text.encode()
    return bytes([len(data)]) + data


def field(value, tag):
    """One field value: its type tag, then the value (AMQP 0-9-1 with RabbitMQ's tags)."""
    if isinstance(tag, dict) and "F" in tag:
        return b"F" + table(value, tag["F"])
    if isinstance(tag, dict) and "A" in tag:
        item_tags = tag["A"]
        body = b"".join(field(item, item_tags[i] if i < len(item_tags) else item_tags[-1]) for i, item in enumerate(value))
        return b"A" + struct.pack(">I", len(body)) + body
    if tag == "S" or tag == "x":
        data = value.encode() if isinstance(value, str) else bytes(value)
        return tag.encode() + struct.pack(">I", len(data)) + data
    if tag == "t":
        return b"t" + bytes([1 if value else 0])
    if tag in ("b", "B"):
        return tag.encode() + struct.pack(">b" if tag == "b" else ">B", value)
    if tag in ("s", "u"):
        return tag.encode() + struct.pack(">h" if tag == "s" else ">H", value)
    if tag in ("I", "i"):
        return tag.encode() + struct.pack(">i" if tag == "I" else ">I", value)
    if tag in ("l", "L", "T"):
        return tag.encode() + struct.pack(">q" if tag != "L" else ">Q", value)
    if tag == "f":
        return b"f" + struct.pack(">f", value)
    if tag == "d":
        return b"d" + struct.pack(">d", value)
    if tag == "V":
        return b"V"
    raise ValueError(f"unknown tag {tag!r}")


def table(values, tags):
    body = b"".join(short_string(key) + field(values[key], tags[key]) for key in values if key in tags)
    return struct.pack(">I", len(body)) + body


def write(target, data):
    directory = os.path.join(ROOT, "Fuzz", "corpus", target)
    os.makedirs(directory, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(directory, name), "wb") as handle:
        handle.write(data)


def main():
    seen_bodies = set()
    for fixture in FIXTURES:
        with open(os.path.join(ROOT, "fixtures", fixture + ".jsonl"), "rb") as handle:
            lines = [line.rstrip(b"\n") for line in handle if line.strip()]
        for index, line in enumerate(lines):
            record = json.loads(line)
            if index % 7 == 0 or record.get("mode") == "tap":
                write("FixtureLine", line)
            body = base64.b64decode(record["body_b64"])
            inner = json.loads(body).get("oslo.message", "")
            kind = ("reply" if "_msg_id" in inner and "method" not in inner else "notification" if "event_type" in inner
                    else "call" if "_reply_q" in inner else "cast")
            traced = "traceparent" in inner or "trace_info" in inner
            key = (fixture, kind, traced, "failure" in inner)
            if key not in seen_bodies and len(body) < 64 * 1024:
                seen_bodies.add(key)
                write("Oslo", body)
            if record.get("headers") and record.get("header_types") and index % 5 == 0:
                write("FieldTable", table(record["headers"], record["header_types"]))
            for name in ("_context_traceparent", "_context_tracestate"):
                marker = '"%s": "' % name
                if marker in inner:
                    start = inner.index(marker) + len(marker)
                    write("TraceParent", inner[start:inner.index('"', start)].encode())
    # The envelope's string escaped in the ways the decoder's escaped walk leaves to the unescaping reference (\\uXXXX,
    # \\n), and with escapes of the message's own, so the fuzzer starts from both sides of that line.
    with open(os.path.join(ROOT, "fixtures", "a_boot.jsonl"), "rb") as handle:
        inner = json.loads(json.loads(base64.b64decode(json.loads(handle.readline())["body_b64"]))["oslo.message"])
    inner["_context_user_name"] = "caf\u00e9 \"quoted\" back\\slash"
    for text, ascii_outer in [(json.dumps(inner), True), (json.dumps(inner, indent=1), True),
                              (json.dumps(inner, ensure_ascii=False), True), (json.dumps(inner, ensure_ascii=False), False)]:
        write("Oslo", json.dumps({"oslo.version": "2.0", "oslo.message": text}, ensure_ascii=ascii_outer).encode())
    for example in ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future",
                    "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]:
        write("TraceParent", example.encode())
    compressed = os.path.join(ROOT, "fixtures", "compressed")
    for number, (alias, content_type) in enumerate(CODECS):
        with open(os.path.join(compressed, "a_boot.%s.jsonl" % alias), "rb") as handle:
            lines = [line for line in handle if line.strip()]
        for index in (0, 10, 20, 30):
            write("Decompression", bytes([number]) + base64.b64decode(json.loads(lines[index])["body_b64"]))
        with open(os.path.join(compressed, "bombs.json")) as handle:
            bomb = base64.b64decode(json.load(handle)[content_type]["data_b64"])
        if len(bomb) < 64 * 1024:
            write("Decompression", bytes([number]) + bomb)
    with open(os.path.join(compressed, "other.json")) as handle:
        for vector in json.load(handle).values():
            number = [content_type for _, content_type in CODECS].index(vector["compression"])
            write("Decompression", bytes([number]) + base64.b64decode(vector["data_b64"]))
    for target in ("FixtureLine", "Oslo", "FieldTable", "TraceParent", "Decompression"):
        print(target, len(os.listdir(os.path.join(ROOT, "Fuzz", "corpus", target))), "seeds")


if __name__ == "__main__":
    sys.exit(main())
