#!/usr/bin/env bash
# What a compressed body costs per message (issue 17 item 4), one run (Benchmarks/RESULTS.md):
# oslo.messaging's `kombu_compression` makes every body one codec's stream, and the agent decompresses it before the
# decoder reads it (BodyDecompressor, one decoder created per body).
#
# The boot capture (60 messages) and its five compressed forms in fixtures/compressed/ (the same messages, bodies
# compressed by kombu's codecs) are each repeated REPEAT times into one file, and trace-bridge-bench runs its parse
# and decode stages on each, ROUNDS times, the files interleaved. decode − parse is what the bus event, the
# decompression and the oslo.messaging decoder cost per message; the plain capture's figure is the same work without
# decompression, so each codec's row minus the plain row is what decompression adds (CPU µs, allocations and bytes
# allocated per message). Medians over the rounds; CPU is as noisy as the machine, allocation counts are exact.
#
#   Benchmarks/decompression.sh            REPEAT=60 ROUNDS=3 by default (3,600 messages per file)
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-60}
ROUNDS=${ROUNDS:-3}
OUT=.build-bench
mkdir -p "$OUT"

swift build -c release --product trace-bridge-bench >&2
BENCH=$(swift build -c release --show-bin-path)/trace-bridge-bench

files=(fixtures/a_boot.jsonl fixtures/compressed/a_boot.{gzip,zstd,brotli,bzip2,xz}.jsonl)
for file in "${files[@]}"; do
    name=$(basename "$file" .jsonl)
    for _ in $(seq "$REPEAT"); do cat "$file"; done >"$OUT/decompression-$name.jsonl"
done

: >"$OUT/decompression.jsonl"
for round in $(seq "$ROUNDS"); do
    for file in "${files[@]}"; do
        name=$(basename "$file" .jsonl)
        "$BENCH" "$OUT/decompression-$name.jsonl" parse decode |
            python3 -c 'import json, sys
rows = {r["stage"]: r for r in map(json.loads, sys.stdin) if "stage" in r}
print(json.dumps({"file": sys.argv[1], "round": int(sys.argv[2]), "messages": rows["decode"]["messages"],
                  **{k: round(rows["decode"][k] - rows["parse"][k], 1) for k in
                     ("cpu_us_per_message", "allocations_per_message", "allocated_bytes_per_message")}}))' \
                "$name" "$round" >>"$OUT/decompression.jsonl"
    done
done

python3 - "$OUT/decompression.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
names = list(dict.fromkeys(r["file"] for r in rows))
median = {n: {k: statistics.median(r[k] for r in rows if r["file"] == n)
              for k in ("cpu_us_per_message", "allocations_per_message", "allocated_bytes_per_message")} for n in names}
plain = median["a_boot"]
print("| body | decode − parse, CPU µs/message | decompression adds, µs | allocations added | bytes allocated added |")
print("|---|---|---|---|---|")
for n in names:
    m = median[n]
    print(f"| {n} | {m['cpu_us_per_message']:.1f} | {m['cpu_us_per_message'] - plain['cpu_us_per_message']:+.1f} "
          f"| {m['allocations_per_message'] - plain['allocations_per_message']:+.1f} "
          f"| {m['allocated_bytes_per_message'] - plain['allocated_bytes_per_message']:+,.0f} |")
PY
