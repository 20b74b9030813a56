#!/usr/bin/env bash
# Capture the two-bus nova cells v2 fixture (issue 16 item 3): tools/scenario/cells_flow.py (driver.py's recording)
# with the API bus and cell1's bus in two vhosts of the private broker (tools/broker.sh, port 5682), and one
# `trace-bridge capture --mode firehose` per vhost running at the same time.
#
#   tools/scenario/capture_cells.sh [NAME]              (default NAME: q_cells)
#   tools/scenario/capture_cells.sh --nova [NAME]       (nova's own code, cells_nova.py; default NAME: q_cells_nova)
#
# Writes fixtures/NAME_api.jsonl (the API vhost's firehose), fixtures/NAME_cell.jsonl (cell1's) and
# fixtures/NAME.truth.json, the truth of both (tools/scenario/cells_truth.py; each operation, reply and delivery
# says its `bus`, api or cell1, and `vhost`). Both captures stamp captured_at from the same clock, so a replay can
# merge them by event time. The broker's queues per vhost and the driver's own truth stay in $TB_CAPTURE_WORK
# (default /tmp/tb-capture-NAME).
#
# Environment: as tools/scenario/capture_fixture.sh (TB_BROKER_DIR, TB_AMQP_PORT, TRACE_BRIDGE_SCENARIO_PYTHON,
# TRACE_BRIDGE_BIN, TB_FIXTURES_DIR); with --nova, TRACE_BRIDGE_NOVA_PYTHON (.venv-nova/bin/python, PyPI nova).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NOVA=()
if [[ ${1:-} == --nova ]]; then
    NOVA=(--nova)
    shift
    NAME=${1:-q_cells_nova}
    PY=${TRACE_BRIDGE_NOVA_PYTHON:-$ROOT/.venv-nova/bin/python}
else
    NAME=${1:-q_cells}
    PY=${TRACE_BRIDGE_SCENARIO_PYTHON:-$ROOT/.venv-scenario/bin/python}
fi
export TB_BROKER_DIR=${TB_BROKER_DIR:-$ROOT/.broker}
PORT=${TB_AMQP_PORT:-5682}
BIN=${TRACE_BRIDGE_BIN:-$ROOT/.build/debug/trace-bridge}
OUT=${TB_FIXTURES_DIR:-$ROOT/fixtures}
WORK=${TB_CAPTURE_WORK:-/tmp/tb-capture-$NAME}
BROKER=$ROOT/tools/broker.sh
BUSES=(api cell1)                       # driver.py's bus names
declare -A VHOST=([api]=tb-$NAME-api-$$ [cell1]=tb-$NAME-cell1-$$)
declare -A FILE=([api]=${NAME}_api [cell1]=${NAME}_cell)

