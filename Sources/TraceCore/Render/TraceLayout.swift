/// One trace laid out as a waterfall: its spans in tree order with their depth, and a summary line's facts.
///
/// Shared by the terminal tree (`TraceTreeRenderer`) and the agent's web view (`TraceWebRenderer`), so both show
/// the same order: parents before children, siblings by start time, spans whose parent is elsewhere as roots.
public struct TraceLayout: Sendable {
    public struct Row: Sendable {
        public var span: Span
        public var depth: Int
    }

    public let traceID: TraceID
    public let rows: [Row]
    public let start: Int64
    public let end: Int64
    public let services: Int
    public let errors: Int
    public let requestID: String?

    /// Lays out the spans of one trace (all with the same trace ID; at least one).
    public init(trace spans: [Span]) {
        precondition(!spans.isEmpty, "a trace has at least one span")
        traceID = spans[0].traceID
        start = spans.map(\.startTime).min()!
        end = spans.map(\.endTime).max()!
        services = Set(spans.map(\.resource.service)).count
        errors = spans.filter { $0.status.code == .error }.count
        requestID = spans.lazy.compactMap { span -> String? in
            if case .string(let id)? = span[attribute: AttributeKey.openstackRequestID] { return id }
            return nil
        }.first
        let ids = Set(spans.map(\.spanID))
        var children: [SpanID: [Span]] = [:]
        var roots: [Span] = []
        for span in spans {
            if let parent = span.parentSpanID, ids.contains(parent), parent != span.spanID {
                children[parent, default: []].append(span)
            } else {
                roots.append(span)
            }
        }
        let order: (Span, Span) -> Bool = { ($0.startTime, $0.kind.rawValue, $0.name) < ($1.startTime, $1.kind.rawValue, $1.name) }
        var rows: [Row] = []
        var visited = Set<SpanID>()
        // Iterative depth-first walk: a hostile parent chain cannot overflow the stack.
        var stack: [(Span, Int)] = roots.sorted(by: order).reversed().map { ($0, 0) }
        while let (span, depth) = stack.popLast() {
            guard visited.insert(span.spanID).inserted else { continue }
            rows.append(Row(span: span, depth: depth))
            for child in (children[span.spanID] ?? []).sorted(by: order).reversed() { stack.append((child, depth + 1)) }
        }
        self.rows = rows
    }

    /// All traces in the spans, earliest first.
    public static func traces(_ spans: [Span]) -> [TraceLayout] {
        var byTrace: [TraceID: [Span]] = [:]
        for span in spans { byTrace[span.traceID, default: []].append(span) }
        return byTrace.values.map(TraceLayout.init(trace:)).sorted { ($0.start, $0.traceID) < ($1.start, $1.traceID) }
    }

    /// Nanoseconds as a short human duration: `850µs`, `12.3ms`, `1.24s`.
    public static func duration(_ nanos: Int64) -> String {
        let value = Double(nanos)
        if nanos < 1_000_000 { return "\(Int((value / 1_000).rounded()))µs" }
        if nanos < 1_000_000_000 { return String(format1: value / 1_000_000) + "ms" }
        return String(format2: value / 1_000_000_000) + "s"
    }

    /// What a PRODUCER's or CONSUMER's message is, for people reading a trace: its `rpc.method` or notification
    /// event type. Their span names follow the conventions (`publish nova:conductor`) and name the destination only,
    /// which is what span metrics need but not what a reader looks for. Nil for CLIENT and SERVER (named by it).
    public static func message(of span: Span) -> String? {
        guard span.kind == .producer || span.kind == .consumer else { return nil }
        for key in [AttributeKey.openstackNotificationEventType, AttributeKey.rpcMethod] {
            if case .string(let value)? = span[attribute: key] { return value }
        }
        return nil
    }
}
