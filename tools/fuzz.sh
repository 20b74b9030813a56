#!/usr/bin/env bash
# Fuzzes the decoders with libFuzzer: the capture-line reader, the AMQP field-table (message headers) decoding, the
# oslo.messaging decoder and the traceparent parser (Fuzz/: one executable, the target named by TB_FUZZ_TARGET;
# Fuzz/README.md).
#
#   tools/fuzz.sh [SECONDS]     each target for SECONDS (default 60, as CI runs it); FUZZ_TARGETS="Oslo" for one
#
# Builds with -sanitize=fuzzer,address into .build-fuzz (release; a few minutes the first time), runs each target
# from the committed seed corpus (Fuzz/corpus/<target>) plus a working corpus kept in .build-fuzz between runs, and
# prints a line per target with the inputs run. A crash, leak, timeout or memory blow-up fails the run; the input is
# copied to Fuzz/regressions/<target>/, where `make test` replays it on every run from then on (FuzzRegressionTests).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${1:-${FUZZ_SECONDS:-60}}
TARGETS=(${FUZZ_TARGETS:-FixtureLine FieldTable Oslo TraceParent Decompression})
BUILD=.build-fuzz
RUNS=$BUILD/runs
mkdir -p "$RUNS"

echo "fuzz: building FuzzDecoders (release, -sanitize=fuzzer,address) for ${TARGETS[*]}" >&2
# ld.gold cannot link libFuzzer with SwiftPM's entry point alias: use the toolchain's lld.
swift build --build-path "$BUILD" -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
    -Xswiftc -use-ld=lld --product FuzzDecoders >"$RUNS/build.log" 2>&1 ||
    { tail -n 30 "$RUNS/build.log" >&2; exit 1; }

failed=0
echo "| target | inputs run | seconds | corpus | result |"
echo "|---|---|---|---|---|"
for target in "${TARGETS[@]}"; do
    corpus=$RUNS/corpus-$target
    mkdir -p "$corpus"
    log=$RUNS/$target.log
    status=0
    # -timeout: one input may take at most 10 s (deep nesting must not hang); -rss_limit_mb: no input may blow up
    # memory; -max_len: inputs up to 64 KiB (the 64 MiB body case is in the malformed-input suite).
    TB_FUZZ_TARGET=$target "$BUILD/release/FuzzDecoders" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$RUNS/$target-" -print_final_stats=1 "$corpus" "Fuzz/corpus/$target" >"$log" 2>&1 || status=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    elapsed=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "$SECONDS_EACH")
    size=$(ls "$corpus" | wc -l)
    if [ "$status" -ne 0 ]; then
        failed=1
        mkdir -p "Fuzz/regressions/$target"
        for artifact in "$RUNS/$target"-*; do
            [ -f "$artifact" ] && cp "$artifact" "Fuzz/regressions/$target/" && rm "$artifact"
        done
        echo "| $target | $runs | $elapsed | $size | **failed** (exit $status): input saved in Fuzz/regressions/$target, log $log |"
        grep -E 'ERROR|Fatal error|SUMMARY' "$log" | head -n 5 >&2 || true
    else
        echo "| $target | $runs | $elapsed | $size | no crash |"
    fi
done
exit $failed
