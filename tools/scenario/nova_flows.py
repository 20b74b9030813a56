#!/usr/bin/env python3
"""Nova flows for driver.py (`--scenario multi-create-one-host|multi-create-two-hosts|migration`).

Unlike driver.py's own scenario, every message here is made by nova's own code
(PyPI `nova`, see requirements-nova.txt; run driver.py with .venv-nova/bin/python):

  * the transport, RPC clients and servers, serializers and notifiers of
    `nova.rpc` (set up by `nova.config.parse_args`), `control_exchange=nova`,
    `[notifications] notification_format=both`, messagingv2;
  * the client side of every RPC through nova's classes:
    `nova.compute.rpcapi.ComputeAPI`, `nova.conductor.rpcapi.ComputeTaskAPI`
    and `ConductorAPI`, `nova.scheduler.rpcapi.SchedulerAPI`, with nova's
    versioned objects (`objects.Instance`, `Migration`, `RequestSpec`, ...).
    The compute RPC cap is pinned with `[upgrade_levels] compute` to the
    current one (nova's SERVICE_VERSION_HISTORY, 6.5 in nova 34), so no
    database is needed and calls that carry an operation on after its
    pre-checks go to topic `compute-alt` (nova/compute/rpcapi.py RPC_TOPIC_ALT);
  * `object_action` calls from `instance.save()` / `migration.save()` through
    `NovaObject.indirection_api = ConductorAPI()`, as nova-compute sets it;
  * notifications from `nova.compute.utils` (`notify_about_instance_usage`,
    legacy, payload `instance_id`; `notify_about_instance_create` /
    `notify_about_instance_action`, versioned, payload `nova_object.data.uuid`).

The servers are nova's processes as `nova.service.Service.start` makes them:
nova-compute runs two RPC servers, `compute` and `compute-alt`, on the same
endpoints. Only the bodies of the server-side manager methods are stand-ins
(no database, no hypervisor, no placement): they send what nova's managers
send, in nova's order. Ground truth is recorded by driver.py's hooks.

Flows:
  multi-create-*: two `POST /servers` with min_count 4 and 3 (sent back to
      back): API casts `schedule_and_build_instances` -> conductor calls
      `select_destinations` -> casts one `build_and_run_instance` per instance
      -> nova-compute runs the builds at the same time (threading executor),
      each with 4 `object_action` calls and create.start/end notifications
      (legacy and versioned). All on compute-1, or alternating compute-1/-2.
  migration: a live migration (conductor: select_destinations,
      check_can_live_migrate_destination -> check_can_live_migrate_source;
      live_migration on compute-alt -> pre_live_migration and
      post_live_migration_at_destination on compute-alt) and a resize
      (conductor: select_destinations, prep_resize -> resize_instance and
      finish_resize on compute-alt), then confirm_resize, all compute-1 ->
      compute-2.
"""
import json
import logging
import os
import random
import sys
import tempfile
import threading
import time
import traceback
import uuid
import warnings

warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

import driver as base  # noqa: E402  (Recorder, install_hooks)

SCENARIOS = ('multi-create-one-host', 'multi-create-two-hosts', 'migration')
SCENARIO_ENV = 'TB_NOVA_SCENARIO'

# process name -> (binary, host); nova-compute runs on two hosts.
SERVERS = {
    'nova-conductor@ctl-1': ('nova-conductor', 'ctl-1'),
    'nova-scheduler@sched-1': ('nova-scheduler', 'sched-1'),
    'nova-compute@compute-1': ('nova-compute', 'compute-1'),
    'nova-compute@compute-2': ('nova-compute', 'compute-2'),
}
CLIENT = ('nova-api@api-1', ('nova-api', 'api-1'))
# No notification listener: nova's notifications wait in `notifications.info`
# and `versioned_notifications.info` (the notifier declares them), as they do
# in a cloud without ceilometer. So notifications have no delivery.
EXPECTED_DELIVERIES = {'cast': 1, 'call': 1, 'fanout': 2, 'notify': 0, 'reply': 1}
USER = dict(user_id='8a3c2ae1a7f24f4fa8bd3f4c5d1d9e21', project_id='6f70656e737461636b20342065766572',
            user_name='demo', project_name='demo', roles=['member', 'reader'],
            auth_token='scenario-token-not-secret', remote_address='192.0.2.10')
