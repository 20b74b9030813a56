"""What each trace-bridge source mode costs the broker; the measuring half of Benchmarks/broker_cost.sh.

    broker_cost.py --url URL --vhost VHOST --broker-pid PID --bin DIR --results FILE.jsonl
                   [--rate 3000] [--steady-seconds 20] [--max-seconds 10] [--settings-seconds 20]
                   [--sensitivity-seconds 10]
    broker_cost.py summarize FILE.jsonl

Runs against an existing, empty vhost (broker_cost.sh creates and deletes it) and drives it with the C programs in
--bin (publisher, consumer; built from Benchmarks/c-consumer/). Every result is one JSON line in --results; the
Markdown tables at the end are made from that file only (`summarize` prints them again).

Topology, the same in every mode: the topic exchange `nova`, the service queues `conductor` and `compute.compute-1`
bound to it with their own names, and the reply queue `reply_bench` (reached through the default exchange), each
drained by one consumer with oslo.messaging's defaults (no prefetch limit, one basic.ack per message). The publisher
rotates over the three. Modes add tracing and an agent queue declared like trace-bridge declares its own by default
(a durable classic queue: x-max-length 100000, x-overflow drop-head, x-message-ttl 600000, x-expires 1800000,
x-queue-type classic; runs before 2026-12 used the non-durable queue of trace-bridge 0.x) drained by one consumer with
the agent's settings (prefetch 1000, multiple-ack every 100):

    off            trace_off, no agent queue
    on-unbound     trace_on, nothing bound to amq.rabbitmq.trace
    firehose       trace_on, agent queue bound to amq.rabbitmq.trace with publish.# and deliver.#
    publish-only   trace_on, publish.# only
    selective      trace_on, publish.nova, publish. (replies: the default exchange's key) and deliver.compute.*
    tap            trace_off, agent queue bound with # to the nova exchange

Per mode, each on freshly declared (empty) queues, with every consumer connected and the broker quiet first (under 5%
of a core over 0.5 s, after at least 1 s):
  steady   the publisher at --rate for --steady-seconds; the broker's CPU (utime + stime of its beam process, from
           /proc, 10 ms ticks) from just before the publisher starts until every queue has no ready message left
           after it exits, divided by the messages published.
  max      the publisher flat out for --max-seconds while the consumers drain; the service consumers' messages
           divided by the publisher's wall time (first publish to connection close), then the queues are deleted
           with whatever backlog they hold.
Then the agent queue's settings in firehose mode (steady load each): the durable classic queue (the default) vs the
non-durable one of trace-bridge 0.x vs a quorum queue, prefetch 1000 vs 100, multiple-ack every 100 vs an ack per
message (`--only settings` runs these rows alone). Then off and firehose at steady load again at a third of --rate and
at twice it (--sensitivity-seconds each): the broker's CPU has a part that does not follow the message rate (most
likely Erlang scheduler busy-waiting, timers, stats), so the per-message cost falls as the rate rises; the marginal
cost between two rates is printed too. And `off` once more at the end, to show how much the machine drifted during the
run.

Every steady and max result also has `others_cores`: the CPU the rest of the machine (anything but the broker, the C
programs and this script, from /proc/stat) used during it, the noise indicator on a shared machine.

Before the modes, a small check of two binding facts with tracing on: 10 messages to each destination (py-amqp),
each fetched once with basic.get (a delivery, so the firehose emits deliver.<queue>), and what lands in queues bound
to amq.rabbitmq.trace with `publish.`, `deliver.compute.*`, `publish.nova` and `#` is counted.
"""

import argparse
import base64
import collections
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fill_backlog import QUEUE_ARGUMENTS, connect  # noqa: E402  (the agent's queue arguments)

