#!/usr/bin/env python3
"""Writes the compressed-body test vectors in fixtures/compressed/ with kombu's own compression functions.

Run with the scenario venv (real kombu 5.7.0; brotli and backports.zstd installed so that kombu registers those
codecs too):

    .venv-scenario/bin/python tools/compression_vectors.py

For every codec kombu registers, fixtures/compressed/a_boot.<alias>.jsonl is fixtures/a_boot.jsonl with every body
compressed by `kombu.compression.compress(body, alias)` and the content type it returns set as the `compression`
header of the original message (inside the firehose's `properties` table, where RabbitMQ puts the publisher's
headers), exactly as a kombu Producer with `compression=alias` publishes it. Each body is checked to decompress back
with kombu's own decoder.

bombs.json holds 1 GiB of zeros compressed by each codec (zlib: 128 MiB, as deflate cannot exceed about 1:1032 and
1 GiB would be a 1 MiB file), and other.json the formats a codec's name also covers: a gzip file (RFC 1952) under
application/x-gzip and the legacy .lzma format under application/x-lzma (Python's lzma.decompress accepts it).

    tools/compression_vectors.py compress IN OUT ALIAS     any capture, every body compressed (for benchmarks)
"""
import base64
import bz2
import gzip
import json
import lzma
import sys
import zlib
from pathlib import Path

import kombu.compression as compression

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "fixtures" / "a_boot.jsonl"
OUT = ROOT / "fixtures" / "compressed"

# The alias each capture is named after; the content type is what kombu writes in the header.
ALIASES = {
    "application/x-gzip": "gzip",
    "application/x-bz2": "bzip2",
    "application/x-lzma": "xz",
    "application/zstd": "zstd",
    "application/x-brotli": "brotli",
}


def compressed_capture(alias: str, source: Path = SOURCE) -> str:
    lines = []
    for line in source.read_text().splitlines():
        record = json.loads(line)
        body = base64.b64decode(record["body_b64"])
        data, content_type = compression.compress(body, alias)
        assert compression.decompress(data, content_type) == body
        props = record["headers"].setdefault("properties", {})
        props.setdefault("headers", {})["compression"] = content_type
        types = record.setdefault("header_types", {}).setdefault("properties", {"F": {}})["F"]
        types.setdefault("headers", {"F": {}})["F"]["compression"] = "S"
        record["body_b64"] = base64.b64encode(data).decode()
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def zeros_compressed(encode, total: int) -> bytes:
    """Streams `total` zero bytes through a compressor object, 1 MiB at a time."""
    chunk = bytes(1 << 20)
    parts = []
    for _ in range(total // len(chunk)):
        parts.append(encode.compress(chunk))
    parts.append(encode.flush())
    return b"".join(parts)


def bombs() -> dict:
    gib = 1 << 30
    out = {
        "application/x-gzip": (zeros_compressed(zlib.compressobj(9), 128 << 20), 128 << 20),
        "application/x-bz2": (zeros_compressed(bz2.BZ2Compressor(9), gib), gib),
        "application/x-lzma": (zeros_compressed(lzma.LZMACompressor(), gib), gib),
    }
    encoders = compression.encoders()
    if "application/zstd" in encoders:
        from backports import zstd
        out["application/zstd"] = (zeros_compressed(zstd.ZstdCompressor(), gib), gib)
    if "application/x-brotli" in encoders:
        import brotli
        compressor = brotli.Compressor()
        chunk = bytes(1 << 20)
        parts = [compressor.process(chunk) for _ in range(gib // len(chunk))]
        parts.append(compressor.finish())
        out["application/x-brotli"] = (b"".join(parts), gib)
    return {
        content_type: {"decompressed_size": size, "data_b64": base64.b64encode(data).decode()}
        for content_type, (data, size) in out.items()
    }


def main() -> int:
    if sys.argv[1:2] == ["compress"]:
        source, out, alias = sys.argv[2:5]
        Path(out).write_text(compressed_capture(alias, Path(source)))
        return 0
    OUT.mkdir(exist_ok=True)
    missing = set(ALIASES) - set(compression.encoders())
    if missing:
        print(f"kombu does not register {sorted(missing)} here: pip install -r tools/scenario/requirements.txt",
              file=sys.stderr)
        return 1
    for content_type, alias in ALIASES.items():
        (OUT / f"a_boot.{alias}.jsonl").write_text(compressed_capture(alias))
    body = base64.b64decode(json.loads(SOURCE.read_text().splitlines()[0])["body_b64"])
    other = {
        "gzip_file": {"compression": "application/x-gzip", "plain_b64": base64.b64encode(body).decode(),
                      "data_b64": base64.b64encode(gzip.compress(body)).decode()},
        "lzma_alone": {"compression": "application/x-lzma", "plain_b64": base64.b64encode(body).decode(),
                       "data_b64": base64.b64encode(lzma.compress(body, format=lzma.FORMAT_ALONE)).decode()},
    }
    assert lzma.decompress(base64.b64decode(other["lzma_alone"]["data_b64"])) == body
    (OUT / "other.json").write_text(json.dumps(other, indent=1) + "\n")
    (OUT / "bombs.json").write_text(json.dumps(bombs(), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
