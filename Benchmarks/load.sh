#!/usr/bin/env bash
# The live load benchmarks (Benchmarks/RESULTS.md), one command:
#   1. CPU per message at a fixed offered load: RATE firehose-shaped messages per second for SECONDS, read at the same
#      time by the minimal C consumer and by `trace-bridge run` (exporting to a discarding OTLP/HTTP receiver);
#   2. memory under backlog: the agent's RSS with a BACKLOG-message backlog waiting and the collector hanging, and
#      every message still in the queue after it exits.
# See Benchmarks/live_load.py for exactly what is measured.
#
#   Benchmarks/load.sh            RATE=2000 SECONDS_=60 BACKLOG=100000 MEMORY_SECONDS=30 by default
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-2000}
DURATION=${SECONDS_:-60}
BACKLOG=${BACKLOG:-100000}
MEMORY_SECONDS=${MEMORY_SECONDS:-30}
. Benchmarks/live_setup.sh

before=$(received_spans)
"$PY" Benchmarks/live_load.py fixed-load --url "$URL" --consumer "$OUT/consumer" --agent "$agent" \
    --receiver-port "$port" --rate "$RATE" --seconds "$DURATION" --log-dir "$OUT" | tee "$OUT/fixed-load.json"
received=$(( $(received_spans) - before ))
exported=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_spans_exported"])' "$OUT/fixed-load.json")
echo "load: the agent exported $exported spans, the receiver got $received" >&2
[ "$received" = "$exported" ] || { echo "load: span counts differ" >&2; exit 1; }

"$PY" Benchmarks/live_load.py backlog-memory --url "$URL" --agent "$agent" --count "$BACKLOG" \
    --seconds "$MEMORY_SECONDS" --log-dir "$OUT" | tee "$OUT/backlog-memory.json"
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, trace-bridge ${AGENT_BINARY:-at $(git describe --always --dirty)}, $((SECONDS - t0)) s end to end"