BUILD_SIZES = (4, 3)  # instances per multi-create request


def prepare(scenario):
    """Called by driver.py in the parent: children inherit the environment."""
    os.environ[SCENARIO_ENV] = scenario


def versions():
    from importlib import metadata
    from nova.objects import service
    return {'nova': metadata.version('nova'),
            'nova_compute_rpc_cap': compute_rpc_cap(service)}


def compute_rpc_cap(service=None):
    """The compute RPC version of this nova release (what `auto` picks once every compute runs it)."""
    if service is None:
        from nova.objects import service
    return service.SERVICE_VERSION_HISTORY[service.SERVICE_VERSION]['compute_rpc']


# --------------------------------------------------------------------------
# Per process

class NovaRecorder(base.Recorder):
    """driver.py's Recorder that also notes where each recorded send went (the wire's topic and server)."""

    def published(self, conn, exchange, routing_key, body, started_ns):
        super().published(conn, exchange, routing_key, body, started_ns)
        routes = getattr(self.local, 'routes', None)
        if routes is not None:
            routes.append((exchange.name, routing_key or ''))


class NovaProcess:
    """One nova service process: nova's config, rpc module, objects and notifiers."""

    def __init__(self, name, url, activity):
        binary, host = SERVERS.get(name) or CLIENT[1]
        self.name, self.binary, self.host = name, binary, host
        sys.argv[0] = binary  # oslo.messaging names connections after it
        logging.basicConfig(level=logging.WARNING,
                            format=f'{name} %(levelname)s %(name)s: %(message)s')
        logging.getLogger('amqp').setLevel(logging.ERROR)
        self.rec = NovaRecorder(binary, host, activity)
        base.install_hooks(self.rec)
        conf = tempfile.NamedTemporaryFile('w', prefix='tb-nova-', suffix='.conf', delete=False)
        with conf:
            conf.write(f"""[DEFAULT]
transport_url = {url}
host = {host}
[notifications]
notification_format = both
[oslo_messaging_notifications]
driver = messagingv2
[upgrade_levels]
compute = {compute_rpc_cap()}
[glance]
api_servers = http://192.0.2.20:9292
""")
        import nova.config
        import nova.conf
        from nova import objects
        nova.config.parse_args([binary], default_config_files=[conf.name], configure_db=False)
        os.unlink(conf.name)
        objects.register_all()
        self.conf = nova.conf.CONF
        from nova import rpc
        self.rpc = rpc
        self.objects = objects

    def context(self, global_request_id=None):
        from nova import context
        return context.RequestContext(global_request_id=global_request_id, **USER)

    def send(self, fn, *args, expect='ok', **kwargs):
        """One publish by nova's code (an RPC or a notification), with the sender's view for the truth."""
        import oslo_messaging
        self.rec.local.routes = []
        try:
            with self.rec.sending(target={}) as view:
                try:
                    view['result'] = fn(*args, **kwargs)
                except oslo_messaging.RemoteError as e:
                    view.update(outcome='remote_error', remote_exc_type=e.exc_type)
                exchange, key = self.rec.local.routes[0]
                topic, _, server = key.partition('.')
                view['target'] = {'topic': topic, 'server': server or None,
                                  'fanout': exchange.endswith('_fanout')}
        finally:
            self.rec.local.routes = None
        if view['outcome'] != expect:
            raise RuntimeError(f'{getattr(fn, "__name__", fn)}: {view["outcome"]}, expected {expect}')
        return view.pop('result', None)

    def dump(self):
        return dict(self.rec.dump(), spans=[],
                    process={'service': self.binary, 'host': self.host, 'name': self.name,
                             'pid': os.getpid(), 'tracing_enabled': False})


def _nap(low=0.02, high=0.15):
    """Work in a handler (a hypervisor, a volume): lets concurrent handlers interleave."""
    time.sleep(random.uniform(low, high))


