#!/usr/bin/env python3
"""Scenario `cells`: nova cells v2 on two buses, with driver.py's recording.

    python cells_flow.py --url rabbit://guest:guest@127.0.0.1:5682/API_VHOST \\
        --cell-url rabbit://guest:guest@127.0.0.1:5682/CELL1_VHOST --truth out.json [--firehose-check]

Nova cells v2 gives the API and each cell a message bus of its own (a RabbitMQ of its own, or a vhost). The API bus
(--url) carries nova-api, the super-conductor and the scheduler; the cell bus (--cell-url) carries cell1's conductor
and its computes. This reproduces, with real oslo.messaging, what nova 34's code does when a boot crosses them:

* nova-api casts `schedule_and_build_instances` (conductor topic, namespace `compute_task`, version 1.17) on the API
  bus (nova/conductor/rpcapi.py ComputeTaskAPI);
* the super-conductor's handler (nova/conductor/manager.py ComputeTaskManager.schedule_and_build_instances) calls the
  scheduler's `select_destinations` on the API bus (4.5, call_monitor_timeout), maps the chosen host to its cell,
  sends `compute.instance.update` through its own notifier (nova.rpc's global NOTIFIER: the API bus, even inside
  target_cell), then, inside `nova.context.target_cell`, casts `build_and_run_instance` to `compute.<host>`: the
  targeted context carries `mq_connection`, a transport on the cell's URL made once per cell and cached (nova.context
  set_target_cell, CELL_CACHE), and nova.rpc.ClientRouter.client() makes the RPC client on it. The context is a
  from_dict(to_dict()) copy: same request ID, user and global request ID on the cell bus;
* the compute's handler notifies create.start, calls the cell conductor (`object_action`, topic conductor on the cell
  bus) and notifies create.end, all on the cell bus;
* nova-api also targets the cell itself (compute/api.py: an instance's cell, then compute_rpcapi with that context):
  `get_console_output` of a missing instance, a failing call from the API process straight onto the cell bus;
* ceilometer-agent-notification reads `notifications` on both buses (its `[notification] messaging_urls`): one
  process, one listener per bus.

So the super-conductor and nova-api each hold two transports, and every record of the truth says which bus it was on
(`bus`: api or cell1, `vhost`). oslo.messaging tracing is off in every process: the trace is carried by the wire only
(request ID, global request ID), as in the classic captures.
"""
import json
import logging
import multiprocessing as mp
import os
import queue
import random
import signal
import sys
import threading
import time
import traceback
import uuid
from contextlib import contextmanager

import driver as d

API, CELL = 'api', 'cell1'
CELL1_UUID = 'c0e1f2a3-0000-4000-8000-00000000ce11'  # the cell mapping's UUID (nova_api.cell_mappings)
# process name -> (binary, host, RPC topic or None, the buses it listens on or sends on by default)
SERVERS = {
    'nova-conductor@ctl-1': ('nova-conductor', 'ctl-1', 'conductor', API),   # super-conductor
    'nova-scheduler@sched-1': ('nova-scheduler', 'sched-1', 'scheduler', API),
    'nova-conductor@cell1-conductor': ('nova-conductor', 'cell1-conductor', 'conductor', CELL),
    'nova-compute@compute-1': ('nova-compute', 'compute-1', 'compute', CELL),
    'ceilometer-agent-notification@telemetry-1':
        ('ceilometer-agent-notification', 'telemetry-1', None, None),  # both buses
}
CLIENT = 'nova-api@api-1'
# Environment handed to every process: {"buses": {bus: url}, "vhosts": {vhost: bus}}.
BUSES_ENV = 'TB_SCENARIO_CELLS_BUSES'


def _vhost(url):
    import kombu
    return kombu.Connection(d._amqp_url(url)).virtual_host


