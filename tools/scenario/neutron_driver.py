#!/usr/bin/env python3
"""Neutron scenario driver: neutron's own RPC clients and notifiers on real oslo.messaging, with ground truth.

Run with the neutron venv (.venv-neutron, tools/scenario/requirements-neutron.txt):

    .venv-neutron/bin/python tools/scenario/neutron_driver.py --url rabbit://guest:guest@127.0.0.1:5682/VHOST \\
        --truth out.json --firehose-check

Processes (each its own, with its own AMQP connections), as neutron runs them:
  * neutron-server@ctl-1, RPC worker: RPC servers on `q-plugin` and `q-reports-plugin` made with
    neutron_lib.rpc.Connection.create_consumer (as ML2's start_rpc_listeners and the state-report listener do);
    its handlers answer with stand-in bodies but send with neutron's own classes: ML2's AgentNotifierApi
    (tunnel_update under the agent's context, as TunnelRpcCallbackMixin.tunnel_sync does) and l2population's
    L2populationAgentNotifyAPI under a context of its own (`rpc_ctx`, built once, as the l2pop mech driver does);
  * neutron-server@ctl-1, API worker: port create/update, network update and a security group rule under a
    user's context: ML2's AgentNotifierApi fanouts (q-agent-notifier-<resource>-<event>), DhcpAgentNotifyAPI's
    cast to dhcp_agent.<host>, legacy notifications from neutron_lib.rpc.get_notifier('network') (publisher_id
    `network.ctl-1`);
  * neutron-openvswitch-agent@compute-1 and @compute-2: consumers from neutron.agent.rpc.create_consumers
    (port, network, security_group and tunnel updates, l2population with its host topic), one admin context for the
    agent's life (neutron_lib.context.get_admin_context_without_session, as setup_rpc makes it): start-up
    has_alive_neutron_server, report_state (a call first, then casts, as the agent's loop does) and tunnel_sync,
    later device calls (PluginApi) and a failing get_network_details;
  * neutron-dhcp-agent@net-1: an RPC server on `dhcp_agent` (neutron.service.Service's create_consumer), handling
    port_create_end in a worker thread with DhcpPluginApi (a fresh admin context per call, as its `context`
    property makes), and its own report_state;
  * ceilometer-agent-notification@telemetry-1: a notification listener on `notifications`.

Recording, hooks and truth assembly are driver.py's (imported). A publish made while a handler runs but under a
different request ID (l2population's own context) has no cause on the wire: its `caused_by` is cleared and the
handler it ran in is kept as `handling_unique_id`.
"""
import argparse
import json
import logging
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
import traceback
import uuid
import warnings

warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
warnings.filterwarnings('ignore', message=r'The selected oslo_service backend')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import driver as base  # noqa: E402  (Recorder, install_hooks, assemble, Firehose, ...)

CONTROL_EXCHANGE = 'neutron'
# process name -> (binary, host, role)
SERVERS = {
    'neutron-server@ctl-1': ('neutron-server', 'ctl-1', 'rpc'),
    'ceilometer-agent-notification@telemetry-1': ('ceilometer-agent-notification', 'telemetry-1', 'listener'),
    'neutron-dhcp-agent@net-1': ('neutron-dhcp-agent', 'net-1', 'dhcp'),
}
AGENTS = {
    'neutron-openvswitch-agent@compute-1': ('neutron-openvswitch-agent', 'compute-1', 'ovs'),
    'neutron-openvswitch-agent@compute-2': ('neutron-openvswitch-agent', 'compute-2', 'ovs'),
}
API = ('neutron-server-api@ctl-1', ('neutron-server', 'ctl-1', 'api'))
DEADLINE = 90
REPORTS_PER_AGENT = 3  # report_state casts after start-up (the agent's loop sends one per report_interval)
MISSING_NETWORK = '00000000-0000-4000-8000-00000000dead'