def _flavor(objects, name='m1.tiny', flavor_id=1, memory_mb=512, vcpus=1, root_gb=1):
    return objects.Flavor(id=flavor_id, flavorid=str(flavor_id), name=name, memory_mb=memory_mb, vcpus=vcpus,
                          root_gb=root_gb, ephemeral_gb=0, swap=0, rxtx_factor=1.0, vcpu_weight=0,
                          disabled=False, is_public=True, extra_specs={}, description=None, projects=[])


def _instance(proc, ctxt, instance_uuid, image, flavor, index, reservation_id, host=None):
    """An Instance with every field nova's notification payloads read set, so nothing lazy-loads (no DB)."""
    from nova.network import model as network_model
    objects = proc.objects
    values = dict(
        uuid=instance_uuid, id=index + 1, user_id=ctxt.user_id, project_id=ctxt.project_id,
        host=host, node=host, launched_on=host, vm_state='building', task_state='scheduling', power_state=0,
        flavor=flavor, old_flavor=None, new_flavor=None, memory_mb=flavor.memory_mb, vcpus=flavor.vcpus,
        root_gb=flavor.root_gb, ephemeral_gb=0, instance_type_id=flavor.id, image_ref=image['id'],
        display_name=f'vm-{reservation_id[-4:]}-{index}', display_description='', hostname=f'vm-{index}',
        reservation_id=reservation_id, launch_index=index, system_metadata={}, metadata={},
        info_cache=objects.InstanceInfoCache(network_info=network_model.NetworkInfo([]),
                                             instance_uuid=instance_uuid),
        key_name=None, key_data=None, kernel_id='', ramdisk_id='', availability_zone='nova',
        root_device_name=None, os_type=None, architecture=None, vm_mode=None, launched_at=None,
        terminated_at=None, deleted_at=None, created_at=None, updated_at=None, deleted=False, cleaned=False,
        progress=0, locked=False, locked_by=None, auto_disk_config=False, access_ip_v4=None, access_ip_v6=None,
        cell_name=None, disable_terminate=False, ephemeral_key_uuid=None, shutdown_terminate=False,
        tags=objects.TagList(objects=[]), keypairs=objects.KeyPairList(objects=[]), trusted_certs=None,
        services=objects.ServiceList(objects=[]), numa_topology=None, pci_requests=None, device_metadata=None,
        vcpu_model=None, migration_context=None, resources=None, config_drive='', user_data=None,
        default_ephemeral_device=None, default_swap_device=None,
        security_groups=objects.SecurityGroupList(objects=[]), fault=None, hidden=False, compute_id=None,
        pci_devices=objects.PciDeviceList(objects=[]))
    fields = objects.Instance.fields
    return objects.Instance(ctxt, **{k: v for k, v in values.items()
                                     if k in fields and (v is not None or fields[k].nullable)})


def _request_spec(proc, ctxt, instance, image, flavor, num_instances=1):
    objects = proc.objects
    return objects.RequestSpec(
        instance_uuid=instance.uuid, project_id=ctxt.project_id, user_id=ctxt.user_id,
        flavor=flavor, image=objects.ImageMeta.from_dict(image), num_instances=num_instances,
        availability_zone=None, ignore_hosts=None, force_hosts=None, force_nodes=None,
        scheduler_hints={}, is_bfv=False, requested_resources=[], numa_topology=None, pci_requests=None,
        requested_destination=None, retry=None, limits=None, instance_group=None,
        security_groups=objects.SecurityGroupList(objects=[]))


def _image():
    return {'id': 'c8d3e7a0-5d3f-4d43-9c0a-2f0d6a1b7e11', 'name': 'cirros', 'status': 'active',
            'container_format': 'bare', 'disk_format': 'qcow2', 'min_ram': 0, 'min_disk': 0,
            'size': 21430272, 'properties': {}}


# --------------------------------------------------------------------------
# Server endpoints: nova's method names and target versions; bodies send what nova's managers send.

