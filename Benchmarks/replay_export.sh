#!/usr/bin/env bash
# Replay throughput and OTLP export cost, one run (Benchmarks/RESULTS.md):
#   1. a large fixture generated from the shipped captures (make_replay_fixture.py: PASSES passes over the boot,
#      failure, notification and OpenTelemetry captures with fresh IDs, interleaved; 480 passes = 103,680 messages);
#   2. the baseline: a minimal Python parse of the same file (per line json.loads, base64-decode the body, json.loads
#      the envelope and the inner message; nothing else), user+system CPU;
#   3. trace-bridge-bench on the same file: the pipeline stage by stage on one core (CPU µs, allocations and bytes
#      allocated per message, peak RSS), the OTLP encoding both by the direct encoder and by swift-protobuf;
#   4. `trace-bridge replay` (the CLI, one core) into an OTLP protobuf file: wall and CPU seconds, peak RSS;
#   5. exports of a smaller fixture (EXPORT_PASSES) to tools/otlp_receiver.py, which decodes every request with the
#      official bindings (and is itself the bottleneck for HTTP/JSON): spans/s per transport.
#
#   Benchmarks/replay_export.sh           PASSES=480 EXPORT_PASSES=50 by default
set -euo pipefail
cd "$(dirname "$0")/.."
PASSES=${PASSES:-480}
EXPORT_PASSES=${EXPORT_PASSES:-50}
OUT=.build-bench
mkdir -p "$OUT"
FIXTURE=$OUT/replay-big.jsonl
SMALL=$OUT/replay-export.jsonl
PY=.venv/bin/python

python3 Benchmarks/make_replay_fixture.py "$FIXTURE" "$PASSES" >&2
python3 Benchmarks/make_replay_fixture.py "$SMALL" "$EXPORT_PASSES" >&2
swift build -c release --product trace-bridge >&2
swift build -c release --product trace-bridge-bench >&2
BIN=$(swift build -c release --show-bin-path)
TB=$BIN/trace-bridge
messages=$(wc -l < "$FIXTURE")
cat "$FIXTURE" > /dev/null   # into the page cache for every contender alike

# Wall and CPU seconds (user + system) and peak RSS of a command (GNU time), then `cpu_of` prints "cpu wall rss".
timed() { /usr/bin/time -f '{"wall_s": %e, "user_s": %U, "sys_s": %S, "peak_rss_kib": %M}' -o "$OUT/time.json" "$@"; }
cpu_of() { python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(round(t["user_s"]+t["sys_s"],2), t["wall_s"], t["peak_rss_kib"])' "$OUT/time.json"; }

timed python3 - "$FIXTURE" <<'PY'
import base64, json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    record = json.loads(line)
    outer = json.loads(base64.b64decode(record["body_b64"]))
    if "oslo.message" in outer:
        json.loads(outer["oslo.message"])
PY
read -r py_cpu py_wall py_rss < <(cpu_of)

"$BIN/trace-bridge-bench" "$FIXTURE" > "$OUT/stages.jsonl"

timed "$TB" replay "$FIXTURE" --format otlp-proto --output "$OUT/replay.pb" --quiet
read -r tb_cpu tb_wall tb_rss < <(cpu_of)
spans=$("$TB" replay "$FIXTURE" --format otlp-proto --output /dev/null 2>&1 | sed -n 's/.*, \([0-9]*\) spans in.*/\1/p')
gzip -kf "$OUT/replay.pb"

echo "### Replay: $messages messages, $spans spans ($(date -u +%Y-%m-%dT%H:%MZ), trace-bridge at $(git describe --always --dirty))"
echo
echo "| what | CPU s | messages/s of CPU | CPU µs/message | peak RSS MiB |"
echo "|---|---|---|---|---|"
python3 - "$messages" "$py_cpu" "$py_rss" "$tb_cpu" "$tb_rss" "$spans" "$OUT" <<'PY'
import os, sys
messages, py_cpu, py_rss, tb_cpu, tb_rss, spans, out = sys.argv[1:]
messages, spans = int(messages), int(spans)
py_cpu, tb_cpu = float(py_cpu), float(tb_cpu)
print(f"| Python baseline: parse only | {py_cpu:.2f} | {messages / py_cpu:,.0f} | {py_cpu / messages * 1e6:.1f} | {int(py_rss) / 1024:.0f} |")
print(f"| trace-bridge replay → OTLP protobuf file | {tb_cpu:.2f} | {messages / tb_cpu:,.0f} | {tb_cpu / messages * 1e6:.1f} | {int(tb_rss) / 1024:.0f} |")
print(f"\nreplay/baseline: {py_cpu / tb_cpu:.2f}x (target >= 10x); {os.path.getsize(out + '/replay.pb') / spans:.0f} bytes/span "
      f"(gzip {os.path.getsize(out + '/replay.pb.gz') / spans:.0f})")
PY
echo
echo "Stages (trace-bridge-bench, cumulative: each includes the ones above it, but encode does not include red):"
echo
echo "| stage | CPU µs/message | allocations/message | bytes allocated/message |"
echo "|---|---|---|---|"
python3 - "$OUT/stages.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if "stage" in d:
        print(f"| {d['stage']} | {d['cpu_us_per_message']} | {d['allocations_per_message']} | {d['allocated_bytes_per_message']:,.0f} |")
    else:
        print(f"\npeak RSS of trace-bridge-bench: {d['peak_rss_kib'] / 1024:.0f} MiB")
PY

# Exports to the independent receiver (a smaller fixture: the receiver decodes every span in Python).
small_messages=$(wc -l < "$SMALL")
small_spans=$("$TB" replay "$SMALL" --format otlp-proto --output /dev/null 2>&1 | sed -n 's/.*, \([0-9]*\) spans in.*/\1/p')
"$PY" tools/otlp_receiver.py --out "$OUT/receiver.jsonl" > "$OUT/receiver.ports" 2>"$OUT/receiver.err" &
receiver=$!
trap 'kill -9 $receiver 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$OUT/receiver.ports" ] && break; sleep 0.1; done
grpc=$(python3 -c "import json;print(json.load(open('$OUT/receiver.ports'))['grpc_port'])")
http=$(python3 -c "import json;print(json.load(open('$OUT/receiver.ports'))['http_port'])")
echo
echo "Exports of $small_messages messages ($small_spans spans) to tools/otlp_receiver.py (official bindings):"
echo
echo "| transport | wall s | spans/s |"
echo "|---|---|---|"
for mode in "grpc http://127.0.0.1:$grpc none" "http/protobuf http://127.0.0.1:$http none" \
            "http/protobuf http://127.0.0.1:$http gzip" "http/json http://127.0.0.1:$http none"; do
    set -- $mode
    timed "$TB" replay "$SMALL" --format otlp --otlp-protocol "$1" --otlp-endpoint "$2" --otlp-compression "$3" --quiet
    read -r _ wall _ < <(cpu_of)
    python3 -c "print(f'| $1 ($3) | {$wall:.2f} | {$small_spans / $wall:,.0f} |')"
done
