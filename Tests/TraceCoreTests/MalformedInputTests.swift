import Foundation
import TestSupport
import Testing

@testable import TraceCore

/// Hostile and broken input, one named case each: it is counted by reason (or its bad field dropped), it never
/// crashes, and the good messages around it still produce exactly the spans they produce alone.
@Suite("Malformed input never crashes and never loses good data")
struct MalformedInputTests {
    /// A real call publish and its delivery from a_boot: the good neighbours of every bad line.
    static let good: [[UInt8]] = {
        var lines: [[UInt8]] = []
        var splitter = LineSplitter()
        splitter.feed(try! Repository.bytes(Repository.fixture("a_boot.jsonl"))) { line, _ in
            if lines.count < 2 { lines.append(line) }
        }
        return lines
    }()

    static let template = try! BusMessage(line: good[0], lineNumber: 1)

    /// A fixture line of the first good record with another body.
    static func line(body: [UInt8], routingKey: String? = nil, headers: AMQPTable? = nil,
                     properties: MessageProperties? = nil, time: Int64 = 1) -> [UInt8] {
        var record = template
        record.body = body
        record.capturedAt = template.capturedAt + time
        if let routingKey { record.routingKey = routingKey }
        if let headers { record.headers = headers }
        if let properties {
            record.headers.entries = record.headers.entries.map {
                $0.key == "properties" ? ($0.key, .table(properties.table())) : $0
            }
        }
        return record.jsonLine()
    }

    static func oslo(_ inner: String) -> [UInt8] { OsloBody.envelope(inner) }

    static let request = #""method": "m", "args": {}, "_unique_id": "bad-1", "_context_request_id": "req-11111111-1111-1111-1111-111111111111""#

