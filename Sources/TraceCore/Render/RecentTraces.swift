/// The most recent traces, for the agent's `/traces` page: bounded in traces and in spans per trace.
///
/// A trace is "recent" by the last time a span joined it; the least recently updated trace leaves first. Spans
/// beyond `maximumSpansPerTrace` are counted, not kept, so one runaway request cannot fill the agent's memory.
public struct RecentTraces: Sendable {
    public let capacity: Int
    public let maximumSpansPerTrace: Int
    private var traces: [TraceID: Entry] = [:]

    struct Entry: Sendable {
        var spans: [Span]
        var updated: Int64
        var omitted: Int

        mutating func add(_ span: Span, now: Int64, maximumSpans: Int) {
            if spans.count < maximumSpans { spans.append(span) } else { omitted += 1 }
            updated = now
        }
    }

    static let initialSpans = 8

    public init(capacity: Int = 50, maximumSpansPerTrace: Int = 500) {
        self.capacity = max(0, capacity)
        self.maximumSpansPerTrace = maximumSpansPerTrace
    }

    public mutating func add(_ spans: [Span], now: Int64) {
        guard capacity > 0 else { return }
        for span in spans {
            // In place: a copy of the entry would copy its spans on every append.
            if let index = traces.index(forKey: span.traceID) {
                traces.values[index].add(span, now: now, maximumSpans: maximumSpansPerTrace)
                continue
            }
            // A new trace: room for its first spans at once (a bus trace has a handful; growing from one by
            // doublings was 1.5 allocations per message of a live drain).
            var entry = Entry(spans: [], updated: now, omitted: 0)
            entry.spans.reserveCapacity(max(0, min(Self.initialSpans, maximumSpansPerTrace)))
            entry.add(span, now: now, maximumSpans: maximumSpansPerTrace)
            traces[span.traceID] = entry
        }
        // Usually one trace too many: drop the least recently updated, a linear scan rather than a sort.
        while traces.count > capacity,
            let oldest = traces.min(by: { ($0.value.updated, $0.key) < ($1.value.updated, $1.key) })?.key
        {
            traces.removeValue(forKey: oldest)
        }
    }

    /// The traces, most recently updated first, with the number of spans left out of each.
    public var snapshot: [(layout: TraceLayout, omitted: Int)] {
        traces.values.sorted { $0.updated > $1.updated }.map { (TraceLayout(trace: $0.spans), $0.omitted) }
    }

    public var count: Int { traces.count }
}
