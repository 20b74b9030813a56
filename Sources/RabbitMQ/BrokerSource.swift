import CRabbitMQ
import Foundation
import TraceCore

/// Consumes our queue on a dedicated thread and reports to the async world through `events`.
///
/// The thread owns the only `AMQPConnection` (rabbitmq-c is not thread-safe) and waits on its socket at most 100 ms
/// at a time, which also services heartbeats. Other threads talk to it only through `machine` (an
/// `AcknowledgementStateMachine`: acks, stop and close requests), and wake it through an eventfd, so an
/// acknowledgement goes out at once rather than at the next poll.
/// `events` is an unbounded stream, but bounded in practice by `basic.qos` prefetch: the broker sends at most
/// `prefetch` unacknowledged messages, and nothing is acknowledged before the agent has handled it.
public final class BrokerSource: Sendable {
    public let settings: ConnectionSettings
    /// The broker's addresses (nodes of one cluster), tried in order: the source stays on an address while it
    /// works, and on a failure moves to the next one, round robin, with `reconnect`'s backoff between attempts.
    public let addresses: [AMQPURL]
    public let topology: SourceTopology
    public let reconnect: ReconnectPolicy
    public let events: AsyncStream<SourceEvent>
    private let continuation: AsyncStream<SourceEvent>.Continuation
    /// What to acknowledge, cancel, report and close; the AMQP thread carries out its actions.
    private let machine = Locked(AcknowledgementStateMachine())
    /// Signalled by `acknowledge`, `stopConsuming` and `close`; the AMQP thread waits on it beside the socket.
    private let wakeFD: Int32

    /// The most deliveries one `.deliveries` event carries.
    public static let maximumBatch = 256
    /// How long a batch may wait for more deliveries after its first. The AMQP thread then sleeps instead of waking
    /// for every message that arrives, and the agent wakes once per batch: at 2,000 msg/s this took the agent from
    /// 43 to 33 µs of CPU per message (Benchmarks/RESULTS.md). The price: a message that arrives during the window is
    /// read, and so timestamped (the firehose carries no time), up to this much later; 20 ms saved another 6 µs but
    /// would blur queue waits of fast calls.
    public static let batchWindowMilliseconds: Int64 = 5

    /// `addresses` defaults to `settings.url` alone; with several, `settings` applies to each (its `url` replaced).
    public init(settings: ConnectionSettings, addresses: [AMQPURL] = [], topology: SourceTopology,
                reconnect: ReconnectPolicy = ReconnectPolicy()) {
        self.settings = settings
        self.addresses = addresses.isEmpty ? [settings.url] : addresses
        self.topology = topology
        self.reconnect = reconnect
        (events, continuation) = AsyncStream.makeStream(of: SourceEvent.self)
        wakeFD = tb_wake_fd()
    }