class BusRecorder(d.Recorder):
    """driver.Recorder that also writes down the vhost (and so the bus) of each publish and delivery."""

    def __init__(self, service, host, activity, vhosts):
        super().__init__(service, host, activity)
        self.lock = threading.RLock()  # held around the parent's own use of it
        self.vhosts = vhosts

    def _where(self, vhost):
        return {'bus': self.vhosts.get(vhost, f'unknown vhost {vhost}'), 'vhost': vhost}

    def published(self, conn, exchange, routing_key, body, started_ns):
        where = self._where(conn.connection.virtual_host)
        with self.lock:
            super().published(conn, exchange, routing_key, body, started_ns)
            self.publishes[-1].update(where)

    def delivered(self, consumer, message):
        where = self._where(consumer.queue.channel.connection.virtual_host)
        with self.lock:
            super().delivered(consumer, message)
            self.deliveries[-1].update(where)


class CellsService(d.Service):
    """One process: its home bus's transport, RPC client and notifier, and nova's cell targeting."""

    def __init__(self, name, activity):
        binary, host, topic, home = SERVERS.get(name) or ('nova-api', 'api-1', None, API)
        config = json.loads(os.environ[BUSES_ENV])
        self.buses, vhosts = config['buses'], config['vhosts']
        self.name, self.binary, self.host, self.topic = name, binary, host, topic
        self.home = home
        self.tracing = False
        sys.argv[0] = binary
        logging.basicConfig(level=logging.WARNING, format=f'{name} %(levelname)s %(name)s: %(message)s')
        logging.getLogger('amqp').setLevel(logging.ERROR)
        import oslo_messaging
        from oslo_config import cfg
        self.om, self.conf = oslo_messaging, cfg.CONF
        self.conf(args=[], project='trace-bridge-scenario', default_config_files=[], default_config_dirs=[])
        oslo_messaging.set_transport_defaults(control_exchange=d.CONTROL_EXCHANGE)
        self.spans = self._setup_tracing()
        self.rec = BusRecorder(binary, host, activity, vhosts)
        d.install_hooks(self.rec)
        self.serializer = d._context_serializer()
        self._set_rabbit_options(host, binary)
        self.cell_cache = {}   # nova.context.CELL_CACHE: cell uuid -> transport
        self.clients = {}      # transport -> RPC client (nova.rpc.ClientRouter makes one per targeted context)
        if home is None:
            return             # the notification listener makes its own transports
        # nova.rpc.init: TRANSPORT and NOTIFICATION_TRANSPORT from [DEFAULT] transport_url, the home bus.
        self.transport = oslo_messaging.get_rpc_transport(self.conf, url=self.buses[home])
        self.conf.set_override('hostname', host, group='oslo_messaging_rabbit')
        self.conf.set_override('processname', binary, group='oslo_messaging_rabbit')
        self.client = self._client(self.transport)
        self.notifier = oslo_messaging.Notifier(
            oslo_messaging.get_notification_transport(self.conf, url=self.buses[home]),
            publisher_id=f"{binary.split('-')[-1]}.{host}", driver='messagingv2',
            topics=['notifications'], serializer=self.serializer)

    def _client(self, transport):
        if transport not in self.clients:
            self.clients[transport] = self.om.get_rpc_client(
                transport, self.om.Target(), serializer=self.serializer, timeout=15)
        return self.clients[transport]

    @contextmanager
    def target_cell(self, ctxt, cell_uuid):
        """nova.context.target_cell: a sanitized copy of the context whose mq_connection is the cell's transport."""
        from oslo_context import context
        cctxt = context.RequestContext.from_dict(ctxt.to_dict())
        if cell_uuid not in self.cell_cache:  # nova: rpc.create_transport(cell_mapping.transport_url), cached
            self.cell_cache[cell_uuid] = self.om.get_rpc_transport(self.conf, url=self.buses[CELL])
        cctxt.mq_connection = self.cell_cache[cell_uuid]
        cctxt.cell_uuid = cell_uuid
        yield cctxt

    def call_or_cast(self, kind, ctxt, method, topic, version, server=None, namespace=None, expect='ok',
                     call_monitor_timeout=None, **kwargs):
        """An RPC API method as nova's rpcapi modules write it, through ClientRouter.client(ctxt)."""
        transport = getattr(ctxt, 'mq_connection', None)
        client = self._client(transport) if transport else self.client
        prepared = client.prepare(topic=topic, server=server, namespace=namespace, version=version,
                                  call_monitor_timeout=call_monitor_timeout)
        bus = CELL if transport else self.home
        with self.rec.sending(target={'topic': topic, 'server': server, 'fanout': False,
                                      'namespace': namespace, 'version': version, 'bus': bus}) as view:
            try:
                if kind == 'call':
                    view['result'] = prepared.call(ctxt, method, **kwargs)
                else:
                    prepared.cast(ctxt, method, **kwargs)
            except self.om.RemoteError as e:
                view.update(outcome='remote_error', remote_exc_type=e.exc_type)
        if view['outcome'] != expect:
            raise RuntimeError(f'{kind} {topic}.{method} on {bus}: {view["outcome"]}, expected {expect}')
        return view.get('result')

    def dump(self):
        out = super().dump()
        out['process']['buses'] = [self.home] if self.home else [API, CELL]
        if self.home and self.cell_cache:
            out['process']['buses'].append(CELL)
        return out


