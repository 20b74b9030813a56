import Foundation

/// A span as read back from OTLP/JSON output, with what the tests compare.
public struct DecodedSpan: Hashable, Sendable {
    public var traceID: String
    public var spanID: String
    public var parentSpanID: String?
    public var kind: Int
    public var name: String
    public var service: String
    public var host: String?
    public var statusCode: Int
    public var messageID: String?
    public var conversationID: String?
    public var queue: String?
    /// False for a CONSUMER or SERVER span inferred from a publish's routing (publish-only and selective modes).
    public var deliveryObserved = true
    /// `trace_bridge.call_end`: set on a CLIENT or SERVER whose end the agent did not see as usual (`unobserved`,
    /// `reply_published`).
    public var callEnd: String? = nil

    /// What must agree between two agents or a run and a replay: everything but times.
    public var identity: String {
        [traceID, spanID, parentSpanID ?? "-", String(kind), name, service, host ?? "-", String(statusCode)].joined(separator: " ")
    }
}

/// Reads OTLP/JSON lines (trace-bridge's `--format otlp-json`) with Foundation's JSON, independently of TraceCore.
public func decodeOTLPJSONLines(_ text: String) throws -> [DecodedSpan] {
    var spans: [DecodedSpan] = []
    for line in text.split(separator: "\n") where !line.isEmpty {
        guard let request = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw TestSetupError("an OTLP/JSON line is not an object")
        }
        for resourceSpans in request["resourceSpans"] as? [[String: Any]] ?? [] {
            let resource = attributes((resourceSpans["resource"] as? [String: Any])?["attributes"])
            for scopeSpans in resourceSpans["scopeSpans"] as? [[String: Any]] ?? [] {
                for span in scopeSpans["spans"] as? [[String: Any]] ?? [] {
                    let values = attributes(span["attributes"])
                    spans.append(DecodedSpan(
                        traceID: span["traceId"] as? String ?? "", spanID: span["spanId"] as? String ?? "",
                        parentSpanID: span["parentSpanId"] as? String, kind: span["kind"] as? Int ?? 0,
                        name: span["name"] as? String ?? "", service: resource["service.name"] ?? "",
                        host: resource["host.name"], statusCode: (span["status"] as? [String: Any])?["code"] as? Int ?? 0,
                        messageID: values["messaging.message.id"], conversationID: values["messaging.message.conversation_id"],
                        queue: values["messaging.destination.subscription.name"],
                        deliveryObserved: values["trace_bridge.delivery_observed"] != "false",
                        callEnd: values["trace_bridge.call_end"]))
                }
            }
        }
    }
    return spans
}

private func attributes(_ value: Any?) -> [String: String] {
    var out: [String: String] = [:]
    for attribute in value as? [[String: Any]] ?? [] {
        guard let key = attribute["key"] as? String, let value = attribute["value"] as? [String: Any] else { continue }
        if let text = value["stringValue"] as? String { out[key] = text }
        if let flag = value["boolValue"] as? Bool { out[key] = flag ? "true" : "false" }
    }
    return out
}
