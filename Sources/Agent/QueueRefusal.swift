import RabbitMQ

/// The broker refused our queue as declared (`AMQPError.Code.queueRefused`): what it said, and what to do.
///
/// Retrying cannot fix it (queue metadata is cluster-wide, so another node says the same), so `run` and `capture`
/// log this once and exit with `exitCode` instead of reconnecting forever. The usual case is an upgrade: trace-bridge
/// 0.x declared its queue non-durable, the agent now declares it durable, and the broker answers
/// `406 PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'trace-bridge.firehose' in vhost '/': received
/// 'true' but current is 'false'`.
public struct QueueRefusal: Error {
    /// EX_PROTOCOL (sysexits.h): the remote side refused what we asked; docs/operations.md §11.
    public static let exitCode: Int32 = 76

    public var error: AMQPError
    public var queue: QueueSettings
    public var vhost: String

    public init(error: AMQPError, queue: QueueSettings, vhost: String) {
        self.error = error
        self.queue = queue
        self.vhost = vhost
    }

    /// One line for the log: the broker's words, then what to do.
    public var message: String {
        "the broker refused our queue '\(queue.name)' in vhost '\(vhost)': \(error.replyCode) \(error.replyText). \(advice)"
    }

    public var advice: String {
        let delete = "rabbitmqctl delete_queue \(queue.name) -p \(vhost)"
        if error.replyText.contains("transient_nonexcl_queues") {
            return "This broker denies transient non-exclusive queues (RabbitMQ 4.3+): use --queue-type classic " +
                "(queue.type, the default) or quorum instead of transient."
        }
        guard let argument = error.inequivalentArgument else {
            return "Check the queue settings (--queue-type, --queue-max-length, --queue-ttl, --queue-expires) " +
                "against the broker's message, or delete the queue (\(delete)) and start again."
        }
        let setting: String
        switch argument {
        case "durable":
            setting = queue.durable
                ? "it is a non-durable queue of an older trace-bridge; to keep it on RabbitMQ before 4.3 (4.3 refuses it), set --queue-type transient (queue.type)"
                : "it is durable: leave --queue-type at classic or quorum"
        case "x-queue-type": setting = "set --queue-type (queue.type) to the type the broker names"
        case "x-expires": setting = "set --queue-expires (queue.expires_seconds) to the value the broker names, in seconds (none: 0)"
        case "x-max-length": setting = "set --queue-max-length (queue.max_length) to the value the broker names"
        case "x-message-ttl": setting = "set --queue-ttl (queue.ttl_seconds) to the value the broker names, in seconds"
        default: setting = "its '\(argument)' differs from what this agent declares"
        }
        return "A queue of that name exists with other settings. Delete it and the agent declares it again (the " +
            "trace messages it holds are lost): \(delete). Or keep it: \(setting). Or choose another --queue (queue.name)."
    }
}
