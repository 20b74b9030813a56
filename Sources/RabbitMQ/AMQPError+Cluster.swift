/// What a failure means in a RabbitMQ cluster, for the log line that reports it.
extension AMQPError {
    /// A durable classic queue lives on one node (its home node). While that node is down, RabbitMQ 3.x refuses to
    /// declare the queue through any other node: `404 NOT_FOUND - home node 'rabbit@n1' of durable queue 'Q' in vhost
    /// '/' is down or inaccessible` (a channel close on queue.declare). No other address can host it, so the agent
    /// keeps going round the addresses and consumes again once that node is back; the trace messages published
    /// meanwhile are dropped by the broker (the queue they would go to is unavailable).
    public var isQueueHomeNodeDown: Bool {
        code == .channelClosed && replyCode == 404 && replyText.contains("home node")
    }

    /// One sentence for operators, or nil when the error speaks for itself.
    public var clusterAdvice: String? {
        guard isQueueHomeNodeDown else { return nil }
        return "our durable classic queue lives on a node that is down, and a classic queue cannot move: the agent " +
            "keeps trying its other addresses and consumes again once that node is back (trace messages meanwhile " +
            "are lost). In a cluster, use --queue-type quorum (queue.type): a quorum queue survives the loss of a " +
            "minority of nodes and the agent resumes on a surviving node at once"
    }
}