class Proc:
    """oslo.config, neutron_lib.rpc, the recorder and a notifier of one neutron process."""

    def __init__(self, name, binary, host, url, activity):
        self.name, self.binary, self.host = name, binary, host
        sys.argv[0] = binary
        logging.basicConfig(level=logging.WARNING, format=f'{name} %(levelname)s %(name)s: %(message)s')
        logging.getLogger('amqp').setLevel(logging.ERROR)
        import oslo_messaging
        from oslo_config import cfg
        from neutron.conf import common as common_config
        from neutron.conf.agent import common as agent_config
        from neutron.conf.agent.database import agents_db
        self.om, self.conf = oslo_messaging, cfg.CONF
        common_config.register_core_common_config_opts(cfg.CONF)
        agent_config.register_agent_state_opts_helper(cfg.CONF)
        agents_db.register_db_agents_opts(cfg.CONF)
        cfg.CONF(args=[], project='neutron', default_config_files=[], default_config_dirs=[])
        oslo_messaging.set_transport_defaults(control_exchange=CONTROL_EXCHANGE)
        from oslo_messaging import transport as om_transport
        cfg.CONF.register_opts(om_transport._transport_opts)
        cfg.CONF.set_override('host', host)
        cfg.CONF.set_override('transport_url', url)
        self.rec = base.Recorder(binary, host, activity)
        base.install_hooks(self.rec)
        from neutron_lib import rpc as n_rpc
        n_rpc.init(cfg.CONF)
        cfg.CONF.set_override('driver', ['messagingv2'], group='oslo_messaging_notifications')
        self.n_rpc = n_rpc

    def sending(self, kind, topic, server=None, expect='ok', fn=None):
        """Runs one send of neutron's own API (fn) inside the recorder's client view."""
        with self.rec.sending(target={'topic': topic, 'server': server, 'fanout': kind == 'fanout'}) as view:
            try:
                view['result'] = fn()
            except self.om.MessagingTimeout:
                view['outcome'] = 'timeout'
            except Exception as e:  # a remote failure, re-raised as its own class (allowed_remote_exmods) or not
                view.update(outcome='remote_error', remote_exc_type=type(e).__name__)
        if view['outcome'] != expect:
            raise RuntimeError(f'{kind} {topic}: {view["outcome"]}, expected {expect}')
        return view.get('result')

    def dump(self):
        return dict(self.rec.dump(), spans=[],
                    process={'service': self.binary, 'host': self.host, 'name': self.name, 'pid': os.getpid(),
                             'tracing_enabled': False})


# --------------------------------------------------------------------------
# neutron-server, RPC worker

class PluginEndpoint:
    """The q-plugin side ML2 serves (RpcCallbacks, TunnelRpcCallbackMixin, DhcpRpcCallback): stand-in bodies,
    neutron's own senders."""

    def __init__(self, proc):
        import oslo_messaging
        from neutron_lib import context
        from neutron_lib import exceptions as n_exc
        from neutron_lib.agent import topics
        from neutron.plugins.ml2 import rpc as ml2_rpc
        from neutron.plugins.ml2.drivers.l2pop import rpc as l2pop_rpc
        self.proc = proc
        self.target = oslo_messaging.Target(version='1.9')
        self.notifier = ml2_rpc.AgentNotifierApi(topics.AGENT)
        self.l2pop = l2pop_rpc.L2populationAgentNotifyAPI()
        # As l2pop's mech driver: one context of its own for all its notifications.
        self.rpc_ctx = context.get_admin_context_without_session()
        self.proc.l2pop_request_id = self.rpc_ctx.request_id
        self.NetworkNotFound = n_exc.NetworkNotFound
        self.get_network_details = oslo_messaging.expected_exceptions(n_exc.NetworkNotFound)(
            self.get_network_details)

    def get_devices_details_list_and_failed_devices(self, context, devices, agent_id, host=None, **kwargs):
        return {'devices': [{'device': d, 'network_id': 'net', 'admin_state_up': True} for d in devices],
                'failed_devices': []}

    def update_device_list(self, context, devices_up, devices_down, agent_id, host, refresh_tunnels=False,
                           **kwargs):
        # l2population: the agent's first active port on a network -> every other agent learns its FDB entries
        # (fanout) and the agent learns the others' (a cast to its host topic); both under l2pop's own context.
        fdb = {'net': {'segment_id': 1001, 'network_type': 'vxlan',
                       'ports': {'192.0.2.%d' % (1 + int(host[-1])): [['fa:16:3e:00:00:01', '10.0.0.5']]}}}
        self.l2pop.add_fdb_entries(self.rpc_ctx, fdb)
        self.l2pop.add_fdb_entries(self.rpc_ctx, fdb, host)
        return {'devices_up': devices_up, 'failed_devices_up': [], 'devices_down': devices_down,
                'failed_devices_down': []}

    def tunnel_sync(self, rpc_context, **kwargs):
        # As TunnelRpcCallbackMixin.tunnel_sync: notify all other agents under the caller's context.
        self.notifier.tunnel_update(rpc_context, kwargs['tunnel_ip'], kwargs.get('tunnel_type') or 'vxlan')
        return {'tunnels': [{'ip_address': kwargs['tunnel_ip']}]}

    def get_network_details(self, context, network, agent_id, host=None):
        raise self.NetworkNotFound(net_id=network)

    def get_network_info(self, context, **kwargs):
        return {'id': kwargs.get('network_id'), 'subnets': [], 'ports': []}


