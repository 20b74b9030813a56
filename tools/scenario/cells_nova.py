"""The cells scenario through nova's own code (cells_flow.py --nova; run with .venv-nova/bin/python).

Same buses, processes and flows as cells_flow.py, but every message is made by nova 34 (PyPI `nova`, as
nova_flows.py: nova's config, `nova.rpc`, RPC API classes, objects and notifiers; only the bodies of the server-side
manager methods are stand-ins), and the crossing is nova's own cells code: `nova.context.target_cell` with a
`CellMapping` whose `transport_url` is the cell's bus (set_target_cell makes and caches the cell transport in
CELL_CACHE) and `nova.compute.rpcapi.ComputeAPI`, whose `nova.rpc.ClientRouter` makes the RPC client on the targeted
context's `mq_connection`. Differences from cells_flow.py: no notification listener (nova's notifications wait in
their queues, as in nova_flows.py) and nova's notifications (legacy and versioned) instead of the stand-in ones.
"""
import json
import os
import threading
import traceback
import uuid

import cells_flow as cf
import driver as d
import nova_flows as nf

API, CELL = cf.API, cf.CELL
# process name -> (binary, host, home bus)
SERVERS = {
    'nova-conductor@ctl-1': ('nova-conductor', 'ctl-1', API),   # super-conductor
    'nova-scheduler@sched-1': ('nova-scheduler', 'sched-1', API),
    'nova-conductor@cell1-conductor': ('nova-conductor', 'cell1-conductor', CELL),
    'nova-compute@compute-1': ('nova-compute', 'compute-1', CELL),
}
CLIENT = 'nova-api@api-1'
EXPECTED_DELIVERIES = nf.EXPECTED_DELIVERIES  # notifications: none (no listener)
versions = nf.versions
MISSING = '00000000-0000-4000-8000-000000000000'

# nova_flows.NovaProcess finds its binary and host in nova_flows.SERVERS.
nf.SERVERS = {name: (binary, host) for name, (binary, host, _) in SERVERS.items()}


class BusNovaRecorder(nf.NovaRecorder):
    """nova_flows' recorder that also writes down each record's vhost and bus (cells_flow.BusRecorder's way)."""

    def __init__(self, service, host, activity):
        super().__init__(service, host, activity)
        self.lock = threading.RLock()
        self.vhosts = json.loads(os.environ[cf.BUSES_ENV])['vhosts']

    _where = cf.BusRecorder._where

    def delivered(self, consumer, message):
        where = self._where(consumer.queue.channel.connection.virtual_host)
        with self.lock:
            super().delivered(consumer, message)
            self.deliveries[-1].update(where)

    def published(self, conn, exchange, routing_key, body, started_ns):
        where = self._where(conn.connection.virtual_host)
        with self.lock:
            super().published(conn, exchange, routing_key, body, started_ns)
            self.publishes[-1].update(where)


nf.NovaRecorder = BusNovaRecorder  # NovaProcess makes its recorder from this name


def _buses():
    return json.loads(os.environ[cf.BUSES_ENV])['buses']


def cell1(proc):
    """The CellMapping nova_api.cell_mappings holds for cell1 (HostMapping.get_by_host(...).cell_mapping)."""
    return proc.objects.CellMapping(uuid=cf.CELL1_UUID, name='cell1', transport_url=_buses()[CELL],
                                    database_connection='sqlite://')


def _process(name, activity):
    proc = nf.NovaProcess(name, _buses()[SERVERS[name][2] if name in SERVERS else API], activity)
    dump = proc.dump

    def dump_with_buses():
        from nova import context as nova_context
        out = dump()
        home = SERVERS[name][2] if name in SERVERS else API
        out['process']['buses'] = [home] + ([CELL] if home != CELL and nova_context.CELL_CACHE else [])
        return out

    proc.dump = dump_with_buses
    return proc


class ComputeTaskEndpoint(nf.ComputeTaskEndpoint):
    """The super-conductor: ComputeTaskManager.schedule_and_build_instances with nova's target_cell."""

    def schedule_and_build_instances(self, context, build_requests, request_specs, image, admin_password,
                                     injected_files, requested_networks, block_device_mapping, tags=None):
        from nova import context as nova_context
        host_lists = self._select(context, request_specs[0], [br.instance_uuid for br in build_requests])
        cell = cell1(self.proc)
        for build_request, request_spec, host_list in zip(build_requests, request_specs, host_lists):
            host = host_list[0]
            instance = build_request.instance
            instance.host, instance.node = host.service_host, host.nodename
            instance.launched_on = host.service_host
            nf._nap(0.01, 0.04)
            # nova/conductor/manager.py: with obj_target_cell(instance, cell) as cctxt:
            #     self.compute_rpcapi.build_and_run_instance(cctxt, ...)
            with nova_context.target_cell(context, cell) as cctxt:
                self.proc.send(self.compute_rpcapi.build_and_run_instance, cctxt, instance=instance,
                               host=host.service_host, image=image, request_spec=request_spec,
                               filter_properties={}, admin_password=admin_password, injected_files=injected_files,
                               requested_networks=requested_networks, security_groups=[],
                               block_device_mapping=self.proc.objects.BlockDeviceMappingList(objects=[]),
                               node=host.nodename, limits=None, host_list=host_list, accel_uuids=[])