REPO = pathlib.Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
TRACE = "amq.rabbitmq.trace"
AGENT_QUEUE = "trace-bridge.firehose"
SERVICE_QUEUES = ["conductor", "compute.compute-1", "reply_bench"]
# (name, tracing on, agent queue bindings or None, agent queue messages expected per published message)
MODES = [
    ("off", False, None, 0),
    ("on-unbound", True, None, 0),
    ("firehose", True, [(TRACE, "publish.#"), (TRACE, "deliver.#")], 2),
    ("publish-only", True, [(TRACE, "publish.#")], 1),
    # publish.nova: 2 of 3 messages; publish.: the reply (1 of 3); deliver.compute.*: the compute cast (1 of 3)
    ("selective", True, [(TRACE, "publish.nova"), (TRACE, "publish."), (TRACE, "deliver.compute.*")], 4 / 3),
    ("tap", False, [("nova", "#")], 2 / 3),
]
MODE = {m[0]: m for m in MODES}
# (label, queue type, prefetch, ack every): the agent queue settings compared in firehose mode
SETTINGS = [
    ("durable classic, prefetch 1000, ack every 100 (the agent's defaults)", "classic", 1000, 100),
    ("non-durable (trace-bridge 0.x; RabbitMQ 4.3 refuses it)", "transient", 1000, 100),
    ("quorum queue", "quorum", 1000, 100),
    ("prefetch 100 (multiple-ack every 100)", "classic", 100, 100),
    ("an ack per message (prefetch 1000)", "classic", 1000, 1),
]
# The agent queue per type, as Sources/RabbitMQ/SourceTopology.swift QueueSettings declares it: (durable, arguments)
OLD_ARGUMENTS = {k: v for k, v in QUEUE_ARGUMENTS.items() if k not in ("x-expires", "x-queue-type")}
QUEUE_TYPES = {
    "classic": (True, dict(QUEUE_ARGUMENTS)),
    "quorum": (True, dict(QUEUE_ARGUMENTS, **{"x-queue-type": "quorum"})),
    "transient": (False, OLD_ARGUMENTS),
}

children = []


def log(message):
    print(f"broker_cost: {message}", file=sys.stderr, flush=True)


