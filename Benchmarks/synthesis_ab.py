#!/usr/bin/env python3
"""Interleaved A/B of the synthesis stage: two builds of trace-bridge-bench, the same fixture, alternating runs.

    python3 Benchmarks/synthesis_ab.py A_BENCH B_BENCH FIXTURE [PAIRS] [ROUNDS]

Runs `BENCH FIXTURE synthesis ROUNDS` (default 10 rounds) PAIRS times for each build (default 14), alternating which
goes first, and prints each build's minimum, first quartile and median CPU seconds, their ratios (A/B: above 1 means B
is faster) and in how many pairs B was the faster. This machine kind moves a run by 2x from minute to minute, so a
change is judged by the minimum, the first quartile and the pairs together, never by one run; effects under about 5 %
are not told apart (Benchmarks/RESULTS.md).

Build B from the change and A from its parent, each copied out of .build/release before building the other:
    swift build -c release --product trace-bridge-bench && cp .build/release/trace-bridge-bench /tmp/bench-B
"""
import json
import statistics
import subprocess
import sys


def run(bench, fixture, rounds):
    out = subprocess.run([bench, fixture, "synthesis", str(rounds)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    a, b, fixture = sys.argv[1:4]
    pairs = int(sys.argv[4]) if len(sys.argv) > 4 else 14
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 10
    cpu = {a: [], b: []}
    spans = {}
    for index in range(pairs):
        for bench in (a, b) if index % 2 == 0 else (b, a):
            result = run(bench, fixture, rounds)
            cpu[bench].append(result["cpu_s"])
            spans.setdefault(bench, result["spans"])
    if spans[a] != spans[b]:
        print(f"spans differ: A {spans[a]}, B {spans[b]}")
    stats = {}
    for name, bench in (("A", a), ("B", b)):
        values = sorted(cpu[bench])
        stats[name] = (values[0], values[len(values) // 4], statistics.median(values))
        print(f"{name} {bench}: min {stats[name][0]:.3f} s, q1 {stats[name][1]:.3f}, median {stats[name][2]:.3f}")
    ratios = [x / y for x, y in zip(cpu[a], cpu[b])]
    print(f"A/B: min {stats['A'][0] / stats['B'][0]:.3f}, q1 {stats['A'][1] / stats['B'][1]:.3f}, "
          f"median {stats['A'][2] / stats['B'][2]:.3f}; pair median {statistics.median(ratios):.3f}, "
          f"B faster in {sum(r > 1 for r in ratios)} of {len(ratios)} pairs; spans {spans[b]}")


if __name__ == "__main__":
    main()
