/// The firehose headers the agent relies on that RabbitMQ does not document.
///
/// RabbitMQ documents `exchange_name`, `routing_keys`, `properties`, `node` and `redelivered` on trace messages;
/// `routed_queues`, `connection`, `channel` and `user` are there too (every version the agent was tested on), but
/// nothing promises them. When one is missing, the spans that need it degrade as `degradation` says, never by a
/// guess: no deliveries invented without `routed_queues`, no sender taken from a connection that is not named.
/// Each trace message without one is counted (`PipelineStats.missingFirehoseHeaders`), so replay reports it and the
/// agent shows it on `/metrics` (`trace_bridge_firehose_header_missing_total{header}`) and `/readyz`.
public enum FirehoseHeader: Int, Sendable, CaseIterable, Comparable {
    case routedQueues
    case connection
    case channel
    case user

    /// The header's name on the wire, and the metric label.
    public var name: String {
        switch self {
        case .routedQueues: "routed_queues"
        case .connection: "connection"
        case .channel: "channel"
        case .user: "user"
        }
    }

    /// Trace messages of `kind` that should carry it: `routed_queues` is on publishes only.
    public func expected(on kind: BusEvent.Kind) -> Bool {
        self != .routedQueues || kind == .publish
    }

    /// What the agent does without it, for the log and `/readyz`.
    public var degradation: String {
        switch self {
        case .routedQueues:
            "unroutable publishes are not marked, deliveries the source does not see are not inferred (no CONSUMER span for them), and a sender is not inferred from the handlers routing would have shown"
        case .connection:
            "senders and consumer hosts are not learned from broker connections: spans keep what the message, the queue name and the request's handlers say (more of them unknown); the listeners of a stream queue cannot be told apart (one CONSUMER span per message and stream)"
        case .channel:
            "the listeners of a stream queue are told apart by their connection alone (their CONSUMER spans get other IDs)"
        case .user:
            "no span uses it"
        }
    }

    public static func < (lhs: FirehoseHeader, rhs: FirehoseHeader) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A set of `FirehoseHeader`s: those a trace message lacked.
public struct FirehoseHeaders: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ header: FirehoseHeader) { rawValue = 1 << UInt8(header.rawValue) }

    public func contains(_ header: FirehoseHeader) -> Bool { contains(FirehoseHeaders(header)) }
}

/// Trace messages without each header, in fixed slots (counted per message, so no dictionary hashing).
public struct FirehoseHeaderCounts: Sendable, Equatable {
    private var slots = [Int](repeating: 0, count: FirehoseHeader.allCases.count)

    public init() {}

    public subscript(header: FirehoseHeader) -> Int { slots[header.rawValue] }

    /// Headers missing at least once, with their counts, in declaration order.
    public var missing: [(header: FirehoseHeader, count: Int)] {
        FirehoseHeader.allCases.compactMap { slots[$0.rawValue] > 0 ? ($0, slots[$0.rawValue]) : nil }
    }

    public var total: Int { slots.reduce(0, +) }

    mutating func count(_ headers: FirehoseHeaders) {
        guard !headers.isEmpty else { return }
        for header in FirehoseHeader.allCases where headers.contains(header) { slots[header.rawValue] += 1 }
    }
}