class ReportsEndpoint:
    """q-reports-plugin (agents_db.AgentExtRpcCallback): stand-in bodies."""

    def __init__(self):
        import oslo_messaging
        self.target = oslo_messaging.Target(version='1.4')

    def has_alive_neutron_server(self, context, **kwargs):
        return True

    def report_state(self, context, **kwargs):
        return 'alive'


# --------------------------------------------------------------------------
# Agents

class OVSAgentEndpoint:
    """The RPC side of neutron-openvswitch-agent: handlers only note what arrived (the agent's loop acts later,
    under its own context)."""

    def __init__(self):
        import oslo_messaging
        self.target = oslo_messaging.Target(version='1.9')
        self.seen = []

    def _note(self, *args, **kwargs):
        self.seen.append(kwargs)

    port_update = network_update = network_delete = port_delete = _note
    security_groups_rule_updated = security_groups_member_updated = _note
    tunnel_update = tunnel_delete = _note
    add_fdb_entries = remove_fdb_entries = update_fdb_entries = _note


class DhcpAgentEndpoint:
    """neutron-dhcp-agent's RPC side: events are queued and processed by a worker thread (as DhcpAgent's
    resource processing queue does), which talks to the server with DhcpPluginApi."""

    def __init__(self, work):
        import oslo_messaging
        self.target = oslo_messaging.Target(version='1.0')
        self.work = work

    def port_create_end(self, context, payload):
        self.work.put(payload)

    network_create_end = subnet_create_end = port_update_end = port_delete_end = port_create_end


def _agent_state(binary, host, agent_type, topic):
    return {'binary': binary, 'host': host, 'topic': topic, 'agent_type': agent_type,
            'configurations': {}, 'start_flag': True}


def run_ovs_agent(proc, ready, go, done, stop, boot, booted):
    from neutron_lib import context
    from neutron_lib.agent import topics
    from neutron.agent import rpc as agent_rpc
    # As OVSNeutronAgent.setup_rpc.
    plugin_rpc = agent_rpc.PluginApi(topics.PLUGIN)
    state_rpc = agent_rpc.PluginReportStateAPI(topics.REPORTS)
    ctx = context.get_admin_context_without_session()
    proc.agent_request_id = ctx.request_id
    host = proc.host
    proc.sending('call', topics.REPORTS, fn=lambda: state_rpc.has_alive_neutron_server(ctx))
    consumers = [[topics.PORT, topics.UPDATE], [topics.NETWORK, topics.UPDATE],
                 [topics.SECURITY_GROUP, topics.UPDATE], ['tunnel', topics.UPDATE],
                 [topics.L2POPULATION, topics.UPDATE, host]]
    connection = agent_rpc.create_consumers([OVSAgentEndpoint()], topics.AGENT, consumers,
                                            start_listening=False)
    connection.consume_in_threads()
    ready.set()  # listening: every agent gets the other's tunnel_update
    boot.wait(DEADLINE)
    state = _agent_state(proc.binary, host, 'Open vSwitch agent', 'N/A')
    # The first report is a call (use_call while the agent starts), then tunnel_sync.
    proc.sending('call', topics.REPORTS, fn=lambda: state_rpc.report_state(ctx, state, use_call=True))
    proc.sending('call', topics.PLUGIN, fn=lambda: plugin_rpc.tunnel_sync(
        ctx, '192.0.2.%d' % (1 + int(host[-1])), 'vxlan', host))
    booted.set()
    go.wait(DEADLINE)
    # rpc_loop: the ports the fanouts named, then the failing lookup, then the state reports (casts).
    device = f'tap-{host}'
    proc.sending('call', topics.PLUGIN, fn=lambda: plugin_rpc.get_devices_details_list_and_failed_devices(
        ctx, [device], f'ovs-agent-{host}', host))
    proc.sending('call', topics.PLUGIN, fn=lambda: plugin_rpc.update_device_list(
        ctx, [device], [], f'ovs-agent-{host}', host))
    if host == 'compute-1':
        proc.sending('call', topics.PLUGIN, expect='remote_error', fn=lambda: plugin_rpc.get_network_details(
            ctx, MISSING_NETWORK, f'ovs-agent-{host}', host))
    state['start_flag'] = False
    for _ in range(REPORTS_PER_AGENT):
        time.sleep(0.2)
        proc.sending('cast', topics.REPORTS, fn=lambda: state_rpc.report_state(ctx, state, use_call=False))
    done.set()
    stop.wait(DEADLINE)
    connection.close()


