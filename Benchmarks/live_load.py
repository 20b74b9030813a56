"""Live benchmarks beside the drain (Benchmarks/load.sh runs them; Benchmarks/RESULTS.md has the figures).

    live_load.py fixed-load --url URL --consumer C_CONSUMER --agent TRACE_BRIDGE --receiver-port P
                            [--rate 2000] [--seconds 60]
    live_load.py backlog-memory --url URL --agent TRACE_BRIDGE [--count 100000] [--seconds 30]

fixed-load: CPU per message at a fixed offered load. Two queues are bound with `#` to our topic exchange (tb-bench):
one read by the minimal C consumer (Benchmarks/c-consumer/consumer.c), one by `trace-bridge run` exporting over
OTLP/HTTP to discard_receiver.py. A py-amqp publisher sends --rate real-shaped firehose messages per second
(fill_backlog.py's generator: the captures with fresh IDs) for --seconds, so both consumers get the same messages at
the same time. CPU = utime + stime from /proc, from just before the first publish until both queues are empty: per
message for both, per exported span for the agent (its own count, checked against the receiver's).

backlog-memory: the agent's resident memory while a 100k-message backlog waits and the collector hangs. The agent's
queue is filled first (fill_backlog.py), then the agent starts against discard_receiver.py --stall (accepts, never
answers) and its VmRSS is sampled every 0.2 s for --seconds; prefetch bounds what it holds. Then SIGTERM: after its
shutdown grace it exits, and every message must be back in the queue (nothing lost while the collector was away).

Each prints one JSON line.
"""

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import amqp  # noqa: E402
import fill_backlog  # noqa: E402  (the message generator and the agent's queue arguments)

from measure import process_cpu  # noqa: E402  (utime + stime from /proc, as the drain measures it)

EXCHANGE = "tb-bench"


def rss_kib(pid):
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def declare(channel, queue):
    channel.exchange_declare(EXCHANGE, "topic", durable=False, auto_delete=False)
    channel.queue_declare(queue, durable=fill_backlog.QUEUE_DURABLE, auto_delete=False,
                          arguments=fill_backlog.QUEUE_ARGUMENTS)
    channel.queue_bind(queue, EXCHANGE, "#")
    channel.queue_purge(queue)


def depth(channel, queue):
    result = channel.queue_declare(queue, passive=True)
    return result.message_count, result.consumer_count


def exported_spans(log_path):
    text = open(log_path, errors="replace").read()
    found = [line for line in text.splitlines() if "stopped" in line and "spans_exported=" in line]
    return int(found[-1].split("spans_exported=")[1].split()[0]) if found else None


def fixed_load(args):
    connection = fill_backlog.connect(args.url)
    channel = connection.channel()
    queues = {"c": "tb-bench.load.c", "agent": "tb-bench.load.agent"}
    for queue in queues.values():
        declare(channel, queue)
    total = args.rate * args.seconds
    os.makedirs(args.log_dir, exist_ok=True)
    logs = {name: open(f"{args.log_dir}/fixed-load.{name}.log", "wb") for name in queues}
    c = subprocess.Popen([args.consumer, args.url, queues["c"], str(total)], stdout=logs["c"], stderr=logs["c"])
    agent = subprocess.Popen(
        [args.agent, "run", "--amqp-url", args.url, "--queue", queues["agent"], "--bind", f"{EXCHANGE}:#",
         "--otlp-protocol", "http/protobuf", "--otlp-endpoint", f"http://127.0.0.1:{args.receiver_port}"],
        stdout=logs["agent"], stderr=logs["agent"])
    deadline = time.monotonic() + 30
    while any(depth(channel, q)[1] == 0 for q in queues.values()):
        if time.monotonic() > deadline:
            sys.exit("fixed-load: the consumers did not start")
        time.sleep(0.1)
    time.sleep(1)  # past start-up
    cpu0 = {"c": process_cpu(c.pid), "agent": process_cpu(agent.pid)}
    started = time.monotonic()
    messages = itertools.islice(fill_backlog.passes(fill_backlog.load_records()), total)
    sent = 0
    for routing_key, headers, body in messages:
        # Each message at its own due time, so the rate holds throughout, not just on average.
        due = started + sent / args.rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        channel.basic_publish(amqp.Message(body, application_headers=headers), exchange=EXCHANGE,
                              routing_key=routing_key)
        sent += 1
    published = time.monotonic()
    while any(depth(channel, q)[0] for q in queues.values()):
        time.sleep(0.05)
    drained = time.monotonic()
    time.sleep(0.5)  # the last batches reach the consumers' acks
    agent_cpu1 = process_cpu(agent.pid)
    c.wait(timeout=30)
    # The C consumer has exited (it stops at its count): its CPU since cpu0 is its total minus what it had then.
    c_total = float(json.loads(open(f"{args.log_dir}/fixed-load.c.log").read().strip().splitlines()[-1])["cpu_s"])
    agent.send_signal(signal.SIGTERM)
    agent.wait(timeout=60)
    spans = exported_spans(f"{args.log_dir}/fixed-load.agent.log")
    for queue in queues.values():
        channel.queue_delete(queue)
    connection.close()
    agent_cpu = agent_cpu1 - cpu0["agent"]
    c_cpu = c_total - cpu0["c"]
    result = {
        "rate": args.rate, "seconds": args.seconds, "messages": total,
        "publish_s": round(published - started, 2), "drained_after_publish_s": round(drained - published, 3),
        "c_cpu_s": round(c_cpu, 3), "agent_cpu_s": round(agent_cpu, 3), "agent_spans_exported": spans,
        "c_cpu_us_per_message": round(c_cpu / total * 1e6, 2),
        "agent_cpu_us_per_message": round(agent_cpu / total * 1e6, 2),
        "agent_cpu_us_per_span": round(agent_cpu / spans * 1e6, 2) if spans else None,
        "agent_over_c": round(agent_cpu / c_cpu, 2) if c_cpu > 0 else None,
        "agent_cores": round(agent_cpu / (drained - started), 4),
    }
    print(json.dumps(result), flush=True)


