#!/usr/bin/env bash
# Replay throughput and OTLP export cost, one run (Benchmarks/RESULTS.md):
#   - a large fixture generated from the shipped captures (make_replay_fixture.py, PASSES passes, fresh IDs);
#   - the baseline: a minimal Python parse of the same file (json.loads per line, base64-decode the body, json.loads
#     the envelope and the inner message; nothing else);
#   - trace-bridge replay (release build) into OTLP protobuf discarded, and exported to the local independent receiver
#     (tools/otlp_receiver.py) over gRPC, HTTP/protobuf, HTTP/protobuf+gzip and HTTP/JSON: spans/s and bytes/span.
#
#   Benchmarks/replay_export.sh           PASSES=50 by default (10,800 messages)
set -euo pipefail
cd "$(dirname "$0")/.."
PASSES=${PASSES:-50}
OUT=.build-bench
mkdir -p "$OUT"
FIXTURE=$OUT/replay-big.jsonl
PY=.venv/bin/python

python3 Benchmarks/make_replay_fixture.py "$FIXTURE" "$PASSES" >&2
swift build -c release --product trace-bridge >&2
TB=.build/release/trace-bridge

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }

t0=$(now)
python3 - "$FIXTURE" <<'PY'
import base64, json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    record = json.loads(line)
    outer = json.loads(base64.b64decode(record["body_b64"]))
    json.loads(outer["oslo.message"])
    n += 1
PY
t1=$(now)
baseline=$(elapsed "$t0" "$t1")

"$TB" replay "$FIXTURE" --format otlp-proto --output "$OUT/replay.pb" --quiet
t2=$(now)
"$TB" replay "$FIXTURE" --format otlp-proto --output "$OUT/replay.pb" --quiet
t3=$(now)
replay=$(elapsed "$t2" "$t3")
spans=$("$TB" replay "$FIXTURE" --format otlp-json --output "$OUT/replay.json" 2>&1 | sed -n 's/.*, \([0-9]*\) spans in.*/\1/p')
messages=$(wc -l < "$FIXTURE")
gzip -kf "$OUT/replay.pb"

echo "| what | wall s | messages/s | spans/s | bytes/span |"
echo "|---|---|---|---|---|"
python3 - "$messages" "$spans" "$baseline" "$replay" "$OUT" <<'PY'
import os, sys
messages, spans, baseline, replay, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
print(f"| Python baseline: parse only | {baseline:.3f} | {messages / baseline:,.0f} | – | – |")
print(f"| trace-bridge replay → OTLP protobuf (discarded) | {replay:.3f} | {messages / replay:,.0f} | {spans / replay:,.0f} | {os.path.getsize(out + '/replay.pb') / spans:.0f} (gzip {os.path.getsize(out + '/replay.pb.gz') / spans:.0f}) |")
print(f"| (OTLP/JSON size) | | | | {os.path.getsize(out + '/replay.json') / spans:.0f} |")
print(f"replay/baseline speed: {baseline / replay:.2f}x; {messages} messages, {spans} spans", file=sys.stderr)
PY

"$PY" tools/otlp_receiver.py --out "$OUT/receiver.jsonl" > "$OUT/receiver.ports" 2>"$OUT/receiver.err" &
receiver=$!
trap 'kill -9 $receiver 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$OUT/receiver.ports" ] && break; sleep 0.1; done
grpc=$(python3 -c "import json;print(json.load(open('$OUT/receiver.ports'))['grpc_port'])")
http=$(python3 -c "import json;print(json.load(open('$OUT/receiver.ports'))['http_port'])")
for mode in "grpc http://127.0.0.1:$grpc none" "http/protobuf http://127.0.0.1:$http none" \
            "http/protobuf http://127.0.0.1:$http gzip" "http/json http://127.0.0.1:$http none"; do
    set -- $mode
    s=$(now)
    "$TB" replay "$FIXTURE" --format otlp --otlp-protocol "$1" --otlp-endpoint "$2" --otlp-compression "$3" --quiet
    e=$(now)
    python3 -c "w=$e-$s; print(f'| replay → export over $1 ($3) to the local receiver | {w:.3f} | {$messages/w:,.0f} | {$spans/w:,.0f} | – |')"
done
