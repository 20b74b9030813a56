#!/usr/bin/env python3
"""Scenario driver: real oslo.messaging traffic with a ground-truth record.

Runs nova-like services in separate processes against a RabbitMQ broker
(normally the private one from tools/broker.sh), drives a fixed scenario from
a "nova-api" client process and writes what really went on the wire to
--truth as JSON, so live tests can compare trace-bridge's output with it.

    python driver.py --url rabbit://guest:guest@127.0.0.1:5682/ --truth out.json
    python driver.py ... --firehose-check   # also count the broker's firehose

Ground truth comes from hooks in each process (see install_hooks):
  * every publish: impl_rabbit.Connection._ensure_publishing, which all sends
    (RPC requests, replies, notifications) go through, with the final body, so
    `_unique_id`, `_msg_id` and the `_context_*` keys are exactly the wire ones;
  * every delivery: impl_rabbit.Consumer._callback (knows its queue name);
  * what is being handled: RPCDispatcher.dispatch, so a send made by a
    handler gets `caused_by` = the `_unique_id` of the message it handles,
    and the handler's outcome is known even for casts;
  * the client's view (target, outcome) from the code that sends (Recorder.sending).
"""
import argparse
import atexit
import contextlib
import json
import logging
import multiprocessing as mp
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import uuid
import warnings

# oslo.messaging pulls in oslo.service's eventlet backend, which warns on
# import in every process; we use the threading executor.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

CONTROL_EXCHANGE = 'nova'

# process name -> (binary, host, RPC topic or None, oslo.messaging tracing on)
# Tracing: the API turns it on for the "traced" flow only; compute and
# conductor always trace (so they continue that trace, and start their own
# traces for the other flows, as a partly traced deployment does); the
# schedulers and the notification consumer never do.
SERVERS = {
    'nova-conductor@ctl-1': ('nova-conductor', 'ctl-1', 'conductor', True),
    'nova-compute@compute-1': ('nova-compute', 'compute-1', 'compute', True),
    'nova-scheduler@sched-1': ('nova-scheduler', 'sched-1', 'scheduler', False),
    'nova-scheduler@sched-2': ('nova-scheduler', 'sched-2', 'scheduler', False),
    'ceilometer-agent-notification@telemetry-1':
        ('ceilometer-agent-notification', 'telemetry-1', None, False),
}
CLIENT = ('nova-api@api-1', ('nova-api', 'api-1', None, False))
VERSIONS = {'compute': '6.0', 'conductor': '3.0', 'scheduler': '4.2'}
# Deliveries each kind of publish must get in this scenario.
EXPECTED_DELIVERIES = {'cast': 1, 'call': 1, 'fanout': 2, 'notify': 1, 'reply': 1}
DEADLINE = 55  # seconds for the whole run
# Delivery headers worth keeping in the truth (quorum redelivery count, stream
# offset, kombu's compression marker).
WIRE_HEADERS = ('x-delivery-count', 'x-stream-offset', 'compression')
# [oslo_messaging_rabbit] overrides (JSON) handed to every process of the run.
RABBIT_OPTIONS_ENV = 'TB_SCENARIO_RABBIT_OPTIONS'
# Set (to 1) by --no-tracing: oslo.messaging tracing off in every process.
NO_TRACING_ENV = 'TB_SCENARIO_NO_TRACING'
# Set by --requeue-once: the notification listener requeues that event type once.
REQUEUE_ENV = 'TB_SCENARIO_REQUEUE_ONCE'


# --------------------------------------------------------------------------
# Per-process recording

def _inner(body):
    """oslo.messaging body (envelope dict/bytes/str) -> inner message dict."""
    if isinstance(body, (bytes, str)):
        body = json.loads(body)
    if 'oslo.message' in body:
        return json.loads(body['oslo.message'])
    return body


def _plain_body(body, headers):
    """The body as oslo.messaging wrote it, before kombu_compression."""
    codec = (headers or {}).get('compression')
    if not codec:
        return body
    from kombu import compression
    return compression.decompress(body, codec)


def _sock_label(amqp_conn):
    """'local -> peer' like the firehose `connection` header, if reachable."""
    try:
        sock = amqp_conn.sock
        (lh, lp), (ph, pp) = sock.getsockname()[:2], sock.getpeername()[:2]
        return f'{lh}:{lp} -> {ph}:{pp}'
    except Exception:
        return None


