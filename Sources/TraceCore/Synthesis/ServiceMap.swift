/// Maps RPC topics and queues to the OpenStack services that own them, and control exchanges to API services.
///
/// oslo.messaging names queues `<topic>`, `<topic>.<server>` (the server is the host), `<topic>_fanout_<uuid hex>`
/// and `reply_<uuid hex>`; notifications go to `<topic>.<priority>`. With `use_queue_manager` the uuid is replaced by
/// `<hostname>:<processname>:<n>`; with `rabbit_stream_fanout` every listener of a topic reads the one stream queue
/// `<topic>_fanout`. A topic not in the map is attributed to `unknown` (with the queue name as an attribute), never
/// guessed.
public struct ServiceMap: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// The service that consumes this topic (`nova-conductor`).
        public var service: String
        /// The API service of the same project (`nova-api`): the sender of a user request's first publish.
        public var apiService: String?
        /// True for notification topics: the part after the dot is a priority, not a host.
        public var isNotificationTopic: Bool

        public init(service: String, apiService: String? = nil, isNotificationTopic: Bool = false) {
            self.service = service
            self.apiService = apiService
            self.isNotificationTopic = isNotificationTopic
        }
    }

    public var topics: [String: Entry]
    /// Topic families by prefix, for topics that projects build from parts (neutron's
    /// `q-agent-notifier-<resource>-<event>`): used when `topics` has no entry; the longest prefix wins.
    public var topicPrefixes: [String: Entry]
    /// Control exchange → API service, for publishes whose topic is not in `topics`.
    public var exchangeAPIServices: [String: String]
    /// Legacy `publisher_id` prefixes (`<service>.<host>`) that are not a topic → the service that publishes them
    /// (neutron's `network.<host>`, from `neutron_lib.rpc.get_notifier('network')`).
    public var publisherServices: [String: String]

    public init(
        topics: [String: Entry], topicPrefixes: [String: Entry] = [:], exchangeAPIServices: [String: String],
        publisherServices: [String: String] = [:]
    ) {
        self.topics = topics
        self.topicPrefixes = topicPrefixes
        self.exchangeAPIServices = exchangeAPIServices
        self.publisherServices = publisherServices
    }

    /// The entry of a topic: its own, else the longest matching family prefix.
    public func entry(ofTopic topic: String) -> Entry? {
        if let entry = topics[topic] { return entry }
        var best: (length: Int, entry: Entry)?
        for (prefix, entry) in topicPrefixes where topic.hasPrefix(prefix) && prefix.utf8.count > (best?.length ?? -1) {
            best = (prefix.utf8.count, entry)
        }
        return best?.entry
    }

    /// Nova's topics plus those of other projects that follow the `<topic>[.<server>]` convention.
    public static let openStackDefaults: ServiceMap = {
        var topics: [String: Entry] = [:]
        func add(_ project: String, api: String, _ pairs: [(String, String)]) {
            for (topic, service) in pairs { topics[topic] = Entry(service: service, apiService: api) }
        }
        // Nova: the constants of nova 34.0.0 (`tools/nova_topics.py` prints them from an installed nova):
        // nova/compute/rpcapi.py RPC_TOPIC `compute` and RPC_TOPIC_ALT `compute-alt` (compute RPC 6.5, nova 33.0.0
        // on: nova-compute runs a second RPC server on it, kept up during a graceful shutdown, and the calls that
        // carry a move on after its pre-checks go there: live_migration, pre_live_migration,
        // post_live_migration_at_destination, resize_instance, finish_resize, ...), nova/conductor/rpcapi.py
        // RPC_TOPIC `conductor`, nova/scheduler/rpcapi.py RPC_TOPIC `scheduler`. `consoleauth` and `console` are
        // older releases' (nova-consoleauth and nova-console are gone since Train and Ussuri).
        add("nova", api: "nova-api", [
            ("conductor", "nova-conductor"), ("scheduler", "nova-scheduler"), ("compute", "nova-compute"),
            ("compute-alt", "nova-compute"), ("consoleauth", "nova-consoleauth"), ("console", "nova-console"),
        ])
        add("cinder", api: "cinder-api", [
            ("cinder-scheduler", "cinder-scheduler"), ("cinder-volume", "cinder-volume"),
            ("cinder-backup", "cinder-backup"),
        ])
        // Neutron: the constants of neutron_lib/agent/topics.py (neutron-lib 5.0.1, neutron 29.0.0): PLUGIN
        // `q-plugin`, L3PLUGIN `q-l3-plugin`, REPORTS `q-reports-plugin`, SERVER_RESOURCE_VERSIONS
        // `q-server-resource-versions`, METERING_PLUGIN `q-metering-plugin` (RPC servers of neutron-server);
        // DHCP_AGENT `dhcp_agent`, L3_AGENT `l3_agent`, METERING_AGENT `metering_agent` (the agents, `.<host>`).
        // AGENT `q-agent-notifier` is only a prefix: get_topic_name(AGENT, resource, event) builds the fanout
        // topics the L2 agents consume (topicPrefixes below); `q-agent-notifier` itself has no consumer.
        add("neutron", api: "neutron-server", [
            ("q-plugin", "neutron-server"), ("q-l3-plugin", "neutron-server"), ("q-reports-plugin", "neutron-server"),
            ("q-server-resource-versions", "neutron-server"), ("q-metering-plugin", "neutron-server"),
            ("dhcp_agent", "neutron-dhcp-agent"), ("l3_agent", "neutron-l3-agent"),
            ("metering_agent", "neutron-metering-agent"),
        ])
        add("heat", api: "heat-api", [("engine", "heat-engine")])
        add("manila", api: "manila-api", [("manila-scheduler", "manila-scheduler"), ("manila-share", "manila-share")])
        add("octavia", api: "octavia-api", [("octavia_prov", "octavia-worker")])
        // Notification consumers differ per cloud (ceilometer, a listener of the operator's): unknown by default.
        for topic in ["notifications", "versioned_notifications"] {
            topics[topic] = Entry(service: ServiceIdentity.unknown.service, isNotificationTopic: true)
        }
        // `q-agent-notifier-<resource>-<event>` (neutron_lib.agent.topics.get_topic_name): ML2's AgentNotifierApi
        // port-update, port-delete, network-update, network-delete, port_binding-activate/-deactivate; the
        // security_group-update, dvr-update and tunnel-update/-delete mixins; l2population's
        // l2population-update (and `.<host>`). `neutron-vo-<resource>-<version>` (RESOURCE_TOPIC_PATTERN): the
        // resources push of resources_rpc. The L2 agents consume both; the topic does not say which kind of agent,
        // so the default is the common one (an SR-IOV or other L2 agent: --service-map TOPIC=SERVICE per topic).
        // neutron-server sends them, from the API side too: their API service is neutron-server.
        let l2Agent = Entry(service: "neutron-openvswitch-agent", apiService: "neutron-server")
        return ServiceMap(
            topics: topics,
            topicPrefixes: ["q-agent-notifier-": l2Agent, "neutron-vo-": l2Agent],
            exchangeAPIServices: [
                "nova": "nova-api", "cinder": "cinder-api", "neutron": "neutron-server", "heat": "heat-api",
                "manila": "manila-api", "octavia": "octavia-api",
            ],
            // neutron_lib.rpc.get_notifier(service) publishes as `<service>.<host>`: neutron-server's API and
            // plugins use `network` (neutron/api/v2/base.py, pecan hooks, l3_db) and `router`
            // (l3agentscheduler); the metering agent `metering`.
            publisherServices: [
                "network": "neutron-server", "router": "neutron-server", "metering": "neutron-metering-agent",
            ])
    }()

    /// Where a queue name or RPC target points: its topic and, for `<topic>.<server>`, the server.
    public struct Target: Equatable, Sendable {
        public var topic: String
        public var server: String?
        public var isFanoutQueue: Bool
        public var isReplyQueue: Bool
        /// `rabbit_stream_fanout`: the one stream queue `<topic>_fanout` that every listener of the topic reads, so
        /// the queue alone does not say which listener a delivery went to (its consumer connection does).
        public var isStreamQueue = false
        /// `use_queue_manager`: the process a reply or fanout queue is named after.
        public var queueManagerName: QueueManagerName?
    }

    /// oslo.messaging's queue-manager suffix `<hostname>:<processname>:<n>` (`amqpdriver.QManager.get`): the
    /// process's `[oslo_messaging_rabbit] hostname` (default `socket.gethostname()`) and `processname` (default
    /// the basename of `argv[0]`), and a counter per host and process name, so names are stable across restarts.
    public struct QueueManagerName: Equatable, Sendable {
        public var hostname: String
        public var processname: String
        public var counter: Int

        /// Hostname up to the first `:` (host names have none), counter after the last (decimal digits), the
        /// process name in between. Nil for anything else, including the uuid hex of the classic names.
        public init?(_ text: some StringProtocol) {
            let colons = text.utf8.indices.lazy.filter { text.utf8[$0] == UInt8(ascii: ":") }
            guard let first = colons.first, let last = colons.reduce(nil, { $1 }), first != last,
                first != text.startIndex
            else { return nil }
            let digits = text[text.utf8.index(after: last)...]
            guard !digits.isEmpty, digits.utf8.count <= 9, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let counter = Int(digits)
            else { return nil }
            hostname = String(text[..<first])
            processname = String(text[text.utf8.index(after: first)..<last])
            self.counter = counter
        }
    }

    /// Parses a queue name: `conductor`, `compute.compute-1`, `scheduler_fanout_<hex>` or
    /// `scheduler_fanout_<host>:<process>:<n>` (queue manager), `scheduler_fanout` (stream fanout), `reply_<hex>` or
    /// `reply_<host>:<process>:<n>`.
    public func target(ofQueue queue: String) -> Target {
        if queue.hasPrefix("reply_") {
            return Target(
                topic: queue, server: nil, isFanoutQueue: false, isReplyQueue: true,
                queueManagerName: QueueManagerName(queue.dropFirst("reply_".count)))
        }
        if let fanout = Self.fanoutQueueTarget(queue) { return fanout }
        // A queue named like its fanout exchange is the stream layout: classic layouts never declare one.
        if queue.hasSuffix("_fanout"), queue.utf8.count > "_fanout".utf8.count, !queue.utf8.contains(UInt8(ascii: ".")) {
            return Target(
                topic: String(queue.dropLast("_fanout".count)), server: nil, isFanoutQueue: true, isReplyQueue: false,
                isStreamQueue: true)
        }
        return splitTopic(queue)
    }

    private static let fanoutMarker = Array("_fanout_".utf8)

    /// `<topic>_fanout_<suffix>`: the first "_fanout_" followed by uuid hex digits or a queue-manager name. Read in
    /// the string's own bytes (this runs for every delivery: no array copies of the name).
    private static func fanoutQueueTarget(_ name: String) -> Target? {
        var name = name
        return name.withUTF8 { bytes -> Target? in
            let marker = fanoutMarker
            guard bytes.count > marker.count else { return nil }
            for start in 1..<(bytes.count - marker.count)
            where bytes[start] == UInt8(ascii: "_") && bytes[start..<(start + marker.count)].elementsEqual(marker) {
                let suffix = UnsafeBufferPointer(rebasing: bytes[(start + marker.count)...])
                let topic = String(decoding: UnsafeBufferPointer(rebasing: bytes[..<start]), as: UTF8.self)
                if suffix.allSatisfy({ hexValue($0) != nil }) {
                    return Target(topic: topic, server: nil, isFanoutQueue: true, isReplyQueue: false)
                }
                if let queueManager = QueueManagerName(String(decoding: suffix, as: UTF8.self)) {
                    return Target(
                        topic: topic, server: nil, isFanoutQueue: true, isReplyQueue: false,
                        queueManagerName: queueManager)
                }
            }
            return nil
        }
    }

    /// The target of a publish: a fanout exchange `<topic>_fanout`, else the routing key `<topic>[.<server>]`.
    public func target(exchange: String, routingKey: String) -> Target {
        if exchange.hasSuffix("_fanout") {
            return Target(topic: String(exchange.dropLast("_fanout".count)), server: nil, isFanoutQueue: true, isReplyQueue: false)
        }
        if exchange.isEmpty { return target(ofQueue: routingKey) }
        return splitTopic(routingKey)
    }

    private func splitTopic(_ name: String) -> Target {
        // Byte searches: the separators are ASCII, and a String's Character search is many times slower.
        guard let dot = name.utf8.firstIndex(of: UInt8(ascii: ".")) else {
            return Target(topic: name, server: nil, isFanoutQueue: false, isReplyQueue: false)
        }
        let topic = String(name[..<dot])
        let rest = String(name[name.utf8.index(after: dot)...])
        return Target(topic: topic, server: rest.isEmpty ? nil : rest, isFanoutQueue: false, isReplyQueue: false)
    }

    /// The service owning a target; for an RPC `<topic>.<server>` the host is the server. Nil for an unknown topic.
    public func service(of target: Target) -> ServiceIdentity? {
        guard let entry = entry(ofTopic: target.topic) else { return nil }
        if entry.isNotificationTopic { return ServiceIdentity(service: entry.service) }
        return ServiceIdentity(service: entry.service, host: target.server)
    }

    /// True when `name` is a service the map attributes to (a topic's consumer or a project's API), never
    /// `unknown`: used to accept a queue-manager process name as a service only when it is one.
    public func isKnownService(_ name: String) -> Bool {
        guard name != ServiceIdentity.unknown.service, !name.isEmpty else { return false }
        return topics.values.contains { $0.service == name || $0.apiService == name }
            || topicPrefixes.values.contains { $0.service == name || $0.apiService == name }
            || exchangeAPIServices.values.contains(name) || publisherServices.values.contains(name)
    }

    /// The service that sends a user request's first publish on this exchange and topic.
    public func apiService(exchange: String, topic: String) -> String? {
        entry(ofTopic: topic)?.apiService ?? exchangeAPIServices[exchange]
    }

    /// A notification's `publisher_id` as a service: versioned `nova-compute:compute-1` names the service and
    /// host; legacy `compute.compute-1` names the topic (or a `publisherServices` prefix: `network.ctl-1`) and host.
    public func publisher(_ publisherID: String) -> ServiceIdentity {
        if let colon = publisherID.utf8.firstIndex(of: UInt8(ascii: ":")) {
            let host = publisherID[publisherID.utf8.index(after: colon)...]
            return ServiceIdentity(service: String(publisherID[..<colon]), host: host.isEmpty ? nil : String(host))
        }
        let target = splitTopic(publisherID)
        let service = publisherServices[target.topic] ?? entry(ofTopic: target.topic).map(\.service) ?? target.topic
        return ServiceIdentity(service: service, host: target.server)
    }
}
