#!/usr/bin/env python3
"""The baseline for `trace-bridge-bench FILE oslo ROUNDS`: CPython's C json parser on the same bodies.

    python3 Benchmarks/oslo_floor.py FILE [ROUNDS]

Reads every body of a capture into memory first (untimed), then per body and round: json.loads of the envelope and,
when it has one, json.loads of its `oslo.message` string. That parses everything (args included) into Python
objects, where the agent reads only the allow-listed keys and skips the rest, so it is a floor to beat, not a twin.
Prints one JSON line like the bench's: bodies, rounds, CPU µs per body.
"""
import base64
import json
import sys
import time


def main() -> None:
    path = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    bodies = []
    with open(path, "rb") as capture:
        for line in capture:
            record = json.loads(line)
            bodies.append(base64.b64decode(record["body_b64"]))
    decoded = 0
    start = time.process_time()
    for _ in range(rounds):
        for body in bodies:
            try:
                outer = json.loads(body)
                inner = outer.get("oslo.message") if isinstance(outer, dict) else None
                if isinstance(inner, str):
                    json.loads(inner)
                decoded += 1
            except ValueError:
                pass
    cpu = time.process_time() - start
    print(json.dumps({
        "stage": "oslo-python-floor", "bodies": len(bodies), "rounds": rounds, "decoded": decoded,
        "mean_body_bytes": sum(map(len, bodies)) // max(len(bodies), 1), "cpu_s": round(cpu, 3),
        "cpu_us_per_body": round(cpu / max(len(bodies) * rounds, 1) * 1e6, 1),
    }, sort_keys=True))


if __name__ == "__main__":
    main()
