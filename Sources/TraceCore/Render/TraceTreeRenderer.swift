/// Renders spans as one indented waterfall per trace: offset from the trace start, duration, kind, name,
/// service@host and status. Pure: the caller decides where the text goes and whether it is coloured.
public struct TraceTreeRenderer {
    public var colour: Bool

    public init(colour: Bool) {
        self.colour = colour
    }

    /// All traces in the spans, earliest first.
    public func render(_ spans: [Span]) -> String {
        var byTrace: [TraceID: [Span]] = [:]
        for span in spans { byTrace[span.traceID, default: []].append(span) }
        let traces = byTrace.values.sorted { lhs, rhs in
            let left = lhs.map(\.startTime).min()!, right = rhs.map(\.startTime).min()!
            return left != right ? left < right : lhs[0].traceID < rhs[0].traceID
        }
        var out = ""
        for trace in traces { out += render(trace: trace) + "\n" }
        return out
    }

    private func render(trace spans: [Span]) -> String {
        let start = spans.map(\.startTime).min()!
        let end = spans.map(\.endTime).max()!
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
        let services = Set(spans.map(\.resource.service)).count
        let errors = spans.filter { $0.status.code == .error }.count
        var header = "trace \(spans[0].traceID.hex)  \(spans.count) spans, \(services) services, \(Self.duration(end - start))"
        if let request = spans.lazy.compactMap({ $0[attribute: "openstack.request_id"] }).first,
            case .string(let id) = request
        {
            header += ", request \(id)"
        }
        if errors > 0 { header += ", \(errors) error\(errors == 1 ? "" : "s")" }
        var out = paint(header, "1") + "\n"
        var visited = Set<SpanID>()
        func walk(_ span: Span, depth: Int) {
            guard visited.insert(span.spanID).inserted else { return }
            let offset = "+" + Self.duration(span.startTime - start)
            let line = [
                Self.pad(offset, 11, left: true), Self.pad(Self.duration(span.endTime - span.startTime), 10, left: true),
                "  " + String(repeating: "  ", count: depth) + paint(Self.pad(span.kind.name, 8, left: false), "2"),
                " " + span.name,
                "  " + paint(span.resource.description, "36"),
                span.status.code == .error ? "  " + paint("ERROR " + span.status.message.prefix(120), "31") : "",
            ].joined()
            out += line + "\n"
            for child in (children[span.spanID] ?? []).sorted(by: order) { walk(child, depth: depth + 1) }
        }
        for root in roots.sorted(by: order) { walk(root, depth: 0) }
        return out
    }

    private func paint(_ text: some StringProtocol, _ code: String) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : String(text)
    }

    static func pad(_ text: String, _ width: Int, left: Bool) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return left ? padding + text : text + padding
    }

    /// Nanoseconds as a short human duration: `850µs`, `12.3ms`, `1.24s`.
    static func duration(_ nanos: Int64) -> String {
        let value = Double(nanos)
        if nanos < 1_000_000 { return "\(Int((value / 1_000).rounded()))µs" }
        if nanos < 1_000_000_000 { return String(format1: value / 1_000_000) + "ms" }
        return String(format2: value / 1_000_000_000) + "s"
    }
}

extension String {
    /// One decimal place without Foundation's `String(format:)`.
    init(format1 value: Double) {
        let tenths = Int64((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }

    init(format2 value: Double) {
        let hundredths = Int64((value * 100).rounded())
        let fraction = abs(hundredths % 100)
        self = "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
