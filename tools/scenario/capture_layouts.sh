#!/usr/bin/env bash
# Recapture the queue-layout fixtures (issue 13): h_quorum_qm, i_stream_fanout,
# j_gzip, k_bz2, each with tools/scenario/capture_fixture.sh against the private
# broker (tools/broker.sh start first). About 15 s each.
#
#   tools/scenario/capture_layouts.sh [NAME...]    (default: all four)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

BASE="nova-like services (api-1, ctl-1, compute-1, sched-1, sched-2, a ceilometer notification listener on \
telemetry-1) on real oslo.messaging 18.3.1 / kombu 5.7.0 over RabbitMQ 3.10.8, oslo.messaging tracing off. Flows: \
boot (call conductor.instance_get_by_uuid; cast build_and_run_instance to compute-1 -> create.start/end \
notifications + object_action call), a periodic admin fanout update_instance_info to both schedulers, failure \
(failing call -> RemoteError; failing cast reboot_instance -> ERROR notification), pause_instance + a call."

capture() {
    local name=$1
    case $name in
    h_quorum_qm)
        "$HERE/capture_fixture.sh" "$name" "[oslo_messaging_rabbit] rabbit_quorum_queue, \
rabbit_transient_quorum_queue, use_queue_manager: quorum queues for topics, replies and fanouts; reply and fanout \
queues named <host>:<process>:<n>. The notification listener requeues compute.instance.create.start once \
(NotificationResult.REQUEUE): its second delivery is redelivered with x-delivery-count 1. $BASE" \
            --quorum --queue-manager --requeue-once compute.instance.create.start --no-tracing ;;
    i_stream_fanout)
        "$HERE/capture_fixture.sh" "$name" "[oslo_messaging_rabbit] rabbit_stream_fanout (with \
rabbit_transient_quorum_queue and rabbit_qos_prefetch_count=10, which oslo.messaging requires for it): one stream \
queue <topic>_fanout per topic, read by every listener (sched-1 and sched-2 both read scheduler_fanout); replies on \
transient quorum queues, topic queues classic. $BASE" \
            --stream-fanout --no-tracing ;;
    j_gzip)
        "$HERE/capture_fixture.sh" "$name" "[oslo_messaging_rabbit] kombu_compression=gzip: every body \
gzip-compressed by kombu, message header compression=application/x-gzip; classic queues. $BASE" \
            --compression gzip --no-tracing ;;
    k_bz2)
        "$HERE/capture_fixture.sh" "$name" "[oslo_messaging_rabbit] kombu_compression=bzip2 (kombu's name for \
bz2; 'bz2', the value oslo.messaging's help gives, is not a kombu codec and makes every publish fail): every body \
bz2-compressed, message header compression=application/x-bz2; classic queues. $BASE" \
            --compression bzip2 --no-tracing ;;
    *) echo "unknown layout fixture: $name (h_quorum_qm, i_stream_fanout, j_gzip, k_bz2)" >&2; return 2 ;;
    esac
}

for name in "${@:-h_quorum_qm i_stream_fanout j_gzip k_bz2}"; do
    for n in $name; do capture "$n"; done
done