# --------------------------------------------------------------------------
# Endpoints (manager methods with stand-in bodies; signatures and RPC calls as in nova 34)

class ComputeTaskEndpoint:
    """The super-conductor: nova/conductor/manager.py ComputeTaskManager."""

    def __init__(self, svc):
        import oslo_messaging
        self.svc = svc
        self.target = oslo_messaging.Target(namespace='compute_task', version='1.25')

    def schedule_and_build_instances(self, ctxt, build_requests, request_specs, image, admin_password,
                                     injected_files, requested_networks, block_device_mapping, tags=None):
        s = self.svc
        instance_uuids = [spec['instance_uuid'] for spec in request_specs]
        # _schedule_instances -> query_client.select_destinations -> scheduler_rpcapi (API bus, untargeted context)
        host_lists = s.call_or_cast('call', ctxt, 'select_destinations', 'scheduler', '4.5',
                                    call_monitor_timeout=60, spec_obj=request_specs[0],
                                    instance_uuids=instance_uuids, return_objects=True, return_alternates=True)
        for build_request, spec, host_list in zip(build_requests, request_specs, host_lists):
            host = host_list[0]
            cell = host['cell_uuid']  # HostMapping.get_by_host(host).cell_mapping
            instance = {'uuid': spec['instance_uuid'], 'host': host['service_host'], 'vm_state': 'building'}
            # nova writes the instance, its block device mappings, tags and instance mapping to the cell and API
            # databases before the cast (as nova_flows.py's _nap): without it the cast would leave the conductor
            # within a few ms of the scheduler's reply, closer than two buses' consumers can be trusted to agree.
            time.sleep(random.uniform(0.02, 0.04))
            with s.target_cell(ctxt, cell) as cctxt:
                # notifications.send_update_with_states(cctxt, ..., service="conductor"): nova.rpc's notifier
                s.notify(cctxt, 'info', 'compute.instance.update',
                         {'instance_id': instance['uuid'], 'old_state': None, 'state': 'building'})
            with s.target_cell(ctxt, cell) as cctxt:
                # compute_rpcapi.build_and_run_instance: self.router.client(cctxt).prepare(server=host).cast(...)
                s.call_or_cast('cast', cctxt, 'build_and_run_instance', 'compute', '6.0',
                               server=host['service_host'], instance=instance, image=image,
                               request_spec=spec, filter_properties={'retry': {'num_attempts': 1, 'hosts': []}},
                               admin_password=admin_password, injected_files=injected_files,
                               requested_networks=requested_networks, security_groups=['default'],
                               block_device_mapping=block_device_mapping, node=host['nodename'],
                               limits=host['limits'], host_list=host_list, accel_uuids=[])