def run_dhcp_agent(proc, ready, go, done, stop, boot, booted):
    from neutron_lib import context
    from neutron_lib import rpc as n_rpc
    from neutron_lib.agent import topics
    from neutron.agent import rpc as agent_rpc
    from neutron.agent.dhcp.agent import DhcpPluginApi
    work = queue.Queue()
    plugin_rpc = DhcpPluginApi(topics.PLUGIN, proc.host)
    state_rpc = agent_rpc.PluginReportStateAPI(topics.REPORTS)
    ctx = context.get_admin_context_without_session()  # DhcpAgentWithStateReport's, for its reports
    proc.agent_request_id = ctx.request_id
    connection = n_rpc.Connection()  # as neutron.service.Service.start
    connection.create_consumer(topics.DHCP_AGENT, [DhcpAgentEndpoint(work)])
    connection.consume_in_threads()
    state = _agent_state(proc.binary, proc.host, 'DHCP agent', topics.DHCP_AGENT)
    proc.sending('call', topics.REPORTS, fn=lambda: state_rpc.report_state(ctx, state, use_call=True))

    def worker():
        while (payload := work.get()) is not None:
            proc.sending('call', topics.PLUGIN, fn=lambda: plugin_rpc.get_network_info(
                payload['port']['network_id']))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    ready.set()
    go.wait(DEADLINE)
    state['start_flag'] = False
    for _ in range(2):
        time.sleep(0.2)
        proc.sending('cast', topics.REPORTS, fn=lambda: state_rpc.report_state(ctx, state, use_call=False))
    done.set()
    stop.wait(DEADLINE)
    work.put(None)
    thread.join(5)
    connection.close()


def run_rpc_server(proc, ready, go, done, stop, boot, booted):
    from neutron_lib import rpc as n_rpc
    from neutron_lib.agent import topics
    # As ML2's start_rpc_listeners and start_rpc_state_reports_listener: one RPC server per topic.
    connection = n_rpc.Connection()
    connection.create_consumer(topics.PLUGIN, [PluginEndpoint(proc)], fanout=False)
    connection.create_consumer(topics.REPORTS, [ReportsEndpoint()], fanout=False)
    connection.consume_in_threads()
    ready.set()
    stop.wait(DEADLINE)
    connection.close()


def run_listener(proc, ready, go, done, stop, boot, booted):
    om = proc.om
    listener = om.get_notification_listener(
        proc.n_rpc.NOTIFICATION_TRANSPORT, [om.Target(topic='notifications')], [base.NotificationEndpoint()],
        executor='threading')
    listener.start()
    ready.set()
    stop.wait(DEADLINE)
    listener.stop()
    listener.wait()


