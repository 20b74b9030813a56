#!/usr/bin/env bash
# The live drain benchmark: how fast `trace-bridge run` drains a backlog of firehose messages from its queue, next to
# a minimal C consumer on the same librabbitmq, against the same broker in the same run (Benchmarks/RESULTS.md).
#
#   Benchmarks/drain.sh            COUNT=50000 RUNS=3 AGENT_PREFETCH=1000 by default (RESULTS.md: RUNS=5)
#
# For each run and contender, interleaved (C, agent, C, agent, ...): fill a fresh queue with COUNT messages
# (fill_backlog.py), start the consumer and time it from process start until every message is acknowledged
# (measure.py). The medians and ratios are printed at the end; every run's numbers stay in .build-bench/.
#
# The agent exports its spans over OTLP/HTTP protobuf to discard_receiver.py on loopback, which reads and drops each
# request (decoding them with the official bindings would cost the shared 2 cores more than the agent does); after
# each agent run the receiver's span count must equal the agent's own count of exported spans.
#
# The backlog goes through a topic exchange of ours (tb-bench) rather than the firehose, with the firehose's routing
# keys and headers; the agent binds to it with --bind, so it still decodes the messages as firehose messages.
# Uses the private broker of tools/broker.sh (started if it is not running, and then stopped again at the end), in a
# vhost of its own (tb-bench, deleted at the end): the firehose is on for vhost /, where it would copy the whole
# backlog into every queue bound to it (the live tests' among them).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-50000}
RUNS=${RUNS:-3}
RESULTS=.build-bench/drain-results.jsonl
. Benchmarks/live_setup.sh   # broker, vhost tb-bench, release builds, discard receiver: $URL $OUT $PY $agent $port ...

: >"$RESULTS"
for run in $(seq 1 "$RUNS"); do
    for contender in c agent; do
        queue=tb-bench.$contender.$run
        fill=$("$PY" Benchmarks/fill_backlog.py --url "$URL" --queue "$queue" --count "$COUNT")
        echo "drain: run $run $contender: filled $fill" >&2
        sleep 1   # let the broker settle after the fill
        case $contender in
            c) command=("$OUT/consumer" "$URL" "$queue" "$COUNT"); stop= ;;
            agent) command=("$agent" run --amqp-url "$URL" --queue "$queue" --bind tb-bench:# --prefetch ${AGENT_PREFETCH:-1000}
                            --otlp-protocol http/protobuf --otlp-endpoint "http://127.0.0.1:$port"); stop=--stop ;;
        esac
        before=$(received_spans)
        "$PY" Benchmarks/measure.py run --url "$URL" --queue "$queue" --count "$COUNT" \
            --contender "$contender" $stop --broker-pid "$broker_pid" --log-dir "$OUT" -- "${command[@]}" |
            tee -a "$RESULTS"
        if [ "$contender" = agent ]; then
            received=$(( $(received_spans) - before ))
            exported=$(sed -n 's/.*spans_exported=\([0-9]*\).*/\1/p' "$OUT/$queue.err" "$OUT/$queue.out" | tail -n 1)
            echo "drain: run $run agent: exported $exported spans, the receiver got $received" >&2
            if [ "$received" != "$exported" ] || [ "$received" = 0 ]; then
                echo "drain: span counts differ: see $OUT/$queue.err" >&2
                exit 1
            fi
        fi
    done
done

echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)," \
     "$COUNT messages per run, $RUNS runs each, trace-bridge ${AGENT_BINARY:-at $(git describe --always --dirty)}," \
     "$((SECONDS - t0)) s end to end"
"$PY" Benchmarks/measure.py summarize "$RESULTS"
