/// Merges several captures into one stream in event-time order (`BusMessage.capturedAt`), as one agent reading all
/// their buses at once would have received them.
///
/// Nova cells v2 puts the API and each cell on a bus of its own; one capture per bus, merged, gives synthesis both
/// sides of a cross-bus cast (`replay api.jsonl cell1.jsonl`). Each capture's own order is kept (a capture is in
/// arrival order already; a message is never moved ahead of one captured before it on its own bus), and ties go to
/// the capture named first. Cluster skew between the capturing consumers is the reorder window's job, as live.
public struct CaptureMerger {
    private var sources: [() throws -> BusMessage?]
    private var heads: [BusMessage?]
    private var started = false

    /// `sources[i]` yields capture i's messages in its order, then nil.
    public init(_ sources: [() throws -> BusMessage?]) {
        self.sources = sources
        heads = Array(repeating: nil, count: sources.count)
    }

    /// The earliest message among the captures' next ones, with the index of its capture; nil when all are done.
    public mutating func next() throws -> (message: BusMessage, source: Int)? {
        if !started {
            started = true
            for index in sources.indices { heads[index] = try sources[index]() }
        }
        var earliest: Int?
        for index in heads.indices {
            guard let head = heads[index] else { continue }
            if let best = earliest, heads[best]!.capturedAt <= head.capturedAt { continue }
            earliest = index
        }
        guard let index = earliest else { return nil }
        let message = heads[index]!
        heads[index] = try sources[index]()
        return (message, index)
    }
}
