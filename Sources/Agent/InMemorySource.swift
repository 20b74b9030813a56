import RabbitMQ
import TraceCore

/// A source fed by code: whatever calls `connect`, `deliver` and `tick` plays the broker. It makes the whole agent
/// (ordering, acknowledgement, shutdown, readiness) testable without a broker, and lets a program embed the agent
/// with messages of its own.
///
/// It keeps `BrokerSource`'s contract: tags grow from 1 within a connection generation, `stopConsuming()` is
/// answered by `.stopped`, `close()` ends `events`, and acknowledgements are recorded (`acknowledgements`) as the
/// broker would see them: only increasing tags of the current generation.
public final class InMemorySource: MessageSource {
    public let events: AsyncStream<SourceEvent>
    private let continuation: AsyncStream<SourceEvent>.Continuation
    private struct State {
        var generation: UInt64 = 0
        var nextTag: UInt64 = 1
        var acknowledged: DeliveryTag?
        var acknowledgements: [DeliveryTag] = []
        var stopped = false
        var started = false
    }
    private let state = Locked(State())
    private let url: AMQPURL

    public init(url: AMQPURL = AMQPURL(host: "in-memory")) {
        self.url = url
        (events, continuation) = AsyncStream.makeStream(of: SourceEvent.self)
    }

    public func start() {
        state.withLock { $0.started = true }
    }

    /// A new connection: tags start again at 1, earlier tags can no longer be acknowledged.
    public func connect(bindings: [QueueBinding] = []) {
        let generation = state.withLock { state in
            state.generation += 1
            state.nextTag = 1
            state.acknowledged = nil
            return state.generation
        }
        continuation.yield(.connected(generation: generation, bindings: bindings, url: url))
    }

    /// The connection broke: what was not acknowledged is the broker's again.
    public func disconnect(_ error: AMQPError) {
        continuation.yield(.disconnected(error, url: url, next: url, retryIn: .milliseconds(500)))
    }

    /// The broker refuses our queue (`.failed`): `events` ends.
    public func refuse(_ error: AMQPError) {
        continuation.yield(.failed(error))
        continuation.finish()
    }

    /// Delivers messages as one batch; returns their tags.
    @discardableResult
    public func deliver(_ messages: [BusMessage]) -> [DeliveryTag] {
        let tagged = state.withLock { state in
            messages.map { message in
                defer { state.nextTag += 1 }
                return (record: message, tag: DeliveryTag(generation: state.generation, tag: state.nextTag))
            }
        }
        continuation.yield(.deliveries(tagged))
        return tagged.map { $0.tag }
    }

    public func tick(_ now: Int64) {
        continuation.yield(.tick(now))
    }

    public func acknowledge(upTo tag: DeliveryTag) {
        state.withLock { state in
            guard tag.generation == state.generation, tag > (state.acknowledged ?? DeliveryTag(generation: tag.generation, tag: 0)) else { return }
            state.acknowledged = tag
            state.acknowledgements.append(tag)
        }
    }

    public var acknowledged: DeliveryTag? { state.withLock { $0.acknowledged } }

    /// Every acknowledgement that would have reached the broker, in order.
    public var acknowledgements: [DeliveryTag] { state.withLock { $0.acknowledgements } }

    public var started: Bool { state.withLock { $0.started } }

    public func stopConsuming() {
        let first = state.withLock { state in
            defer { state.stopped = true }
            return !state.stopped
        }
        if first { continuation.yield(.stopped) }
    }

    public func close() {
        continuation.finish()
    }
}
