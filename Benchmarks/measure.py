"""Time one consumer draining a filled queue, and summarize such runs; used by Benchmarks/drain.sh.

    measure.py run --url URL --queue Q --count N --contender NAME [--stop] [--broker-pid PID] -- COMMAND...
    measure.py summarize RESULTS.jsonl

run: starts COMMAND, polls the queue's ready count every 10 ms over its own connection (opened beforehand), and
waits for COMMAND to exit; with --stop it sends SIGTERM once the queue has no ready message (the agent never exits
on its own: it then finishes what it holds, acknowledges it and exits). The queue must have no ready message after
the exit: whatever a consumer leaves unacknowledged goes back to ready when its channel closes, so this proves that
all N were acknowledged. Then the queue is deleted. Prints one JSON line:
  wall_s   from process start (before it connects) to its exit, every message acknowledged
  ready_s  from process start until the broker had handed out the last message (at most prefetch still unacked)
  cpu_s    user + system CPU of the process over its life (wait4), so startup and shutdown count too
  broker_cpu_s  CPU of the broker's beam process over the same interval (from /proc, 10 ms ticks)

summarize: the median of each contender's runs, and agent/C ratios, as a Markdown table.
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

from fill_backlog import connect

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid):
    """utime + stime of a process from /proc (seconds), or None if it is not there."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def run(args):
    connection = connect(args.url)
    channel = connection.channel()
    depth = lambda: channel.queue_declare(args.queue, passive=True).message_count
    if depth() != args.count:
        sys.exit(f"measure: {args.queue} holds {depth()} messages, expected {args.count}")
    log_path = f"{args.log_dir}/{args.queue}"
    with open(f"{log_path}.out", "wb") as out, open(f"{log_path}.err", "wb") as err:
        broker_before = process_cpu(args.broker_pid) if args.broker_pid else None
        start = time.monotonic()
        process = subprocess.Popen(args.command, stdout=out, stderr=err)
        ready_at, exited = None, 0
        # Not Popen.poll(): it would reap the child and lose its rusage, which only wait4 reports.
        while not exited and ready_at is None:
            exited, status, usage = os.wait4(process.pid, os.WNOHANG)
            if not exited and depth() == 0:
                ready_at = time.monotonic()
                if args.stop:
                    process.send_signal(signal.SIGTERM)
            elif not exited:
                time.sleep(0.01)
        if not exited:
            _, status, usage = os.wait4(process.pid, 0)
        end = time.monotonic()
        broker_after = process_cpu(args.broker_pid) if args.broker_pid else None
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"measure: {args.contender} failed (exit {process.returncode}); see {log_path}.err")
    left = depth()
    channel.queue_delete(args.queue)
    connection.close()
    if left:
        sys.exit(f"measure: {left} messages were left unacknowledged in {args.queue}")
    ready_at = ready_at or end  # a consumer that exits first had its last message handed out before that
    result = {"contender": args.contender, "messages": args.count, "wall_s": round(end - start, 4),
              "ready_s": round(ready_at - start, 4), "cpu_s": round(usage.ru_utime + usage.ru_stime, 4)}
    if broker_before is not None and broker_after is not None:
        result["broker_cpu_s"] = round(broker_after - broker_before, 2)
    # What the contender says it consumed: the C consumer's JSON line, the agent's "stopped messages=N".
    reported = re.search(rb'"messages": (\d+)|stopped .*\bmessages=(\d+)', open(f"{log_path}.out", "rb").read() +
                         open(f"{log_path}.err", "rb").read())
    result["reported_messages"] = int(next(g for g in reported.groups() if g)) if reported else None
    if result["reported_messages"] != args.count:
        sys.exit(f"measure: {args.contender} reports {result['reported_messages']} messages, expected {args.count}")
    print(json.dumps(result), flush=True)


def summarize(args):
    runs = {}
    for line in open(args.results):
        result = json.loads(line)
        runs.setdefault(result["contender"], []).append(result)
    median = {name: {key: statistics.median(r[key] for r in results) for key in ("wall_s", "ready_s", "cpu_s")}
              for name, results in runs.items()}
    print("| contender | runs | messages | wall s (median) | msg/s | CPU µs/message | broker CPU s | wall s of each run |")
    print("|---|---|---|---|---|---|---|---|")
    for name, results in runs.items():
        m, n = median[name], results[0]["messages"]
        broker = statistics.median(r.get("broker_cpu_s", float("nan")) for r in results)
        print(f"| {name} | {len(results)} | {n} | {m['wall_s']:.3f} | {n / m['wall_s']:,.0f} | "
              f"{m['cpu_s'] / n * 1e6:.1f} | {broker:.2f} | {' '.join('%.3f' % r['wall_s'] for r in results)} |")
    if {"agent", "c"} <= runs.keys():
        a, c = median["agent"], median["c"]
        print(f"\nagent/C: drain rate {c['wall_s'] / a['wall_s']:.2f}x (target >= 0.8), "
              f"CPU per message {a['cpu_s'] / c['cpu_s']:.2f}x (issue 17's target <= 3)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command_name", required=True)
    one = commands.add_parser("run")
    one.add_argument("--url", required=True)
    one.add_argument("--queue", required=True)
    one.add_argument("--count", type=int, required=True)
    one.add_argument("--contender", required=True)
    one.add_argument("--stop", action="store_true", help="SIGTERM the command once the queue has no ready message")
    one.add_argument("--broker-pid", type=int)
    one.add_argument("--log-dir", default=".")
    one.add_argument("command", nargs=argparse.REMAINDER)
    many = commands.add_parser("summarize")
    many.add_argument("results")
    args = parser.parse_args()
    if args.command_name == "run":
        args.command = args.command[1:] if args.command[:1] == ["--"] else args.command
        run(args)
    else:
        summarize(args)


if __name__ == "__main__":
    main()
