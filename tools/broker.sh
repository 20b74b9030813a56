#!/usr/bin/env bash
# Private RabbitMQ node for trace-bridge's live tests.
#
#   tools/broker.sh install|start|stop|restart|status|ctl RABBITMQCTL-ARGS...
#   tools/broker.sh cluster-start|cluster-stop|cluster-status|node-stop N|node-start N|cluster-ctl N ARGS...
#
# The node never shares anything with a system-wide RabbitMQ: its own node
# name, data/log dir, Erlang cookie, AMQP port, distribution port and even its
# own epmd port, all bound to 127.0.0.1 only.
#
# Environment (all optional):
#   TB_BROKER_DIR      base dir for data, logs, cookie   (default: $PWD/.broker)
#   TB_AMQP_PORT       AMQP listener                      (default: 5682)
#   TB_DIST_PORT       Erlang distribution port           (default: AMQP + 20000)
#   TB_TLS_PORT        amqps listener, test CA in $TB_BROKER_DIR/tls (default: AMQP + 1)
#   TB_EPMD_PORT       private epmd port                  (default: 4379)
#                      (the node name is fixed: a second node at the same
#                      time needs its own TB_EPMD_PORT as well as the others)
#   TB_START_TIMEOUT   seconds to wait for startup/stop   (default: 60)
#
# The cluster (issue 13): three more nodes, tb-cluster-N@localhost (N = 1..3), joined with join_cluster, the
# firehose on for every vhost of TB_CLUSTER_VHOSTS on each node. They share one cookie and a private epmd of their
# own (so stopping the cluster never touches the single node above), and are independent of that single node.
#   TB_CLUSTER_DIR        data, logs, cookie              (default: $TB_BROKER_DIR/cluster)
#   TB_CLUSTER_PORT       AMQP port of node 1; node N listens on PORT+N-1, distribution on that + 20000
#                         (default: 5692, so 5692/5693/5694 and 25692/25693/25694)
#   TB_CLUSTER_EPMD_PORT  the cluster's private epmd      (default: 4380)
#   TB_CLUSTER_VHOSTS     vhosts to trace, space-separated (default: /)
# `cluster-start` builds the cluster afresh (wiping TB_CLUSTER_DIR) unless all three nodes already run; `node-stop N`
# and `node-start N` stop and start one node, keeping its data: it rejoins the cluster, and comes back with the
# firehose off, as a real restarted node does (`cluster-ctl N trace_on -p /` turns it on again).
set -euo pipefail

NODE=trace-bridge-test@localhost
BASE=${TB_BROKER_DIR:-$PWD/.broker}
AMQP_PORT=${TB_AMQP_PORT:-5682}
DIST_PORT=${TB_DIST_PORT:-$((AMQP_PORT + 20000))}
TLS_PORT=${TB_TLS_PORT:-$((AMQP_PORT + 1))}
EPMD_PORT=${TB_EPMD_PORT:-4379}
TIMEOUT=${TB_START_TIMEOUT:-60}
URL="amqp://guest:guest@127.0.0.1:${AMQP_PORT}/"

# Debian's /usr/sbin/rabbitmq* wrappers `su rabbitmq` when run as root, which
# would switch HOME (and so the cookie) to /var/lib/rabbitmq. Call the real
# scripts instead.
RMQ_BIN=/usr/lib/rabbitmq/bin

log() { echo "broker: $*" >&2; }
die() { log "$*"; exit 1; }

