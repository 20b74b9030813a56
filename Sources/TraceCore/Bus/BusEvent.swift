/// One thing that happened on the bus: a message published to an exchange, or delivered from a queue.
///
/// Every source (firehose, tap, replay of a capture) produces these, so decoding and synthesis are one code path.
public struct BusEvent: Sendable {
    public enum Kind: String, Sendable {
        case publish
        case deliver
    }

    public var kind: Kind
    /// Event time in Unix nanoseconds: the firehose carries no timestamps, so this is the receive time (live) or
    /// `captured_at` (replay).
    public var time: Int64
    /// The exchange the message was published to (`""` is the default exchange).
    public var exchange: String
    /// The routing key it was published with.
    public var routingKey: String
    /// The queue it was delivered from (deliveries only).
    public var queue: String?
    /// The queues the broker routed a publish to (firehose publishes only; `[]` means unroutable, dropped).
    public var routedQueues: [String]?
    /// The original message's basic properties.
    public var properties: MessageProperties
    /// The broker's name of the publisher's (publish) or consumer's (deliver) connection: `"ip:port -> ip:port"`.
    public var connection: String?
    public var channel: Int64?
    public var user: String?
    public var node: String?
    public var vhost: String?
    public var redelivered: Bool
    public var source: BusMessage.Mode
    public var body: [UInt8]
    /// Undocumented firehose headers this trace message lacked (absent or of another type); empty for taps.
    public var missingHeaders: FirehoseHeaders = []

    public init(
        kind: Kind, time: Int64, exchange: String, routingKey: String, queue: String? = nil,
        routedQueues: [String]? = nil, properties: MessageProperties = MessageProperties(), connection: String? = nil,
        channel: Int64? = nil, user: String? = nil, node: String? = nil, vhost: String? = nil,
        redelivered: Bool = false, source: BusMessage.Mode, body: [UInt8]
    ) {
        self.kind = kind
        self.time = time
        self.exchange = exchange
        self.routingKey = routingKey
        self.queue = queue
        self.routedQueues = routedQueues
        self.properties = properties
        self.connection = connection
        self.channel = channel
        self.user = user
        self.node = node
        self.vhost = vhost
        self.redelivered = redelivered
        self.source = source
        self.body = body
    }
}

/// Why a captured message is not a bus event; `reason` labels the skip counter.
public struct BusEventError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: SkipReason
    public var detail: String

    public var description: String { "\(reason.detailName): \(detail)" }
}

extension BusEvent {
    /// Decodes a captured message: a firehose trace message (`publish.<exchange>` / `deliver.<queue>` on
    /// `amq.rabbitmq.trace`) or a tap-mode message (a plain publish seen through our shadow queue).
    ///
    /// The firehose routing key is split at the first dot only: queue names contain dots (`compute.compute-1`),
    /// and `publish.` (empty name) is the default exchange. The trace message's own properties are empty; the
    /// original ones are in the `properties` header table. The queue or exchange name taken from the routing key
    /// comes from `interner` when it holds it (the pipeline's: the same names come message after message).
    public init(record: BusMessage, interner: StringInterner? = nil) throws(BusEventError) {
        switch record.mode {
        case .tap:
            self.init(
                kind: .publish, time: record.capturedAt, exchange: record.exchange, routingKey: record.routingKey,
                properties: Self.tapProperties(record), redelivered: record.redelivered, source: .tap, body: record.body
            )
        case .firehose:
            try self.init(firehose: record, interner: interner)
        }
    }

    private static func tapProperties(_ record: BusMessage) -> MessageProperties {
        var properties = record.properties
        properties.headers = record.headers
        return properties
    }

    private init(firehose record: BusMessage, interner: StringInterner?) throws(BusEventError) {
        let key = record.routingKey
        guard let dot = key.utf8.firstIndex(of: UInt8(ascii: ".")) else {
            throw BusEventError(reason: .firehoseUnknownTraceRoutingKey, detail: "\"\(key)\" is not publish.<x> or deliver.<x>")
        }
        let rest = key[key.utf8.index(after: dot)...]
        let shared: String?? = rest.utf8.withContiguousStorageIfAvailable { interner?.string($0) }
        let name = (shared ?? nil) ?? String(rest)
        let headers = record.headers
        let kind: Kind
        switch key[..<dot] {
        case "publish": kind = .publish
        case "deliver":
            kind = .deliver
            guard !name.isEmpty else {
                throw BusEventError(reason: .firehoseUnknownTraceRoutingKey, detail: "deliver. without a queue name")
            }
        default:
            throw BusEventError(reason: .firehoseUnknownTraceRoutingKey, detail: "\"\(key)\" is not publish.<x> or deliver.<x>")
        }
        // Only the first routing key is used: found without building the array of them.
        let routingKey = headers["routing_keys"]?.arrayValue?.lazy.compactMap(\.stringValue).first
        let exchange = headers["exchange_name"]?.stringValue ?? (kind == .publish ? name : "")
        self.init(
            kind: kind,
            time: record.capturedAt,
            exchange: exchange,
            routingKey: routingKey ?? "",
            queue: kind == .deliver ? name : nil,
            routedQueues: kind == .publish ? headers["routed_queues"]?.arrayValue?.compactMap(\.stringValue) : nil,
            properties: headers["properties"]?.tableValue.map(MessageProperties.init(table:)) ?? MessageProperties(),
            connection: headers["connection"]?.stringValue,
            channel: headers["channel"]?.integerValue,
            user: headers["user"]?.stringValue,
            node: headers["node"]?.stringValue,
            vhost: headers["vhost"]?.stringValue,
            redelivered: (headers["redelivered"]?.integerValue ?? 0) != 0,
            source: .firehose,
            body: record.body
        )
        for header in FirehoseHeader.allCases where header.expected(on: kind) {
            let present = switch header {
            case .routedQueues: routedQueues != nil
            case .connection: connection != nil
            case .channel: channel != nil
            case .user: user != nil
            }
            if !present { missingHeaders.insert(FirehoseHeaders(header)) }
        }
    }
}