class ComputeEndpoint:
    """nova.compute.manager.ComputeManager's RPC methods used by these flows (target 6.5)."""

    def __init__(self, proc):
        import oslo_messaging
        from nova.compute import rpcapi as compute_rpcapi
        from nova.compute import utils as compute_utils
        self.target = oslo_messaging.Target(version='6.5')
        self.proc, self.compute_rpcapi, self.cu = proc, compute_rpcapi.ComputeAPI(), compute_utils
        self.notifier = proc.rpc.get_notifier('compute', proc.host)

    def _legacy(self, ctxt, instance, suffix):
        self.proc.send(self.cu.notify_about_instance_usage, self.notifier, ctxt, instance, suffix)

    def _action(self, ctxt, instance, action, phase):
        self.proc.send(self.cu.notify_about_instance_action, ctxt, instance, self.proc.host,
                       action=action, phase=phase, bdms=self.proc.objects.BlockDeviceMappingList(objects=[]))

    def _save(self, obj, **changes):
        for k, v in changes.items():
            setattr(obj, k, v)
        self.proc.send(obj.save)

    # boot (ComputeManager._do_build_and_run_instance / _build_and_run_instance / _build_resources)
    def build_and_run_instance(self, context, instance, image, request_spec, filter_properties,
                               accel_uuids=None, admin_password=None, injected_files=None,
                               requested_networks=None, security_groups=None, block_device_mapping=None,
                               node=None, limits=None, host_list=None):
        bdms = self.proc.objects.BlockDeviceMappingList(objects=[])
        self._save(instance, vm_state='building', task_state=None)
        self._legacy(context, instance, 'create.start')
        self.proc.send(self.cu.notify_about_instance_create, context, instance, self.proc.host,
                       phase='start', bdms=bdms)
        _nap()
        self._save(instance, task_state='block_device_mapping')
        _nap()
        self._save(instance, task_state='spawning')
        _nap(0.05, 0.3)  # the hypervisor spawns the guest
        self._save(instance, power_state=1, vm_state='active', task_state=None)
        self._legacy(context, instance, 'create.end')
        self.proc.send(self.cu.notify_about_instance_create, context, instance, self.proc.host,
                       phase='end', bdms=bdms)

    # live migration (ComputeManager.check_can_live_migrate_destination / _source, live_migration,
    # pre_live_migration, _post_live_migration, post_live_migration_at_destination)
    def check_can_live_migrate_destination(self, ctxt, instance, block_migration, disk_over_commit,
                                           migration=None, limits=None):
        data = self.proc.objects.LibvirtLiveMigrateData(
            filename='tmpfile-check', image_type='qcow2', graphics_listen_addr_vnc='127.0.0.1',
            serial_listen_addr=None, disk_over_commit=False, disk_available_mb=40960,
            block_migration=False, is_shared_instance_path=True, is_shared_block_storage=True)
        return self.proc.send(self.compute_rpcapi.check_can_live_migrate_source, ctxt, instance, data)

    def check_can_live_migrate_source(self, ctxt, instance, dest_check_data):
        _nap()
        return dest_check_data

    def live_migration(self, context, dest, instance, block_migration, migration, migrate_data):
        from nova.objects import fields
        self._save(migration, status='preparing')
        migrate_data = self.proc.send(self.compute_rpcapi.pre_live_migration, context, instance,
                                      block_migration, None, dest, migrate_data)
        self._save(migration, status='running')
        _nap(0.1, 0.3)  # the hypervisor copies memory
        self._legacy(context, instance, 'live_migration._post.start')
        self._action(context, instance, fields.NotificationAction.LIVE_MIGRATION_POST, 'start')
        self.proc.send(self.compute_rpcapi.post_live_migration_at_destination, context, instance,
                       block_migration, dest)
        self._save(migration, status='completed')
        self._legacy(context, instance, 'live_migration._post.end')
        self._action(context, instance, fields.NotificationAction.LIVE_MIGRATION_POST, 'end')

    def pre_live_migration(self, context, instance, disk, migrate_data, block_migration=None):
        from nova.objects import fields
        self._legacy(context, instance, 'live_migration.pre.start')
        self._action(context, instance, fields.NotificationAction.LIVE_MIGRATION_PRE, 'start')
        _nap()
        self._legacy(context, instance, 'live_migration.pre.end')
        self._action(context, instance, fields.NotificationAction.LIVE_MIGRATION_PRE, 'end')
        return migrate_data

    def post_live_migration_at_destination(self, context, instance, block_migration):
        from nova.objects import fields
        self._legacy(context, instance, 'live_migration.post.dest.start')
        self._action(context, instance, fields.NotificationAction.LIVE_MIGRATION_POST_DEST, 'start')
        self._save(instance, host=self.proc.host, node=self.proc.host, power_state=1, task_state=None)
        self._legacy(context, instance, 'live_migration.post.dest.end')
        self._action(context, instance, fields.NotificationAction.LIVE_MIGRATION_POST_DEST, 'end')

    # resize (ComputeManager.prep_resize / resize_instance / finish_resize / confirm_resize)
    def prep_resize(self, context, image, instance, flavor, request_spec, filter_properties, node,
                    clean_shutdown, migration, host_list):
        from nova.objects import fields
        self._legacy(context, instance, 'resize.prep.start')
        self.proc.send(self.cu.notify_about_resize_prep_instance, context, instance, self.proc.host,
                       fields.NotificationPhase.START, flavor)
        self._save(migration, dest_compute=self.proc.host, dest_node=self.proc.host, status='pre-migrating')
        self._save(instance, new_flavor=flavor)
        self._legacy(context, instance, 'resize.prep.end')
        self.proc.send(self.cu.notify_about_resize_prep_instance, context, instance, self.proc.host,
                       fields.NotificationPhase.END, flavor)
        self.proc.send(self.compute_rpcapi.resize_instance, context, instance, migration, image, flavor,
                       request_spec, clean_shutdown)

    def resize_instance(self, context, instance, image, migration, flavor, clean_shutdown,
                        request_spec=None):
        from nova.objects import fields
        self._save(migration, status='migrating')
        self._save(instance, task_state='resize_migrating')
        self._legacy(context, instance, 'resize.start')
        self._action(context, instance, fields.NotificationAction.RESIZE, 'start')
        _nap(0.1, 0.3)  # the disk is copied
        self._save(migration, status='post-migrating')
        self._save(instance, task_state='resize_migrated')
        self._legacy(context, instance, 'resize.end')
        self._action(context, instance, fields.NotificationAction.RESIZE, 'end')
        self.proc.send(self.compute_rpcapi.finish_resize, context, instance, migration, image, None,
                       migration.dest_compute, request_spec)

    def finish_resize(self, context, disk_info, image, instance, migration, request_spec=None):
        from nova.objects import fields
        self._legacy(context, instance, 'finish_resize.start')
        self._action(context, instance, fields.NotificationAction.RESIZE_FINISH, 'start')
        self._save(migration, status='finished')
        self._save(instance, host=self.proc.host, node=self.proc.host, flavor=instance.new_flavor,
                   vm_state='resized', task_state=None)
        self._legacy(context, instance, 'finish_resize.end')
        self._action(context, instance, fields.NotificationAction.RESIZE_FINISH, 'end')

    def confirm_resize(self, context, instance, migration):
        from nova.objects import fields
        self._legacy(context, instance, 'resize.confirm.start')
        self._action(context, instance, fields.NotificationAction.RESIZE_CONFIRM, 'start')
        self._save(migration, status='confirmed')
        self._save(instance, vm_state='active', old_flavor=None, new_flavor=None)
        self._legacy(context, instance, 'resize.confirm.end')
        self._action(context, instance, fields.NotificationAction.RESIZE_CONFIRM, 'end')