# Everything RabbitMQ and the Erlang runtime read, pointed into $BASE.
broker_env() {
    mkdir -p "$BASE/mnesia" "$BASE/log"
    BASE=$(cd "$BASE" && pwd)   # RabbitMQ wants absolute paths
    local cookie_dir=${COOKIE_DIR:-$BASE}
    mkdir -p "$cookie_dir"
    export HOME=$(cd "$cookie_dir" && pwd)   # => private $HOME/.erlang.cookie for node and CLI
    export RABBITMQ_NODENAME=$NODE
    export RABBITMQ_CONF_ENV_FILE=$BASE/rabbitmq-env.conf   # not /etc/rabbitmq/...
    export RABBITMQ_CONFIG_FILE=$BASE/rabbitmq.conf
    export RABBITMQ_ADVANCED_CONFIG_FILE=$BASE/advanced.config
    export RABBITMQ_ENABLED_PLUGINS_FILE=$BASE/enabled_plugins
    export RABBITMQ_MNESIA_BASE=$BASE/mnesia
    export RABBITMQ_LOG_BASE=$BASE/log
    export RABBITMQ_PID_FILE=$BASE/node.pid
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$AMQP_PORT
    export RABBITMQ_DIST_PORT=$DIST_PORT
    # Distribution listener on loopback too (RABBITMQ_NODE_IP_ADDRESS is AMQP only).
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    # A private epmd: node and rabbitmqctl both read these, so names registered
    # by any system node (port 4369) are never seen nor touched.
    export ERL_EPMD_PORT=$EPMD_PORT
    export ERL_EPMD_ADDRESS=127.0.0.1
    export ERL_CRASH_DUMP=$BASE/log/erl_crash.dump   # not into $PWD

    [[ -f $HOME/.erlang.cookie ]] || {
        (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F > "$HOME/.erlang.cookie")
    }
    chmod 400 "$HOME/.erlang.cookie"
    : > "$BASE/rabbitmq-env.conf"
    if [[ -n ${NO_TLS:-} ]]; then
        printf 'loopback_users.guest = true\n' > "$BASE/rabbitmq.conf"
        [[ -f $BASE/advanced.config ]] || printf '[].\n' > "$BASE/advanced.config"
        printf '[].\n' > "$BASE/enabled_plugins"
        return 0
    fi
    # An amqps:// listener too, with a test CA of our own (tools/make_test_ca.sh), for the agent's TLS tests.
    bash "$(dirname "${BASH_SOURCE[0]}")/make_test_ca.sh" "$BASE/tls" >/dev/null
    cat > "$BASE/rabbitmq.conf" <<CONF
loopback_users.guest = true
listeners.ssl.default = 127.0.0.1:$TLS_PORT
ssl_options.cacertfile = $BASE/tls/ca.pem
ssl_options.certfile = $BASE/tls/server.pem
ssl_options.keyfile = $BASE/tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
CONF
    [[ -f $BASE/advanced.config ]] || printf '[].\n' > "$BASE/advanced.config"
    printf '[].\n' > "$BASE/enabled_plugins"   # no management (nor any) plugin
}

ctl() { "$RMQ_BIN/rabbitmqctl" -n "$NODE" "$@"; }

# Ask our epmd first: every rabbitmqctl run (re)starts epmd, which would
# leave a daemon behind after `stop`/`status`. `ping` only needs the node to
# be up, not fully booted.
node_up() {
    epmd -port "$EPMD_PORT" -names 2>/dev/null | grep -q "^name ${NODE%@*} " &&
        timeout 15 "$RMQ_BIN/rabbitmqctl" -q -n "$NODE" ping >/dev/null 2>&1
}

