/// Maps RPC topics and queues to the OpenStack services that own them, and control exchanges to API services.
///
/// oslo.messaging names queues `<topic>`, `<topic>.<server>` (the server is the host), `<topic>_fanout_<uuid hex>`
/// and `reply_<uuid hex>`; notifications go to `<topic>.<priority>`. A topic not in the map is attributed to
/// `unknown` (with the queue name as an attribute), never guessed.
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
    /// Control exchange → API service, for publishes whose topic is not in `topics`.
    public var exchangeAPIServices: [String: String]

    public init(topics: [String: Entry], exchangeAPIServices: [String: String]) {
        self.topics = topics
        self.exchangeAPIServices = exchangeAPIServices
    }

    /// Nova's topics plus those of other projects that follow the `<topic>[.<server>]` convention.
    public static let openStackDefaults: ServiceMap = {
        var topics: [String: Entry] = [:]
        func add(_ project: String, api: String, _ pairs: [(String, String)]) {
            for (topic, service) in pairs { topics[topic] = Entry(service: service, apiService: api) }
        }
        add("nova", api: "nova-api", [
            ("conductor", "nova-conductor"), ("scheduler", "nova-scheduler"), ("compute", "nova-compute"),
            ("consoleauth", "nova-consoleauth"), ("console", "nova-console"),
        ])
        add("cinder", api: "cinder-api", [
            ("cinder-scheduler", "cinder-scheduler"), ("cinder-volume", "cinder-volume"),
            ("cinder-backup", "cinder-backup"),
        ])
        add("neutron", api: "neutron-server", [
            ("q-plugin", "neutron-server"), ("q-l3-plugin", "neutron-server"), ("q-reports-plugin", "neutron-server"),
            ("q-server-resource-versions", "neutron-server"), ("dhcp_agent", "neutron-dhcp-agent"),
            ("l3_agent", "neutron-l3-agent"), ("q-agent-notifier", "neutron-agent"),
        ])
        add("heat", api: "heat-api", [("engine", "heat-engine")])
        add("manila", api: "manila-api", [("manila-scheduler", "manila-scheduler"), ("manila-share", "manila-share")])
        add("octavia", api: "octavia-api", [("octavia_prov", "octavia-worker")])
        // Notification consumers differ per cloud (ceilometer, a listener of the operator's): unknown by default.
        for topic in ["notifications", "versioned_notifications"] {
            topics[topic] = Entry(service: ServiceIdentity.unknown.service, isNotificationTopic: true)
        }
        return ServiceMap(
            topics: topics,
            exchangeAPIServices: [
                "nova": "nova-api", "cinder": "cinder-api", "neutron": "neutron-server", "heat": "heat-api",
                "manila": "manila-api", "octavia": "octavia-api",
            ])
    }()

    /// Where a queue name or RPC target points: its topic and, for `<topic>.<server>`, the server.
    public struct Target: Equatable, Sendable {
        public var topic: String
        public var server: String?
        public var isFanoutQueue: Bool
        public var isReplyQueue: Bool
    }

    /// Parses a queue name (`conductor`, `compute.compute-1`, `scheduler_fanout_<hex>`, `reply_<hex>`).
    public func target(ofQueue queue: String) -> Target {
        if queue.hasPrefix("reply_") { return Target(topic: queue, server: nil, isFanoutQueue: false, isReplyQueue: true) }
        // `<topic>_fanout_<uuid hex>`: the last "_fanout_" followed by hex digits only.
        let marker = Array("_fanout_".utf8)
        let bytes = Array(queue.utf8)
        if bytes.count > marker.count {
            for start in stride(from: bytes.count - marker.count - 1, through: 0, by: -1)
            where bytes[start..<(start + marker.count)].elementsEqual(marker) {
                let suffix = bytes[(start + marker.count)...]
                if suffix.allSatisfy({ hexValue($0) != nil }) {
                    return Target(
                        topic: String(decoding: bytes[..<start], as: UTF8.self), server: nil, isFanoutQueue: true,
                        isReplyQueue: false)
                }
                break
            }
        }
        return splitTopic(queue)
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
        guard let dot = name.firstIndex(of: ".") else {
            return Target(topic: name, server: nil, isFanoutQueue: false, isReplyQueue: false)
        }
        let topic = String(name[..<dot])
        let rest = String(name[name.index(after: dot)...])
        return Target(topic: topic, server: rest.isEmpty ? nil : rest, isFanoutQueue: false, isReplyQueue: false)
    }

    /// The service owning a target; for an RPC `<topic>.<server>` the host is the server. Nil for an unknown topic.
    public func service(of target: Target) -> ServiceIdentity? {
        guard let entry = topics[target.topic] else { return nil }
        if entry.isNotificationTopic { return ServiceIdentity(service: entry.service) }
        return ServiceIdentity(service: entry.service, host: target.server)
    }

    /// The service that sends a user request's first publish on this exchange and topic.
    public func apiService(exchange: String, topic: String) -> String? {
        topics[topic]?.apiService ?? exchangeAPIServices[exchange]
    }

    /// A notification's `publisher_id` as a service: versioned `nova-compute:compute-1` names the service and
    /// host; legacy `compute.compute-1` names the topic and host.
    public func publisher(_ publisherID: String) -> ServiceIdentity {
        if let colon = publisherID.firstIndex(of: ":") {
            let host = publisherID[publisherID.index(after: colon)...]
            return ServiceIdentity(service: String(publisherID[..<colon]), host: host.isEmpty ? nil : String(host))
        }
        let target = splitTopic(publisherID)
        let service = topics[target.topic].map(\.service) ?? target.topic
        return ServiceIdentity(service: service, host: target.server)
    }
}