    deinit {
        if wakeFD >= 0 { Glibc.close(wakeFD) }
    }

    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = "trace-bridge.amqp"
        thread.start()
    }

    /// Everything up to `tag` (on its connection) is handled: the broker may forget it.
    public func acknowledge(upTo tag: DeliveryTag) {
        carryOut(machine.withLock { $0.settled(upTo: tag) })
    }

    /// The highest delivery acknowledged on the current connection (nil before the first, and after a reconnect).
    public var acknowledged: DeliveryTag? { machine.withLock { $0.acknowledged } }

    /// Stops new deliveries (basic.cancel); `.stopped` follows the last one.
    public func stopConsuming() {
        carryOut(machine.withLock { $0.stopRequested() })
    }

    /// Sends the last acknowledgement, closes the connection and finishes `events`.
    public func close() {
        carryOut(machine.withLock { $0.closeRequested() })
    }

    /// The actions of the agent's events: only a wakeup (what is due goes out on the AMQP thread), or nothing.
    private func carryOut(_ action: AcknowledgementStateMachine.Action?) {
        switch action {
        case .wakeConnectionThread: tb_wake(wakeFD)
        case .drop, nil: break  // stale, repeated or never delivered: never sent
        case .acknowledge, .cancelConsumer, .reportStopped, .closeConnection:
            preconditionFailure("\(action!) is carried out on the AMQP thread")
        }
    }

    // MARK: The connection thread

    private func run() {
        var attempt = 0
        var address = 0
        var generation: UInt64 = 0
        var sequence: Int64 = 0
        var lastTick: Int64 = 0
        func tick() {
            let now = Self.now()
            if now - lastTick >= 500_000_000 {
                lastTick = now
                continuation.yield(.tick(now))
            }
        }
        connections: while true {
            switch machine.withLock({ $0.readyToConnect() }) {
            case .connect:
                break
            case .reportStopped:
                // Stopped while disconnected: nothing is in flight.
                continuation.yield(.stopped)
                continue
            case .wait:
                Self.sleep(milliseconds: 50)
                continue
            case .finish:
                break connections
            }
            let connection: AMQPConnection
            let url = addresses[address]
            // A failure moves on to the next address: a node that is down, or that cannot host our queue (a durable
            // classic queue whose home node is down), is skipped until the round comes back to it.
            let next = (address + 1) % addresses.count
            do {
                connection = try connect(to: url)
            } catch {
                if error.code == .queueRefused {
                    machine.withLock { $0.failed() }
                    continuation.yield(.failed(error))
                    break connections
                }
                attempt += 1
                let delay = reconnect.delay(attempt: attempt)
                address = next
                continuation.yield(.disconnected(error, url: url, next: addresses[next], retryIn: delay))
                sleepInterruptibly(delay, tick: tick)
                continue
            }
            attempt = 0
            generation += 1
            machine.withLock { $0.connected(generation: generation) }
            continuation.yield(.connected(generation: generation, bindings: topology.bindings, url: url))
            do {
                try consume(connection, generation: generation, sequence: &sequence, tick: tick)
                connection.close()
                break connections
            } catch {
                connection.close()
                _ = machine.withLock { $0.disconnected() }  // its due ack is dropped: the broker redelivers
                attempt = 1
                let delay = reconnect.delay(attempt: attempt)
                address = next
                continuation.yield(.disconnected(error, url: url, next: addresses[next], retryIn: delay))
                sleepInterruptibly(delay, tick: tick)
            }
        }
        continuation.finish()
    }

    private func connect(to url: AMQPURL) throws(AMQPError) -> AMQPConnection {
        var settings = settings
        settings.url = url
        let connection = try AMQPConnection(settings: settings)
        try connection.declareQueue(topology.queue)
        for binding in topology.bindings {
            try connection.bind(queue: topology.queue.name, exchange: binding.exchange, routingKey: binding.routingKey)
        }
        try connection.qos(prefetch: topology.prefetch)
        try connection.consume(queue: topology.queue.name)
        return connection
    }

    private func consume(
        _ connection: AMQPConnection, generation: UInt64, sequence: inout Int64, tick: () -> Void
    ) throws(AMQPError) {
        /// Returns true when the connection is to be closed.
        func perform(_ actions: [AcknowledgementStateMachine.Action]) throws(AMQPError) -> Bool {
            for action in actions {
                switch action {
                case .acknowledge(let tag): try connection.ack(tag.tag, multiple: true)
                case .cancelConsumer: try connection.cancelConsumer()
                case .reportStopped: continuation.yield(.stopped)
                case .closeConnection: return true
                case .wakeConnectionThread, .drop: break
                }
            }
            return false
        }
        func handOver(_ batch: [(record: BusMessage, tag: DeliveryTag)]) {
            // Recorded before the agent sees them: it may settle them at once.
            if let last = batch.last { machine.withLock { $0.delivered(upTo: last.tag) } }
            continuation.yield(.deliveries(batch))
        }
        while true {
            if try perform(machine.withLock { $0.turn() }) { return }
            // Wait for the broker or for the agent (an acknowledgement due, a stop): once the prefetch window is
            // full the broker sends nothing until it gets an ack, so the ack must not wait for a poll timeout.
            connection.waitForInput(wakeFD: wakeFD, timeoutMilliseconds: 100)
            var incoming = try connection.next(timeoutMilliseconds: 0)
            if case .delivery = incoming {
                // Collect what arrives within the batch window (or a full batch), then hand it over at once.
                var batch: [(record: BusMessage, tag: DeliveryTag)] = []
                let windowEnd = Self.monotonicMilliseconds() + Self.batchWindowMilliseconds
                while true {
                    if case .delivery(let delivery) = incoming {
                        sequence += 1
                        batch.append((delivery.record(seq: sequence, receivedAt: Self.now(), mode: topology.mode),
                                      DeliveryTag(generation: generation, tag: delivery.deliveryTag)))
                        if batch.count == Self.maximumBatch { break }
                    } else if case .idle = incoming {
                        // Nothing buffered: let more arrive until the window closes (woken early only by the agent:
                        // a wakeup per arriving message is what the window is there to save), then take it all.
                        let remaining = windowEnd - Self.monotonicMilliseconds()
                        if remaining <= 0 || machine.withLock({ $0.endsBatch }) { break }
                        tb_wait_wake(wakeFD, Int32(remaining))
                    } else {
                        break  // blocked/unblocked: handled below, after the batch
                    }
                    do {
                        incoming = try connection.next(timeoutMilliseconds: 0)
                    } catch {
                        handOver(batch)  // what arrived before the failure is still handled
                        throw error
                    }
                }
                handOver(batch)
                if case .delivery = incoming { incoming = .idle }
            }
            switch incoming {
            case .delivery:
                break  // handed over above
            case .idle:
                if try perform(machine.withLock { $0.idle() }) { return }
            case .blocked(let reason):
                continuation.yield(.blocked(reason: reason))
            case .unblocked:
                continuation.yield(.unblocked)
            }
            tick()
        }
    }

    private func sleepInterruptibly(_ delay: Duration, tick: () -> Void) {
        var remaining = Backoff.nanoseconds(delay) / 1_000_000
        while remaining > 0, !machine.withLock({ $0.interruptsBackoff }) {
            Self.sleep(milliseconds: min(remaining, 100))
            remaining -= 100
            tick()
        }
    }

    static func sleep(milliseconds: Int64) {
        usleep(useconds_t(milliseconds * 1000))
    }

    static func monotonicMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// Wall-clock Unix nanoseconds: the event time of live traffic (the firehose carries no timestamps).
    static func now() -> Int64 { WallClock.system.now() }
}