def beam_cpu(pid):
    """utime + stime of a process (the broker's beam, or one of ours), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy():
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICK


class Interference:
    """How much CPU the rest of the machine (anything but the broker, our C programs and this script) used during
    a measurement, in cores: the noise indicator of a shared machine."""

    def __init__(self, broker_pid, consumers):
        self.pids = [broker_pid, os.getpid()] + [p.pid for p in consumers.values()]
        self.start = self.sample()

    def sample(self):
        return machine_busy(), sum(beam_cpu(pid) for pid in self.pids), time.monotonic()

    def cores(self, publisher_cpu):
        (m0, o0, t0), (m1, o1, t1) = self.start, self.sample()
        return round(max(0.0, (m1 - m0) - (o1 - o0) - publisher_cpu) / (t1 - t0), 2)


def ctl(*args):
    subprocess.run(["tools/broker.sh", "ctl", "-q", *args], check=True, stdout=subprocess.DEVNULL)


class Bench:
    def __init__(self, args):
        self.args = args
        self.connection = connect(args.url)
        self.channel = self.connection.channel()
        self.tracing = None
        self.results = open(args.results, "a")

    def record(self, result):
        result = {"at": time.strftime("%H:%M:%S", time.gmtime()), **result}
        self.results.write(json.dumps(result) + "\n")
        self.results.flush()
        sys.stdout.write(json.dumps(result) + "\n")   # one write: stderr's progress lines interleave with it
        sys.stdout.flush()

    def set_tracing(self, on):
        if self.tracing != on:
            ctl("trace_on" if on else "trace_off", "-p", self.args.vhost)
            self.tracing = on

    def depth(self, queue):
        ok = self.channel.queue_declare(queue, passive=True)
        return ok.message_count, ok.consumer_count

    def declare(self, bindings, queue_type="classic"):
        """Fresh, empty service queues, and the agent queue when the mode has bindings."""
        ch = self.channel
        ch.exchange_declare("nova", "topic", durable=False, auto_delete=False)
        for queue in SERVICE_QUEUES + [AGENT_QUEUE]:
            ch.queue_delete(queue)
        for queue in SERVICE_QUEUES:
            ch.queue_declare(queue, durable=False, auto_delete=False)
            if queue != "reply_bench":
                ch.queue_bind(queue, "nova", queue)
        queues = list(SERVICE_QUEUES)
        if bindings:
            durable, arguments = QUEUE_TYPES[queue_type]
            ch.queue_declare(AGENT_QUEUE, durable=durable, auto_delete=False, arguments=arguments)
            for exchange, key in bindings:
                ch.queue_bind(AGENT_QUEUE, exchange, key)
            queues.append(AGENT_QUEUE)
        return queues

    def delete_queues(self):
        for queue in SERVICE_QUEUES + [AGENT_QUEUE]:
            self.channel.queue_delete(queue)

    def start_consumers(self, queues, prefetch, ack_every):
        consumers = {}
        for queue in queues:
            if queue == AGENT_QUEUE:
                options = ["--prefetch", str(prefetch), "--ack-every", str(ack_every)]
            else:   # oslo.messaging's defaults: rabbit_qos_prefetch_count 0 (no limit), one ack per message
                options = ["--prefetch", "0", "--ack-every", "1"]
            process = subprocess.Popen([f"{self.args.bin}/consumer", self.args.url, queue, "0", *options],
                                       stdout=subprocess.PIPE, text=True)
            children.append(process)
            consumers[queue] = process
        deadline = time.monotonic() + 15
        while any(self.depth(q)[1] < 1 for q in queues):
            if time.monotonic() > deadline or any(p.poll() is not None for p in consumers.values()):
                raise SystemExit("broker_cost: a consumer did not start")
            time.sleep(0.05)
        return consumers

    def stop_consumers(self, consumers):
        for process in consumers.values():
            process.send_signal(signal.SIGTERM)
        counts = {}
        for queue, process in consumers.items():
            out, _ = process.communicate(timeout=30)
            children.remove(process)
            if process.returncode != 0:
                raise SystemExit(f"broker_cost: the consumer of {queue} failed (exit {process.returncode})")
            counts[queue] = json.loads(out)["messages"]
        return counts

    def publish(self, rate, seconds):
        process = subprocess.Popen([f"{self.args.bin}/publisher", self.args.url, str(rate), str(seconds),
                                    self.args.body], stdout=subprocess.PIPE, text=True)
        children.append(process)
        out, _ = process.communicate()
        children.remove(process)
        if process.returncode != 0:
            raise SystemExit(f"broker_cost: the publisher failed (exit {process.returncode})")
        return json.loads(out)

    def settle(self):
        """After the consumers connect: wait until the broker is quiet (under 5% of a core over 0.5 s; at most 20 s),
        so that no earlier measurement's leftovers (a deleted backlog, garbage collection) count in the next one."""
        time.sleep(1)
        deadline = time.monotonic() + 20
        while True:
            cpu0 = beam_cpu(self.args.broker_pid)
            time.sleep(0.5)
            busy = (beam_cpu(self.args.broker_pid) - cpu0) / 0.5
            if busy < 0.05 or time.monotonic() > deadline:
                return round(busy * 1000, 1)

    def steady(self, mode, label=None, queue_type="classic", prefetch=1000, ack_every=100, kind="steady", seconds=None,
               rate=None):
        name, tracing, bindings, expected = MODE[mode]
        seconds = seconds or self.args.steady_seconds
        rate = rate or self.args.rate
        self.set_tracing(tracing)
        queues = self.declare(bindings, queue_type)
        consumers = self.start_consumers(queues, prefetch, ack_every)
        quiet = self.settle()
        others = Interference(self.args.broker_pid, consumers)
        cpu0, t0 = beam_cpu(self.args.broker_pid), time.monotonic()
        published = self.publish(rate, seconds)
        t_published = time.monotonic()
        deadline = t_published + 30
        while any(self.depth(q)[0] for q in queues) and time.monotonic() < deadline:
            time.sleep(0.02)
        cpu1, t1 = beam_cpu(self.args.broker_pid), time.monotonic()
        others_cores = others.cores(published["cpu_s"])
        left = {q: self.depth(q)[0] for q in queues}
        counts = self.stop_consumers(consumers)
        self.delete_queues()
        n = published["published"]
        result = {"kind": kind, "mode": name, "settings": label, "rate_target": rate,
                  "published": n, "publish_rate": round(published["rate"], 1), "window_s": round(t1 - t0, 3),
                  "drain_s": round(t1 - t_published, 3), "left_ready": sum(left.values()),
                  "broker_cpu_s": round(cpu1 - cpu0, 2), "broker_us_per_msg": round((cpu1 - cpu0) / n * 1e6, 1),
                  "service_consumed": sum(counts[q] for q in SERVICE_QUEUES),
                  "agent_consumed": counts.get(AGENT_QUEUE, 0), "agent_expected": round(n * expected),
                  "queue_type": queue_type, "durable": QUEUE_TYPES[queue_type][0], "prefetch": prefetch, "ack_every": ack_every, "quiet_before_ms_per_s": quiet,
                  "others_cores": others_cores}
        self.record(result)
        return result

    def maximum(self, mode):
        name, tracing, bindings, expected = MODE[mode]
        self.set_tracing(tracing)
        queues = self.declare(bindings)
        consumers = self.start_consumers(queues, 1000, 100)
        quiet = self.settle()
        others = Interference(self.args.broker_pid, consumers)
        cpu0 = beam_cpu(self.args.broker_pid)
        published = self.publish(0, self.args.max_seconds)
        cpu1 = beam_cpu(self.args.broker_pid)
        others_cores = others.cores(published["cpu_s"])
        counts = self.stop_consumers(consumers)
        backlog = {q: self.depth(q)[0] for q in queues}
        self.delete_queues()
        n, wall = published["published"], published["wall_s"]
        service = sum(counts[q] for q in SERVICE_QUEUES)
        result = {"kind": "max", "mode": name, "published": n, "publish_rate": round(published["rate"], 1),
                  "wall_s": round(wall, 3), "service_consumed": service,
                  "consumed_rate": round(service / wall, 1), "service_backlog": sum(backlog[q] for q in SERVICE_QUEUES),
                  "agent_consumed": counts.get(AGENT_QUEUE, 0), "agent_backlog": backlog.get(AGENT_QUEUE, 0),
                  "agent_expected": round(n * expected), "broker_cpu_s": round(cpu1 - cpu0, 2),
                  "broker_us_per_msg": round((cpu1 - cpu0) / n * 1e6, 1),
                  "broker_cores": round((cpu1 - cpu0) / wall, 2), "quiet_before_ms_per_s": quiet,
                  "others_cores": others_cores}
        self.record(result)
        return result

    def idle(self, seconds=3):
        cpu0, t0 = beam_cpu(self.args.broker_pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = beam_cpu(self.args.broker_pid), time.monotonic()
        self.record({"kind": "idle", "broker_cpu_ms_per_s": round((cpu1 - cpu0) / (t1 - t0) * 1000, 1)})

    def check_bindings(self):
        """Do `publish.` and `deliver.compute.*` match what selective mode means them to match? Count it."""
        import amqp
        self.set_tracing(True)
        ch = self.channel
        self.declare(None)
        checks = {"check.publish-dot": "publish.", "check.deliver-compute": "deliver.compute.*",
                  "check.publish-nova": "publish.nova", "check.all": "#"}
        for queue, key in checks.items():
            ch.queue_delete(queue)
            ch.queue_declare(queue, durable=False, auto_delete=False)
            ch.queue_bind(queue, TRACE, key)
        body = open(self.args.body, "rb").read()
        destinations = [("nova", "conductor"), ("nova", "compute.compute-1"), ("", "reply_bench")]
        for exchange, key in destinations:
            for _ in range(10):
                ch.basic_publish(amqp.Message(body, content_type="application/json"), exchange, key)
        for queue in SERVICE_QUEUES:
            deadline = time.monotonic() + 5
            got = 0
            while got < 10 and time.monotonic() < deadline:
                got += ch.basic_get(queue, no_ack=True) is not None
        time.sleep(0.5)
        counts = {key: self.depth(queue)[0] for queue, key in checks.items()}
        keys, modes = collections.Counter(), collections.Counter()
        while (message := ch.basic_get("check.all", no_ack=True)) is not None:
            keys[message.delivery_info["routing_key"]] += 1
            modes[str(message.properties.get("delivery_mode"))] += 1
        for queue in checks:
            ch.queue_delete(queue)
        self.delete_queues()
        expected = {"publish.": 10, "deliver.compute.*": 10, "publish.nova": 20, "#": 60}
        result = {"kind": "bindings", "published_per_destination": 10, "matched": counts, "expected": expected,
                  "ok": counts == expected, "firehose_routing_keys": dict(sorted(keys.items())),
                  "trace_message_delivery_modes": dict(modes)}
        self.record(result)
        if not result["ok"]:
            log(f"WARNING: binding check differs from what selective mode assumes: {counts} != {expected}")


def write_body(path):
    """A real ~5 KB oslo.messaging body: a_boot's first publish to nova-conductor of 4.5 to 6 KB."""
    for line in (REPO / "fixtures" / "a_boot.jsonl").read_text().splitlines():
        record = json.loads(line)
        body = base64.b64decode(record["body_b64"])
        if (record["routing_key"] == "publish.nova" and record["headers"].get("routing_keys") == ["conductor"]
                and 4500 <= len(body) <= 6000):
            pathlib.Path(path).write_bytes(body)
            return len(body)
    raise SystemExit("broker_cost: no suitable body in fixtures/a_boot.jsonl")


def run(args):
    log(f"body: {write_body(args.body)} bytes from fixtures/a_boot.jsonl")
    bench = Bench(args)
    bench.set_tracing(False)
    bench.idle()
    # Tracing off first (off, tap), then on (the check, the traced modes, the settings), then off again: few toggles.
    plan = [("steady", "off"), ("max", "off"), ("steady", "tap"), ("max", "tap"), ("bindings", None)]
    for mode in ["on-unbound", "firehose", "publish-only", "selective"]:
        plan += [("steady", mode), ("max", mode)]
    plan += [("settings", s) for s in SETTINGS]
    if args.sensitivity_seconds > 0:   # firehose first: tracing is still on
        plan += [("rate", (mode, rate)) for mode in ["firehose", "off"] for rate in (args.rate / 3, args.rate * 2)]
    plan += [("drift", "off")]
    if args.only == "settings":
        plan = [("settings", s) for s in SETTINGS]
    for step, what in plan:
        log(f"{step} " + {"settings": lambda: what[0], "rate": lambda: f"{what[0]} at {what[1]:g} msg/s"}
            .get(step, lambda: what or "")())
        if step == "steady":
            bench.steady(what)
        elif step == "max":
            bench.maximum(what)
        elif step == "bindings":
            bench.check_bindings()
        elif step == "settings":
            label, queue_type, prefetch, ack_every = what
            bench.steady("firehose", label, queue_type, prefetch, ack_every, kind="settings",
                         seconds=args.settings_seconds)
        elif step == "rate":
            bench.steady(what[0], kind="rate", seconds=args.sensitivity_seconds, rate=what[1])
        elif step == "drift":
            bench.steady(what, kind="drift")
    bench.set_tracing(False)
    bench.connection.close()


def ratio(value, base):
    return f"{value / base:.2f}×" if base else "–"


def summarize(path):
    rows = [json.loads(line) for line in open(path)]
    by = collections.defaultdict(list)
    for r in rows:
        by[(r["kind"], r.get("mode"))].append(r)
    first = lambda kind, mode: by[(kind, mode)][-1] if by[(kind, mode)] else None
    base_s, base_m = first("steady", "off"), first("max", "off")
    if base_s and base_m:
        modes_table(first, base_s, base_m)
    settings = by[("settings", "firehose")]
    if settings:
        base = settings[0]["broker_us_per_msg"]
        print(f"\n### Agent queue settings, firehose mode (publish.# + deliver.#), "
              f"steady {settings[0]['rate_target']:g} msg/s\n")
        print("| agent queue | broker CPU µs/msg | × the agent's defaults | agent msgs consumed / expected |")
        print("|---|---|---|---|")
        for r in settings:
            print(f"| {r['settings']} | {r['broker_us_per_msg']:.1f} | {ratio(r['broker_us_per_msg'], base)} | "
                  f"{r['agent_consumed']:,} / {r['agent_expected']:,} |")
    more_tables(rows, by, first, base_s)


def modes_table(first, base_s, base_m):
    binding_text = {name: ", ".join(f"`{k}`" if x == TRACE else f"`{x}`: `{k}`" for x, k in b) if b else "–"
                    for name, _, b, _ in MODES}
    print(f"\n### Broker cost per source mode (steady {base_s['rate_target']:g} msg/s; maximum rate flat out)\n")
    print("| mode | tracing | agent queue bound to | steady: broker CPU µs/msg | × off | agent msgs per published | "
          "max: consumed msg/s | × off | max: published msg/s | max: broker CPU µs/msg | max: broker cores | "
          "max: agent consumed / expected |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, tracing, _, _ in MODES:
        s, m = first("steady", name), first("max", name)
        if not s or not m:
            continue
        per = s["agent_consumed"] / s["published"]
        agent_max = f"{m['agent_consumed']:,} / {m['agent_expected']:,}" if m["agent_expected"] else "–"
        print(f"| {name} | {'on' if tracing else 'off'} | {binding_text[name]} | {s['broker_us_per_msg']:.1f} | "
              f"{ratio(s['broker_us_per_msg'], base_s['broker_us_per_msg'])} | {per:.2f} | "
              f"{m['consumed_rate']:,.0f} | {ratio(m['consumed_rate'], base_m['consumed_rate'])} | "
              f"{m['publish_rate']:,.0f} | {m['broker_us_per_msg']:.1f} | {m['broker_cores']:.2f} | {agent_max} |")


def more_tables(rows, by, first, base_s):
    sensitivity = {(r["mode"], r["rate_target"]): r for r in by[("rate", "off")] + by[("rate", "firehose")]}
    if sensitivity:
        for mode in ("off", "firehose"):
            s = first("steady", mode)
            sensitivity[(mode, s["rate_target"])] = s
        rates = sorted({rate for _, rate in sensitivity})
        print("\n### The same at other rates: broker CPU per message is not constant (steady load)\n")
        print("| rate msg/s | off µs/msg | firehose µs/msg | firehose / off | off marginal µs/msg | "
              "firehose marginal µs/msg | marginal firehose / off |")
        print("|---|---|---|---|---|---|---|")
        cpu_rate = lambda r: (r["broker_cpu_s"] / r["window_s"], r["published"] / r["window_s"])
        previous = None
        for rate in rates:
            off, fh = sensitivity.get(("off", rate)), sensitivity.get(("firehose", rate))
            if not off or not fh:
                continue
            marginal = ["–", "–", "–"]
            if previous:
                m = []
                for now_, before in ((off, previous[0]), (fh, previous[1])):
                    (c1, n1), (c0, n0) = cpu_rate(now_), cpu_rate(before)
                    m.append((c1 - c0) / (n1 - n0) * 1e6)
                marginal = [f"{m[0]:.1f}", f"{m[1]:.1f}", ratio(m[1], m[0])]
            print(f"| {rate:,.0f} | {off['broker_us_per_msg']:.1f} | {fh['broker_us_per_msg']:.1f} | "
                  f"{ratio(fh['broker_us_per_msg'], off['broker_us_per_msg'])} | {' | '.join(marginal)} |")
            previous = (off, fh)
    notes = []
    steady_all = [r for r in rows if r["kind"] in ("steady", "settings", "drift")]
    if steady_all:
        rates = [r["publish_rate"] for r in steady_all]
        drains = [r["drain_s"] for r in steady_all]
        counts = [r["published"] for r in steady_all]
        notes.append(f"steady runs: {min(counts):,} to {max(counts):,} messages each, publish rate "
                     f"{min(rates):,.0f} to {max(rates):,.0f} msg/s, queues empty "
                     f"{min(drains):.2f} to {max(drains):.2f} s after the publisher's close")
    others = [(r["others_cores"], r) for r in rows if "others_cores" in r]
    if others:
        worst = sorted(others, key=lambda o: -o[0])[:3]
        notes.append(f"CPU used by the rest of the machine during the measurements: median "
                     f"{sorted(o for o, _ in others)[len(others) // 2]:.2f} cores, most "
                     + ", ".join(f"{o:.2f} ({r['kind']} {r.get('settings') or r['mode']})" for o, r in worst)
                     + " (of 2; anything above ~0.1 disturbed that figure)")
    quiet = [r["quiet_before_ms_per_s"] for r in rows if "quiet_before_ms_per_s" in r]
    if quiet:
        notes.append(f"broker CPU just before each measurement: {min(quiet):.0f} to {max(quiet):.0f} ms per s")
    drift = first("drift", "off")
    if drift and base_s:
        notes.append(f"`off` measured again at the end: {drift['broker_us_per_msg']:.1f} µs/msg "
                     f"(first: {base_s['broker_us_per_msg']:.1f}; the spread is the run's noise)")
    idle = by[("idle", None)]
    if idle:
        notes.append(f"idle broker (no connection of ours): {idle[-1]['broker_cpu_ms_per_s']:.1f} ms CPU per s "
                     f"(included in every figure above, not subtracted)")
    check = by[("bindings", None)]
    if check:
        c = check[-1]
        notes.append(f"binding check (10 messages per destination, each fetched once): "
                     + ", ".join(f"`{k}` matched {v}" for k, v in c["matched"].items())
                     + f" ({'as expected' if c['ok'] else 'NOT as expected: ' + json.dumps(c['expected'])}); "
                     + "firehose routing keys seen: "
                     + ", ".join(f"`{k}` ×{v}" for k, v in c["firehose_routing_keys"].items())
                     + "; delivery_mode of the trace messages: "
                     + ", ".join(f"{k} ×{v}" for k, v in c.get("trace_message_delivery_modes", {}).items()))
    if notes:
        print()
        for note in notes:
            print(f"- {note}")


def main():
    if sys.argv[1:2] == ["summarize"]:
        summarize(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--vhost", required=True)
    parser.add_argument("--broker-pid", type=int, required=True)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--body", required=True, help="where to write the message body")
    parser.add_argument("--rate", type=float, default=3000)
    parser.add_argument("--steady-seconds", type=float, default=20)
    parser.add_argument("--max-seconds", type=float, default=10)
    parser.add_argument("--settings-seconds", type=float, default=20)
    parser.add_argument("--only", choices=["all", "settings"], default="all",
                        help="settings: only the agent queue settings rows (firehose mode)")
    parser.add_argument("--sensitivity-seconds", type=float, default=10,
                        help="off and firehose also at a third of --rate and at twice it (0: skip)")
    args = parser.parse_args()
    # SIGTERM (the shell's cleanup) ends the run through the finally below, which stops every child.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        run(args)
    finally:
        for process in children:
            if process.poll() is None:
                process.terminate()
        for process in children:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
