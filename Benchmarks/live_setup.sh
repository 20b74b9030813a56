# Shared set-up of the live benchmarks (drain.sh, load.sh), sourced from the repository root:
#   - the private broker of tools/broker.sh (started if it is not running, and then stopped again on exit) with a
#     vhost of its own, tb-bench (deleted on exit): the firehose is on for vhost /, where it would copy every
#     benchmark message into the queues bound to it (the live tests' among them);
#   - release builds of the C consumer and of trace-bridge (AGENT_BINARY=PATH runs that binary instead: an A/B of two
#     builds against the same broker, e.g. a copy of .build/release/trace-bridge from before a change);
#   - Benchmarks/discard_receiver.py as the agent's OTLP/HTTP collector.
# Sets URL, OUT, PY, broker_pid, agent, port and received_spans (the receiver's span count so far).
VHOST=tb-bench
URL="amqp://guest:guest@127.0.0.1:${TB_AMQP_PORT:-5682}/$VHOST"
OUT=.build-bench                      # gitignored (.build*/)
PY=.venv-scenario/bin/python          # py-amqp

. Benchmarks/broker_vhost.sh   # rabbitmqctl, start_broker_vhost, started_broker, broker_pid

receiver=
cleanup() {
    if [ -n "$receiver" ]; then kill "$receiver" 2>/dev/null || true; fi
    rabbitmqctl delete_vhost "$VHOST" >/dev/null 2>&1 || true
    if $started_broker; then tools/broker.sh stop; fi
}
trap cleanup EXIT

t0=$SECONDS
mkdir -p "$OUT"
start_broker_vhost "$VHOST"

echo "building the C consumer and trace-bridge (release; the first build takes minutes)" >&2
cc -O2 -Wall Benchmarks/c-consumer/consumer.c -lrabbitmq -o "$OUT/consumer"
if [ -n "${AGENT_BINARY:-}" ]; then
    agent=$AGENT_BINARY
else
    swift build -c release --product trace-bridge >"$OUT/swift-release.log" 2>&1 ||
        { tail -n 30 "$OUT/swift-release.log" >&2; exit 1; }
    agent=$(swift build -c release --show-bin-path)/trace-bridge
fi

"$PY" Benchmarks/discard_receiver.py >"$OUT/receiver.port" &
receiver=$!
for _ in $(seq 50); do [ -s "$OUT/receiver.port" ] && break; sleep 0.1; done
port=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$OUT/receiver.port")
received_spans() { "$PY" -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["spans"])' \
                   "http://127.0.0.1:$port/stats"; }