class ConductorEndpoint:
    """nova.conductor.manager.ConductorManager.object_action (target 3.0), without a database."""

    def __init__(self, proc):
        import oslo_messaging
        self.target = oslo_messaging.Target(version='3.0')

    def object_action(self, context, objinst, objmethod, args, kwargs):
        # What ConductorManager returns: the fields that changed, and the method's result. The change the caller
        # made is what nova would write to the database.
        updates = {name: objinst.fields[name].to_primitive(objinst, name, getattr(objinst, name))
                   for name in objinst.obj_what_changed() if objinst.obj_attr_is_set(name)}
        updates['obj_what_changed'] = set()
        return updates, None


class ComputeTaskEndpoint:
    """nova.conductor.manager.ComputeTaskManager (namespace compute_task, target 1.26), without a database."""

    def __init__(self, proc):
        import oslo_messaging
        from nova.compute import rpcapi as compute_rpcapi
        from nova.scheduler import rpcapi as scheduler_rpcapi
        self.target = oslo_messaging.Target(namespace='compute_task', version='1.26')
        self.proc = proc
        self.compute_rpcapi = compute_rpcapi.ComputeAPI()
        self.scheduler_rpcapi = scheduler_rpcapi.SchedulerAPI()

    def _select(self, context, spec, instance_uuids):
        return self.proc.send(self.scheduler_rpcapi.select_destinations, context, spec, instance_uuids,
                              return_objects=True, return_alternates=True)

    def schedule_and_build_instances(self, context, build_requests, request_specs, image, admin_password,
                                     injected_files, requested_networks, block_device_mapping, tags=None):
        host_lists = self._select(context, request_specs[0], [br.instance_uuid for br in build_requests])
        for build_request, request_spec, host_list in zip(build_requests, request_specs, host_lists):
            host = host_list[0]
            # nova: build_request.get_new_instance() + instance.create() (the database fills in every field);
            # here the build request's instance already has them all.
            instance = build_request.instance
            instance.host, instance.node = host.service_host, host.nodename
            instance.launched_on = host.service_host
            # nova writes the instance, its block device mappings, tags and instance mapping to the cell and API
            # databases here, per instance: the builds of the first instances start while later ones are cast.
            _nap(0.01, 0.04)
            self.proc.send(self.compute_rpcapi.build_and_run_instance, context, instance=instance,
                           host=host.service_host, image=image, request_spec=request_spec,
                           filter_properties={}, admin_password=admin_password, injected_files=injected_files,
                           requested_networks=requested_networks, security_groups=[],
                           block_device_mapping=self.proc.objects.BlockDeviceMappingList(objects=[]),
                           node=host.nodename, limits=None, host_list=host_list, accel_uuids=[])

    def live_migrate_instance(self, context, instance, scheduler_hint, block_migration, disk_over_commit,
                              request_spec):
        # LiveMigrationTask: a migration record, a destination from the scheduler, the checks on the
        # destination (which asks the source), then the migration itself on the source.
        migration = _migration(self.proc, instance, 'live-migration', 'accepted')
        request_spec.ignore_hosts = [instance.host]
        destination = self._select(context, request_spec, [instance.uuid])[0][0]
        migration.dest_compute = migration.dest_node = destination.service_host
        migrate_data = self.proc.send(self.compute_rpcapi.check_can_live_migrate_destination, context,
                                      instance, destination.service_host, block_migration, disk_over_commit,
                                      migration, None)
        migration.status = 'queued'
        self.proc.send(self.compute_rpcapi.live_migration, context, instance, destination.service_host,
                       block_migration, instance.host, migration, migrate_data)

    def migrate_server(self, context, instance, scheduler_hint, live, rebuild, flavor, block_migration,
                       disk_over_commit, reservations=None, clean_shutdown=True, request_spec=None,
                       host_list=None):
        # MigrationTask (a resize): a destination from the scheduler, then prep_resize on it.
        migration = _migration(self.proc, instance, 'resize', 'pre-migrating')
        migration.new_instance_type_id = flavor.id
        request_spec.flavor = flavor
        request_spec.ignore_hosts = [instance.host]
        selection = self._select(context, request_spec, [instance.uuid])[0]
        self.proc.send(self.compute_rpcapi.prep_resize, context, instance, request_spec.image, flavor,
                       selection[0].service_host, migration, request_spec, {}, selection[0].nodename,
                       clean_shutdown, selection)