class Recorder:
    def __init__(self, service, host, activity):
        self.me = {'service': service, 'host': host}
        self.activity = activity      # shared counter: lets the parent see when all is quiet
        self.lock = threading.Lock()
        self.local = threading.local()  # .incoming: unique_id handled; .sent: publishes of a send
        self.publishes, self.deliveries, self.client_view = [], [], {}
        self.handled = {}  # unique_id -> 'ok' or the exception class the handler raised
        self.seq = 0

    def _bump(self):
        with self.activity.get_lock():
            self.activity.value += 1

    def published(self, conn, exchange, routing_key, body, started_ns):
        m = _inner(body)
        ctx = {k[len('_context_'):]: v for k, v in m.items() if k.startswith('_context_')}
        if 'ending' in m:
            kind = 'reply'
        elif 'event_type' in m:
            kind = 'notify'
        elif '_msg_id' in m:
            kind = 'call'
        else:
            kind = 'fanout' if exchange.type == 'fanout' else 'cast'
        failure = json.loads(m['failure']) if m.get('failure') else None
        rec = {
            'kind': kind, 'from': self.me,
            'exchange': exchange.name, 'routing_key': routing_key or '',
            'method': m.get('method'), 'event_type': m.get('event_type'),
            'priority': m.get('priority'), 'publisher_id': m.get('publisher_id'),
            'message_id': m.get('message_id'),
            'unique_id': m.get('_unique_id'), 'msg_id': m.get('_msg_id'),
            'reply_q': m.get('_reply_q'),
            'request_id': ctx.get('request_id'),
            'global_request_id': ctx.get('global_request_id'),
            'user_id': ctx.get('user'),  # nova's context: `_context_user`
            'ending': m.get('ending'),  # replies: a heartbeat has False
            'traceparent': ctx.get('traceparent'), 'tracestate': ctx.get('tracestate'),
            'caused_by': getattr(self.local, 'incoming', None),
            'failure_class': failure and failure.get('class'),
            'failure_module': failure and failure.get('module'),
            'connection': _sock_label(conn.connection.connection),
            'connection_name': conn.name,
            'published_at_ns': started_ns,  # taken before the publish: a delivery can beat its confirm
        }
        with self.lock:
            self.seq += 1
            rec['process_seq'] = self.seq
            self.publishes.append(rec)
        sent = getattr(self.local, 'sent', None)
        if sent is not None:
            sent.append(rec['unique_id'])
        self._bump()

    def delivered(self, consumer, message):
        m = _inner(_plain_body(message.body, message.headers))
        with self.lock:
            self.deliveries.append({
                'unique_id': m.get('_unique_id'), 'queue': consumer.queue_name,
                'to': self.me,
                'redelivered': bool(message.delivery_info.get('redelivered')),
                # what quorum queues, streams and kombu compression add
                'headers': {k: v for k, v in (message.headers or {}).items()
                            if k in WIRE_HEADERS},
                'connection': _sock_label(consumer.queue.channel.connection),
                'delivered_at_ns': time.time_ns()})
        self._bump()

    @contextlib.contextmanager
    def sending(self, **view):
        """Tie the sender's view (target, outcome) to the publish it makes."""
        self.local.sent = []
        view.setdefault('outcome', 'ok')
        try:
            yield view
        finally:
            sent, self.local.sent = self.local.sent, None
            if len(sent) != 1:
                raise RuntimeError(f'expected one publish for {view}, saw {len(sent)}')
            self.client_view[sent[0]] = view

    def dump(self):
        return {'publishes': self.publishes, 'deliveries': self.deliveries,
                'client_view': self.client_view, 'handled': self.handled}


def install_hooks(rec):
    import oslo_messaging
    from oslo_messaging._drivers import impl_rabbit

    orig_publish = impl_rabbit.Connection._ensure_publishing
    orig_callback = impl_rabbit.Consumer._callback
    orig_dispatch = oslo_messaging.rpc.dispatcher.RPCDispatcher.dispatch

    def _ensure_publishing(conn, method, exchange, msg, routing_key=None, **kw):
        started = time.time_ns()
        result = orig_publish(conn, method, exchange, msg, routing_key=routing_key, **kw)
        rec.published(conn, exchange, routing_key, msg, started)  # only once it is out
        return result

    def _callback(consumer, message):
        rec.delivered(consumer, message)
        return orig_callback(consumer, message)

    def dispatch(dispatcher, incoming):
        # Runs the endpoint method in the executor thread: what it sends is
        # caused by `incoming`. Its exception is swallowed by the server (a
        # cast has no one to tell), so note it here.
        uid = rec.local.incoming = incoming.unique_id
        try:
            result = orig_dispatch(dispatcher, incoming)
            rec.handled[uid] = 'ok'
            return result
        except oslo_messaging.ExpectedException as e:
            rec.handled[uid] = e.exc_info[0].__name__
            raise
        except Exception as e:
            rec.handled[uid] = type(e).__name__
            raise
        finally:
            rec.local.incoming = None

    impl_rabbit.Connection._ensure_publishing = _ensure_publishing
    impl_rabbit.Consumer._callback = _callback
    oslo_messaging.rpc.dispatcher.RPCDispatcher.dispatch = dispatch