log() { echo "capture_cells: $*" >&2; }
[[ -x $BIN ]] || { log "no $BIN: swift build first"; exit 1; }
[[ -x $PY ]] || { log "no $PY: make the scenario venv first"; exit 1; }
bash "$BROKER" status >/dev/null || { log "the private broker is not running: tools/broker.sh start"; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK"
declare -A capture_pid=()
poller_pid=''
cleanup() {
    [[ -n $poller_pid ]] && kill "$poller_pid" 2>/dev/null || true
    for pid in "${capture_pid[@]}"; do kill "$pid" 2>/dev/null || true; done
    for bus in "${BUSES[@]}"; do bash "$BROKER" ctl -q delete_vhost "${VHOST[$bus]}" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

for bus in "${BUSES[@]}"; do
    vhost=${VHOST[$bus]}
    bash "$BROKER" ctl -q add_vhost "$vhost" >/dev/null
    bash "$BROKER" ctl -q set_permissions -p "$vhost" guest '.*' '.*' '.*' >/dev/null
    bash "$BROKER" ctl -q trace_on -p "$vhost" >/dev/null
    "$BIN" capture --amqp-url "amqp://guest:guest@127.0.0.1:$PORT/$vhost" --mode firehose \
        --output "$WORK/$bus.jsonl" --queue tb-fixture-capture --queue-expires 300 2>"$WORK/capture-$bus.log" &
    capture_pid[$bus]=$!
done
for bus in "${BUSES[@]}"; do
    for _ in $(seq 1 300); do
        grep -q 'trace-bridge: connected' "$WORK/capture-$bus.log" 2>/dev/null && break
        kill -0 "${capture_pid[$bus]}" 2>/dev/null || { cat "$WORK/capture-$bus.log" >&2; exit 1; }
        sleep 0.1
    done
    grep -q 'trace-bridge: connected' "$WORK/capture-$bus.log" || { log "capture of $bus did not connect"; exit 1; }
done

(
    n=0
    while :; do
        n=$((n + 1))
        for bus in "${BUSES[@]}"; do
            bash "$BROKER" ctl -q list_queues -p "${VHOST[$bus]}" name type durable auto_delete exclusive arguments \
                >"$WORK/queues-$bus.$n.tsv" 2>/dev/null || true
        done
        sleep 1
    done
) &
poller_pid=$!

api_url="rabbit://guest:guest@127.0.0.1:$PORT/${VHOST[api]}"
cell_url="rabbit://guest:guest@127.0.0.1:$PORT/${VHOST[cell1]}"
status=0
(cd "$ROOT/tools/scenario" && setsid "$PY" cells_flow.py "${NOVA[@]}" --url "$api_url" --cell-url "$cell_url" \
    --truth "$WORK/driver-truth.json" --firehose-check) >"$WORK/driver.out" 2>"$WORK/driver.err" || status=$?
kill "$poller_pid" 2>/dev/null || true
wait "$poller_pid" 2>/dev/null || true
poller_pid=''
cat "$WORK/driver.out"
if [[ $status -ne 0 ]]; then
    log "driver failed ($status):"; tail -n 30 "$WORK/driver.err" >&2; exit 1
fi

for bus in "${BUSES[@]}"; do
    expected=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["firehose"][sys.argv[2]]["firehose_total"])' \
        "$WORK/driver-truth.json" "$bus")
    for _ in $(seq 1 300); do
        [[ $(wc -l <"$WORK/$bus.jsonl") -ge $expected ]] && break
        sleep 0.1
    done
    sleep 0.5
    kill -TERM "${capture_pid[$bus]}"
    wait "${capture_pid[$bus]}" || { log "capture of $bus exited with an error"; cat "$WORK/capture-$bus.log" >&2; exit 1; }
    unset "capture_pid[$bus]"
    got=$(wc -l <"$WORK/$bus.jsonl")
    [[ $got -eq $expected ]] || { log "$bus: capture has $got messages, the firehose check counted $expected"; exit 1; }
    cp "$WORK/$bus.jsonl" "$OUT/${FILE[$bus]}.jsonl"
    log "$bus: $got messages -> $OUT/${FILE[$bus]}.jsonl"
done

# The queues of both vhosts, each at its fullest sample, as one list (names prefixed by the bus).
largest() { wc -l "$@" | grep -v ' total$' | sort -n | tail -n 1 | awk '{print $2}'; }
{
    printf 'name\ttype\tdurable\tauto_delete\texclusive\targuments\n'
    for bus in "${BUSES[@]}"; do
        sed "s|^|$bus:|" "$(largest "$WORK"/queues-$bus.[0-9]*.tsv)"
    done
} >"$WORK/queues.tsv"

if [[ ${#NOVA[@]} -gt 0 ]]; then
    DESCRIPTION="nova cells v2 on two buses (vhosts) through nova 34.0.0's own code (tools/scenario/cells_nova.py: \
nova's config, nova.rpc, RPC API classes, versioned objects and notifiers; stand-in manager bodies): API bus nova-api@api-1, \
super-conductor nova-conductor@ctl-1, nova-scheduler@sched-1; cell1 bus nova-conductor@cell1-conductor, \
nova-compute@compute-1; no notification listener (notifications wait in their queues). Two boots (with and without \
a global request ID): API cast schedule_and_build_instances -> super-conductor calls select_destinations (scheduler \
notifications, legacy and versioned) then, inside nova.context.target_cell with cell1's CellMapping, casts \
build_and_run_instance through nova.compute.rpcapi.ComputeAPI (ClientRouter: a client on the cell transport) on the \
cell bus -> compute sends create.start/end (legacy and versioned) and instance.save() object_action calls to the cell \
conductor. Failure: nova-api targets cell1 and calls get_console_output of a missing instance -> InstanceNotFound. \
Captures: ${FILE[api]}.jsonl (API vhost), ${FILE[cell1]}.jsonl (cell1 vhost)."
else
    DESCRIPTION="nova cells v2 on two buses (vhosts): API bus nova-api@api-1, super-conductor \
nova-conductor@ctl-1, nova-scheduler@sched-1; cell1 bus nova-conductor@cell1-conductor, nova-compute@compute-1; \
ceilometer-agent-notification@telemetry-1 reads notifications on both. Real oslo.messaging 18.3.1 / kombu 5.7.0, \
tracing off, nova 34's RPC shapes (tools/scenario/cells_flow.py). Two boots (with and without a global request ID): \
API cast conductor compute_task schedule_and_build_instances -> super-conductor calls scheduler select_destinations \
(start/end notifications) and notifies compute.instance.update on the API bus, then inside target_cell casts \
build_and_run_instance to compute.compute-1 on the cell bus (the cross-bus publish: its cause was delivered on the \
API bus) -> compute notifies create.start/end and calls the cell conductor's object_action. Failure: nova-api \
targets cell1 and calls get_console_output of a missing instance on the cell bus -> InstanceNotFound. \
Captures: ${FILE[api]}.jsonl (API vhost), ${FILE[cell1]}.jsonl (cell1 vhost); replay with \
--service-map notifications=ceilometer-agent-notification."
fi
"$PY" "$ROOT/tools/scenario/cells_truth.py" "$WORK/driver-truth.json" "$OUT" "$NAME" \
    "api=$OUT/${FILE[api]}.jsonl" "cell1=$OUT/${FILE[cell1]}.jsonl" \
    --queues "$WORK/queues.tsv" \
    --driver-args "cells_flow.py ${NOVA[*]} --url API_VHOST --cell-url CELL1_VHOST --firehose-check" \
    --description "$DESCRIPTION"
log "wrote $OUT/${FILE[api]}.jsonl, $OUT/${FILE[cell1]}.jsonl and $OUT/$NAME.truth.json; broker view in $WORK"
