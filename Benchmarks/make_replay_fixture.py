#!/usr/bin/env python3
"""Writes a large replay fixture from the shipped captures: PASSES passes over each capture, every pass with fresh
_unique_id, _msg_id, message_id and request IDs (so nothing deduplicates), the captures interleaved by their relative
time and captured_at moved forward, in the fixture
format trace-bridge replay reads. Generated at benchmark time, never committed.

    make_replay_fixture.py OUT [PASSES] [CAPTURES...]     default: 100 passes over a_boot b_failure d_notify e_otel
    make_replay_fixture.py --keep-request-ids OUT PASSES p_neutron

--keep-request-ids keeps every request ID across passes (the rest stays fresh): a service's own long-lived request
ID (a neutron agent's, for its whole life) then collects handlers pass after pass, up to the 256 a request keeps,
the case where correlation work per message grows with what a request holds.
"""
import base64
import json
import pathlib
import sys
import uuid

REPO = pathlib.Path(__file__).resolve().parent.parent
FRESH_KEYS = ["_unique_id", "_msg_id", "_context_request_id", "_context_global_request_id", "message_id"]


def main():
    arguments = [a for a in sys.argv[1:] if a != "--keep-request-ids"]
    fresh_keys = [k for k in FRESH_KEYS if "request_id" not in k] if "--keep-request-ids" in sys.argv else FRESH_KEYS
    out = pathlib.Path(arguments[0])
    passes = int(arguments[1]) if len(arguments) > 1 else 100
    captures = arguments[2:] or ["a_boot", "b_failure", "d_notify", "e_otel"]
    records = []
    for name in captures:
        for line in (REPO / "fixtures" / f"{name}.jsonl").read_text().splitlines():
            record = json.loads(line)
            outer = json.loads(base64.b64decode(record["body_b64"]))
            inner = json.loads(outer["oslo.message"]) if "oslo.message" in outer else outer
            records.append((name, record, outer, inner))
    # Each capture starts at 0 within a pass; a pass merges the captures by that relative time, so the flows
    # interleave (the boot's calls overlap the failure's and the notifications) as on a busy bus.
    firsts = {name: min(r["captured_at"] for n, r, _, _ in records if n == name) for name in captures}
    records.sort(key=lambda item: item[1]["captured_at"] - firsts[item[0]])
    start = min(firsts.values())
    span = max(r["captured_at"] - firsts[n] for n, r, _, _ in records) + 1_000_000_000
    seq = 0
    with out.open("w") as f:
        for number in range(passes):
            fresh = {}
            for name, record, outer, inner in records:
                message = dict(inner)
                for key in fresh_keys:
                    old = message.get(key)
                    if isinstance(old, str):
                        if (name, old) not in fresh:
                            new = uuid.uuid4()
                            fresh[(name, old)] = ("req-" + str(new)) if old.startswith("req-") else (
                                str(new) if "-" in old else new.hex)
                        message[key] = fresh[(name, old)]
                body = json.dumps({**outer, "oslo.message": json.dumps(message)} if "oslo.message" in outer else message)
                seq += 1
                line = dict(record, seq=seq, captured_at=start + number * span + record["captured_at"] - firsts[name],
                            body_b64=base64.b64encode(body.encode()).decode(), body_len=len(body))
                f.write(json.dumps(line) + "\n")
    print(json.dumps({"output": str(out), "messages": seq, "passes": passes, "captures": captures}))


if __name__ == "__main__":
    main()
