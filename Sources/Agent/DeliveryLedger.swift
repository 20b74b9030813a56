import RabbitMQ

/// Which delivery of which bus each pipeline input was, so that "inputs through N are settled" (what a `SpanSink`
/// reports) becomes one acknowledgement per bus.
///
/// Inputs are numbered in the order the agent took them, across buses (`EventPipeline.inputs`); a sink settles them
/// in that order, so a bus's highest tag among the settled inputs covers all its earlier ones. Tags of an old
/// connection generation are passed on as they are: the source drops them (the broker redelivers what that
/// connection left unacknowledged).
public struct DeliveryLedger: Sendable {
    private var entries: [(input: Int64, bus: Int, tag: DeliveryTag)] = []
    private var head = 0

    public init() {}

    /// Input `input` was delivery `tag` of bus number `bus`. Inputs must be recorded in increasing order.
    public mutating func record(input: Int64, bus: Int, tag: DeliveryTag) {
        precondition(entries.last.map { $0.input < input } ?? true, "inputs are recorded in order")
        entries.append((input, bus, tag))
    }

    /// The acknowledgements that settling every input through `input` allows: per bus, the highest tag newly covered.
    public mutating func settle(through input: Int64) -> [Int: DeliveryTag] {
        var acknowledgements: [Int: DeliveryTag] = [:]
        while head < entries.count, entries[head].input <= input {
            acknowledgements[entries[head].bus] = entries[head].tag
            head += 1
        }
        // Drop the settled prefix now and then, not on every call (amortized O(1) per input).
        if head > 1024, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return acknowledgements
    }

    /// Inputs recorded and not yet settled.
    public var outstanding: Int { entries.count - head }
}
