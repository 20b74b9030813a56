#!/usr/bin/env bash
# Recapture fixtures/p_neutron (issue 15): tools/scenario/neutron_driver.py (neutron 29.0.0 / neutron-lib 5.0.1's own
# RPC clients and notifiers, .venv-neutron) beside `trace-bridge capture --mode firehose`, through capture_fixture.sh
# (private broker, a vhost of its own). About 45 s. Then adds to the fixture truth what only the neutron driver
# records: each agent's long-lived request ID and, for a publish sent inside a handler under another context
# (l2population's own), the handler it ran in (`handling_unique_id`; its `caused_by_unique_id` is null).
#
#   tools/scenario/capture_neutron.sh
#
# The venv: python3 -m venv .venv-neutron && .venv-neutron/bin/pip install -r tools/scenario/requirements-neutron.txt
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NAME=p_neutron
PY=${TRACE_BRIDGE_NEUTRON_PYTHON:-$ROOT/.venv-neutron/bin/python}
[[ -x $PY ]] || { echo "capture_neutron: no $PY: make the neutron venv first (see the header)" >&2; exit 1; }

DESCRIPTION="neutron 29.0.0 / neutron-lib 5.0.1 RPC clients, notifiers and topic constants on real oslo.messaging \
18.3.1 / kombu 5.7.0 over RabbitMQ 3.10.8, control_exchange neutron, oslo.messaging tracing off. Processes: \
neutron-server@ctl-1 RPC worker (q-plugin, q-reports-plugin via neutron_lib.rpc.Connection.create_consumer), \
neutron-server@ctl-1 API worker, neutron-openvswitch-agent@compute-1 and @compute-2 (neutron.agent.rpc.create_consumers: \
q-agent-notifier-{port,network,security_group,tunnel}-update fanouts, l2population-update with its .<host> topic), \
neutron-dhcp-agent@net-1 (dhcp_agent), ceilometer-agent-notification@telemetry-1 (notifications). Each agent keeps one \
admin context (one request ID) for its life: has_alive_neutron_server, report_state (a call, then casts), tunnel_sync \
(the server fans tunnel_update out under the agent's context), get_devices_details_list_and_failed_devices, \
update_device_list (the server's l2population sends add_fdb_entries under its own context: a fanout and a cast to \
the agent's host topic, no cause on the wire), a failing get_network_details (NetworkNotFound). API side under a \
user's context: port create (DhcpAgentNotifyAPI cast port_create_end, port.create.start/end from publisher \
network.ctl-1), port update (AgentNotifierApi.port_update fanout, then the DHCP cast port_update_end), network \
update and a security group rule (fanouts). The DHCP agent's worker calls get_network_info under a fresh context \
per call (DhcpPluginApi)."

TB_SCENARIO_DRIVER="$HERE/neutron_driver.py" TRACE_BRIDGE_SCENARIO_PYTHON="$PY" \
    "$HERE/capture_fixture.sh" "$NAME" "$DESCRIPTION" "$@"

WORK=${TB_CAPTURE_WORK:-/tmp/tb-capture-$NAME}
OUT=${TB_FIXTURES_DIR:-$ROOT/fixtures}
"$PY" - "$WORK/driver-truth.json" "$OUT/$NAME.truth.json" <<'EOF'
import json, sys
driver, path = (json.load(open(sys.argv[1])), sys.argv[2])
fixture = json.load(open(path))
handling = {op['unique_id']: op['handling_unique_id'] for op in driver['operations'] if op.get('handling_unique_id')}
for op in fixture['operations']:
    if op['unique_id'] in handling:
        op['handling_unique_id'] = handling[op['unique_id']]
fixture['meta']['generator'] = 'tools/scenario/capture_neutron.sh -> neutron_driver.py + trace-bridge capture'
fixture['meta']['long_lived_contexts'] = driver['long_lived_contexts']
fixture['meta']['uncaused_foreign_context_publishes'] = driver['uncaused_foreign_context_publishes']
with open(path, 'w') as f:
    json.dump(fixture, f, indent=1)
    f.write('\n')
print(json.dumps({'handling_unique_id': len(handling), 'long_lived_contexts': len(driver['long_lived_contexts'])}))
EOF
