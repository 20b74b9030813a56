#!/usr/bin/env python3
"""Driver truth (trace-bridge-scenario-truth/1) -> the fixtures' truth format.

    python fixture_truth.py DRIVER_TRUTH.json CAPTURE.jsonl OUT_DIR NAME \\
        [--description TEXT] [--queues LIST_QUEUES.tsv] [--driver-args ARGS]

Writes OUT_DIR/NAME.truth.json in the format GroundTruthTests reads (the one of
fixtures/a_boot.truth.json, see fixtures/README.md: `operations` with
`unique_id`, `kind`, `from`, `caused_by_unique_id`, `request_id`,
`global_request_id`, `user_id`, `traceparent`, `deliveries`, `replies`,
`outcome`, `failed`, `failure_visible_on_wire`, ...), and, when the services
exported spans of their own (oslo.messaging tracing), OUT_DIR/NAME.spans.jsonl,
one span a line, so every parent of our spans can be resolved.

The driver's record is kept as it is; this only renames and derives:
`failed` (the client saw a remote error, or a handler raised), and
`failure_visible_on_wire` (a reply carried the failure; a failing cast has no
reply, only its error notification shows it).
"""
import argparse
import json
import sys


def _delivery(d):
    return {
        'service': d['service'], 'host': d['host'], 'queue': d['queue'],
        'received_ns': d['delivered_at_ns'], 'redelivered': d['redelivered'],
        'headers': d.get('headers') or {},
        'failed': d.get('handler') not in (None, 'ok'),
        'failure': None if d.get('handler') in (None, 'ok') else d['handler'],
    }


def _qualified(module, cls):
    if cls is None:
        return None
    return f'{module}.{cls}' if module else cls


def _operation(seq, op):
    deliveries = [_delivery(d) for d in op['deliveries']]
    reply = op.get('reply')
    replies = []
    if reply:
        replies.append({
            'ts_ns': reply['published_at_ns'], 'from_service': reply['from']['service'],
            'reply_q': op['reply_q'], 'unique_id': reply['unique_id'],
            'routing_key': reply['routing_key'],
            # the driver keeps only final replies (no call_monitor_timeout: no heartbeats)
            'ending': reply.get('ending', True) is not False,
            'failure_class': _qualified(reply.get('failure_module'), reply.get('failure_class')),
            'deliveries': [_delivery(d) for d in reply['deliveries']],
        })
    handler_failed = any(d['failed'] for d in deliveries)
    visible = any(r['failure_class'] for r in replies)
    target = op.get('target') or {}
    return {
        'seq': seq,
        'ts_ns': op['published_at_ns'],
        'kind': op['kind'],
        'from': op['from'],
        'exchange': op['exchange'],
        'routing_key': op['routing_key'],
        'topic': target.get('topic'),
        'server': target.get('server'),
        'fanout': bool(target.get('fanout')),
        'method': op['method'],
        'event_type': op['event_type'],
        'priority': op['priority'],
        'publisher_id': op['publisher_id'],
        'notification_message_id': op.get('message_id'),
        'unique_id': op['unique_id'],
        'msg_id': op['msg_id'],
        'reply_q': op['reply_q'],
        'request_id': op['request_id'],
        'global_request_id': op['global_request_id'],
        'user_id': op.get('user_id'),
        'traceparent': op['traceparent'],
        'tracestate': op['tracestate'],
        'trace_info': None,
        'osprofiler_otel_ids': None,
        'caused_by_unique_id': op['caused_by'],
        'outcome': op['outcome'],
        'remote_exc_type': op.get('remote_exc_type'),
        'deliveries': deliveries,
        'replies': replies,
        'failed': op['outcome'] != 'ok' or handler_failed,
        'failure_visible_on_wire': visible,
        'wire': {'connection': op.get('connection'), 'connection_name': op.get('connection_name')},
    }


