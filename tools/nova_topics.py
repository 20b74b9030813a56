#!/usr/bin/env python3
"""Print nova's RPC and notification topics from the installed nova, as ServiceMap.openStackDefaults needs them.

    .venv-nova/bin/python tools/nova_topics.py          (tools/scenario/requirements-nova.txt)

The default service map (Sources/TraceCore/Synthesis/ServiceMap.swift) takes nova's topics from these constants,
not from captures, so that a topic nova adds (as `compute-alt` came with compute RPC 6.5) shows up here first.
Output: one `topic<TAB>service<TAB>where` line per topic, then the version facts.
"""
import warnings

warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')


def main():
    from importlib import metadata
    import nova.conf
    from nova.compute import rpcapi as compute_rpcapi
    from nova.conductor import rpcapi as conductor_rpcapi
    from nova.objects import service
    from nova.scheduler import rpcapi as scheduler_rpcapi

    conf = nova.conf.CONF
    rows = [
        (compute_rpcapi.RPC_TOPIC, 'nova-compute', 'nova/compute/rpcapi.py RPC_TOPIC'),
        (compute_rpcapi.RPC_TOPIC_ALT, 'nova-compute', 'nova/compute/rpcapi.py RPC_TOPIC_ALT'),
        (conductor_rpcapi.RPC_TOPIC, 'nova-conductor', 'nova/conductor/rpcapi.py RPC_TOPIC'),
        (scheduler_rpcapi.RPC_TOPIC, 'nova-scheduler', 'nova/scheduler/rpcapi.py RPC_TOPIC'),
    ]
    # Notification topics: defaults of the options, consumers are the cloud's (unknown by default).
    import nova.config
    from oslo_messaging.notify import notifier
    conf.register_opts(notifier._notifier_opts, group='oslo_messaging_notifications')
    # nova's own start-up, without a transport or a database: its defaults (control_exchange) as a service has them
    nova.config.parse_args(['nova-topics'], default_config_files=[], configure_db=False, init_rpc=False)
    for topic in conf.notifications.versioned_notifications_topics:
        rows.append((topic, '(listener)', '[notifications] versioned_notifications_topics default'))
    for topic in conf.oslo_messaging_notifications.topics:
        rows.append((topic, '(listener)', '[oslo_messaging_notifications] topics default (oslo.messaging)'))
    for row in rows:
        print('\t'.join(row))
    history = service.SERVICE_VERSION_HISTORY
    cap = history[service.SERVICE_VERSION]['compute_rpc']
    first_alt = next(i for i, v in enumerate(history) if v['compute_rpc'] == '6.5')
    print(f"# nova {metadata.version('nova')}: "
          f"service version {service.SERVICE_VERSION}, compute RPC {cap}; "
          f"compute-alt since compute RPC 6.5 (service version {first_alt})")


if __name__ == '__main__':
    main()
