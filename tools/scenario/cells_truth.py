#!/usr/bin/env python3
"""A several-bus driver truth (cells_flow.py) -> one fixtures' truth for the captures of every bus.

    python cells_truth.py DRIVER_TRUTH.json OUT_DIR NAME BUS=CAPTURE.jsonl [BUS=CAPTURE.jsonl ...] \\
        [--description TEXT] [--queues LIST_QUEUES.tsv] [--driver-args ARGS]

Writes OUT_DIR/NAME.truth.json: fixture_truth.py's format (what GroundTruthTests reads), and on top of it
every operation, its replies and every delivery say their `bus` (api, cell1) and `vhost`; an operation sent by a
handler of a message delivered on another bus is `cross_bus: true`; `meta.capture_files` maps each bus to its capture
file (instead of `capture_file`), `buses` gives each bus's vhost, and `checks.by_bus` compares each capture with the
truth's publishes and deliveries on its bus.
"""
import argparse
import json
import os
import sys

import fixture_truth


def _where(record):
    return {'bus': record['bus'], 'vhost': record['vhost']}


def convert(truth, captures, name, description, queues, driver_args):
    """`captures`: bus -> (file name, lines)."""
    lines = [line for _, bus_lines in captures.values() for line in bus_lines]
    out, spans = fixture_truth.convert(truth, lines, name, description, queues, driver_args)
    for op, raw in zip(out['operations'], truth['operations'], strict=True):
        assert op['unique_id'] == raw['unique_id']
        op.update(_where(raw), cross_bus=raw['cross_bus'])
        for delivery, raw_delivery in zip(op['deliveries'], raw['deliveries'], strict=True):
            delivery.update(_where(raw_delivery))
        for reply in op['replies']:
            reply.update(_where(raw['reply']))
            for delivery, raw_delivery in zip(reply['deliveries'], raw['reply']['deliveries'], strict=True):
                delivery.update(_where(raw_delivery))
    meta = out['meta']
    del meta['capture_file']
    meta['capture_files'] = {bus: file for bus, (file, _) in captures.items()}
    out['buses'] = {bus: {'vhost': b['vhost'], 'capture_file': captures[bus][0]} for bus, b in truth['buses'].items()}
    by_bus = {}
    for bus, (_, bus_lines) in captures.items():
        publishes = sum(1 for line in bus_lines if json.loads(line)['routing_key'].startswith('publish.'))
        want = truth['counts']['by_bus'][bus]
        by_bus[bus] = {'capture_messages': len(bus_lines), 'capture_publishes': publishes,
                       'capture_deliveries': len(bus_lines) - publishes,
                       'truth_publishes': want['publishes'], 'truth_deliveries': want['deliveries'],
                       'ok': publishes == want['publishes'] and len(bus_lines) - publishes == want['deliveries']}
    out['checks']['by_bus'] = by_bus
    out['checks']['ok'] = out['checks']['ok'] and all(c['ok'] for c in by_bus.values())
    out['counts']['by_bus'] = truth['counts']['by_bus']
    out['counts']['cross_bus'] = truth['counts']['cross_bus']
    return out, spans


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('driver_truth')
    ap.add_argument('out_dir')
    ap.add_argument('name')
    ap.add_argument('captures', nargs='+', metavar='BUS=CAPTURE.jsonl')
    ap.add_argument('--description', default='')
    ap.add_argument('--queues', help='list_queues output saved during the run')
    ap.add_argument('--driver-args', default='')
    args = ap.parse_args()
    with open(args.driver_truth) as f:
        truth = json.load(f)
    captures = {}
    for item in args.captures:
        bus, sep, path = item.partition('=')
        if not sep or bus not in truth['buses']:
            ap.error(f'{item}: give BUS=PATH with BUS one of {", ".join(truth["buses"])}')
        with open(path) as f:
            captures[bus] = (os.path.basename(path), [line for line in f if line.strip()])
    out, spans = convert(truth, captures, args.name, args.description,
                         fixture_truth._queues(args.queues), args.driver_args.split())
    with open(f'{args.out_dir}/{args.name}.truth.json', 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    if spans:
        with open(f'{args.out_dir}/{args.name}.spans.jsonl', 'w') as f:
            for span in spans:
                f.write(json.dumps(span, sort_keys=True) + '\n')
    print(json.dumps({'fixture': args.name, 'operations': len(out['operations']),
                      'cross_bus': out['counts']['cross_bus'], 'checks_by_bus': out['checks']['by_bus'],
                      'ok': out['checks']['ok']}))
    if not out['checks']['ok']:
        print(f"cells_truth: {args.name}: checks failed: {out['checks']}", file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
