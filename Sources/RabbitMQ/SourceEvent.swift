import TraceCore

/// What the source reports to the agent, in order.
public enum SourceEvent: Sendable {
    /// Connected to `url` (one of `BrokerSource.addresses`), queue declared and bound, consuming. `generation`
    /// counts connections.
    case connected(generation: UInt64, bindings: [QueueBinding], url: AMQPURL)
    /// Messages from our queue in arrival order, each received at `record.capturedAt`: what arrived within
    /// `BrokerSource.batchWindowMilliseconds` of the first (at most `maximumBatch`), so the agent wakes once per batch.
    case deliveries([(record: BusMessage, tag: DeliveryTag)])
    /// The connection to `url` failed or could not be made; the source retries after `retryIn`, with the next
    /// address (`next`: round robin over `BrokerSource.addresses`).
    case disconnected(AMQPError, url: AMQPURL, next: AMQPURL, retryIn: Duration)
    /// A failure no retry can fix (`AMQPError.Code.queueRefused`: the broker refuses our queue as declared): the
    /// source has stopped, and `events` ends after this.
    case failed(AMQPError)
    case blocked(reason: String)
    case unblocked
    /// About twice a second, with the current time: lets the agent judge timeouts and flush without traffic.
    case tick(Int64)
    /// After `stopConsuming()`: every delivery the broker sent has been reported.
    case stopped
}