# --------------------------------------------------------------------------
# The services (each runs in its own process)

class InstanceNotFound(Exception):
    pass


def _context_serializer():
    import oslo_messaging
    from oslo_context import context

    class RequestContextSerializer(oslo_messaging.NoOpSerializer):
        # As nova does: the context travels as to_dict(); the receiver rebuilds
        # it from known keys, so a received traceparent is not forwarded as-is.
        def serialize_context(self, ctxt):
            return ctxt.to_dict()

        def deserialize_context(self, ctxt):
            return context.RequestContext.from_dict(ctxt)

    return RequestContextSerializer()


class Service:
    """Transport, RPC client, notifier and recorder of one process."""

    def __init__(self, name, url, activity):
        binary, host, topic, tracing = SERVERS.get(name) or CLIENT[1]
        self.name, self.binary, self.host, self.topic = name, binary, host, topic
        self.tracing = tracing and not os.environ.get(NO_TRACING_ENV)
        # oslo.messaging names its connections "<argv[0]>:<pid>:<uuid>"
        # (visible in rabbitmqctl list_connections): make that "nova-compute:...".
        sys.argv[0] = binary
        logging.basicConfig(level=logging.WARNING,
                            format=f'{name} %(levelname)s %(name)s: %(message)s')
        # py-amqp warns when the broker's basic.cancel crosses oslo.messaging
        # closing its channels at shutdown; harmless.
        logging.getLogger('amqp').setLevel(logging.ERROR)
        import oslo_messaging
        from oslo_config import cfg
        self.om, self.conf = oslo_messaging, cfg.CONF
        self.conf(args=[], project='trace-bridge-scenario',
                  default_config_files=[], default_config_dirs=[])
        oslo_messaging.set_transport_defaults(control_exchange=CONTROL_EXCHANGE)
        self.spans = self._setup_tracing()
        self.rec = Recorder(binary, host, activity)
        install_hooks(self.rec)
        self.serializer = _context_serializer()
        self._set_rabbit_options(host, binary)
        self.transport = oslo_messaging.get_rpc_transport(self.conf, url=url)
        # (the rabbit options exist once a transport registered them;
        # connections are made lazily, after this)
        self.conf.set_override('hostname', host, group='oslo_messaging_rabbit')
        self.conf.set_override('processname', binary, group='oslo_messaging_rabbit')
        self.client = oslo_messaging.get_rpc_client(
            self.transport, oslo_messaging.Target(), serializer=self.serializer,
            timeout=15)
        self.notifier = oslo_messaging.Notifier(
            oslo_messaging.get_notification_transport(self.conf, url=url),
            publisher_id=f"{binary.split('-')[-1]}.{host}", driver='messagingv2',
            topics=['notifications'], serializer=self.serializer)

    def _set_rabbit_options(self, host, binary):
        """[oslo_messaging_rabbit] options of the run (--quorum, ...), same in every process.

        Set before any transport exists: the driver reads use_queue_manager,
        hostname and processname when it is made (they name the reply queue),
        the rest when each connection is made. hostname/processname are the
        simulated host and binary, so queue-manager names differ per process
        (`reply_<host>:<binary>:<n>`, `<topic>_fanout_<host>:<binary>:<n>`).
        """
        from oslo_messaging._drivers import amqp as rpc_amqp, impl_rabbit
        group = 'oslo_messaging_rabbit'
        self.conf.register_opts(impl_rabbit.rabbit_opts, group=group)
        self.conf.register_opts(rpc_amqp.amqp_opts, group=group)
        options = json.loads(os.environ.get(RABBIT_OPTIONS_ENV) or '{}')
        for name, value in dict(options, hostname=host, processname=binary).items():
            self.conf.set_override(name, value, group=group)

    def _setup_tracing(self):
        """Give oslo.messaging a TracerProvider before it makes its own.

        Without one, oslo.messaging builds its own OTLP/HTTP exporter to
        localhost:4318, which needs another package (and whose import is broken
        in 18.3.1: `opentelemetry.exporter.otlp.proto.http` has no attribute
        `trace_exporter` unless something imported it first). It reuses ours, and we keep the
        spans for the truth file.
        """
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter)
        exporter = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({'service.name': self.binary}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        self.set_tracing(self.tracing)
        return exporter

    def set_tracing(self, on):
        on = on and not os.environ.get(NO_TRACING_ENV)
        self.conf.set_override('tracing_enabled', on, group='oslo_messaging_tracing')

    def rpc(self, kind, ctxt, topic, method, server=None, expect='ok', **kwargs):
        """cast/call/fanout through the real RPCClient, recording the client view."""
        client = self.client.prepare(topic=topic, server=server, fanout=(kind == 'fanout'),
                                     version=VERSIONS[topic])
        with self.rec.sending(target={'topic': topic, 'server': server,
                                      'fanout': kind == 'fanout'}) as view:
            try:
                if kind == 'call':
                    view['result'] = client.call(ctxt, method, **kwargs)
                else:
                    client.cast(ctxt, method, **kwargs)
            except self.om.RemoteError as e:
                view.update(outcome='remote_error', remote_exc_type=e.exc_type)
        if view['outcome'] != expect:
            raise RuntimeError(f'{kind} {topic}.{method}: {view["outcome"]}, expected {expect}')
        return view.get('result')

    def notify(self, ctxt, priority, event_type, payload):
        with self.rec.sending(target={'topic': 'notifications', 'priority': priority}):
            getattr(self.notifier, priority)(ctxt, event_type, payload)

    def dump(self):
        spans = [{
            'service': self.binary, 'name': s.name, 'kind': s.kind.name,
            'trace_id': format(s.context.trace_id, '032x'),
            'span_id': format(s.context.span_id, '016x'),
            'parent_span_id': format(s.parent.span_id, '016x') if s.parent else None,
        } for s in self.spans.get_finished_spans()]
        return dict(self.rec.dump(), spans=spans,
                    process={'service': self.binary, 'host': self.host,
                             'name': self.name, 'pid': os.getpid(),
                             'tracing_enabled': self.tracing})


class ComputeEndpoint:
    def __init__(self, svc):
        self.svc = svc
        import oslo_messaging
        self.target = oslo_messaging.Target(version='6.0')
        # expected: keeps the server from logging a traceback for it
        self.reboot_instance = oslo_messaging.expected_exceptions(InstanceNotFound)(
            self.reboot_instance)

    def _action(self, ctxt, action, instance):
        # Like nova-compute: start notification, a conductor round trip with
        # the same context, end notification: all caused by the incoming cast.
        s = self.svc
        s.notify(ctxt, 'info', f'compute.instance.{action}.start', {'instance_id': instance})
        s.rpc('call', ctxt, 'conductor', 'object_action', objname='Instance',
              objmethod='save', instance=instance)
        s.notify(ctxt, 'info', f'compute.instance.{action}.end', {'instance_id': instance})

    def build_and_run_instance(self, ctxt, instance):
        self._action(ctxt, 'create', instance)

    def pause_instance(self, ctxt, instance):
        self._action(ctxt, 'pause', instance)

    def reboot_instance(self, ctxt, instance):
        # A cast gets no reply: its failure shows only as an ERROR notification.
        self.svc.notify(ctxt, 'error', 'compute.instance.reboot.error',
                        {'instance_id': instance, 'exception': 'InstanceNotFound'})
        raise InstanceNotFound(f'Instance {instance} could not be found.')


class ConductorEndpoint:
    def __init__(self, svc):
        import oslo_messaging
        self.target = oslo_messaging.Target(version='3.0')
        self.instance_get_by_uuid = oslo_messaging.expected_exceptions(InstanceNotFound)(
            self.instance_get_by_uuid)

    def object_action(self, ctxt, objname, objmethod, instance):
        return {'objname': objname, 'objmethod': objmethod, 'instance': instance}

    def instance_get_by_uuid(self, ctxt, instance_uuid):
        if instance_uuid.startswith('00000000'):
            raise InstanceNotFound(f'Instance {instance_uuid} could not be found.')
        return {'uuid': instance_uuid, 'host': 'compute-1'}


class SchedulerEndpoint:
    def __init__(self, svc):
        import oslo_messaging
        self.target = oslo_messaging.Target(version='4.2')

    def update_instance_info(self, ctxt, host_name, instance_info):
        return None


class NotificationEndpoint:
    def __init__(self):
        self.requeued = set()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        # --requeue-once EVENT: hand each such notification back to the broker
        # once (as a consumer that is not ready would): a real redelivery.
        if event_type == os.environ.get(REQUEUE_ENV) and metadata['message_id'] not in self.requeued:
            import oslo_messaging
            self.requeued.add(metadata['message_id'])
            return oslo_messaging.NotificationResult.REQUEUE
        return None

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        return None


ENDPOINTS = {'conductor': ConductorEndpoint, 'compute': ComputeEndpoint,
             'scheduler': SchedulerEndpoint}


def run_server(name, url, activity, ready, stop, results):
    out = {'name': name}
    try:
        svc = Service(name, url, activity)
        om = svc.om
        if svc.topic:
            target = om.Target(topic=svc.topic, server=svc.host)
            server = om.get_rpc_server(svc.transport, target, [ENDPOINTS[svc.topic](svc)],
                                       executor='threading', serializer=svc.serializer)
        else:
            server = om.get_notification_listener(
                om.get_notification_transport(svc.conf, url=url),
                [om.Target(topic='notifications')], [NotificationEndpoint()],
                executor='threading', serializer=svc.serializer, allow_requeue=True)
        server.start()  # queues, bindings and consumers exist once this returns
        ready.set()
        stop.wait(DEADLINE)
        server.stop()
        server.wait()
        out.update(svc.dump())
    except Exception:
        out['error'] = traceback.format_exc()
    finally:
        ready.set()
        results.put(out)


def _ctx(global_request_id=False, admin=False):
    from oslo_context import context
    if admin:  # like nova's periodic tasks: no user, fresh request id
        return context.RequestContext(is_admin=True)
    return context.RequestContext(
        user_id='8a3c2ae1a7f24f4fa8bd3f4c5d1d9e21', project_id='6f70656e737461636b20342065766572',
        user_name='demo', project_name='demo', roles=['member', 'reader'],
        auth_token='scenario-token-not-secret',
        global_request_id=f'req-{uuid.uuid4()}' if global_request_id else None)


def run_client(url, activity, results):
    out = {'name': CLIENT[0]}
    try:
        svc = Service(CLIENT[0], url, activity)
        from opentelemetry import trace
        instance = str(uuid.uuid4())
        flows = out['flows'] = []

        def flow(name, ctxt, traced=False):
            flows.append({'name': name, 'request_id': ctxt.request_id,
                          'global_request_id': ctxt.global_request_id, 'traced': traced})
            return ctxt

        # Flow "boot" (global_request_id set): a call, and a cast whose compute
        # handler notifies and calls conductor. Flow "periodic": an admin
        # context fanout to both schedulers.
        boot = flow('boot', _ctx(global_request_id=True))
        svc.rpc('call', boot, 'conductor', 'instance_get_by_uuid', instance_uuid=instance)
        svc.rpc('cast', boot, 'compute', 'build_and_run_instance', server='compute-1',
                instance=instance)
        svc.rpc('fanout', flow('periodic', _ctx(admin=True)), 'scheduler', 'update_instance_info',
                host_name='compute-1', instance_info={'uuid': instance})

        # Flow "failure" (no global_request_id): failing call -> RemoteError;
        # failing cast -> ERROR notification only.
        missing = '00000000-0000-4000-8000-000000000000'
        fail = flow('failure', _ctx())
        svc.rpc('call', fail, 'conductor', 'instance_get_by_uuid', expect='remote_error',
                instance_uuid=missing)
        svc.rpc('cast', fail, 'compute', 'reboot_instance', server='compute-1',
                instance=missing)

        # Flow "traced": oslo.messaging tracing on in the API, under an
        # HTTP-like root span as oslo.middleware would make; compute continues
        # the trace into its conductor call (notifications never carry it).
        svc.set_tracing(True)
        tracer = trace.get_tracer('scenario')
        with tracer.start_as_current_span('HTTP POST /v2.1/servers/action',
                                          kind=trace.SpanKind.SERVER):
            traced = flow('traced', _ctx(global_request_id=True), traced=True)
            svc.rpc('cast', traced, 'compute', 'pause_instance', server='compute-1',
                    instance=instance)
            svc.rpc('call', traced, 'conductor', 'instance_get_by_uuid', instance_uuid=instance)
        svc.set_tracing(False)
        svc.transport.cleanup()
        out.update(svc.dump())
    except Exception:
        out['error'] = traceback.format_exc()
    finally:
        results.put(out)


# --------------------------------------------------------------------------
# Parent: orchestration, assembly, checks

def assemble(parts, expected_deliveries=EXPECTED_DELIVERIES):
    """Per-process records -> one operation per request/notification."""
    pubs = [p for part in parts for p in part.get('publishes', [])]
    dels = [dict(d, handler=part.get('handled', {}).get(d['unique_id']))
            for part in parts for d in part.get('deliveries', [])]
    views = {k: v for part in parts for k, v in part.get('client_view', {}).items()}
    by_uid = {}
    for d in dels:
        by_uid.setdefault(d['unique_id'], []).append(
            {'service': d['to']['service'], 'host': d['to']['host'], 'queue': d['queue'],
             'redelivered': d['redelivered'], 'handler': d['handler'],
             'headers': d.get('headers', {}),
             'connection': d['connection'],
             'delivered_at_ns': d['delivered_at_ns']})
    replies = {p['msg_id']: p for p in pubs if p['kind'] == 'reply'}
    problems, ops = [], []
    for p in sorted(pubs, key=lambda p: p['published_at_ns']):
        p = dict(p, deliveries=by_uid.get(p['unique_id'], []))
        expected = expected_deliveries[p['kind']]
        if p['kind'] == 'notify' and p['event_type'] == os.environ.get(REQUEUE_ENV):
            expected += 1  # --requeue-once: delivered, requeued, delivered again
        if len(p['deliveries']) != expected:
            problems.append(f"{p['kind']} {p['unique_id']} ({p['method'] or p['event_type']}):"
                            f" {len(p['deliveries'])} deliveries")
        if p['kind'] == 'reply':
            continue
        view = views.get(p['unique_id'], {})
        p['target'] = view.get('target')
        p['outcome'] = view.get('outcome', 'ok')
        p['remote_exc_type'] = view.get('remote_exc_type')
        if p['kind'] == 'call':
            r = replies.get(p['msg_id'])
            if r is None:
                problems.append(f"call {p['unique_id']}: no reply")
            else:
                r = dict(r, deliveries=by_uid.get(r['unique_id'], []))
                p['reply'] = {k: r[k] for k in ('unique_id', 'from', 'exchange', 'routing_key',
                                                'failure_class', 'failure_module', 'ending',
                                                'connection', 'connection_name',
                                                'published_at_ns', 'deliveries')}
                if (r['failure_class'] is not None) != (p['outcome'] == 'remote_error'):
                    problems.append(f"call {p['unique_id']}: outcome vs reply failure")
        ops.append(p)
    known = {p['unique_id'] for p in pubs}
    stray = [d for d in dels if d['unique_id'] not in known]
    if stray:
        problems.append(f'{len(stray)} deliveries of messages not published in this run')
    counts = {'publishes': len(pubs), 'deliveries': len(dels) - len(stray),
              'operations': len(ops), 'replies': len(replies),
              'by_kind': {k: sum(1 for p in pubs if p['kind'] == k)
                          for k in EXPECTED_DELIVERIES}}
    return ops, counts, problems


def _amqp_url(url):
    return 'amqp://' + url.split('://', 1)[1] if url.startswith('rabbit://') else url


class Firehose:
    """A queue of our own on amq.rabbitmq.trace (broker needs `trace_on`)."""

    def __init__(self, url):
        import kombu
        self.conn = kombu.Connection(_amqp_url(url))
        self.ch = self.conn.channel()
        self.queue = f'tb-scenario-firehose-{uuid.uuid4().hex[:8]}'
        self.ch.queue_declare(self.queue, exclusive=True, auto_delete=True)
        for key in ('publish.#', 'deliver.#'):
            self.ch.queue_bind(self.queue, 'amq.rabbitmq.trace', key)

    def drain(self):
        seen = []
        while (m := self.ch.basic_get(self.queue, no_ack=True)) is not None:
            what, _, where = m.delivery_info['routing_key'].partition('.')
            props = (m.headers or {}).get('properties') or {}
            body = _plain_body(m.body, props.get('headers'))
            seen.append((what, where, _inner(body).get('_unique_id')))
        self.conn.release()
        return seen


def firehose_compare(seen, ops):
    """Counts the firehose's records against the truth; returns (report, problems)."""
    want_pub, want_del = [], []
    for op in ops:
        for p in [op] + ([op['reply']] if op.get('reply') else []):
            want_pub.append(p['unique_id'])
            want_del += [(p['unique_id'], d['queue']) for d in p['deliveries']]
    got_pub = [u for w, _, u in seen if w == 'publish']
    got_del = [(u, q) for w, q, u in seen if w == 'deliver']
    report = {'truth_publishes': len(want_pub), 'firehose_publishes': len(got_pub),
              'truth_deliveries': len(want_del), 'firehose_deliveries': len(got_del),
              'firehose_total': len(seen)}
    problems = []
    if sorted(want_pub) != sorted(got_pub):
        problems.append(f'firehose publishes differ: missing {set(want_pub) - set(got_pub)},'
                        f' extra {set(got_pub) - set(want_pub)}')
    if sorted(want_del) != sorted(got_del):
        problems.append(f'firehose deliveries differ: missing {set(want_del) - set(got_del)},'
                        f' extra {set(got_del) - set(want_del)}')
    return report, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--url', default='rabbit://guest:guest@127.0.0.1:5682/')
    ap.add_argument('--truth', required=True, help='where to write the ground truth JSON')
    ap.add_argument('--scenario', default='all', choices=['all', *NOVA_SCENARIOS],
                    help='all: this file\'s nova-like flows; the others: nova_flows.py, nova\'s own '
                         'code (run with .venv-nova/bin/python)')
    ap.add_argument('--firehose-check', action='store_true',
                    help='bind a firehose queue and check it against the truth')
    layout = ap.add_argument_group(
        'queue layout', '[oslo_messaging_rabbit] options, set in every process of the run')
    layout.add_argument('--quorum', action='store_true',
                        help='rabbit_quorum_queue + rabbit_transient_quorum_queue: quorum '
                             'queues for topics, replies and fanouts (durable)')
    layout.add_argument('--queue-manager', action='store_true',
                        help='use_queue_manager: reply and fanout queues named '
                             '<host>:<process>:<n> instead of uuids')
    layout.add_argument('--stream-fanout', action='store_true',
                        help='rabbit_stream_fanout: one stream queue <topic>_fanout read by '
                             'every listener (oslo.messaging requires '
                             'rabbit_transient_quorum_queue and a prefetch count: both set)')
    layout.add_argument('--compression', metavar='CODEC',
                        help='kombu_compression: compressed bodies. kombu 5.7 knows gzip (zlib), '
                             'bzip2 (bzip), lzma (xz), and brotli, zstd when their modules are '
                             'installed; "bz2", which oslo.messaging\'s help names, is not a kombu '
                             'codec: every publish fails (KeyError, retried forever)')
    ap.add_argument('--no-tracing', action='store_true',
                    help='oslo.messaging tracing off in every process (the "traced" flow runs '
                         'untraced): each request is one trace, as in the classic captures')
    ap.add_argument('--node-urls', metavar='URL1,URL2,...',
                    help='a cluster: connect the processes to these nodes round robin (servers in '
                         'order, then the API client) instead of all to --url')
    ap.add_argument('--requeue-once', metavar='EVENT_TYPE',
                    help='the notification listener requeues each notification of this event type '
                         'once, e.g. compute.instance.create.start: a real redelivery (with '
                         '--quorum it carries x-delivery-count)')
    args = ap.parse_args()
    node_urls = args.node_urls.split(',') if args.node_urls else [args.url]
    if args.no_tracing:
        os.environ[NO_TRACING_ENV] = '1'
    if args.requeue_once:
        os.environ[REQUEUE_ENV] = args.requeue_once
    rabbit_options = _rabbit_options(args)
    # Spawned processes inherit the environment: same options everywhere.
    os.environ[RABBIT_OPTIONS_ENV] = json.dumps(rabbit_options)
    if rabbit_options.get('use_queue_manager'):
        # The queue manager's counter is guarded by an external oslo.concurrency lock.
        if 'OSLO_LOCK_PATH' not in os.environ:
            locks = os.environ['OSLO_LOCK_PATH'] = tempfile.mkdtemp(prefix='tb-scenario-locks-')
            atexit.register(shutil.rmtree, locks, ignore_errors=True)
    # SIGTERM -> normal exit path, so the children are cleaned up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    flows = _flows(args.scenario)

    t0 = time.monotonic()
    # oslo.messaging retries a dead broker forever: fail fast instead.
    import kombu
    with kombu.Connection(_amqp_url(args.url), connect_timeout=5) as c:
        c.ensure_connection(max_retries=1)
    ctx = mp.get_context('spawn')
    activity, stop, results = ctx.Value('q', 0), ctx.Event(), ctx.Queue()
    procs, parts, problems = [], [], []
    firehose = Firehose(args.url) if args.firehose_check else None
    try:
        readies = []
        for i, name in enumerate(flows.SERVERS):
            ready = ctx.Event()
            p = ctx.Process(target=flows.run_server, name=name, daemon=True,
                            args=(name, node_urls[i % len(node_urls)], activity, ready, stop, results))
            p.start()
            procs.append(p)
            readies.append(ready)
        for ready in readies:
            if not ready.wait(max(1, DEADLINE - (time.monotonic() - t0))):
                raise RuntimeError('a server did not start in time')
        api = ctx.Process(target=flows.run_client, name=flows.CLIENT[0], daemon=True,
                          args=(node_urls[len(flows.SERVERS) % len(node_urls)], activity, results))
        api.start()
        procs.append(api)
        api.join(DEADLINE - (time.monotonic() - t0))
        # Casts are asynchronous: wait until nothing has moved for a second.
        last, quiet_since = -1, time.monotonic()
        while time.monotonic() - quiet_since < 1.0 and time.monotonic() - t0 < DEADLINE:
            if activity.value != last:
                last, quiet_since = activity.value, time.monotonic()
            time.sleep(0.1)
        stop.set()
        for _ in procs:
            parts.append(results.get(timeout=max(1, DEADLINE + 4 - (time.monotonic() - t0))))
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
    ops, counts, more = assemble(parts, flows.EXPECTED_DELIVERIES)
    problems += more
    truth = {
        'format': 'trace-bridge-scenario-truth/1',
        'url': args.url, 'control_exchange': CONTROL_EXCHANGE,
        'node_urls': {name: node_urls[i % len(node_urls)] for i, name in enumerate(list(flows.SERVERS) + [flows.CLIENT[0]])}, 'scenario': args.scenario,
        'versions': dict(_versions(), **(flows.versions() if flows is not sys.modules[__name__] else {})),
        'rabbit_options': rabbit_options,
        'processes': sorted((part['process'] for part in parts if 'process' in part),
                            key=lambda p: p['name']),
        'flows': [f for part in parts for f in part.get('flows', [])],
        'counts': counts,
        'operations': ops,
        'spans': [s for part in parts for s in part.get('spans', [])],
        'duration_s': round(time.monotonic() - t0, 2),
    }
    if firehose:
        truth['firehose'], more = firehose_compare(firehose.drain(), ops)
        problems += more
    truth['problems'] = problems
    with open(args.truth, 'w') as f:
        json.dump(truth, f, indent=1)
    print(json.dumps({'counts': counts, 'firehose': truth.get('firehose'),
                      'duration_s': truth['duration_s']}))
    for msg in problems:
        print('PROBLEM:', msg, file=sys.stderr)
    return 1 if problems else 0


NOVA_SCENARIOS = ('multi-create-one-host', 'multi-create-two-hosts', 'migration')


def _flows(scenario):
    """The module whose SERVERS, CLIENT, run_server, run_client, EXPECTED_DELIVERIES make the run."""
    if scenario == 'all':
        return sys.modules[__name__]
    import nova_flows  # needs PyPI nova (tools/scenario/requirements-nova.txt)
    nova_flows.prepare(scenario)
    return nova_flows


def _rabbit_options(args):
    """Driver flags -> [oslo_messaging_rabbit] overrides."""
    options = {}
    if args.quorum:
        # Quorum queues are always durable: oslo.messaging ignores
        # amqp_durable_queues for them (Connection.durable).
        options.update(rabbit_quorum_queue=True, rabbit_transient_quorum_queue=True)
    if args.queue_manager:
        options['use_queue_manager'] = True
    if args.stream_fanout:
        # Connection() refuses stream fanout without these two.
        options.update(rabbit_stream_fanout=True, rabbit_transient_quorum_queue=True,
                       rabbit_qos_prefetch_count=10)
    if args.compression:
        options['kombu_compression'] = args.compression
    return options


def _versions():
    from importlib import metadata
    return {d: metadata.version(d) for d in (
        'oslo.messaging', 'oslo.config', 'oslo.context', 'kombu', 'amqp', 'opentelemetry-sdk')}


if __name__ == '__main__':
    sys.exit(main())