class SchedulerEndpoint:
    """nova/scheduler/manager.py SchedulerManager.select_destinations (its start/end notifications)."""

    def __init__(self, svc):
        import oslo_messaging
        self.svc = svc
        self.target = oslo_messaging.Target(version='4.5')

    def select_destinations(self, ctxt, spec_obj, instance_uuids, return_objects, return_alternates):
        self.svc.notify(ctxt, 'info', 'scheduler.select_destinations.start', {'request_spec': spec_obj})
        hosts = [[{'service_host': 'compute-1', 'nodename': 'compute-1', 'cell_uuid': CELL1_UUID,
                   'limits': {'memory_mb': None, 'disk_gb': None}}] for _ in instance_uuids]
        self.svc.notify(ctxt, 'info', 'scheduler.select_destinations.end', {'request_spec': spec_obj})
        return hosts


class ComputeEndpoint(d.ComputeEndpoint):
    """nova-compute in cell1: build_and_run_instance with nova's signature; get_console_output."""

    def __init__(self, svc):
        super().__init__(svc)
        import oslo_messaging
        self.get_console_output = oslo_messaging.expected_exceptions(d.InstanceNotFound)(self.get_console_output)

    def build_and_run_instance(self, ctxt, instance, **kwargs):
        self._action(ctxt, 'create', instance['uuid'])

    def get_console_output(self, ctxt, instance, tail_length):
        raise d.InstanceNotFound(f"Instance {instance['uuid']} could not be found.")


ENDPOINTS = {
    'nova-conductor@ctl-1': ComputeTaskEndpoint,
    'nova-scheduler@sched-1': SchedulerEndpoint,
    'nova-conductor@cell1-conductor': d.ConductorEndpoint,
    'nova-compute@compute-1': ComputeEndpoint,
}


def run_server(name, activity, ready, stop, results):
    out = {'name': name}
    try:
        svc = CellsService(name, activity)
        om = svc.om
        if svc.topic:
            target = om.Target(topic=svc.topic, server=svc.host)
            servers = [om.get_rpc_server(svc.transport, target, [ENDPOINTS[name](svc)],
                                         executor='threading', serializer=svc.serializer)]
        else:  # ceilometer: one notification listener per bus
            endpoint = d.NotificationEndpoint()
            servers = [om.get_notification_listener(
                om.get_notification_transport(svc.conf, url=svc.buses[bus]),
                [om.Target(topic='notifications')], [endpoint],
                executor='threading', serializer=svc.serializer, allow_requeue=True) for bus in (API, CELL)]
        for server in servers:
            server.start()
        ready.set()
        stop.wait(d.DEADLINE)
        for server in servers:
            server.stop()
            server.wait()
        out.update(svc.dump())
    except Exception:
        out['error'] = traceback.format_exc()
    finally:
        ready.set()
        results.put(out)


def run_client(activity, results):
    out = {'name': CLIENT}
    try:
        svc = CellsService(CLIENT, activity)
        flows = out['flows'] = []

        def flow(name, ctxt):
            flows.append({'name': name, 'request_id': ctxt.request_id,
                          'global_request_id': ctxt.global_request_id, 'traced': False})
            return ctxt

        def boot(ctxt):
            # compute/api.py _create_instance -> compute_task_api.schedule_and_build_instances (API bus)
            instance = str(uuid.uuid4())
            spec = {'instance_uuid': instance, 'num_instances': 1, 'flavor': {'name': 'm1.tiny'},
                    'security_groups': ['default']}
            svc.call_or_cast('cast', ctxt, 'schedule_and_build_instances', 'conductor', '1.17',
                             namespace='compute_task', build_requests=[{'instance_uuid': instance}],
                             request_specs=[spec], image={'id': 'cirros'}, admin_password=None,
                             injected_files=[], requested_networks=None, block_device_mapping=[], tags=[])

        # Two boots: with a global request ID (an incoming X-OpenStack-Request-ID) and without.
        boot(flow('boot', d._ctx(global_request_id=True)))
        boot(flow('boot-no-global-id', d._ctx()))
        # Flow "failure": nova-api targets the instance's cell and calls its compute on the cell bus.
        missing = '00000000-0000-4000-8000-000000000000'
        fail = flow('failure', d._ctx())
        with svc.target_cell(fail, CELL1_UUID) as cctxt:
            svc.call_or_cast('call', cctxt, 'get_console_output', 'compute', '6.0', server='compute-1',
                             expect='remote_error', instance={'uuid': missing}, tail_length=10)
        for transport in [svc.transport, *svc.cell_cache.values()]:
            transport.cleanup()
        out.update(svc.dump())
    except Exception:
        out['error'] = traceback.format_exc()
    finally:
        results.put(out)


