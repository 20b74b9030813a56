#!/usr/bin/env bash
# Recapture the nova captures (issue 15): m_multicreate_one_host, n_multicreate_two_hosts, o_migration_resize, each
# with tools/scenario/capture_fixture.sh against the private broker (tools/broker.sh start first), driven by nova's
# own code (tools/scenario/nova_flows.py) in .venv-nova (tools/scenario/requirements-nova.txt). About 25 s each.
#
#   tools/scenario/capture_nova.sh [NAME...]    (default: all three)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export TRACE_BRIDGE_SCENARIO_PYTHON=${TRACE_BRIDGE_NOVA_PYTHON:-$ROOT/.venv-nova/bin/python}
[[ -x $TRACE_BRIDGE_SCENARIO_PYTHON ]] || {
    echo "capture_nova: no $TRACE_BRIDGE_SCENARIO_PYTHON: python3.11 -m venv .venv-nova &&" \
        ".venv-nova/bin/pip install -r tools/scenario/requirements-nova.txt" >&2
    exit 1
}

BASE="Real nova 34.0.0 code (PyPI nova, tools/scenario/nova_flows.py via driver.py) on oslo.messaging 18.3.1 / kombu \
5.7.0 over RabbitMQ 3.10.8: nova.rpc transport, servers and notifiers (control_exchange nova, notification_format both, \
messagingv2, threading executor); clients nova.compute.rpcapi.ComputeAPI (compute RPC cap 6.5 pinned by \
[upgrade_levels] compute), nova.conductor.rpcapi.ComputeTaskAPI/ConductorAPI, nova.scheduler.rpcapi.SchedulerAPI with \
nova's versioned objects; object_action calls from instance.save()/migration.save() through the indirection API; \
notifications from nova.compute.utils. Processes nova-api@api-1, nova-conductor@ctl-1, nova-scheduler@sched-1, \
nova-compute@compute-1 and @compute-2 (each with RPC servers on compute and compute-alt). Manager method bodies are \
stand-ins (no DB, hypervisor, placement). No notification listener: notifications wait in notifications.info / \
versioned_notifications.info (no delivery)."
MC="Two POST /servers sent back to back, min_count 4 (with a global request ID) and 3: API cast \
schedule_and_build_instances -> conductor call select_destinations (scheduler: legacy+versioned select_destinations \
start/end) -> one cast build_and_run_instance per instance -> nova-compute runs the builds concurrently, each with 4 \
object_action calls (Instance.save) and compute.instance.create.start/end + instance.create.start/end."

capture() {
    local name=$1
    case $name in
    m_multicreate_one_host)
        "$HERE/capture_fixture.sh" "$name" "$MC All 7 builds on compute-1. $BASE" --scenario multi-create-one-host ;;
    n_multicreate_two_hosts)
        "$HERE/capture_fixture.sh" "$name" "$MC Builds alternate compute-1 / compute-2 (4 and 3 on each). $BASE" \
            --scenario multi-create-two-hosts ;;
    o_migration_resize)
        "$HERE/capture_fixture.sh" "$name" "A live migration (API cast live_migrate_instance -> conductor: \
select_destinations, call check_can_live_migrate_destination to compute-2 -> call check_can_live_migrate_source to \
compute-1; cast live_migration to compute-alt.compute-1 -> call pre_live_migration and \
post_live_migration_at_destination to compute-alt.compute-2, Migration.save/Instance.save object_action calls, \
live_migration pre/post/post_dest notifications), then a resize (cast migrate_server -> select_destinations, cast \
prep_resize to compute.compute-2 -> cast resize_instance to compute-alt.compute-1 -> cast finish_resize to \
compute-alt.compute-2) and, in a request of its own, cast confirm_resize to compute.compute-1; compute-1 -> compute-2 \
throughout. $BASE" --scenario migration ;;
    *) echo "unknown nova capture: $name (m_multicreate_one_host, n_multicreate_two_hosts, o_migration_resize)" >&2
       return 2 ;;
    esac
}

for name in "${@:-m_multicreate_one_host n_multicreate_two_hosts o_migration_resize}"; do
    for n in $name; do capture "$n"; done
done
