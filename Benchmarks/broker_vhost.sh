# Sourced by the live benchmarks (live_setup.sh, broker_cost.sh) from the repository root: the private broker of
# tools/broker.sh and a vhost of the benchmark's own.
#   rabbitmqctl ARGS...          rabbitmqctl for the private node, with its cookie and epmd
#   start_broker_vhost VHOST     starts the node unless it runs (then started_broker=true, for the caller's cleanup
#                                to stop it again), sets broker_pid, and creates VHOST afresh with guest's permissions
rabbitmqctl() { tools/broker.sh ctl -q "$@"; }

started_broker=false
start_broker_vhost() {
    if ! tools/broker.sh status >/dev/null 2>&1; then
        tools/broker.sh start >/dev/null
        started_broker=true
    fi
    broker_pid=$(cat "${TB_BROKER_DIR:-.broker}/node.pid")
    rabbitmqctl delete_vhost "$1" >/dev/null 2>&1 || true   # left over by an interrupted run
    rabbitmqctl add_vhost "$1" >/dev/null
    rabbitmqctl set_permissions -p "$1" guest '.*' '.*' '.*' >/dev/null
}