# --------------------------------------------------------------------------
# Parent

def _annotate(ops, parts, problems):
    """driver.assemble keeps a fixed set of delivery fields: put each record's bus and vhost back."""
    where_pub = {p['unique_id']: {'bus': p['bus'], 'vhost': p['vhost']}
                 for part in parts for p in part.get('publishes', [])}
    where_del = {(x['unique_id'], x['queue'], x['delivered_at_ns']): {'bus': x['bus'], 'vhost': x['vhost']}
                 for part in parts for x in part.get('deliveries', [])}
    for op in ops:
        for p in [op] + ([op['reply']] if op.get('reply') else []):
            p.update(where_pub[p['unique_id']])
            for dl in p['deliveries']:
                dl.update(where_del[(p['unique_id'], dl['queue'], dl['delivered_at_ns'])])
                if dl['bus'] != p['bus']:
                    problems.append(f"{p['unique_id']}: published on {p['bus']}, delivered on {dl['bus']}")
        if op.get('reply') and op['reply']['bus'] != op['bus']:
            problems.append(f"call {op['unique_id']}: reply on {op['reply']['bus']}, request on {op['bus']}")
        op['cross_bus'] = False
    # A cross-bus publish: sent by a handler of a message that came in on the other bus.
    by_uid = {op['unique_id']: op for op in ops}
    for op in ops:
        cause = by_uid.get(op['caused_by'])
        op['cross_bus'] = bool(cause and cause['bus'] != op['bus'])


EXPECTED_DELIVERIES = d.EXPECTED_DELIVERIES