def _migration(proc, instance, migration_type, status):
    return proc.objects.Migration(
        id=random.randint(1, 10000), uuid=str(uuid.uuid4()), instance_uuid=instance.uuid,
        source_compute=instance.host, source_node=instance.node, dest_compute=None, dest_node=None,
        dest_host=None, old_instance_type_id=instance.flavor.id, new_instance_type_id=instance.flavor.id,
        migration_type=migration_type, status=status, hidden=False, cross_cell_move=False,
        user_id=instance.user_id, project_id=instance.project_id)


class SchedulerEndpoint:
    """nova.scheduler.manager.SchedulerManager.select_destinations (target 4.5): hosts by flow, no placement."""

    def __init__(self, proc):
        import oslo_messaging
        from nova.compute import utils as compute_utils
        self.target = oslo_messaging.Target(version='4.5')
        self.proc, self.cu = proc, compute_utils
        self.notifier = proc.rpc.get_notifier('scheduler', proc.host)
        self.next_host = 0

    def select_destinations(self, ctxt, request_spec=None, filter_properties=None, spec_obj=None,
                            instance_uuids=None, return_objects=False, return_alternates=False):
        from nova.objects import fields
        spec = spec_obj or request_spec
        legacy = {'request_spec': spec.to_legacy_request_spec_dict()}  # SchedulerManager._select_destinations
        self.proc.send(self.notifier.info, ctxt, 'scheduler.select_destinations.start', legacy)
        self.proc.send(self.cu.notify_about_scheduler_action, ctxt, spec, fields.NotificationAction.
                       SELECT_DESTINATIONS, fields.NotificationPhase.START)
        hosts = ['compute-1', 'compute-2']
        scenario = os.environ.get(SCENARIO_ENV)
        picks = []
        for _ in instance_uuids:
            if scenario == 'multi-create-one-host':
                host = 'compute-1'
            elif scenario == 'multi-create-two-hosts':
                host = hosts[self.next_host % 2]
                self.next_host += 1
            else:  # a move: anywhere but where it is
                host = next(h for h in hosts if h not in (spec.ignore_hosts or []))
            picks.append([self.proc.objects.Selection(
                service_host=host, nodename=host, compute_node_uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, host)),
                cell_uuid='00000000-0000-0000-0000-000000000001', limits=None, allocation_request=None,
                allocation_request_version=None, availability_zone='nova')])
        self.proc.send(self.notifier.info, ctxt, 'scheduler.select_destinations.end', legacy)
        self.proc.send(self.cu.notify_about_scheduler_action, ctxt, spec, fields.NotificationAction.
                       SELECT_DESTINATIONS, fields.NotificationPhase.END)
        return picks