def run_api(proc, ready, go, done, stop, boot, booted):
    """The API side: what a port create/update, a network update and a security group rule send."""
    from neutron_lib import context
    from neutron_lib.agent import topics
    from neutron.plugins.ml2 import rpc as ml2_rpc
    from neutron.api.rpc.agentnotifiers import dhcp_rpc_agent_api
    notifier = ml2_rpc.AgentNotifierApi(topics.AGENT)
    dhcp = dhcp_rpc_agent_api.DhcpAgentNotifyAPI()
    events = proc.n_rpc.get_notifier('network', host=proc.host)  # publisher_id network.ctl-1
    flows = proc.flows = []

    def user_ctx(label):
        ctx = context.Context(
            user_id='8a3c2ae1a7f24f4fa8bd3f4c5d1d9e21', project_id='6f70656e737461636b20342065766572',
            user_name='demo', project_name='demo', roles=['member', 'reader'],
            auth_token='scenario-token-not-secret')
        flows.append({'name': label, 'request_id': ctx.request_id, 'global_request_id': None, 'traced': False})
        return ctx

    def notify(ctx, event_type, payload):
        proc.sending('notify', 'notifications', fn=lambda: events.info(ctx, event_type, payload))

    network = {'id': str(uuid.uuid4()), 'name': 'private', 'admin_state_up': True}
    port = {'id': str(uuid.uuid4()), 'network_id': network['id'], 'device_owner': 'compute:nova',
            'binding:host_id': 'compute-1', 'fixed_ips': [{'ip_address': '10.0.0.5'}]}
    ctx = user_ctx('port-create')
    notify(ctx, 'port.create.start', {'port': {'network_id': network['id']}})
    proc.sending('cast', topics.DHCP_AGENT, server='net-1', fn=lambda: dhcp._cast_message(
        ctx, 'port_create_end', {'port': port, 'priority': 10}, 'net-1'))
    notify(ctx, 'port.create.end', {'port': port})
    ctx = user_ctx('port-update')
    notify(ctx, 'port.update.start', {'port': {'id': port['id']}})
    proc.sending('fanout', 'q-agent-notifier-port-update', fn=lambda: notifier.port_update(
        ctx, port, 'vxlan', 1001, None))
    # ML2 notifies the L2 agents after its commit; the DHCP notifier (a BEFORE_RESPONSE callback) the DHCP agent
    # hosting the network: a publish of the API after the fanout's deliveries.
    proc.sending('cast', topics.DHCP_AGENT, server='net-1', fn=lambda: dhcp._cast_message(
        ctx, 'port_update_end', {'port': port, 'priority': 20}, 'net-1'))
    notify(ctx, 'port.update.end', {'port': port})
    ctx = user_ctx('network-update')
    proc.sending('fanout', 'q-agent-notifier-network-update', fn=lambda: notifier.network_update(ctx, network))
    notify(ctx, 'network.update.end', {'network': network})
    ctx = user_ctx('security-group-rule')
    proc.sending('fanout', 'q-agent-notifier-security_group-update',
                 fn=lambda: notifier.security_groups_rule_updated(ctx, [str(uuid.uuid4())]))
    notify(ctx, 'security_group_rule.create.end', {'security_group_rule': {'direction': 'ingress'}})
    ready.set()


ROLES = {'rpc': run_rpc_server, 'listener': run_listener, 'dhcp': run_dhcp_agent, 'ovs': run_ovs_agent,
         'api': run_api}


def run_process(name, spec, url, activity, events, stop, results):
    ready, go, done, boot, booted = events
    binary, host, role = spec
    out = {'name': name}
    try:
        proc = Proc(name, binary, host, url, activity)
        ROLES[role](proc, ready, go, done, stop, boot, booted)
        proc.n_rpc.TRANSPORT.cleanup()
        proc.n_rpc.NOTIFICATION_TRANSPORT.cleanup()
        out.update(proc.dump())
        out['flows'] = getattr(proc, 'flows', [])
        out['contexts'] = {k: getattr(proc, k) for k in ('agent_request_id', 'l2pop_request_id')
                           if hasattr(proc, k)}
    except Exception:
        out['error'] = traceback.format_exc()
    finally:
        for event in events:
            event.set()
        results.put(out)


