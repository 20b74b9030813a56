# Replays a capture as a three-node RabbitMQ cluster would deliver it (as Tests/TraceCoreTests/ClusterSimulation.swift):
# each firehose connection on one node (hash), per-node link delay drifting between 0 and D ms, per-node order kept,
# captured_at := arrival. Measures the reorder window: `replay --reorder-window 0` vs the default on the output.
#   python3 Benchmarks/cluster_order.py IN.jsonl OUT.jsonl D_MS SEED
import json, random, sys, zlib
src, dst, d_ms, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed); D = int(d_ms * 1e6)
delay = [rng.randint(0, D) for _ in range(3)]; last = [-1] * 3; out = []
for i, line in enumerate(open(src)):
    r = json.loads(line); h = r.get("headers") or {}
    node = zlib.crc32((h.get("connection", "") + str(seed)).encode()) % 3
    if D:
        step = rng.randint(-D // 3, D // 3); nd = delay[node] + step
        nd = -nd if nd < 0 else nd; nd = 2 * D - nd if nd > D else nd; delay[node] = min(max(nd, 0), D)
    arrival = max(last[node], r["captured_at"] + delay[node]); last[node] = arrival
    h["node"] = "rabbit@node-" + "abc"[node]; r["headers"] = h
    if "header_types" in r and isinstance(r["header_types"], dict): r["header_types"]["node"] = "S"
    out.append((arrival, i, r))
out.sort(key=lambda x: (x[0], x[1]))
with open(dst, "w") as f:
    for n, (arrival, _, r) in enumerate(out, 1):
        r["captured_at"] = arrival; r["seq"] = n; f.write(json.dumps(r) + "\n")
