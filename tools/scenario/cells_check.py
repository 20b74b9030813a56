#!/usr/bin/env python3
"""Check spans (trace-bridge's otlp-json output) against a several-bus truth (fixtures/q_cells.truth.json, or
the truth cells_flow.py writes in a live run).

    python cells_check.py TRUTH.json SPANS.otlp.jsonl [MORE.otlp.jsonl ...] [--json]

Several span files are taken as one set: one agent per bus gives one file each, a merged replay or one agent fed by
both buses gives one. The rules are those of Tests/TraceCoreTests/GroundTruthTests.swift (the operation's PRODUCER
with the sender's service and the expected trace, parented on a receive span of its cause; one CONSUMER per delivery,
parented on the PRODUCER, with the receiving service; one CLIENT per call with the caller's service and its status,
one SERVER per answered call, parented on its CONSUMER; one trace per request; unique span IDs), plus what a split
shows: each request is one tree (one root span: the PRODUCER of its first publish), and every cross-bus publish (an
operation whose cause was delivered on another bus, `cross_bus` in the truth) is attributed and parented like a
same-bus one.

Exit status 0 when every check passes, 1 otherwise; figures and each mismatch go to standard output. As a function:
`check(truth, spans)` returns an Outcome (figures, failures).
"""
import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field

KINDS = {1: 'INTERNAL', 2: 'SERVER', 3: 'CLIENT', 4: 'PRODUCER', 5: 'CONSUMER'}
ERROR = 2  # Status.code


def _value(v):
    for key in ('stringValue', 'boolValue', 'doubleValue'):
        if key in v:
            return v[key]
    if 'intValue' in v:
        return int(v['intValue'])
    return v


def load_otlp_json(paths):
    """otlp-json lines (ExportTraceServiceRequest JSON) -> flat span dicts with service, host and attributes."""
    spans = []
    for path in paths:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                for rs in json.loads(line).get('resourceSpans', []):
                    res = {a['key']: _value(a['value']) for a in rs.get('resource', {}).get('attributes', [])}
                    for ss in rs.get('scopeSpans', []):
                        for s in ss.get('spans', []):
                            spans.append({
                                'trace_id': s['traceId'], 'span_id': s['spanId'],
                                'parent': s.get('parentSpanId') or None, 'name': s['name'],
                                'kind': KINDS.get(s.get('kind'), str(s.get('kind'))),
                                'service': res.get('service.name'), 'host': res.get('host.name'),
                                'error': (s.get('status') or {}).get('code') == ERROR,
                                'attributes': {a['key']: _value(a['value']) for a in s.get('attributes', [])},
                                'events': s.get('events', []), 'file': path,
                            })
    return spans


def trace_of_uuid(text):
    """TraceID(uuid:) of TraceCore: a (req-)UUID's 32 hex digits."""
    hexdigits = text.removeprefix('req-').replace('-', '').lower()
    return hexdigits if len(hexdigits) == 32 else None


@dataclass
class Outcome:
    figures: dict = field(default_factory=lambda: defaultdict(int))
    failures: list = field(default_factory=list)


def normalize(truth):
    """A driver truth (cells_flow.py --truth, `caused_by`) -> the fixtures' field names this check reads."""
    if not truth['operations'] or 'caused_by_unique_id' in truth['operations'][0]:
        return truth
    ops = []
    for op in truth['operations']:
        reply = op.get('reply')
        handler_failed = any(x.get('handler') not in (None, 'ok') for x in op['deliveries'])
        ops.append(dict(op, caused_by_unique_id=op['caused_by'],
                        failed=op['outcome'] != 'ok' or handler_failed,
                        failure_visible_on_wire=bool(reply and reply.get('failure_class')),
                        replies=[{'ending': reply.get('ending', True) is not False}] if reply else []))
    return dict(truth, operations=ops)


