import TraceCore
import RabbitMQ

/// Turns "inputs through N are settled" into acknowledgements on each bus, from the agent's loop or from the task
/// where an export finished (`SpanSink.onSettled`), whichever comes first: an acknowledgement goes out as soon as it
/// may, so that prefetch never stalls waiting for the loop's next wakeup.
final class Acknowledger: Sendable {
    private let ledger = Locked(DeliveryLedger())
    private let sources: [any MessageSource]

    init(sources: [any MessageSource]) {
        self.sources = sources
    }

    func record(input: Int64, bus: Int, tag: DeliveryTag) {
        ledger.withLock { $0.record(input: input, bus: bus, tag: tag) }
    }

    func settle(through input: Int64?) {
        guard let input else { return }
        // The sources take acknowledgements from any thread; call them outside the lock.
        let acknowledgements = ledger.withLock { $0.settle(through: input) }
        for (bus, tag) in acknowledgements { sources[bus].acknowledge(upTo: tag) }
    }
}
