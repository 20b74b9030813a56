/// The Prometheus text exposition (format 0.0.4) of `BusREDMetrics`, appended to the agent's own `/metrics`.
///
/// Rendered here rather than through swift-metrics: the families keep their own fixed buckets and their series cap,
/// and a pure renderer is testable without a listener. Names translate the OpenTelemetry semantic conventions
/// v1.44.0 metrics to Prometheus (`.` → `_`, the unit as a suffix, `_total` on counters) where the conventions have
/// one, and carry the `trace_bridge_` prefix where they have none (the queue wait). Exemplars are not emitted: the
/// 0.0.4 text format has none, and swift-prometheus 2.x, which serves the rest of `/metrics`, does not support them.
extension BusREDMetrics {
    /// One family's name, help and whether it is a histogram (else a counter of samples).
    struct FamilyFormat {
        var name: String
        var help: String
        var histogram: Bool
    }

    static let callsFormat = FamilyFormat(
        name: "rpc_client_call_duration_seconds",
        help: "oslo.messaging RPC calls seen on the bus, from the request's publish to the reply's delivery (or the "
            + "timeout), by caller, callee service, method and outcome (ok, error, timeout); semconv "
            + "rpc.client.call.duration",
        histogram: true)
    static let serverFormat = FamilyFormat(
        name: "rpc_server_call_duration_seconds",
        help: "oslo.messaging RPC calls handled, from the request's delivery to the reply's publish, by service, "
            + "method and outcome (ok, error); semconv rpc.server.call.duration",
        histogram: true)
    static let queueWaitFormat = FamilyFormat(
        name: "trace_bridge_messaging_queue_wait_seconds",
        help: "Time a message waited in its queue, from its publish to its delivery, by queue (hosts and IDs "
            + "replaced: compute.{server}, reply_{id}) and receiving service; no semconv metric measures it",
        histogram: true)
    static let publishesFormat = FamilyFormat(
        name: "messaging_client_sent_messages_total",
        help: "Messages published on the bus (calls, casts, fanouts, notifications), by sender, kind, method or "
            + "notification event type, priority and outcome (ok, unroutable); semconv messaging.client.sent.messages",
        histogram: false)
    static let overflowName = "trace_bridge_red_series_overflowed_total"

    /// The four families and the overflow counter, series sorted by label values so scrapes compare line by line.
    public func exposition() -> String {
        var out = ""
        render(calls, Self.callsFormat, into: &out)
        render(serverProcessing, Self.serverFormat, into: &out)
        render(queueWait, Self.queueWaitFormat, into: &out)
        render(publishes, Self.publishesFormat, into: &out)
        out += "# HELP \(Self.overflowName) Samples counted under the label value \"\(Self.overflowValue)\" "
            + "because their family already held its maximum number of series\n"
        out += "# TYPE \(Self.overflowName) counter\n"
        for (family, name) in [(calls, Self.callsFormat.name), (serverProcessing, Self.serverFormat.name),
                               (queueWait, Self.queueWaitFormat.name), (publishes, Self.publishesFormat.name)]
        {
            out += "\(Self.overflowName){family=\"\(name)\"} \(family.overflowed)\n"
        }
        return out
    }

    private func render(_ family: Family, _ format: FamilyFormat, into out: inout String) {
        out += "# HELP \(format.name) \(format.help)\n"
        out += "# TYPE \(format.name) \(format.histogram ? "histogram" : "counter")\n"
        let base = format.name
        for (values, histogram) in family.histograms.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let labels = zip(family.labels, values).map { "\($0)=\"\(Self.escape($1))\"" }.joined(separator: ",")
            guard format.histogram else {
                out += "\(base){\(labels)} \(histogram.count)\n"
                continue
            }
            var cumulative: UInt64 = 0
            for (index, bound) in Self.bucketBounds.enumerated() {
                cumulative += histogram.counts[index]
                out += "\(base)_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "\(base)_bucket{\(labels),le=\"+Inf\"} \(histogram.count)\n"
            out += "\(base)_sum{\(labels)} \(histogram.sum)\n"
            out += "\(base)_count{\(labels)} \(histogram.count)\n"
        }
    }

    /// Label values come from the bus (methods, event types, queues): a quote, backslash or newline in them must
    /// not break the scrape (the text format's three escapes).
    static func escape(_ value: String) -> String {
        guard value.unicodeScalars.contains(where: { $0 == "\"" || $0 == "\\" || $0 == "\n" }) else { return value }
        var escaped = String.UnicodeScalarView()
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": escaped.append(contentsOf: #"\""#.unicodeScalars)
            case "\\": escaped.append(contentsOf: #"\\"#.unicodeScalars)
            case "\n": escaped.append(contentsOf: #"\n"#.unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }
}