beam_pid() {
    local pid
    pid=$(cat "$BASE/node.pid" 2>/dev/null) || return 1
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

log_tail() {
    log "---- node log tail ($BASE/log) ----"
    tail -n 40 "$BASE/log/$NODE.log" "$BASE/log/startup.log" >&2 2>/dev/null || true
}

cmd_install() {
    if [[ ! -x $RMQ_BIN/rabbitmq-server ]]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y rabbitmq-server || { apt-get update && apt-get install -y rabbitmq-server; }
    fi
    # The package enables and (where policy allows) starts its own node on
    # 5672/4369. We never use it: stop it and keep it from coming back.
    if [[ -d /run/systemd/system ]]; then
        systemctl disable --now rabbitmq-server >/dev/null 2>&1 || true
    else
        service rabbitmq-server stop >/dev/null 2>&1 || invoke-rc.d rabbitmq-server stop >/dev/null 2>&1 || true
        update-rc.d rabbitmq-server disable >/dev/null 2>&1 || true
        systemctl disable rabbitmq-server >/dev/null 2>&1 || true   # for a later boot with systemd
    fi
    log "installed: $(dpkg-query -W -f='${Version}' rabbitmq-server); system service stopped and disabled"
}

cmd_start() {
    [[ -x $RMQ_BIN/rabbitmq-server ]] || die "rabbitmq-server not installed; run: $0 install"
    broker_env
    if node_up; then
        log "already running ($NODE, pid $(beam_pid || echo '?'))"
        echo "$URL"
        return 0
    fi
    start_node
    # The firehose is per vhost and not persistent across node restarts.
    ctl -q trace_on -p / >/dev/null
    log "started $NODE (pid $(beam_pid || echo '?')) in $((SECONDS - STARTED_AT))s; firehose on for vhost /"
    echo "$URL"
}

# Boots $NODE (environment from broker_env) and waits until it is fully up; STARTED_AT is when it began.
start_node() {
    local p
    for p in "$AMQP_PORT" "$DIST_PORT"; do
        port_busy "$p" && die "port $p on 127.0.0.1 is in use by something else"
    done

    local t0=$SECONDS server
    STARTED_AT=$t0
    # setsid: the node must not die with the calling shell / test runner group.
    setsid nohup "$RMQ_BIN/rabbitmq-server" >"$BASE/log/startup.log" 2>&1 </dev/null &
    server=$!
    # await_startup fails at once while the node is unreachable or still booting
    # its core (":noproc"), so retry it until the deadline.
    until timeout 15 "$RMQ_BIN/rabbitmqctl" -q -n "$NODE" await_startup --timeout 10 >/dev/null 2>&1; do
        if ! kill -0 "$server" 2>/dev/null; then
            log "rabbitmq-server exited during startup"; log_tail; exit 1
        fi
        if (( SECONDS - t0 >= TIMEOUT )); then
            log "node not started within ${TIMEOUT}s"; log_tail
            # setsid made $server a process group leader: this takes the
            # half-booted beam down even before it registered or wrote its pid.
            kill -KILL -- "-$server" 2>/dev/null || true
            stop_node
            [[ -n ${IN_CLUSTER:-} ]] || epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
            exit 1
        fi
        sleep 0.5
    done
}

cmd_stop() {
    [[ -x $RMQ_BIN/rabbitmqctl ]] || die "rabbitmq-server not installed"
    broker_env
    stop_node
    # Our private epmd outlives the node (rabbitmqctl starts it too); nothing
    # else registers on it.
    epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
}

# Stops $NODE (environment from broker_env), killing its beam if it hangs.
stop_node() {
    local pid
    pid=$(beam_pid || true)
    if ! node_up && [[ -z $pid ]]; then
        log "not running"
    else
        # `stop` returns once the node has begun halting; wait for the beam
        # process itself, then kill it if it hangs or if stop failed outright.
        local wait=$TIMEOUT t0=$SECONDS
        # (pid read before: the node removes its pid file while halting)
        timeout 30 "$RMQ_BIN/rabbitmqctl" -q -n "$NODE" stop >/dev/null 2>&1 || wait=0
        while [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && (( SECONDS - t0 < wait )); do sleep 0.2; done
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            log "node did not stop; killing beam pid $pid"
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "stopped $NODE"
    fi
    rm -f "$BASE/node.pid"
}

cmd_status() {
    [[ -x $RMQ_BIN/rabbitmqctl ]] || { log "rabbitmq-server not installed"; exit 3; }
    broker_env
    if node_up; then
        echo "running: $NODE pid $(beam_pid || echo '?') $URL"
        ctl -q list_vhosts name tracing
    else
        echo "stopped: $NODE"
        exit 3
    fi
}

# ---- The three-node cluster ----

CLUSTER_DIR=${TB_CLUSTER_DIR:-$BASE/cluster}
CLUSTER_PORT=${TB_CLUSTER_PORT:-5692}
CLUSTER_EPMD_PORT=${TB_CLUSTER_EPMD_PORT:-4380}
CLUSTER_VHOSTS=${TB_CLUSTER_VHOSTS:-/}
CLUSTER_SIZE=3

# Points the node globals (NODE, BASE, ports, URL) at cluster node $1; broker_env then sets up its environment.
cluster_node() {
    local n=$1
    [[ $n =~ ^[1-3]$ ]] || die "cluster node must be 1, 2 or 3, not '$n'"
    IN_CLUSTER=1 NO_TLS=1
    NODE=tb-cluster-$n@localhost
    mkdir -p "$CLUSTER_DIR/node-$n"
    CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
    BASE=$CLUSTER_DIR/node-$n
    COOKIE_DIR=$CLUSTER_DIR         # one cookie for the three nodes and their CLI
    AMQP_PORT=$((CLUSTER_PORT + n - 1))
    DIST_PORT=$((AMQP_PORT + 20000))
    EPMD_PORT=$CLUSTER_EPMD_PORT
    URL="amqp://guest:guest@127.0.0.1:${AMQP_PORT}/"
    broker_env
}

cluster_urls() {
    local n
    for n in $(seq 1 $CLUSTER_SIZE); do echo "amqp://guest:guest@127.0.0.1:$((CLUSTER_PORT + n - 1))/"; done
}

# The running nodes of node $1's cluster, as `cluster_status` reports them.
cluster_members() {
    cluster_node "$1"
    timeout 30 "$RMQ_BIN/rabbitmqctl" -q -n "$NODE" eval \
        'io:format("~s~n", [string:join([atom_to_list(N) || N <- rabbit_nodes:all_running()], " ")]).' 2>/dev/null | head -n 1
}

trace_on_node() {
    local vhost
    for vhost in $CLUSTER_VHOSTS; do
        ctl -q add_vhost "$vhost" >/dev/null 2>&1 || true   # `/` exists; others are made (the vhost is cluster-wide)
        ctl -q trace_on -p "$vhost" >/dev/null
    done
}

cmd_cluster_start() {
    [[ -x $RMQ_BIN/rabbitmq-server ]] || die "rabbitmq-server not installed; run: $0 install"
    local t0=$SECONDS n members
    members=$( (cluster_node 1; node_up) 2>/dev/null && cluster_members 1 || true)
    if [[ $(wc -w <<<"$members") == "$CLUSTER_SIZE" ]]; then
        log "cluster already running: $members"
        for n in $(seq 1 $CLUSTER_SIZE); do (cluster_node "$n"; trace_on_node); done
        cluster_urls
        return 0
    fi
    cmd_cluster_stop 2>/dev/null || true
    rm -rf "$CLUSTER_DIR"
    # Boot the three nodes side by side (each boot is mostly waiting on one core), then join 2 and 3 to 1.
    local pids=()
    for n in $(seq 1 $CLUSTER_SIZE); do
        ( cluster_node "$n"
          for p in "$AMQP_PORT" "$DIST_PORT"; do port_busy "$p" && die "port $p on 127.0.0.1 is in use by something else"; done
          start_node ) &
        pids+=($!)
    done
    local failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    if (( failed )); then cmd_cluster_stop; die "a cluster node did not start"; fi
    log "three nodes booted in $((SECONDS - t0))s; joining"
    for n in $(seq 2 $CLUSTER_SIZE); do
        ( cluster_node "$n"
          ctl -q stop_app >/dev/null
          ctl -q reset >/dev/null
          ctl -q join_cluster tb-cluster-1@localhost >/dev/null
          ctl -q start_app >/dev/null
          timeout 60 "$RMQ_BIN/rabbitmqctl" -q -n "$NODE" await_startup --timeout 50 >/dev/null ) 2>>"$CLUSTER_DIR/join.log" \
            || { tail -n 20 "$CLUSTER_DIR/join.log" >&2; cmd_cluster_stop; die "node $n could not join tb-cluster-1@localhost"; }
    done
    members=$(cluster_members 1)
    [[ $(wc -w <<<"$members") == "$CLUSTER_SIZE" ]] || { cmd_cluster_stop; die "cluster formed with only: $members"; }
    for n in $(seq 1 $CLUSTER_SIZE); do (cluster_node "$n"; trace_on_node); done
    log "cluster started in $((SECONDS - t0))s: $members; firehose on for vhost(s) $CLUSTER_VHOSTS on every node"
    cluster_urls
}

cmd_cluster_stop() {
    local n
    # All at once: a node stopped alone waits for nothing, but stopping them one by one is three times as long.
    for n in $(seq 1 $CLUSTER_SIZE); do (cluster_node "$n"; stop_node) & done
    wait
    epmd -port "$CLUSTER_EPMD_PORT" -kill >/dev/null 2>&1 || true
}

cmd_node_stop() {
    cluster_node "${1:?usage: $0 node-stop N}"
    stop_node
}

cmd_node_start() {
    cluster_node "${1:?usage: $0 node-start N}"
    if node_up; then log "already running ($NODE)"; echo "$URL"; return 0; fi
    for p in "$AMQP_PORT" "$DIST_PORT"; do port_busy "$p" && die "port $p on 127.0.0.1 is in use by something else"; done
    start_node
    log "started $NODE in $((SECONDS - STARTED_AT))s (rejoined: $(cluster_members "$1")); its firehose is OFF, as after any restart: $0 cluster-ctl $1 trace_on -p /"
    echo "$URL"
}

cmd_cluster_status() {
    local n up=0
    for n in $(seq 1 $CLUSTER_SIZE); do
        if (cluster_node "$n"; node_up); then
            up=$((up + 1))
            echo "running: tb-cluster-$n@localhost amqp://guest:guest@127.0.0.1:$((CLUSTER_PORT + n - 1))/ tracing: $(cluster_node "$n"; ctl -q list_vhosts name tracing | tr '\t\n' ': ')"
        else
            echo "stopped: tb-cluster-$n@localhost"
        fi
    done
    (( up > 0 )) || exit 3
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    # rabbitmqctl against the private node, e.g. `tools/broker.sh ctl add_user tracer secret` (used by the tests).
    ctl) shift; broker_env; ctl "$@" ;;
    status) cmd_status ;;
    cluster-start) cmd_cluster_start ;;
    cluster-stop) cmd_cluster_stop ;;
    cluster-status) cmd_cluster_status ;;
    node-stop) cmd_node_stop "${2:-}" ;;
    node-start) cmd_node_start "${2:-}" ;;
    # rabbitmqctl against cluster node N, e.g. `tools/broker.sh cluster-ctl 1 trace_on -p /`.
    cluster-ctl) n=${2:?usage: $0 cluster-ctl N ARGS...}; shift 2; cluster_node "$n"; ctl "$@" ;;
    *) echo "usage: $0 install|start|stop|restart|status|cluster-start|cluster-stop|cluster-status|node-stop N|node-start N|cluster-ctl N ARGS" >&2; exit 2 ;;
esac
