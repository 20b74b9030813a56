#!/usr/bin/env bash
# Capture one fixture with its ground truth: real oslo.messaging traffic
# (driver.py) beside `trace-bridge capture`, on the private broker
# (tools/broker.sh, port 5682), in a vhost of its own so nothing else leaks in.
#
#   tools/scenario/capture_fixture.sh NAME "DESCRIPTION" [driver.py flags...]
#   e.g. tools/scenario/capture_fixture.sh h_quorum_qm "quorum + queue manager" --quorum --queue-manager
#
# Writes fixtures/NAME.jsonl (the capture), fixtures/NAME.truth.json (the truth
# in the fixtures' format, tools/scenario/fixture_truth.py) and, when the
# services exported spans, fixtures/NAME.spans.jsonl. The broker's queues
# (list_queues, sampled while the services run), consumers and the driver's own
# truth are kept in $TB_CAPTURE_WORK (default /tmp/tb-capture-NAME).
#
# Environment: TB_BROKER_DIR (as tools/broker.sh), TB_AMQP_PORT (5682),
# TRACE_BRIDGE_SCENARIO_PYTHON (.venv-scenario/bin/python), TRACE_BRIDGE_BIN
# (.build/debug/trace-bridge), TB_FIXTURES_DIR (fixtures), TB_SCENARIO_DRIVER
# (tools/scenario/driver.py; the neutron one is neutron_driver.py, with the python of .venv-neutron).
set -euo pipefail

[[ $# -ge 2 ]] || { sed -n '2,16p' "$0" >&2; exit 2; }
NAME=$1 DESCRIPTION=$2
shift 2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export TB_BROKER_DIR=${TB_BROKER_DIR:-$ROOT/.broker}
PORT=${TB_AMQP_PORT:-5682}
PY=${TRACE_BRIDGE_SCENARIO_PYTHON:-$ROOT/.venv-scenario/bin/python}
BIN=${TRACE_BRIDGE_BIN:-$ROOT/.build/debug/trace-bridge}
OUT=${TB_FIXTURES_DIR:-$ROOT/fixtures}
WORK=${TB_CAPTURE_WORK:-/tmp/tb-capture-$NAME}
VHOST=tb-fixture-$NAME-$$
BROKER=$ROOT/tools/broker.sh

log() { echo "capture_fixture: $*" >&2; }
[[ -x $BIN ]] || { log "no $BIN: swift build first"; exit 1; }
[[ -x $PY ]] || { log "no $PY: make the scenario venv first"; exit 1; }
bash "$BROKER" status >/dev/null || { log "the private broker is not running: tools/broker.sh start"; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK"
capture_pid='' poller_pid=''
cleanup() {
    [[ -n $poller_pid ]] && kill "$poller_pid" 2>/dev/null || true
    [[ -n $capture_pid ]] && kill "$capture_pid" 2>/dev/null || true
    bash "$BROKER" ctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# A vhost of our own, firehose on (trace_on is per vhost).
bash "$BROKER" ctl -q add_vhost "$VHOST" >/dev/null
bash "$BROKER" ctl -q set_permissions -p "$VHOST" guest '.*' '.*' '.*' >/dev/null
bash "$BROKER" ctl -q trace_on -p "$VHOST" >/dev/null
AMQP_URL="amqp://guest:guest@127.0.0.1:$PORT/$VHOST"
TRANSPORT_URL="rabbit://guest:guest@127.0.0.1:$PORT/$VHOST"

"$BIN" capture --amqp-url "$AMQP_URL" --mode firehose --output "$WORK/capture.jsonl" \
    --queue tb-fixture-capture --queue-expires 300 2>"$WORK/capture.log" &
capture_pid=$!
for _ in $(seq 1 300); do
    grep -q 'trace-bridge: connected' "$WORK/capture.log" 2>/dev/null && break
    kill -0 "$capture_pid" 2>/dev/null || { cat "$WORK/capture.log" >&2; exit 1; }
    sleep 0.1
done
grep -q 'trace-bridge: connected' "$WORK/capture.log" || { log "capture did not connect"; exit 1; }

# The broker's queues while the services run (fanout and reply queues of some
# layouts are deleted when the services stop): one sample a second, keep all.
(
    n=0
    while :; do
        n=$((n + 1))
        bash "$BROKER" ctl -q list_queues -p "$VHOST" name type durable auto_delete exclusive arguments \
            >"$WORK/queues.$n.tsv" 2>/dev/null || true
        bash "$BROKER" ctl -q list_consumers -p "$VHOST" queue_name channel_pid consumer_tag ack_required \
            prefetch_count arguments >"$WORK/consumers.$n.tsv" 2>/dev/null || true
        sleep 1
    done
) &
poller_pid=$!

# setsid: a process group of its own, as a freshly started service has (the
# queue manager restarts its counters per process group).
status=0
setsid "$PY" "${TB_SCENARIO_DRIVER:-$ROOT/tools/scenario/driver.py}" --url "$TRANSPORT_URL" --truth "$WORK/driver-truth.json" \
    --firehose-check "$@" >"$WORK/driver.out" 2>"$WORK/driver.err" || status=$?
kill "$poller_pid" 2>/dev/null || true
wait "$poller_pid" 2>/dev/null || true
poller_pid=''
cat "$WORK/driver.out"
if [[ $status -ne 0 ]]; then
    log "driver failed ($status):"; tail -n 30 "$WORK/driver.err" >&2; exit 1
fi
bash "$BROKER" ctl -q list_queues -p "$VHOST" name type durable auto_delete exclusive arguments \
    >"$WORK/queues.after.tsv"

# Wait for the capture to hold every firehose message the driver's check counted.
expected=$("$PY" -c 'import json,sys; f=json.load(open(sys.argv[1]))["firehose"]; print(f["firehose_total"])' \
    "$WORK/driver-truth.json")
for _ in $(seq 1 300); do
    [[ $(wc -l <"$WORK/capture.jsonl") -ge $expected ]] && break
    sleep 0.1
done
sleep 0.5   # anything beyond would be a stray: let it show
kill -TERM "$capture_pid"
wait "$capture_pid" || { log "capture exited with an error"; cat "$WORK/capture.log" >&2; exit 1; }
capture_pid=''
got=$(wc -l <"$WORK/capture.jsonl")
[[ $got -eq $expected ]] || { log "capture has $got messages, the firehose check counted $expected"; exit 1; }

# The samples with the most queues and consumers: every service up.
largest() { wc -l "$@" | grep -v ' total$' | sort -n | tail -n 1 | awk '{print $2}'; }
cp "$(largest "$WORK"/queues.[0-9]*.tsv)" "$WORK/queues.tsv"
cp "$(largest "$WORK"/consumers.[0-9]*.tsv)" "$WORK/consumers.tsv"

cp "$WORK/capture.jsonl" "$OUT/$NAME.jsonl"
"$PY" "$ROOT/tools/scenario/fixture_truth.py" "$WORK/driver-truth.json" "$OUT/$NAME.jsonl" "$OUT" "$NAME" \
    --description "$DESCRIPTION" --queues "$WORK/queues.tsv" --driver-args "$*"
log "wrote $OUT/$NAME.jsonl ($got messages) and $OUT/$NAME.truth.json; broker view in $WORK"
