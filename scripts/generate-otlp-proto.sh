#!/usr/bin/env bash
# Regenerates the Swift code for the OpenTelemetry OTLP protobuf messages in
# Sources/OTLPProto/Generated/.
#
#   opentelemetry-proto (PyPI): 1.45.2   (source of the .proto descriptors)
#   swift-protobuf:             1.39.0   (protoc-gen-swift, built from source)
#   protoc:                     Debian's protobuf-compiler (tested with 3.21.12)
#
# CI never runs this script: its output is committed. Run it by hand only
# when bumping one of the versions above, then review and commit the diff.
#
# How it works: the .proto sources are not shipped on PyPI, but the compiled
# *_pb2 modules of opentelemetry-proto embed each file's FileDescriptorProto.
# We collect those (dependencies first) into a FileDescriptorSet and feed it
# to protoc with --descriptor_set_in, so no .proto files are needed.
#
# Env overrides:
#   SWIFT_PROTOBUF_GIT  git URL/path of swift-protobuf
#                       (default /opt/swift-packages/apple/swift-protobuf.git)
#   PYTHON              python interpreter for the venv (default python3)
set -euo pipefail

OTEL_PROTO_VERSION="1.45.2"
SWIFT_PROTOBUF_VERSION="1.39.0"
SWIFT_PROTOBUF_GIT="${SWIFT_PROTOBUF_GIT:-/opt/swift-packages/apple/swift-protobuf.git}"
PYTHON="${PYTHON:-python3}"

PROTOS=(
  opentelemetry/proto/common/v1/common.proto
  opentelemetry/proto/resource/v1/resource.proto
  opentelemetry/proto/trace/v1/trace.proto
  opentelemetry/proto/collector/trace/v1/trace_service.proto
)

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="$REPO_ROOT/Sources/OTLPProto/Generated"

command -v protoc >/dev/null || { echo "protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
command -v swift  >/dev/null || { echo "swift not found" >&2; exit 1; }

WORK="$(mktemp -d /tmp/otlp-proto-gen.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

echo "==> venv + opentelemetry-proto==$OTEL_PROTO_VERSION"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check \
  "opentelemetry-proto==$OTEL_PROTO_VERSION"

echo "==> FileDescriptorSet"
"$WORK/venv/bin/python" - "$WORK/otlp.pb" "${PROTOS[@]}" <<'PY'
import importlib, sys
from google.protobuf import descriptor_pb2

out, names = sys.argv[1], sys.argv[2:]
fds = descriptor_pb2.FileDescriptorSet()
seen = set()

def add(fd):
    # Post-order walk: dependencies land in the set before their dependents.
    if fd.name in seen:
        return
    seen.add(fd.name)
    for dep in fd.dependencies:
        add(dep)
    fdp = descriptor_pb2.FileDescriptorProto()
    fdp.ParseFromString(fd.serialized_pb)
    fds.file.append(fdp)

for name in names:
    module = importlib.import_module(name[:-len(".proto")].replace("/", ".") + "_pb2")
    if module.DESCRIPTOR.name != name:
        sys.exit(f"{module.__name__}: descriptor name {module.DESCRIPTOR.name!r} != {name!r}")
    add(module.DESCRIPTOR)

with open(out, "wb") as f:
    f.write(fds.SerializeToString())
print("   " + ", ".join(f.name for f in fds.file))
PY

echo "==> protoc-gen-swift $SWIFT_PROTOBUF_VERSION (release build, takes a few minutes)"
# TMPDIR inside $WORK so SwiftPM's lock files are cleaned up with it.
mkdir -p "$WORK/tmp"
export TMPDIR="$WORK/tmp"
git clone --quiet "$SWIFT_PROTOBUF_GIT" "$WORK/swift-protobuf"
git -C "$WORK/swift-protobuf" -c advice.detachedHead=false checkout --quiet "$SWIFT_PROTOBUF_VERSION"
swift build --package-path "$WORK/swift-protobuf" -c release --product protoc-gen-swift
PLUGIN="$(swift build --package-path "$WORK/swift-protobuf" -c release --show-bin-path)/protoc-gen-swift"
PLUGIN_VERSION="$("$PLUGIN" --version)"
echo "   $PLUGIN_VERSION"

echo "==> protoc ($(protoc --version))"
mkdir -p "$WORK/out"
protoc \
  --descriptor_set_in="$WORK/otlp.pb" \
  --plugin=protoc-gen-swift="$PLUGIN" \
  --swift_opt=Visibility=Public \
  --swift_opt=FileNaming=PathToUnderscores \
  --swift_out="$WORK/out" \
  "${PROTOS[@]}"

# Replace only the generated files; keep README.md and anything else.
mkdir -p "$OUT_DIR"
find "$OUT_DIR" -maxdepth 1 -name '*.pb.swift' -delete
cp "$WORK/out"/*.pb.swift "$OUT_DIR/"
echo "==> wrote:"
ls -1 "$OUT_DIR"/*.pb.swift
