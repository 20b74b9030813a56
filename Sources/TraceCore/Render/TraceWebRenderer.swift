/// The agent's trace view: recent traces as waterfalls in one self-contained HTML page (no scripts, no external
/// assets: it must work on an air-gapped control plane), and the same data as JSON.
///
/// Each row shows offset, duration, kind, name and service@host; a bar places the span on the trace's time axis.
/// A CONSUMER or SERVER bar starts at the delivery, so the gap after its parent's start is the queue wait; ERROR spans
/// are red with their message. Every
/// text comes from the allow-listed span fields only, HTML-escaped.
public struct TraceWebRenderer {
    public init() {}

    public func html(_ traces: [(layout: TraceLayout, omitted: Int)], title: String, generatedAt: String) -> String {
        var out = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(Self.escape(title))</title>
            <style>
            body{font:13px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2330;background:#fafbfc}
            h1{font-size:18px;margin:0 0 .2em} .meta{color:#667;margin-bottom:1.2em}
            section{background:#fff;border:1px solid #dde1e8;border-radius:6px;margin:0 0 1.2em;padding:.6em .8em}
            h2{font-size:14px;margin:.1em 0 .5em;font-family:ui-monospace,monospace}
            h2 .facts{font-family:system-ui,sans-serif;font-weight:normal;color:#556}
            table{border-collapse:collapse;width:100%} td,th{padding:2px 6px;text-align:left;white-space:nowrap}
            th{color:#667;font-weight:600;border-bottom:1px solid #e4e7ec} tr:hover td{background:#f3f6fb}
            td.num{text-align:right;font-variant-numeric:tabular-nums} td.name{font-family:ui-monospace,monospace;white-space:normal;max-width:48em}
            td.bar{width:35%} .track{position:relative;height:10px;background:#f0f2f5;border-radius:2px}
            .fill{position:absolute;top:0;height:10px;min-width:2px;border-radius:2px}
            .PRODUCER{background:#5b8def} .CONSUMER{background:#f0a93b} .CLIENT{background:#8a63d2}
            .SERVER{background:#2fa36b} .INTERNAL{background:#8d99ae}
            .kind{font-size:11px;color:#445} .svc{color:#0b6e8a} tr.error td{color:#b3261e} .fill.error{background:#d93025}
            .status{color:#b3261e} .empty{color:#667;font-style:italic}
            </style></head><body>
            <h1>\(Self.escape(title))</h1>
            <div class="meta">\(traces.count) recent traces, most recent first · generated \(Self.escape(generatedAt)) · \
            <a href="/traces.json">JSON</a> · <a href="/metrics">metrics</a></div>

            """
        if traces.isEmpty {
            out += "<p class=\"empty\">No traces yet: is the firehose on (rabbitmqctl trace_on) and is traffic flowing?</p>\n"
        }
        for (trace, omitted) in traces {
            let total = max(trace.end - trace.start, 1)
            var facts = "\(trace.rows.count) spans, \(trace.services) services, \(TraceLayout.duration(trace.end - trace.start))"
            if let request = trace.requestID { facts += ", request \(request)" }
            if trace.errors > 0 { facts += ", \(trace.errors) error\(trace.errors == 1 ? "" : "s")" }
            if omitted > 0 { facts += ", \(omitted) more spans not kept" }
            out += "<section><h2>trace \(trace.traceID.hex) <span class=\"facts\">\(Self.escape(facts))</span></h2>\n"
            out += "<table><tr><th>offset</th><th>duration</th><th>span</th><th>service@host</th><th></th></tr>\n"
            for row in trace.rows {
                let span = row.span
                let isError = span.status.code == .error
                let left = Double(span.startTime - trace.start) / Double(total) * 100
                let width = Double(span.endTime - span.startTime) / Double(total) * 100
                out += "<tr\(isError ? " class=\"error\"" : "")>"
                out += "<td class=\"num\">+\(TraceLayout.duration(span.startTime - trace.start))</td>"
                out += "<td class=\"num\">\(TraceLayout.duration(span.endTime - span.startTime))</td>"
                out += "<td class=\"name\" style=\"padding-left:\(6 + row.depth * 16)px\"><span class=\"kind\">\(span.kind.name)</span> "
                out += Self.escape(span.name)
                if let message = TraceLayout.message(of: span) { out += " [" + Self.escape(message) + "]" }
                if isError { out += " <span class=\"status\">ERROR \(Self.escape(String(span.status.message.prefix(160))))</span>" }
                out += "</td><td class=\"svc\">\(Self.escape(span.resource.description))</td>"
                out += "<td class=\"bar\"><div class=\"track\"><div class=\"fill \(span.kind.name)\(isError ? " error" : "")\" "
                out += "style=\"left:\(Self.percent(left));width:\(Self.percent(width))\"></div></div></td></tr>\n"
            }
            out += "</table></section>\n"
        }
        return out + "</body></html>\n"
    }

    /// The same traces as JSON: `{"traces":[{"trace_id", "spans":[{"span_id", "parent_span_id", "name", "kind",
    /// "service", "host", "start_unix_nano", "duration_ns", "depth", "status", "status_message"}]}]}`.
    public func json(_ traces: [(layout: TraceLayout, omitted: Int)]) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("traces")
        writer.beginArray()
        for (trace, omitted) in traces {
            writer.beginObject()
            writer.key("trace_id"); writer.string(trace.traceID.hex)
            writer.key("duration_ns"); writer.raw(String(trace.end - trace.start))
            writer.key("services"); writer.raw(String(trace.services))
            writer.key("errors"); writer.raw(String(trace.errors))
            writer.key("omitted_spans"); writer.raw(String(omitted))
            if let request = trace.requestID { writer.key("request_id"); writer.string(request) }
            writer.key("spans")
            writer.beginArray()
            for row in trace.rows {
                let span = row.span
                writer.beginObject()
                writer.key("span_id"); writer.string(span.spanID.hex)
                if let parent = span.parentSpanID { writer.key("parent_span_id"); writer.string(parent.hex) }
                writer.key("name"); writer.string(span.name)
                writer.key("kind"); writer.string(span.kind.name)
                writer.key("service"); writer.string(span.resource.service)
                if let host = span.resource.host { writer.key("host"); writer.string(host) }
                writer.key("start_unix_nano"); writer.raw(String(span.startTime))
                writer.key("duration_ns"); writer.raw(String(span.endTime - span.startTime))
                writer.key("depth"); writer.raw(String(row.depth))
                writer.key("status"); writer.string(span.status.code == .error ? "error" : "unset")
                if span.status.code == .error { writer.key("status_message"); writer.string(span.status.message) }
                writer.endObject()
            }
            writer.endArray()
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    static func percent(_ value: Double) -> String {
        let clamped = value.isFinite ? min(max(value, 0), 100) : 0
        return String(format1: clamped) + "%"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