def backlog_memory(args):
    queue = "tb-bench.memory"
    fill = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "fill_backlog.py"),
                           "--url", args.url, "--queue", queue, "--count", str(args.count)],
                          capture_output=True, text=True)
    if fill.returncode != 0:
        sys.exit(f"backlog-memory: fill failed: {fill.stderr}")
    receiver = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "discard_receiver.py"),
                                 "--stall"], stdout=subprocess.PIPE, text=True)
    port = json.loads(receiver.stdout.readline())["port"]
    os.makedirs(args.log_dir, exist_ok=True)
    log = open(f"{args.log_dir}/backlog-memory.agent.log", "wb")
    agent = subprocess.Popen(
        [args.agent, "run", "--amqp-url", args.url, "--queue", queue, "--bind", f"{EXCHANGE}:#",
         "--otlp-protocol", "http/protobuf", "--otlp-endpoint", f"http://127.0.0.1:{port}", "--otlp-timeout", "5000",
         "--shutdown-grace", "2"],
        stdout=log, stderr=log)
    samples = []
    started = time.monotonic()
    while time.monotonic() - started < args.seconds:
        samples.append(rss_kib(agent.pid))
        time.sleep(0.2)
    connection = fill_backlog.connect(args.url)
    channel = connection.channel()
    ready_during, _ = depth(channel, queue)
    agent.send_signal(signal.SIGTERM)
    code = agent.wait(timeout=60)
    time.sleep(0.5)
    ready_after, _ = depth(channel, queue)
    channel.queue_delete(queue)
    connection.close()
    receiver.kill()
    peak = max(s.get("VmHWM", 0) for s in samples)
    result = {
        "backlog": args.count, "seconds": args.seconds, "samples": len(samples),
        "rss_mib_last": round(samples[-1]["VmRSS"] / 1024, 1), "rss_mib_peak": round(peak / 1024, 1),
        "ready_while_stalled": ready_during, "ready_after_exit": ready_after, "agent_exit": code,
    }
    print(json.dumps(result), flush=True)
    if ready_after != args.count:
        sys.exit(f"backlog-memory: {args.count - ready_after} messages lost")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("fixed-load")
    load.add_argument("--url", required=True)
    load.add_argument("--consumer", required=True)
    load.add_argument("--agent", required=True)
    load.add_argument("--receiver-port", type=int, required=True)
    load.add_argument("--rate", type=int, default=2000)
    load.add_argument("--seconds", type=int, default=60)
    load.add_argument("--log-dir", default=".build-bench")
    memory = sub.add_parser("backlog-memory")
    memory.add_argument("--url", required=True)
    memory.add_argument("--agent", required=True)
    memory.add_argument("--count", type=int, default=100_000)
    memory.add_argument("--seconds", type=int, default=30)
    memory.add_argument("--log-dir", default=".build-bench")
    args = parser.parse_args()
    {"fixed-load": fixed_load, "backlog-memory": backlog_memory}[args.command](args)


if __name__ == "__main__":
    main()