def check(truth, spans, bus=None):
    """Scores `spans` (load_otlp_json) against `truth` (a fixtures' truth.json, loaded); returns an Outcome.

    `bus`: score only the operations published on that bus (what one agent on that bus could get right).
    """
    truth = normalize(truth)
    out = Outcome()
    fig = out.figures
    by_uid = {op['unique_id']: op for op in truth['operations']}
    ops = [op for op in truth['operations'] if bus is None or op.get('bus') == bus]
    by_id = {}
    for s in spans:
        if s['span_id'] in by_id:
            out.failures.append(f"duplicate span ID {s['span_id']} ({s['kind']} {s['name']})")
        by_id[s['span_id']] = s
    of = defaultdict(list)
    for s in spans:
        of[(s['kind'], s['attributes'].get('messaging.message.id'))].append(s)

    def fail(op, what, counter=None):
        where = f"{op.get('bus', '-')} {op['kind']} {op['method'] or op['event_type']} {op['unique_id'][:8]}"
        out.failures.append(f"{where}{' [cross-bus]' if op.get('cross_bus') else ''}: {what}")
        if counter:
            fig[counter] += 1

    def expected_trace(op):
        if op.get('traceparent'):
            return op['traceparent'].split('-')[1]
        cause = by_uid.get(op.get('caused_by_unique_id'))
        if cause:
            return expected_trace(cause)
        return trace_of_uuid(op.get('global_request_id') or op.get('request_id') or '')

    for op in ops:
        fig['operations'] += 1
        cross = bool(op.get('cross_bus'))
        if cross:
            fig['cross_bus'] += 1
        uid, sender, trace = op['unique_id'], op['from']['service'], expected_trace(op)
        producers = of[('PRODUCER', uid)]
        if len(producers) != 1:
            fail(op, f'{len(producers)} PRODUCER spans', 'producers_missing')
            continue
        producer = producers[0]
        if producer['trace_id'] != trace:
            fail(op, f"PRODUCER in trace {producer['trace_id']}, expected {trace}", 'wrong_trace')
        if producer['service'] == sender:
            fig['senders_right'] += 1
            fig['cross_bus_senders_right'] += cross
        else:
            fail(op, f"sender {producer['service']}, truth {sender}", 'wrong_sender')
        if op.get('caused_by_unique_id'):
            fig['causes'] += 1
            parent = by_id.get(producer['parent'])
            if parent and parent['kind'] in ('CONSUMER', 'SERVER') \
                    and parent['attributes'].get('messaging.message.id') == op['caused_by_unique_id']:
                fig['causes_right'] += 1
                fig['cross_bus_parents_right'] += cross
            else:
                got = f"{parent['kind']} {parent['name']}" if parent else ('none' if not producer['parent']
                                                                           else 'a span not in this set')
                fail(op, f'parent {got}, not a receive span of its cause', 'wrong_parent')
        deliveries = {(x['queue'], x['service'], x['host']): x for x in op['deliveries']}.values()
        consumers = list(of[('CONSUMER', uid)])
        fig['deliveries'] += len(deliveries)
        for delivery in deliveries:
            match = next((c for c in consumers if c['service'] == delivery['service']
                          and c['host'] in (None, delivery['host'])), None)
            if match is None:
                fail(op, f"no CONSUMER for {delivery['service']}@{delivery['host']}", 'consumers_missing')
                continue
            consumers.remove(match)
            if match['parent'] == producer['span_id'] and match['trace_id'] == trace:
                fig['consumers_right'] += 1
            else:
                fail(op, 'CONSUMER parent or trace', 'wrong_consumer')
        if consumers:
            fail(op, f'{len(consumers)} extra CONSUMER spans')
        clients, servers = of[('CLIENT', uid)], of[('SERVER', uid)]
        if op['kind'] == 'call':
            fig['calls'] += 1
            if len(clients) != 1:
                fail(op, f'{len(clients)} CLIENT spans', 'clients_missing')
            else:
                client = clients[0]
                failed_on_wire = op['failed'] and op['failure_visible_on_wire']
                if client['service'] == sender and client['error'] == failed_on_wire and client['trace_id'] == trace:
                    fig['clients_right'] += 1
                else:
                    fail(op, f"CLIENT {client['service']} error={client['error']} trace {client['trace_id']}",
                         'wrong_client')
            answered = any(r['ending'] for r in op['replies']) and op['deliveries']
            if len(servers) != (1 if answered else 0):
                fail(op, f'{len(servers)} SERVER spans', 'servers_missing')
            elif servers:
                server = servers[0]
                consumer = next(iter(of[('CONSUMER', uid)]), None)
                if consumer and server['parent'] == consumer['span_id'] \
                        and server['service'] == op['deliveries'][0]['service']:
                    fig['servers_right'] += 1
                else:
                    fail(op, f"SERVER {server['service']} parent {server['parent']}", 'wrong_server')
        elif clients or servers:
            fail(op, 'a round trip for a non-call')

    # Requests: one trace each, one tree each (one root; every parent in the set).
    requests = defaultdict(list)
    for s in spans:
        request = s['attributes'].get('openstack.request_id')
        if request:
            requests[request].append(s)
    for request, members in sorted(requests.items()):
        fig['requests'] += 1
        traces = {s['trace_id'] for s in members}
        if len(traces) != 1:
            out.failures.append(f'request {request}: {len(traces)} traces')
            fig['requests_split_traces'] += 1
        # Trees: spans joined by their parent links, and a CLIENT to the PRODUCER of its call (both children of
        # the caller's span: at a request's first publish, both are roots of one tree).
        group = {s['span_id']: s['span_id'] for s in members}

        def find(x):
            while group[x] != x:
                group[x] = group[group[x]]
                x = group[x]
            return x

        producer_of = {s['attributes'].get('messaging.message.id'): s['span_id']
                       for s in members if s['kind'] == 'PRODUCER'}
        for s in members:
            for other in (s['parent'], producer_of.get(s['attributes'].get('messaging.message.id'))
                          if s['kind'] == 'CLIENT' else None):
                if other in group:
                    group[find(s['span_id'])] = find(other)
        trees = defaultdict(list)
        for s in members:
            trees[find(s['span_id'])].append(s)
        if len(trees) != 1:
            roots = [s for s in members if s['parent'] not in group and s['kind'] != 'CLIENT']
            names = ', '.join(f"{r['service']} {r['kind']} {r['name']}" for r in roots)
            out.failures.append(f'request {request}: {len(trees)} trees (roots: {names})')
            fig['requests_split_trees'] += 1
    fig['spans'] = len(spans)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('truth')
    ap.add_argument('spans', nargs='+', help='otlp-json files (trace-bridge replay --format otlp-json)')
    ap.add_argument('--json', action='store_true', help='print the figures as one JSON object')
    ap.add_argument('--bus', help='score only the operations published on this bus (one agent on it)')
    args = ap.parse_args()
    with open(args.truth) as f:
        truth = json.load(f)
    outcome = check(truth, load_otlp_json(args.spans), bus=args.bus)
    fig = dict(outcome.figures)
    if args.json:
        print(json.dumps({'figures': fig, 'failures': outcome.failures}, indent=1))
    else:
        for line in outcome.failures:
            print('MISMATCH:', line)
        keys = ['operations', 'senders_right', 'causes_right', 'causes', 'consumers_right', 'deliveries',
                'clients_right', 'servers_right', 'calls', 'cross_bus', 'cross_bus_senders_right',
                'cross_bus_parents_right', 'requests', 'requests_split_trees', 'requests_split_traces', 'spans']
        print(' '.join(f'{k}={fig.get(k, 0)}' for k in keys))
    return 1 if outcome.failures else 0


if __name__ == '__main__':
    sys.exit(main())