def run_server(name, url, activity, ready, stop, results):
    out = {'name': name}
    try:
        proc = NovaProcess(name, url, activity)
        import oslo_messaging
        from nova import baserpc
        from nova.compute import rpcapi as compute_rpcapi
        from nova.conductor import rpcapi as conductor_rpcapi
        from nova.objects import base as objects_base
        from nova.scheduler import rpcapi as scheduler_rpcapi
        binary = proc.binary
        if binary == 'nova-compute':
            # nova/cmd/compute.py: no DB; objects go through the conductor.
            objects_base.NovaObject.indirection_api = conductor_rpcapi.ConductorAPI()
            endpoints = [ComputeEndpoint(proc)]
            topics = [compute_rpcapi.RPC_TOPIC, compute_rpcapi.RPC_TOPIC_ALT]
        elif binary == 'nova-conductor':
            endpoints = [ConductorEndpoint(proc), ComputeTaskEndpoint(proc)]
            topics = [conductor_rpcapi.RPC_TOPIC]
        else:
            endpoints = [SchedulerEndpoint(proc)]
            topics = [scheduler_rpcapi.RPC_TOPIC]
        # nova.service.Service.start: the manager, BaseRPCAPI, one server per topic on the same endpoints.
        endpoints.append(baserpc.BaseRPCAPI(binary.rpartition('nova-')[2], None))
        servers = [proc.rpc.get_server(oslo_messaging.Target(topic=topic, server=proc.host), endpoints,
                                       objects_base.NovaObjectSerializer()) for topic in topics]
        for server in servers:
            server.start()
        ready.set()
        stop.wait(base.DEADLINE)
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


def run_client(url, activity, results):
    out = {'name': CLIENT[0]}
    try:
        proc = NovaProcess(CLIENT[0], url, activity)
        flows = out['flows'] = []
        scenario = os.environ[SCENARIO_ENV]

        def flow(name, ctxt):
            flows.append({'name': name, 'request_id': ctxt.request_id,
                          'global_request_id': ctxt.global_request_id, 'traced': False})
            return ctxt

        if scenario.startswith('multi-create'):
            for n, size in enumerate(BUILD_SIZES):
                ctxt = flow(f'boot-{size}', proc.context(f'req-{uuid.uuid4()}' if n == 0 else None))
                _boot(proc, ctxt, size)
        else:
            _migrations(proc, flow)
        proc.rpc.cleanup()
        out.update(proc.dump())
    except Exception:
        out['error'] = traceback.format_exc()
    finally:
        results.put(out)