def uncause_foreign_contexts(ops):
    """A publish sent while a handler ran, under another request ID, has no cause on the wire."""
    by_uid = {op['unique_id']: op for op in ops}
    cleared = 0
    for op in ops:
        cause = by_uid.get(op.get('caused_by'))
        if cause is not None and cause['request_id'] != op['request_id']:
            op['handling_unique_id'], op['caused_by'] = op['caused_by'], None
            cleared += 1
    return cleared


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--url', default='rabbit://guest:guest@127.0.0.1:5682/')
    ap.add_argument('--truth', required=True)
    ap.add_argument('--firehose-check', action='store_true')
    args = ap.parse_args()
    os.environ[base.RABBIT_OPTIONS_ENV] = '{}'
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.monotonic()
    import kombu
    with kombu.Connection(base._amqp_url(args.url), connect_timeout=5) as c:
        c.ensure_connection(max_retries=1)
    ctx = mp.get_context('spawn')
    activity, stop, results = ctx.Value('q', 0), ctx.Event(), ctx.Queue()
    procs, parts, problems = [], [], []
    firehose = base.Firehose(args.url) if args.firehose_check else None
    handles = {}

    def start(name, spec):
        events = tuple(ctx.Event() for _ in range(5))  # ready, go, done, boot, booted
        p = ctx.Process(target=run_process, name=name, daemon=True,
                        args=(name, spec, args.url, activity, events, stop, results))
        p.start()
        procs.append(p)
        handles[name] = events
        return events

    def wait(event, what):
        if not event.wait(max(1, DEADLINE - (time.monotonic() - t0))):
            raise RuntimeError(f'{what} did not happen in time')

    def quiet(seconds=1.0):
        last, since = -1, time.monotonic()
        while time.monotonic() - since < seconds and time.monotonic() - t0 < DEADLINE:
            if activity.value != last:
                last, since = activity.value, time.monotonic()
            time.sleep(0.1)

    try:
        for name, spec in SERVERS.items():
            start(name, spec)
        for name in SERVERS:
            wait(handles[name][0], f'{name} start')
        for name, spec in AGENTS.items():
            start(name, spec)
        for name in AGENTS:
            wait(handles[name][0], f'{name} start')
        for name in AGENTS:  # one after the other: start-up calls in a known order
            handles[name][3].set()
            wait(handles[name][4], f'{name} start-up calls')
        quiet()
        ready = start(*API)[0]
        wait(ready, 'the API flows')
        quiet()
        for name in list(AGENTS) + ['neutron-dhcp-agent@net-1']:
            _, go, done, _, _ = handles[name]
            go.set()
            wait(done, f'{name} loop')
            quiet(0.5)
        quiet()
        stop.set()
        for _ in procs:
            parts.append(results.get(timeout=max(1, DEADLINE + 10 - (time.monotonic() - t0))))
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
    ops, counts, more = base.assemble(parts)
    problems += more
    cleared = uncause_foreign_contexts(ops)
    truth = {
        'format': 'trace-bridge-scenario-truth/1',
        'url': args.url, 'control_exchange': CONTROL_EXCHANGE, 'scenario': 'neutron',
        'versions': dict(base._versions(), **_neutron_versions()),
        'rabbit_options': {},
        'processes': sorted((part['process'] for part in parts if 'process' in part), key=lambda p: p['name']),
        'flows': [f for part in parts for f in part.get('flows', [])],
        'long_lived_contexts': {part['name']: part['contexts'] for part in parts if part.get('contexts')},
        'uncaused_foreign_context_publishes': cleared,
        'counts': counts,
        'operations': ops,
        'spans': [],
        'duration_s': round(time.monotonic() - t0, 2),
    }
    if firehose:
        truth['firehose'], more = base.firehose_compare(firehose.drain(), ops)
        problems += more
    truth['problems'] = problems
    with open(args.truth, 'w') as f:
        json.dump(truth, f, indent=1)
    print(json.dumps({'counts': counts, 'firehose': truth.get('firehose'), 'duration_s': truth['duration_s'],
                      'uncaused_foreign_context_publishes': cleared}))
    for msg in problems:
        print('PROBLEM:', msg, file=sys.stderr)
    return 1 if problems else 0


def _neutron_versions():
    from importlib import metadata
    return {d: metadata.version(d) for d in ('neutron', 'neutron-lib')}


if __name__ == '__main__':
    sys.exit(main())
