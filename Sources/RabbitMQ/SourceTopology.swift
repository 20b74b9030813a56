import TraceCore

/// The agent's own queue and its bounds. It never consumes from the services' queues: only from this one.
public struct QueueSettings: Sendable, Equatable {
    public var name: String
    /// `x-max-length`: a dead or slow agent never fills the broker (default 100000 messages).
    public var maxLength: Int64
    /// `x-overflow`: `drop-head` drops the oldest trace messages, never blocks the services' publishers.
    public var overflow: String
    /// `x-message-ttl` in milliseconds (default 10 min).
    public var messageTTLMilliseconds: Int64
    /// `x-expires` in milliseconds: the broker deletes the queue after this long unused (0: never).
    public var expiresMilliseconds: Int64
    /// Durable queues survive a broker restart (the firehose itself does not: trace_on is per node boot).
    public var durable: Bool

    public init(name: String, maxLength: Int64 = 100_000, overflow: String = "drop-head",
                messageTTLMilliseconds: Int64 = 600_000, expiresMilliseconds: Int64 = 0, durable: Bool = false) {
        self.name = name
        self.maxLength = maxLength
        self.overflow = overflow
        self.messageTTLMilliseconds = messageTTLMilliseconds
        self.expiresMilliseconds = expiresMilliseconds
        self.durable = durable
    }
}

/// One binding of our queue.
public struct QueueBinding: Sendable, Equatable, CustomStringConvertible {
    public var exchange: String
    public var routingKey: String

    public init(exchange: String, routingKey: String) {
        self.exchange = exchange
        self.routingKey = routingKey
    }

    public var description: String { "\(exchange):\(routingKey)" }

    /// The broker's trace exchange (`rabbitmqctl trace_on -p VHOST` on every node turns it on).
    public static let firehoseExchange = "amq.rabbitmq.trace"

    /// Parses `EXCHANGE:ROUTING_KEY` (the key may contain colons; `#` and `*` are topic wildcards).
    public init?(parsing text: String) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else { return nil }
        self.init(exchange: String(text[..<colon]), routingKey: String(text[text.index(after: colon)...]))
    }
}

/// Where the agent runs and so what it binds (the shared design notes §1).
public enum Role: Sendable, Equatable {
    /// Beside RabbitMQ: the full firehose, publishes and deliveries.
    case controlPlane
    /// Next to nova-compute on `host`: only deliveries to that host's compute queue.
    case hypervisor(host: String)

    /// The default firehose bindings of the role.
    public var firehoseBindings: [QueueBinding] {
        switch self {
        case .controlPlane:
            [QueueBinding(exchange: QueueBinding.firehoseExchange, routingKey: "publish.#"),
             QueueBinding(exchange: QueueBinding.firehoseExchange, routingKey: "deliver.#")]
        case .hypervisor(let host):
            [QueueBinding(exchange: QueueBinding.firehoseExchange, routingKey: "deliver.compute.\(host)")]
        }
    }

    public var defaultQueueName: String {
        switch self {
        case .controlPlane: "trace-bridge.firehose"
        case .hypervisor(let host): "trace-bridge.hypervisor.\(host)"
        }
    }
}

/// The queue to declare, what to bind it to, and how many unacknowledged messages may be in flight.
public struct SourceTopology: Sendable, Equatable {
    public var queue: QueueSettings
    public var bindings: [QueueBinding]
    /// `basic.qos` prefetch: the bound on messages the agent holds unacknowledged, and so on its memory.
    public var prefetch: UInt16
    /// How deliveries are read: firehose trace messages (`publish.X` / `deliver.X` keys with trace headers, also
    /// when replayed through another exchange, as the benchmarks do) or tapped plain messages.
    public var mode: FixtureRecord.Mode

    public init(queue: QueueSettings, bindings: [QueueBinding], prefetch: UInt16 = 1000, mode: FixtureRecord.Mode = .firehose) {
        self.queue = queue
        self.bindings = bindings
        self.prefetch = prefetch
        self.mode = mode
    }

    /// What the source can see, for synthesis (it never infers what the bindings hide).
    public var visibility: SourceVisibility { Self.visibility(of: bindings, tap: mode == .tap) }

    /// Firehose bindings are patterns over trace routing keys (also when the trace messages are replayed through
    /// another exchange, as the benchmarks do); a tap sees the publishes of its exchanges.
    public static func visibility(of bindings: [QueueBinding], tap: Bool) -> SourceVisibility {
        tap ? SourceVisibility(tapExchanges: bindings.map(\.exchange))
            : SourceVisibility(firehosePatterns: bindings.map(\.routingKey))
    }

    /// Tap mode: our queue bound with `#` to each chosen exchange (fanout exchanges ignore the key). Publishes
    /// only: no replies (the default exchange cannot be bound), no deliveries.
    public static func tap(exchanges: [String], queue: QueueSettings, prefetch: UInt16 = 1000) -> SourceTopology {
        SourceTopology(
            queue: queue, bindings: exchanges.map { QueueBinding(exchange: $0, routingKey: "#") }, prefetch: prefetch,
            mode: .tap)
    }
}
