/// Renders spans as one indented waterfall per trace: offset from the trace start, duration, kind, name (with
/// the method or event type of a PRODUCER or CONSUMER, which its name no longer carries), service@host and status.
/// Pure: the caller decides where the text goes and whether it is coloured.
public struct TraceTreeRenderer {
    public var colour: Bool

    public init(colour: Bool) {
        self.colour = colour
    }

    /// All traces in the spans, earliest first.
    public func render(_ spans: [Span]) -> String {
        var out = ""
        for trace in TraceLayout.traces(spans) { out += render(trace) + "\n" }
        return out
    }

    private func render(_ trace: TraceLayout) -> String {
        var header = "trace \(trace.traceID.hex)  \(trace.rows.count) spans, \(trace.services) services, \(Self.duration(trace.end - trace.start))"
        if let request = trace.requestID { header += ", request \(request)" }
        if trace.errors > 0 { header += ", \(trace.errors) error\(trace.errors == 1 ? "" : "s")" }
        var out = paint(header, "1") + "\n"
        for row in trace.rows {
            let span = row.span
            let offset = "+" + Self.duration(span.startTime - trace.start)
            out += [
                Self.pad(offset, 11, left: true), Self.pad(Self.duration(span.endTime - span.startTime), 10, left: true),
                "  " + String(repeating: "  ", count: row.depth) + paint(Self.pad(span.kind.name, 8, left: false), "2"),
                " " + span.name + (TraceLayout.message(of: span).map { " [\($0)]" } ?? ""),
                "  " + paint(span.resource.description, "36"),
                span.status.code == .error ? "  " + paint("ERROR " + span.status.message.prefix(120), "31") : "",
            ].joined() + "\n"
        }
        return out
    }

    private func paint(_ text: some StringProtocol, _ code: String) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : String(text)
    }

    static func pad(_ text: String, _ width: Int, left: Bool) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return left ? padding + text : text + padding
    }

    static func duration(_ nanos: Int64) -> String { TraceLayout.duration(nanos) }
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
