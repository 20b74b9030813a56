import CRabbitMQ

/// A failure at the AMQP boundary, keeping what the library or the broker said.
public struct AMQPError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// rabbitmq-c returned a status (`status` holds it): socket, TLS, timeout, protocol errors.
        case library
        /// The broker closed the connection (`replyCode`/`replyText`: 320 CONNECTION_FORCED, 403 ACCESS_REFUSED...).
        case connectionClosed
        /// The broker closed our channel (404 NOT_FOUND for a missing exchange, 406 PRECONDITION_FAILED for a queue
        /// declared with other arguments...).
        case channelClosed
        /// The broker cancelled our consumer (our queue was deleted).
        case consumerCancelled
        /// The broker refused to declare our queue as configured, for good: 406 PRECONDITION_FAILED (a queue of
        /// that name exists with other arguments, e.g. one that trace-bridge 0.x declared non-durable), or a
        /// deprecated feature it denies (RabbitMQ 4.3 closes the connection with 541 for a transient non-exclusive
        /// queue). Reconnecting cannot help: the source stops.
        case queueRefused
        /// A configuration problem found before talking to the broker.
        case configuration
    }

    public var code: Code
    public var status: Int32
    public var replyCode: UInt16
    public var replyText: String
    /// What we were doing: `connect`, `login`, `queue.declare conductor-trace`...
    public var operation: String

    public init(code: Code, status: Int32 = 0, replyCode: UInt16 = 0, replyText: String = "", operation: String) {
        self.code = code
        self.status = status
        self.replyCode = replyCode
        self.replyText = replyText
        self.operation = operation
    }

    static func library(_ status: Int32, _ operation: String) -> AMQPError {
        AMQPError(code: .library, status: status, replyText: String(cString: amqp_error_string2(status)), operation: operation)
    }

    public var description: String {
        switch code {
        case .library: "\(operation): \(replyText) (rabbitmq-c status \(status))"
        case .connectionClosed: "\(operation): the broker closed the connection: \(replyCode) \(replyText)"
        case .channelClosed: "\(operation): the broker closed the channel: \(replyCode) \(replyText)"
        case .consumerCancelled: "\(operation): the broker cancelled our consumer (was our queue deleted?)"
        case .queueRefused: "\(operation): the broker refused our queue: \(replyCode) \(replyText)"
        case .configuration: "\(operation): \(replyText)"
        }
    }

    /// True when retrying later can help (the broker went away, a timeout); false for bad credentials or
    /// permissions, which the operator must fix, though the agent keeps retrying slowly either way.
    public var isLikelyTransient: Bool {
        switch code {
        case .library, .consumerCancelled: true
        case .connectionClosed: replyCode != 403 && replyCode != 530
        case .channelClosed: replyCode != 403 && replyCode != 404 && replyCode != 406
        case .configuration, .queueRefused: false
        }
    }

    /// A failed `queue.declare` that no retry can fix: the broker compared our arguments with an existing queue's
    /// (406), or denies a deprecated feature (RabbitMQ 4.x answers with a connection close naming the feature).
    var refusingQueueDeclare: Bool {
        switch code {
        case .channelClosed: replyCode == 406
        case .connectionClosed: replyText.contains("deprecated")
        default: false
        }
    }

    /// The argument an inequivalent redeclaration names (`durable`, `x-expires`, ...), as the broker said it:
    /// `PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': received 'true' but current is
    /// 'false'`.
    public var inequivalentArgument: String? {
        guard let start = replyText.range(of: "inequivalent arg '")?.upperBound,
            let end = replyText[start...].firstIndex(of: "'")
        else { return nil }
        return String(replyText[start..<end])
    }
}