def _queues(path):
    """`rabbitmqctl -q list_queues name type durable auto_delete exclusive arguments` output."""
    if not path:
        return None
    rows = []
    with open(path) as f:
        lines = [line.rstrip('\n') for line in f if line.strip()]
    header = lines[0].split('\t') if lines and lines[0].startswith('name\t') else None
    for line in lines[1:] if header else lines:
        cells = line.split('\t')
        rows.append(dict(zip(header or ['name', 'type', 'durable', 'auto_delete', 'exclusive',
                                         'arguments'], cells)))
    # not oslo.messaging's: the capture's queue and the driver's firehose check
    return sorted((r for r in rows if not r['name'].startswith('tb-')), key=lambda r: r['name'])


def convert(truth, capture_lines, name, description, queues, driver_args):
    ops = [_operation(i + 1, op) for i, op in enumerate(truth['operations'])]
    api = next((p for p in truth['processes'] if p['service'] == 'nova-api'), None)
    publishes = sum(1 for line in capture_lines if json.loads(line)['routing_key'].startswith('publish.'))
    by_kind = {}
    for op in ops:
        by_kind[op['kind']] = by_kind.get(op['kind'], 0) + 1
    out = {
        'scenario': name,
        'description': description,
        'generated_at_ns': max((op['ts_ns'] for op in ops), default=0),
        'meta': {
            'generator': 'tools/scenario/capture_fixture.sh -> driver.py + trace-bridge capture',
            'driver_args': driver_args,
            'versions': truth['versions'],
            'oslo_messaging_rabbit': truth.get('rabbit_options', {}),
            'control_exchange': truth['control_exchange'],
            'wall_s': truth['duration_s'],
            'capture_file': f'{name}.jsonl',
            'flows': truth['flows'],
        },
        'control_exchange': truth['control_exchange'],
        'processes': [{'proc': p['name'], 'service': p['service'], 'host': p['host'],
                       'pid': p['pid'], 'tracing': 'on' if p['tracing_enabled'] else 'off'}
                      for p in truth['processes']],
        # The API's requests: the driver calls oslo.messaging from the API process directly; a traced flow runs
        # under an HTTP-like root span of its own (exported in NAME.spans.jsonl), so nothing arrives from outside.
        'api_requests': [{'label': f['name'], 'request_id': f['request_id'],
                          'global_request_id_sent': f['global_request_id'], 'traceparent_sent': None,
                          'traced': f['traced']} for f in truth['flows']] if api else [],
        'operations': ops,
        'counts': {
            'by_kind': by_kind, 'replies': truth['counts']['replies'],
            'failed': sum(1 for op in ops if op['failed']),
            'publishes': truth['counts']['publishes'], 'deliveries': truth['counts']['deliveries'],
        },
        'checks': {
            'firehose': truth.get('firehose'),
            'capture_messages': len(capture_lines),
            'capture_publishes': publishes,
            'capture_deliveries': len(capture_lines) - publishes,
            'problems': truth['problems'],
            'ok': not truth['problems']
            and len(capture_lines) == truth['counts']['publishes'] + truth['counts']['deliveries'],
        },
        'broker_queues_after_run': queues,
    }
    # Only when some operation carries a traceparent: the spans its parents may be.
    spans = truth.get('spans') or [] if any(op['traceparent'] for op in ops) else []
    return out, spans


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('driver_truth')
    ap.add_argument('capture')
    ap.add_argument('out_dir')
    ap.add_argument('name')
    ap.add_argument('--description', default='')
    ap.add_argument('--queues', help='list_queues output saved during the run')
    ap.add_argument('--driver-args', default='')
    args = ap.parse_args()
    with open(args.driver_truth) as f:
        truth = json.load(f)
    with open(args.capture) as f:
        capture_lines = [line for line in f if line.strip()]
    out, spans = convert(truth, capture_lines, args.name, args.description, _queues(args.queues),
                         args.driver_args.split())
    with open(f'{args.out_dir}/{args.name}.truth.json', 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    if spans:
        with open(f'{args.out_dir}/{args.name}.spans.jsonl', 'w') as f:
            for span in spans:
                f.write(json.dumps(span, sort_keys=True) + '\n')
    print(json.dumps({'fixture': args.name, 'operations': len(out['operations']),
                      'capture_messages': len(capture_lines), 'spans': len(spans),
                      'ok': out['checks']['ok']}))
    if not out['checks']['ok']:
        print(f"fixture_truth: {args.name}: checks failed: {out['checks']}", file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