    /// (name, the bad lines, the skip reason or dropped field it must be counted under, or nil when it must simply
    /// be processed without harm).
    static let cases: [(String, [[UInt8]], String?)] = {
        var cases: [(String, [[UInt8]], String?)] = []
        func add(_ name: String, _ lines: [[UInt8]], _ reason: String?) { cases.append((name, lines, reason)) }
        func text(_ string: String) -> [UInt8] { Array(string.utf8) }
        // Fixture lines.
        add("truncated-json-line", [text(#"{"seq": 1, "captured_at": 17959875"#)], "fixture_invalid_json")
        add("not-json-line", [text("hello world")], "fixture_invalid_json")
        add("json-array-line", [text("[1, 2, 3]")], "fixture_not_an_object")
        add("empty-object-line", [text("{}")], "fixture_missing_field")
        add("missing-routing-key", [text(#"{"captured_at": 1, "body_b64": ""}"#)], "fixture_missing_field")
        add("missing-captured-at", [text(#"{"routing_key": "publish.nova", "body_b64": ""}"#)], "fixture_missing_field")
        add("missing-body", [text(#"{"routing_key": "publish.nova", "captured_at": 1}"#)], "fixture_missing_field")
        add("captured-at-not-a-number", [text(#"{"routing_key": "publish.nova", "captured_at": "soon", "body_b64": ""}"#)], "fixture_missing_field")
        add("captured-at-negative", [text(#"{"routing_key": "publish.nova", "captured_at": -5, "body_b64": ""}"#)], "fixture_invalid_field")
        add("captured-at-overflowing", [text(#"{"routing_key": "publish.nova", "captured_at": 9223372036854775807, "body_b64": ""}"#)], "fixture_invalid_field")
        add("routing-key-not-a-string", [text(#"{"routing_key": 5, "captured_at": 1, "body_b64": ""}"#)], "fixture_missing_field")
        add("invalid-base64-body", [text(#"{"routing_key": "publish.nova", "captured_at": 1, "body_b64": "***"}"#)], "fixture_invalid_base64")
        add("unknown-amqp-field-type", [text(#"{"routing_key": "publish.nova", "captured_at": 1, "body_b64": "", "headers": {"x": 1}, "header_types": {"x": "Q"}}"#)], "fixture_invalid_headers")
        add("amqp-type-mismatch", [text(#"{"routing_key": "publish.nova", "captured_at": 1, "body_b64": "", "headers": {"x": "yes"}, "header_types": {"x": "t"}}"#)], "fixture_invalid_headers")
        add("unknown-mode", [text(#"{"routing_key": "publish.nova", "captured_at": 1, "body_b64": "", "mode": "udp"}"#)], "fixture_invalid_field")
        add("nul-byte-in-line", [text("{\"routing_key\": \"publish.nova\u{0}\", \"captured_at\": 1, \"body_b64\": \"\"}")], "fixture_invalid_json")
        add("invalid-utf8-in-line", [[0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D]], "fixture_invalid_json")
        add("deep-nesting-in-headers", [text(#"{"routing_key": "publish.nova", "captured_at": 1, "body_b64": "", "headers": {"x": "# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}}")], "fixture_invalid_json")
        // Firehose routing and headers.
        add("routing-key-without-dot", [line(body: oslo("{\(request)}"), routingKey: "publishnova")], "firehose_unknown_trace_routing_key")
        add("routing-key-unknown-verb", [line(body: oslo("{\(request)}"), routingKey: "consume.nova")], "firehose_unknown_trace_routing_key")
        add("deliver-without-queue", [line(body: oslo("{\(request)}"), routingKey: "deliver.")], "firehose_unknown_trace_routing_key")
        add("missing-firehose-headers", [line(body: oslo("{\(request)}"), headers: AMQPTable())], nil)
        add("routed-queues-wrong-type", [line(body: oslo("{\(request)}"), headers: AMQPTable([("routed_queues", .string("conductor"))]))], nil)
        add("redelivered-as-string", [line(body: oslo("{\(request)}"), routingKey: "deliver.conductor", headers: AMQPTable([("redelivered", .string("yes"))]))], nil)
        // Bodies that are not oslo.messaging.
        add("plain-text-body", [line(body: text("just some text"))], "oslo_not_json_object")
        add("binary-body", [line(body: (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })], "oslo_not_json_object")
        add("empty-body", [line(body: [])], "oslo_not_json_object")
        add("other-json-object", [line(body: text(#"{"event": "login", "user": "x"}"#))], "oslo_not_oslo")
        add("json-array-body", [line(body: text("[1, 2]"))], "oslo_not_json_object")
        add("oslo-message-not-a-string", [line(body: text(#"{"oslo.version": "2.0", "oslo.message": {"method": "m"}}"#))], "oslo_envelope_message_not_string")
        add("oslo-message-not-json", [line(body: oslo("definitely not json"))], "oslo_inner_not_json_object")
        add("oslo-message-truncated", [line(body: oslo(#"{"method": "m", "args": {"#))], "oslo_inner_json_unexpected_end")
        add("oslo-message-array", [line(body: oslo("[1]"))], "oslo_inner_not_json_object")
        add("invalid-surrogate-in-inner", [line(body: oslo(#"{"method": "\udc00"}"#))], "oslo_inner_json_invalid_escape")
        add("truncated-body", [line(body: Array(oslo("{\(request)}").dropLast(7)))], "oslo_json_unexpected_end")
        add("invalid-utf8-in-body", [line(body: text(#"{"method": ""#) + [0xC3, 0x28] + text(#""}"#))], "oslo_json_invalid_utf8")
        add("invalid-utf8-in-envelope", [line(body: text(#"{"oslo.version": "2.0", "oslo.message": ""#) + [0xC3, 0x28] + text(#""}"#))], "oslo_inner_not_json_object")
        add("raw-nul-in-body-string", [line(body: text("{\"method\": \"m\u{0}\"}"))], "oslo_json_unexpected_byte")
        // Wrong types for keys the decoder reads.
        add("method-is-a-number", [line(body: oslo(#"{"method": 5, "_unique_id": "u"}"#))], "oslo_wrong_type")
        add("msg-id-is-a-list", [line(body: oslo(#"{"method": "m", "_msg_id": ["x"]}"#))], "oslo_wrong_type")
        add("ending-is-a-string", [line(body: oslo(#"{"ending": "yes", "_msg_id": "m"}"#))], "oslo_wrong_type")
        add("unique-id-is-a-number", [line(body: oslo(#"{"method": "m", "_unique_id": 12}"#))], "oslo_wrong_type")
        add("request-id-is-an-object", [line(body: oslo(#"{"method": "m", "_context_request_id": {"a": 1}}"#))], "oslo_wrong_type")
        add("timeout-is-a-string", [line(body: oslo(#"{"method": "m", "_timeout": "4"}"#))], "oslo_wrong_type")
        // Trace context that is malformed: the field is dropped, the message kept.
        add("malformed-traceparent", [line(body: oslo("{\(request), \"_context_traceparent\": \"00-xyz-01\"}"))], "_context_traceparent:invalid")
        add("oversized-traceparent", [line(body: oslo("{\(request), \"_context_traceparent\": \"00-0424ecbc6e3d4ce5b95b09756eb2f7e9-ac1a54d975733260-01\(String(repeating: "0", count: 600))\"}"))], "_context_traceparent:invalid")
        add("malformed-tracestate", [line(body: oslo("{\(request), \"_context_traceparent\": \"00-0424ecbc6e3d4ce5b95b09756eb2f7e9-ac1a54d975733260-01\", \"_context_tracestate\": \"==bad==\"}"))], "_context_tracestate:invalid")
        add("oversized-tracestate", [line(body: oslo("{\(request), \"_context_traceparent\": \"00-0424ecbc6e3d4ce5b95b09756eb2f7e9-ac1a54d975733260-01\", \"_context_tracestate\": \"a=\(String(repeating: "b", count: 600))\"}"))], "_context_tracestate:invalid")
        add("traceparent-wrong-type", [line(body: oslo("{\(request), \"_context_traceparent\": [1]}"))], "_context_traceparent:wrong_type")
        add("trace-info-not-an-object", [line(body: oslo("{\(request), \"_context_trace_info\": \"x\"}"))], "_context_trace_info:wrong_type")
        add("trace-info-bad-uuids", [line(body: oslo("{\(request), \"_context_trace_info\": {\"base_id\": \"nope\", \"parent_id\": 1}}"))], "_context_trace_info:invalid")
        add("malformed-traceparent-header", [line(body: oslo("{\(request)}"), properties: {
            var properties = MessageProperties()
            properties.headers = AMQPTable([("traceparent", .string("garbage"))])
            return properties
        }())], nil)
        // Hostile sizes and numbers.
        add("deep-nesting-in-args", [line(body: oslo("{\"method\": \"m\", \"_unique_id\": \"deep\", \"args\": \(String(repeating: "[", count: 10_000))\(String(repeating: "]", count: 10_000))}"))], nil)
        add("huge-timeout", [line(body: oslo(#"{"method": "m", "_unique_id": "t1", "_msg_id": "mt1", "_reply_q": "reply_x", "_timeout": 1e300}"#))], nil)
        add("huge-expiration", [line(body: oslo(#"{"method": "m", "_unique_id": "t2", "_msg_id": "mt2", "_reply_q": "reply_x"}"#), properties: {
            var properties = MessageProperties()
            properties.expiration = "9223372036854775807"
            return properties
        }())], nil)
        add("nonsense-expiration", [line(body: oslo(#"{"method": "m", "_unique_id": "t3", "_msg_id": "mt3", "_reply_q": "reply_x"}"#), properties: {
            var properties = MessageProperties()
            properties.expiration = "soon"
            return properties
        }())], nil)
        // Correlation surprises.
        add("reply-to-unknown-call", [line(body: oslo(#"{"result": null, "failure": null, "ending": true, "_msg_id": "never-called", "_unique_id": "r"}"#), routingKey: "publish.")], "reply_to_unknown_call")
        add("heartbeat-for-unknown-call", [line(body: oslo(#"{"result": null, "failure": null, "ending": false, "_msg_id": "never-called", "_unique_id": "h"}"#), routingKey: "publish.")], "reply_to_unknown_call")
        add("duplicate-delivery", [good[1]], "duplicate_delivery")
        add("duplicate-publish", [good[0]], "duplicate_publish")
        return cases
    }()

    /// The spans of the good lines alone.
    static let baseline: [Span] = {
        var pipeline = EventPipeline()
        var spans: [Span] = []
        for (index, line) in good.enumerated() { spans += pipeline.process(line: line, number: index + 1) }
        return spans
    }()

    @Test("at least fifty named cases")
    func enoughCases() {
        #expect(Self.cases.count >= 50)
        #expect(Set(Self.cases.map(\.0)).count == Self.cases.count)
    }

    @Test("each case is counted by reason and the good messages around it keep their spans",
          arguments: Self.cases.map { $0.0 })
    func malformed(name: String) throws {
        let (_, bad, reason) = try #require(Self.cases.first { $0.0 == name })
        var pipeline = EventPipeline()
        var spans: [Span] = []
        var number = 0
        // Good publish, the bad lines, good delivery: the good pair must still link up.
        for line in [Self.good[0]] + bad + [Self.good[1]] {
            number += 1
            spans += pipeline.process(line: line, number: number)
        }
        // End of input: the reorder window lets go of what it holds (a reply to a call never seen waits for the
        // call's delivery up to the window, and the node's later messages wait behind it).
        spans += pipeline.finish()
        for expected in Self.baseline {
            #expect(spans.contains(expected), "\(name): lost \(expected.kind.name) \(expected.name)")
        }
        let counters = pipeline.synthesizer.counters
        if let reason {
            let skip = SkipReason(rawValue: reason)
            let counted = skip.flatMap { pipeline.stats.skipped[$0] ?? counters.skipped[$0] } ?? counters.rejectedContextFields[reason]
            #expect(counted == bad.count, "\(name): expected \(reason), got \(pipeline.stats.skipped) \(counters.skipped) \(counters.rejectedContextFields)")
            if let skip, pipeline.stats.skipped[skip] != nil {
                #expect(pipeline.stats.firstExample[skip]?.isEmpty == false, "the first example is kept for the one-time report")
            }
        } else {
            #expect(pipeline.stats.skippedTotal == 0, "\(name): \(pipeline.stats.skipped)")
        }
    }

    @Test("a 64 MiB body is decoded without materializing it, and the neighbours keep their spans")
    func hugeBody() throws {
        let args = "[" + String(repeating: "\"0123456789abcdef\",", count: 64 * 1024 * 1024 / 19) + "0]"
        let body = OsloBody.envelope("{\(Self.request), \"args\": \(args)}")
        #expect(body.count > 64 * 1024 * 1024)
        var pipeline = EventPipeline()
        var spans = pipeline.process(line: Self.good[0], number: 1)
        spans += pipeline.process(line: Self.line(body: body, routingKey: "publish.nova"), number: 2)
        spans += pipeline.process(line: Self.good[1], number: 3)
        #expect(pipeline.stats.skippedTotal == 0)
        #expect(spans.contains { $0[attribute: "messaging.message.id"] == .string("bad-1") }, "the huge message has its span")
        for expected in Self.baseline { #expect(spans.contains(expected)) }
    }
}
