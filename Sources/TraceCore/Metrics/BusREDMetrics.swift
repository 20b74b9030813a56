/// Rate, errors and duration of the bus, aggregated from synthesized spans before any sampling (issue 14 item 3).
///
/// Pure: fed `[Span]` as the pipeline emits them, it keeps counters and fixed-bucket histograms keyed by bounded
/// label sets; the agent serves them on `/metrics` (`exposition()`, in BusREDMetrics+Exposition.swift). Label values come from span resources and the service map,
/// never from message IDs or hosts, and each series family holds at most `maximumSeries` label sets: a new set
/// past that is counted under every label `other` (`overflowed` counts those samples), so a hostile bus that
/// invents topics, methods or event types cannot grow memory or the scrape. Cardinality, per family:
/// services × peer services × methods × 3 outcomes for calls, ≤ `maximumSeries` (default 1000) in any case.
public struct BusREDMetrics: Sendable {
    /// Upper bounds in seconds (the semantic conventions' `rpc.*.call.duration` advice, 5 ms … 10 s).
    public static let bucketBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
    public static let overflowValue = "other"

    public struct Histogram: Equatable, Sendable {
        /// Per bucket (not cumulative); the last entry is +Inf.
        public var counts = [UInt64](repeating: 0, count: BusREDMetrics.bucketBounds.count + 1)
        public var sum = 0.0
        public var count: UInt64 = 0

        mutating func observe(_ seconds: Double) {
            let index = BusREDMetrics.bucketBounds.firstIndex { seconds <= $0 } ?? BusREDMetrics.bucketBounds.count
            counts[index] += 1
            sum += seconds
            count += 1
        }
    }

    /// One series' label values, in its family's label order: up to five strings held inline, so recording a span
    /// builds no array (a `[String]` key was an allocation and two hashes per observation, 3.7 % of a drain).
    public struct LabelValues: Hashable, Sendable, RandomAccessCollection {
        private var first = "", second = "", third = "", fourth = "", fifth = ""
        public let endIndex: Int
        public var startIndex: Int { 0 }

        init(_ first: String, _ second: String) {
            (self.first, self.second, endIndex) = (first, second, 2)
        }

        init(_ first: String, _ second: String, _ third: String) {
            (self.first, self.second, self.third, endIndex) = (first, second, third, 3)
        }

        init(_ first: String, _ second: String, _ third: String, _ fourth: String) {
            (self.first, self.second, self.third, self.fourth, endIndex) = (first, second, third, fourth, 4)
        }

        init(_ first: String, _ second: String, _ third: String, _ fourth: String, _ fifth: String) {
            (self.first, self.second, self.third, self.fourth, self.fifth) = (first, second, third, fourth, fifth)
            endIndex = 5
        }

        /// At most five values (the widest family); more are dropped.
        public init(_ values: [String]) {
            endIndex = Swift.min(values.count, 5)
            for (index, value) in values.prefix(5).enumerated() { self[index] = value }
        }

        public subscript(position: Int) -> String {
            get {
                switch position {
                case 0: first
                case 1: second
                case 2: third
                case 3: fourth
                default: fifth
                }
            }
            set {
                switch position {
                case 0: first = newValue
                case 1: second = newValue
                case 2: third = newValue
                case 3: fourth = newValue
                default: fifth = newValue
                }
            }
        }
    }

    /// One family of series keyed by label values in a fixed order.
    public struct Family: Sendable {
        public let labels: [String]
        public private(set) var histograms: [LabelValues: Histogram] = [:]
        public private(set) var overflowed = 0
        let maximumSeries: Int

        init(labels: [String], maximumSeries: Int) {
            self.labels = labels
            self.maximumSeries = maximumSeries
        }

        /// One hash in the common case (the series exists): `index(forKey:)`, then the value changed in place.
        mutating func observe(_ values: LabelValues, _ seconds: Double) {
            if let index = histograms.index(forKey: values) {
                histograms.values[index].observe(seconds)
                return
            }
            var key = values
            if histograms.count >= maximumSeries - 1 {
                key = LabelValues(Array(repeating: BusREDMetrics.overflowValue, count: values.count))
                overflowed += 1
            }
            histograms[key, default: Histogram()].observe(seconds)
        }

        /// Samples (histogram count) of the series with these label values.
        public func count(_ values: [String]) -> UInt64 { histograms[LabelValues(values)]?.count ?? 0 }
    }