def main(args, flows=None):
    """Runs the scenario; `args`: url, cell_url, truth, firehose_check (the flags below, or driver.py's).

    `flows`: the module whose SERVERS, CLIENT, run_server, run_client and EXPECTED_DELIVERIES make the run (this
    one, or cells_nova.py: the same buses and flows through nova's own code).
    """
    flows = flows or sys.modules[__name__]
    if not args.cell_url:
        print('the cells scenario needs --cell-url (the cell\'s bus)', file=sys.stderr)
        return 2
    # SIGTERM -> normal exit path, so the children are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    buses = {API: args.url, CELL: args.cell_url}
    vhosts = {_vhost(url): bus for bus, url in buses.items()}
    if len(vhosts) != 2:
        print('--url and --cell-url must be two buses (different vhosts)', file=sys.stderr)
        return 2
    os.environ[BUSES_ENV] = json.dumps({'buses': buses, 'vhosts': vhosts})
    t0 = time.monotonic()
    import kombu
    for url in buses.values():
        with kombu.Connection(d._amqp_url(url), connect_timeout=5) as c:
            c.ensure_connection(max_retries=1)
    ctx = mp.get_context('spawn')
    activity, stop, results = ctx.Value('q', 0), ctx.Event(), ctx.Queue()
    procs, parts, problems = [], [], []
    firehoses = {bus: d.Firehose(url) for bus, url in buses.items()} if args.firehose_check else {}
    try:
        readies = []
        for name in flows.SERVERS:
            ready = ctx.Event()
            p = ctx.Process(target=flows.run_server, name=name, daemon=True,
                            args=(name, activity, ready, stop, results))
            p.start()
            procs.append(p)
            readies.append(ready)
        for ready in readies:
            if not ready.wait(max(1, d.DEADLINE - (time.monotonic() - t0))):
                raise RuntimeError('a server did not start in time')
        api = ctx.Process(target=flows.run_client, name=flows.CLIENT, daemon=True, args=(activity, results))
        api.start()
        procs.append(api)
        api.join(d.DEADLINE - (time.monotonic() - t0))
        last, quiet_since = -1, time.monotonic()
        while time.monotonic() - quiet_since < 1.0 and time.monotonic() - t0 < d.DEADLINE:
            if activity.value != last:
                last, quiet_since = activity.value, time.monotonic()
            time.sleep(0.1)
        stop.set()
        for _ in procs:
            parts.append(results.get(timeout=max(1, d.DEADLINE + 4 - (time.monotonic() - t0))))
    except queue.Empty:
        problems.append('not every process reported back in time')
    except Exception:
        problems.append(traceback.format_exc())
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=2)
    for part in parts:
        if part.get('error'):
            problems.append(f"{part['name']} failed:\n{part['error']}")
    ops, counts, more = d.assemble(parts, flows.EXPECTED_DELIVERIES)
    problems += more
    if not any(part.get('error') for part in parts):
        _annotate(ops, parts, problems)
    counts['by_bus'] = {bus: {'publishes': sum(1 for part in parts for p in part.get('publishes', [])
                                               if p.get('bus') == bus),
                              'deliveries': sum(1 for part in parts for x in part.get('deliveries', [])
                                                if x.get('bus') == bus)} for bus in buses}
    counts['cross_bus'] = sum(1 for op in ops if op.get('cross_bus'))
    truth = {
        'format': 'trace-bridge-scenario-truth/1',
        'url': args.url, 'control_exchange': d.CONTROL_EXCHANGE,
        'buses': {bus: {'url': url, 'vhost': _vhost(url)} for bus, url in buses.items()},
        'scenario': 'cells' if flows is sys.modules[__name__] else 'cells-nova',
        'versions': dict(d._versions(), **(flows.versions() if hasattr(flows, 'versions') else {})),
        'rabbit_options': json.loads(os.environ.get(d.RABBIT_OPTIONS_ENV) or '{}'),
        'processes': sorted((part['process'] for part in parts if 'process' in part), key=lambda p: p['name']),
        'flows': [f for part in parts for f in part.get('flows', [])],
        'counts': counts,
        'operations': ops,
        'spans': [s for part in parts for s in part.get('spans', [])],
        'duration_s': round(time.monotonic() - t0, 2),
    }
    if firehoses:
        truth['firehose'] = {}
        for bus, firehose in firehoses.items():
            truth['firehose'][bus], more = d.firehose_compare(firehose.drain(), [op for op in ops
                                                                                  if op.get('bus') == bus])
            problems += [f'{bus}: {m}' for m in more]
    truth['problems'] = problems
    with open(args.truth, 'w') as f:
        json.dump(truth, f, indent=1)
    print(json.dumps({'counts': counts, 'firehose': truth.get('firehose'), 'duration_s': truth['duration_s']}))
    for msg in problems:
        print('PROBLEM:', msg, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--url', required=True, help='transport URL of the API bus (nova-api, super-conductor, scheduler)')
    ap.add_argument('--cell-url', required=True, help='transport URL of cell1\'s bus (another vhost or broker)')
    ap.add_argument('--truth', required=True, help='where to write the ground truth JSON (both buses)')
    ap.add_argument('--firehose-check', action='store_true',
                    help='bind a firehose queue on each bus and check it against the truth')
    ap.add_argument('--nova', action='store_true',
                    help='the same run through nova\'s own code (cells_nova.py; run with .venv-nova/bin/python)')
    args = ap.parse_args()
    if args.nova:
        import cells_nova
        sys.exit(main(args, cells_nova))
    sys.exit(main(args))