class ComputeEndpoint(nf.ComputeEndpoint):
    """nova-compute of cell1, plus get_console_output of an instance it does not have."""

    def __init__(self, proc):
        super().__init__(proc)
        import oslo_messaging
        from nova import exception
        self.get_console_output = oslo_messaging.expected_exceptions(exception.InstanceNotFound)(
            self.get_console_output)

    def get_console_output(self, context, instance, tail_length):
        from nova import exception
        raise exception.InstanceNotFound(instance_id=instance.uuid)


def run_server(name, activity, ready, stop, results):
    out = {'name': name}
    try:
        proc = _process(name, activity)
        import oslo_messaging
        from nova import baserpc
        from nova.compute import rpcapi as compute_rpcapi
        from nova.conductor import rpcapi as conductor_rpcapi
        from nova.objects import base as objects_base
        from nova.scheduler import rpcapi as scheduler_rpcapi
        binary = proc.binary
        if binary == 'nova-compute':
            objects_base.NovaObject.indirection_api = conductor_rpcapi.ConductorAPI()
            endpoints = [ComputeEndpoint(proc)]
            topics = [compute_rpcapi.RPC_TOPIC, compute_rpcapi.RPC_TOPIC_ALT]
        elif binary == 'nova-conductor':  # the super-conductor and cell1's run the same managers
            endpoints = [nf.ConductorEndpoint(proc), ComputeTaskEndpoint(proc)]
            topics = [conductor_rpcapi.RPC_TOPIC]
        else:
            endpoints = [nf.SchedulerEndpoint(proc)]
            topics = [scheduler_rpcapi.RPC_TOPIC]
        endpoints.append(baserpc.BaseRPCAPI(binary.rpartition('nova-')[2], None))
        servers = [proc.rpc.get_server(oslo_messaging.Target(topic=topic, server=proc.host), endpoints,
                                       objects_base.NovaObjectSerializer()) for topic in topics]
        for server in servers:
            server.start()
        ready.set()
        stop.wait(d.DEADLINE)
        for server in servers:
            server.stop()
        for server in servers:
            server.wait()
        out.update(proc.dump())
    except Exception:
        out['error'] = traceback.format_exc()
    finally:
        ready.set()
        results.put(out)


def run_client(activity, results):
    out = {'name': CLIENT}
    try:
        os.environ[nf.SCENARIO_ENV] = 'multi-create-one-host'  # the scheduler picks compute-1
        proc = _process(CLIENT, activity)
        from nova import context as nova_context
        from nova.compute import rpcapi as compute_rpcapi
        flows = out['flows'] = []

        def flow(name, ctxt):
            flows.append({'name': name, 'request_id': ctxt.request_id,
                          'global_request_id': ctxt.global_request_id, 'traced': False})
            return ctxt

        nf._boot(proc, flow('boot', proc.context(f'req-{uuid.uuid4()}')), 1)
        nf._boot(proc, flow('boot-no-global-id', proc.context()), 1)
        # GET /servers/{id}/action os-getConsoleOutput: compute/api.py targets the instance's cell, then
        # compute_rpcapi.get_console_output(cctxt, ...) on the cell bus.
        ctxt = flow('failure', proc.context())
        instance = nf._instance(proc, ctxt, MISSING, nf._image(), nf._flavor(proc.objects), 0, 'r-missing',
                                host='compute-1')
        def get_console_output(cctxt):
            # nova allows its own exception module remotely: the caller gets InstanceNotFound_Remote, not a
            # RemoteError; recorded as the remote error it is.
            import oslo_messaging
            from nova import exception
            try:
                return compute_rpcapi.ComputeAPI().get_console_output(cctxt, instance, 10)
            except exception.InstanceNotFound as e:
                raise oslo_messaging.RemoteError(type(e).__name__.removesuffix('_Remote'), str(e)) from e

        with nova_context.target_cell(ctxt, cell1(proc)) as cctxt:
            proc.send(get_console_output, cctxt, expect='remote_error')
        proc.rpc.cleanup()
        for _, transport in nova_context.CELL_CACHE.values():
            transport.cleanup()
        out.update(proc.dump())
    except Exception:
        out['error'] = traceback.format_exc()
    finally:
        results.put(out)