    /// CLIENT spans: call round trips by caller, callee service, method and outcome (`ok`, `error`, `timeout`).
    public private(set) var calls: Family
    /// SERVER spans: handling time by callee, method and outcome.
    public private(set) var serverProcessing: Family
    /// Observed deliveries: queue wait by the queue's template (`compute.{server}`, `scheduler_fanout_{id}`) and
    /// the receiving service.
    public private(set) var queueWait: Family
    /// PRODUCER spans: calls, casts, fanouts and notifications (and unroutable publishes) by sender, kind, name
    /// (method or event type), priority and outcome (`ok`, `unroutable`); duration is not meaningful (0).
    public private(set) var publishes: Family

    let serviceMap: ServiceMap

    public init(serviceMap: ServiceMap = .openStackDefaults, maximumSeries: Int = 1000) {
        self.serviceMap = serviceMap
        // Label names as Prometheus shows them (the semantic conventions' keys with `.` as `_`; ours where the
        // conventions have none: docs/operations.md, "Bus RED metrics").
        calls = Family(labels: ["service_name", "peer_service", "rpc_method", "outcome"], maximumSeries: maximumSeries)
        serverProcessing = Family(labels: ["service_name", "rpc_method", "outcome"], maximumSeries: maximumSeries)
        queueWait = Family(labels: ["messaging_destination_name", "service_name"], maximumSeries: maximumSeries)
        publishes = Family(labels: ["service_name", "openstack_message_kind", "name", "priority", "outcome"],
                           maximumSeries: maximumSeries)
    }

    public mutating func record(_ spans: [Span]) {
        for span in spans { record(span) }
    }

    public mutating func record(_ span: Span) {
        let seconds = Double(max(0, span.endTime - span.startTime)) / 1e9
        let method = Self.string(span, AttributeKey.rpcMethod) ?? "unknown"
        let outcome = span.status.code != .error ? "ok" : (span.status.message == "timeout" ? "timeout" : "error")
        switch span.kind {
        case .client:
            let target = serviceMap.target(
                exchange: Self.exchange(span), routingKey: Self.string(span, AttributeKey.messagingRabbitmqDestinationRoutingKey) ?? "")
            let peer = serviceMap.service(of: target)?.service ?? ServiceIdentity.unknown.service
            // A CLIENT that ends at its publish (a source without replies) has no round trip to count.
            if Self.string(span, AttributeKey.traceBridgeCallEnd) != SpanSynthesizer.CallEnd.unobserved.rawValue {
                calls.observe(LabelValues(span.resource.service, peer, method, outcome), seconds)
            }
            // A call's request is a message sent like a cast, without a PRODUCER span of its own: counted here.
            let unroutable = span[attribute: AttributeKey.traceBridgeUnroutable] == .bool(true)
            publishes.observe(LabelValues(span.resource.service, "call", method, "", unroutable ? "unroutable" : "ok"), 0)
        case .server:
            // Only the handling seen from delivery to reply: a SERVER inferred from routing starts at the publish, one
            // without its reply ends where it starts.
            if span[attribute: AttributeKey.traceBridgeCallEnd] == nil,
                span[attribute: AttributeKey.traceBridgeDeliveryObserved] == nil
            {
                serverProcessing.observe(LabelValues(span.resource.service, method, outcome), seconds)
            }
            observeQueueWait(span)
        case .consumer:
            observeQueueWait(span)
        case .producer:
            let kind = Self.string(span, AttributeKey.openstackMessageKind) ?? "unknown"
            let name = Self.string(span, AttributeKey.openstackNotificationEventType) ?? method
            let priority = Self.string(span, AttributeKey.openstackNotificationPriority)?.lowercased() ?? ""
            let unroutable = span[attribute: AttributeKey.traceBridgeUnroutable] == .bool(true)
            publishes.observe(LabelValues(span.resource.service, kind, name, priority, unroutable ? "unroutable" : "ok"), 0)
        case .internal:
            return
        }
    }

    /// CONSUMER and SERVER spans start at the delivery and carry the wait since the publish as an attribute; those
    /// whose publish or delivery was not seen (inferred, hypervisor role) have none.
    private mutating func observeQueueWait(_ span: Span) {
        guard case .int(let nanoseconds)? = span[attribute: AttributeKey.traceBridgeQueueWaitNS],
            let queue = Self.string(span, AttributeKey.messagingDestinationSubscriptionName)
        else { return }
        queueWait.observe(LabelValues(serviceMap.queueTemplate(queue), span.resource.service), Double(nanoseconds) / 1e9)
    }

    static func string(_ span: Span, _ key: String) -> String? {
        if case .string(let value)? = span[attribute: key] { return value }
        return nil
    }

    static func exchange(_ span: Span) -> String {
        let name = string(span, AttributeKey.messagingDestinationName) ?? ""
        return name == "amq.default" ? "" : name
    }
}
