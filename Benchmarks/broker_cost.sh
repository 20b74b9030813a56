#!/usr/bin/env bash
# The broker-cost benchmark (issue 8): what each trace-bridge source mode costs the RabbitMQ broker, against the
# firehose off, all in one run (Benchmarks/RESULTS.md, "Broker cost per source mode").
#
#   Benchmarks/broker_cost.sh      RATE=3000 STEADY_SECONDS=20 MAX_SECONDS=10 SETTINGS_SECONDS=20
#                                  SENSITIVITY_SECONDS=10 by default (6.5 minutes on 2 cores)
#
# Modes: off (trace_off), on-unbound (trace_on, nothing bound to amq.rabbitmq.trace), firehose (an agent queue bound
# with publish.# and deliver.#), publish-only (publish.#), selective (publish.nova, publish. and deliver.compute.*),
# tap (trace_off; the agent queue bound with # to the nova exchange). The agent queue is declared like trace-bridge's
# default (durable classic, x-max-length 100000, x-overflow drop-head, x-message-ttl 600000, x-expires 1800000) and
# drained by the minimal C consumer
# (Benchmarks/c-consumer/consumer.c: prefetch 1000, multiple-ack every 100), not by trace-bridge: only the broker's
# cost is measured. The services are one C publisher (Benchmarks/c-consumer/publisher.c; a real 5.5 KB oslo.messaging
# body from fixtures/a_boot, rotating over nova:conductor, nova:compute.compute-1 and the default exchange's
# reply_bench) and one C consumer per service queue (no prefetch limit, an ack per message, like oslo.messaging).
#
# Per mode (Benchmarks/broker_cost.py does the measuring; its docstring has the details):
#   steady  RATE msg/s for STEADY_SECONDS: the broker's CPU (beam process utime + stime from /proc) per published
#           message, from the publisher's start until every queue is empty again; and the ratio to off.
#   max     the publisher flat out for MAX_SECONDS, all consumers draining: messages consumed per second by the
#           service consumers, and the ratio to off. Queues are deleted (with any backlog) after every measurement.
# Then, in firehose mode at steady load (SETTINGS_SECONDS each): durable classic vs non-durable (0.x) vs quorum agent
# queue (ONLY=settings runs these rows alone, about 3 minutes), prefetch 1000 vs
# 100, multiple-ack every 100 vs an ack per message. Then off and firehose at RATE/3 and 2×RATE (SENSITIVITY_SECONDS
# each, 0 skips them): the broker's CPU is not proportional to its message rate (a part does not follow the rate:
# most likely Erlang scheduler busy-waiting, timers, stats), so the per-message figure and the ratios depend on it.
# And off once more at the end, as a drift check. Before the modes, a small test counts what the `publish.` and
# `deliver.compute.*` bindings really match. Each result records the CPU the rest of the machine used meanwhile
# (`others_cores`): on a shared machine, that says which figures were disturbed.
#
# Uses the private broker of tools/broker.sh (started if it is not running, and then stopped again at the end; left
# running if it was), in a vhost of its own (tb-cost, deleted at the end), so the firehose is turned on and off for
# that vhost only. Raw results: .build-bench/broker-cost.jsonl (one JSON line per measurement); the Markdown tables
# are printed at the end (`.venv-scenario/bin/python Benchmarks/broker_cost.py summarize FILE` prints them again).
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${RATE:-3000}
STEADY_SECONDS=${STEADY_SECONDS:-20}
MAX_SECONDS=${MAX_SECONDS:-10}
SETTINGS_SECONDS=${SETTINGS_SECONDS:-20}
SENSITIVITY_SECONDS=${SENSITIVITY_SECONDS:-10}
ONLY=${ONLY:-all}
VHOST=tb-cost
URL="amqp://guest:guest@127.0.0.1:${TB_AMQP_PORT:-5682}/$VHOST"
OUT=.build-bench                      # gitignored (.build*/)
PY=.venv-scenario/bin/python          # py-amqp
RESULTS=$OUT/broker-cost.jsonl

. Benchmarks/broker_vhost.sh   # rabbitmqctl, start_broker_vhost, started_broker, broker_pid

helper=
cleanup() {
    # The helper stops its own children (publisher, consumers) when it gets SIGTERM.
    if [[ -n $helper ]] && kill -0 "$helper" 2>/dev/null; then
        kill -TERM "$helper" 2>/dev/null || true
        wait "$helper" 2>/dev/null || true
    fi
    rabbitmqctl delete_vhost "$VHOST" >/dev/null 2>&1 || true
    if $started_broker; then tools/broker.sh stop; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t0=$SECONDS
mkdir -p "$OUT"
echo "broker_cost: building the C publisher and consumer" >&2
cc -O2 -Wall Benchmarks/c-consumer/consumer.c -lrabbitmq -o "$OUT/consumer"
cc -O2 -Wall Benchmarks/c-consumer/publisher.c -lrabbitmq -o "$OUT/publisher"

start_broker_vhost "$VHOST"

: >"$RESULTS"
# In the background, so that the cleanup can stop it (and through it, its children) on an interrupt.
"$PY" Benchmarks/broker_cost.py --url "$URL" --vhost "$VHOST" --broker-pid "$broker_pid" --bin "$OUT" \
    --results "$RESULTS" --body "$OUT/broker-cost-body.json" --rate "$RATE" --steady-seconds "$STEADY_SECONDS" \
    --max-seconds "$MAX_SECONDS" --settings-seconds "$SETTINGS_SECONDS" \
    --sensitivity-seconds "$SENSITIVITY_SECONDS" --only "$ONLY" > >(tee "$OUT/broker-cost.out") &
helper=$!
wait "$helper"
helper=

echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)," \
     "RabbitMQ $(rabbitmqctl eval 'rabbit_misc:version().' 2>/dev/null | tr -d '"' || echo '?')," \
     "steady $RATE msg/s × ${STEADY_SECONDS} s, max ${MAX_SECONDS} s, settings ${SETTINGS_SECONDS} s," \
     "other rates ${SENSITIVITY_SECONDS} s," \
     "trace-bridge at $(git describe --always --dirty), $((SECONDS - t0)) s end to end"
"$PY" Benchmarks/broker_cost.py summarize "$RESULTS"