def _boot(proc, ctxt, count):
    """nova.compute.api.API._provision_instances + schedule_and_build_instances for min_count=count."""
    from nova.conductor import rpcapi as conductor_rpcapi
    objects = proc.objects
    image, flavor = _image(), _flavor(objects)
    reservation_id = f'r-{uuid.uuid4().hex[:8]}'
    build_requests, request_specs = [], []
    for index in range(count):
        instance = _instance(proc, ctxt, str(uuid.uuid4()), image, flavor, index, reservation_id)
        request_specs.append(_request_spec(proc, ctxt, instance, image, flavor, num_instances=count))
        build_requests.append(objects.BuildRequest(
            ctxt, instance=instance, instance_uuid=instance.uuid, project_id=ctxt.project_id,
            block_device_mappings=objects.BlockDeviceMappingList(objects=[]), tags=objects.TagList(objects=[])))
    proc.send(conductor_rpcapi.ComputeTaskAPI().schedule_and_build_instances, ctxt,
              build_requests=build_requests, request_specs=request_specs, image=image, admin_password='',
              injected_files=[], requested_networks=objects.NetworkRequestList(objects=[]),
              block_device_mapping=objects.BlockDeviceMappingList(objects=[]), tags=[])


def _migrations(proc, flow):
    """A live migration and a resize (then its confirmation) of instances on compute-1."""
    from nova.compute import rpcapi as compute_rpcapi
    from nova.conductor import rpcapi as conductor_rpcapi
    objects = proc.objects
    task_api, compute_api = conductor_rpcapi.ComputeTaskAPI(), compute_rpcapi.ComputeAPI()
    image, flavor = _image(), _flavor(objects)

    def active(ctxt, index):
        instance = _instance(proc, ctxt, str(uuid.uuid4()), image, flavor, index, f'r-{uuid.uuid4().hex[:8]}',
                             host='compute-1')
        instance.vm_state, instance.task_state, instance.power_state = 'active', None, 1
        instance.obj_reset_changes()
        return instance

    # POST /servers/{id}/action os-migrateLive (host: none, the scheduler picks)
    ctxt = flow('live-migration', proc.context(f'req-{uuid.uuid4()}'))
    instance = active(ctxt, 0)
    instance.task_state = 'migrating'
    proc.send(task_api.live_migrate_instance, ctxt, instance, {'host': None}, False, False,
              _request_spec(proc, ctxt, instance, image, flavor))
    _wait_quiet(proc)

    # POST /servers/{id}/action resize, then confirmResize (a request of its own)
    ctxt = flow('resize', proc.context())
    instance = active(ctxt, 1)
    instance.task_state = 'resize_prep'
    new_flavor = _flavor(objects, 'm1.small', 2, 2048, 1, 20)
    proc.send(task_api.migrate_server, ctxt, instance, {'filter_properties': {}}, False, False, new_flavor,
              None, None, None, True, _request_spec(proc, ctxt, instance, image, flavor), None, do_cast=True)
    _wait_quiet(proc)
    ctxt = flow('confirm-resize', proc.context())
    instance.host = instance.node = 'compute-2'
    instance.vm_state, instance.task_state = 'resized', None
    instance.obj_reset_changes()
    migration = _migration(proc, instance, 'resize', 'finished')
    migration.source_compute = migration.source_node = 'compute-1'
    migration.dest_compute = migration.dest_node = 'compute-2'
    proc.send(compute_api.confirm_resize, ctxt, instance, migration, 'compute-1')


def _wait_quiet(proc, quiet=1.0, limit=20):
    """Casts are asynchronous: let one flow finish before the next starts (clearer captures)."""
    activity = proc.rec.activity
    last, since, start = -1, time.monotonic(), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() - start < limit:
        if activity.value != last:
            last, since = activity.value, time.monotonic()
        time.sleep(0.05)
