"""Fill a trace-bridge queue with a backlog of firehose trace messages, for Benchmarks/drain.sh.

    fill_backlog.py --url amqp://guest:guest@127.0.0.1:5682/tb-bench --queue Q [--count 50000]

The messages are the repository's captures (fixtures/a_boot, b_failure, d_notify), replayed round-robin: each
record's firehose routing key (publish.nova, deliver.conductor, ...), its firehose headers with the firehose's own
AMQP types (py-amqp writes str as S, int as I, dict as F, list as A: exactly what the captures record in
header_types), its body. Each pass over a capture gets fresh _unique_id, _msg_id and _context_request_id values, mapped
consistently within the pass, so every message is distinct while a publish and its deliveries, a call and its reply,
and one request's messages still belong together, as on a real bus.

They are published to a topic exchange of ours (--exchange, default tb-bench) to which the queue is bound with #, so
they arrive with exactly those keys, headers and bodies. The agent reads them as firehose messages when run with
`--bind tb-bench:#` (its source mode follows its topology: firehose unless --tap-exchange). Use a vhost without the
firehose on (drain.sh has one of its own): with trace_on, each of our publishes would also be copied to every queue
bound to amq.rabbitmq.trace.

Prints one JSON line: messages, publish seconds, seconds until all of them were in the queue.
"""

import argparse
import base64
import itertools
import json
import pathlib
import sys
import time
import urllib.parse
import uuid

import amqp

REPO = pathlib.Path(__file__).resolve().parent.parent
CAPTURES = ["a_boot", "b_failure", "d_notify"]
# The agent's queue as it declares it by default (Sources/RabbitMQ/SourceTopology.swift QueueSettings: a durable
# classic queue, `declareArguments`): the agent re-declares the queue when it connects, and the broker refuses a
# declaration whose arguments or durability differ (the agent then exits with code 76).
QUEUE_ARGUMENTS = {"x-max-length": 100_000, "x-overflow": "drop-head", "x-message-ttl": 600_000,
                   "x-expires": 1_800_000, "x-queue-type": "classic"}
QUEUE_DURABLE = True
FRESH_KEYS = ["_unique_id", "_msg_id", "_context_request_id"]


def connect(url):
    parts = urllib.parse.urlsplit(url)
    vhost = urllib.parse.unquote(parts.path[1:]) or "/"
    connection = amqp.Connection(
        f"{parts.hostname}:{parts.port or 5672}", userid=urllib.parse.unquote(parts.username or "guest"),
        password=urllib.parse.unquote(parts.password or "guest"), virtual_host=vhost)
    connection.connect()
    return connection


def load_records():
    """(routing key, headers, outer body, inner oslo.message) for every record, in capture order."""
    records = []
    for name in CAPTURES:
        for line in (REPO / "fixtures" / f"{name}.jsonl").read_text().splitlines():
            record = json.loads(line)
            assert record["exchange"] == "amq.rabbitmq.trace", f"{name}: not a firehose record"
            outer = json.loads(base64.b64decode(record["body_b64"]))
            records.append((name, record["routing_key"], record["headers"], outer, json.loads(outer["oslo.message"])))
    return records


def passes(records):
    """Endless (routing key, headers, body) messages: the captures over and over, fresh IDs per pass per capture."""
    for _ in itertools.count():
        fresh = {}
        for name, routing_key, headers, outer, inner in records:
            message = dict(inner)
            for key in FRESH_KEYS:
                old = message.get(key)
                if isinstance(old, str):
                    if (name, old) not in fresh:
                        fresh[(name, old)] = "req-" + str(uuid.uuid4()) if old.startswith("req-") else uuid.uuid4().hex
                    message[key] = fresh[(name, old)]
            # oslo.messaging writes both levels with json.dumps' defaults, as here.
            body = json.dumps({**outer, "oslo.message": json.dumps(message)}).encode()
            yield routing_key, headers, body


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="amqp://USER:PASS@HOST:PORT/VHOST")
    parser.add_argument("--queue", required=True)
    parser.add_argument("--exchange", default="tb-bench", help="topic exchange to publish through (declared)")
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the backlog to be complete")
    args = parser.parse_args()
    if args.count > QUEUE_ARGUMENTS["x-max-length"]:
        sys.exit("fill_backlog: --count must stay below the queue's x-max-length, or drop-head would drop messages")

    connection = connect(args.url)
    channel = connection.channel()
    channel.exchange_declare(args.exchange, "topic", durable=False, auto_delete=False)
    channel.queue_declare(args.queue, durable=QUEUE_DURABLE, auto_delete=False, arguments=QUEUE_ARGUMENTS)
    channel.queue_bind(args.queue, args.exchange, "#")
    if channel.queue_declare(args.queue, passive=True).message_count:
        sys.exit(f"fill_backlog: queue {args.queue} is not empty")

    started = time.monotonic()
    for routing_key, headers, body in itertools.islice(passes(load_records()), args.count):
        channel.basic_publish(amqp.Message(body, application_headers=headers), exchange=args.exchange,
                              routing_key=routing_key)
    published = time.monotonic()
    # No publisher confirms (py-amqp would wait for each one in turn): the queue's count says when all have arrived.
    while (depth := channel.queue_declare(args.queue, passive=True).message_count) < args.count:
        if time.monotonic() - started > args.timeout:
            sys.exit(f"fill_backlog: only {depth} of {args.count} messages arrived in {args.timeout}s")
        time.sleep(0.05)
    complete = time.monotonic()

    connection.close()
    print(json.dumps({"queue": args.queue, "messages": depth, "publish_s": round(published - started, 3),
                      "complete_s": round(complete - started, 3)}))
    if depth != args.count:
        sys.exit(f"fill_backlog: {depth} messages in {args.queue}, expected {args.count}")


if __name__ == "__main__":
    main()
