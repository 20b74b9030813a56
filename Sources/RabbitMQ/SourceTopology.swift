import TraceCore

/// The agent's own queue and its bounds. It never consumes from the services' queues: only from this one.
///
/// Never a transient non-exclusive queue by default: RabbitMQ 4.3 denies that (deprecated feature
/// `transient_nonexcl_queues`). A durable classic queue with `x-expires` gives what the transient one did (a
/// removed agent's queue goes away, its trace messages are not kept past `x-message-ttl`) on every version; trace
/// messages stay transient (delivery mode 1), so durability costs the broker no disk writes for them.
public struct QueueSettings: Sendable, Equatable {
    /// The kind of queue declared; each gets the arguments `declareArguments` lists.
    public enum QueueType: String, Sendable, CaseIterable {
        /// Durable classic queue with `x-queue-type: classic` (the default; RabbitMQ 3.x and 4.x).
        case classic
        /// Durable quorum queue (`x-queue-type: quorum`): replicated over the cluster's nodes, survives a node
        /// failure, but writes every trace message to each replica's log (RabbitMQ 3.10+ for `x-message-ttl`).
        case quorum
        /// The non-durable, non-exclusive classic queue of trace-bridge 0.x, declared exactly as it was (no
        /// `x-queue-type`, no `x-expires` unless set): only to keep an existing queue on RabbitMQ before 4.3,
        /// which denies it unless `deprecated_features.permit.transient_nonexcl_queues = true`.
        case transient
    }

    public var name: String
    /// `x-max-length`: a dead or slow agent never fills the broker (default 100000 messages).
    public var maxLength: Int64
    /// `x-overflow`: `drop-head` drops the oldest trace messages, never blocks the services' publishers (classic
    /// and quorum queues both support it).
    public var overflow: String
    /// `x-message-ttl` in milliseconds (default 10 min).
    public var messageTTLMilliseconds: Int64
    /// `x-expires` in milliseconds: the broker deletes the queue after this long unused (0: never).
    public var expiresMilliseconds: Int64
    public var type: QueueType

    /// Durable queues survive a broker restart (the firehose itself does not: trace_on is per node boot). Quorum
    /// queues must be durable; only `transient` is not.
    public var durable: Bool { type != .transient }

    /// `x-expires` when none is given: 30 min, three times the message TTL, so a queue outlives a restarting or
    /// rescheduled agent with its backlog, and a removed agent's queue (a hypervisor taken out) goes away. The
    /// transient type keeps its old default (none), so it matches a queue declared by trace-bridge 0.x.
    public static func defaultExpiresMilliseconds(for type: QueueType) -> Int64 {
        type == .transient ? 0 : 1_800_000
    }

    public init(name: String, maxLength: Int64 = 100_000, overflow: String = "drop-head",
                messageTTLMilliseconds: Int64 = 600_000, expiresMilliseconds: Int64? = nil, type: QueueType = .classic) {
        self.name = name
        self.maxLength = maxLength
        self.overflow = overflow
        self.messageTTLMilliseconds = messageTTLMilliseconds
        self.expiresMilliseconds = expiresMilliseconds ?? Self.defaultExpiresMilliseconds(for: type)
        self.type = type
    }

    /// One `queue.declare` argument.
    public enum ArgumentValue: Sendable, Equatable {
        case integer(Int64)
        case string(String)
    }

    /// The `queue.declare` arguments, in order: the bounds (a value <= 0 leaves that bound out), then
    /// `x-queue-type` (classic and quorum; the transient type omits it, as trace-bridge 0.x did, so an existing
    /// queue of that kind still matches). The broker compares them with an existing queue's: any difference is
    /// 406 PRECONDITION_FAILED.
    public var declareArguments: [(key: String, value: ArgumentValue)] {
        var arguments: [(key: String, value: ArgumentValue)] = []
        if maxLength > 0 { arguments.append(("x-max-length", .integer(maxLength))) }
        if !overflow.isEmpty { arguments.append(("x-overflow", .string(overflow))) }
        if messageTTLMilliseconds > 0 { arguments.append(("x-message-ttl", .integer(messageTTLMilliseconds))) }
        if expiresMilliseconds > 0 { arguments.append(("x-expires", .integer(expiresMilliseconds))) }
        switch type {
        case .classic: arguments.append(("x-queue-type", .string("classic")))
        case .quorum: arguments.append(("x-queue-type", .string("quorum")))
        case .transient: break
        }
        return arguments
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

/// Where the agent runs and so what it binds (docs/operations.md §1 and §3).
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
    public var mode: BusMessage.Mode

    public init(queue: QueueSettings, bindings: [QueueBinding], prefetch: UInt16 = 1000, mode: BusMessage.Mode = .firehose) {
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
