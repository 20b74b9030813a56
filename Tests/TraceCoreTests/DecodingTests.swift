import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// Builds oslo.messaging bodies the way oslo.messaging 18 serializes them (envelope with the inner message as a
/// JSON string), for decoder unit tests. Ground truth on real traffic is in GroundTruthTests.
enum OsloBody {
    static func envelope(_ inner: String) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("oslo.version"); writer.string("2.0")
        writer.key("oslo.message"); writer.string(inner)
        writer.endObject()
        return writer.bytes
    }
}

@Suite("Fixture records and firehose events")
struct FixtureDecodingTests {
    @Test("every line of every capture decodes, and writes back to a line that decodes to the same record",
          arguments: GroundTruthTests.fixtures)
    func roundTrip(fixture: String) throws {
        var splitter = LineSplitter()
        var count = 0
        var failures: [String] = []
        splitter.feed(try Repository.bytes(Repository.fixture("\(fixture).jsonl"))) { line, number in
            do {
                let record = try BusMessage(line: line, lineNumber: number)
                let again = try BusMessage(line: record.jsonLine(), lineNumber: number)
                if again != record { failures.append("line \(number) differs after a round trip") }
                count += 1
            } catch {
                failures.append("\(error)")
            }
        }
        #expect(failures.isEmpty, "\(failures)")
        #expect(count > 0)
    }

    @Test("firehose publish: exchange, routing key, original properties, routed queues, connection")
    func publishEvent() throws {
        let line = try firstLine(of: "a_boot") { $0.routingKey == "publish.nova" }
        let event = try BusEvent(record: line)
        #expect(event.kind == .publish)
        #expect(event.exchange == "nova")
        #expect(event.routingKey == "conductor")
        #expect(event.routedQueues == ["conductor"])
        #expect(event.properties.contentType == "application/json")
        #expect(event.properties.deliveryMode == 2)
        #expect(event.connection?.contains(" -> ") == true)
        #expect(event.channel == 1)
        #expect(event.user == "guest" && event.vhost == "/")
    }

    @Test("firehose deliver: queue split at the first dot only; redelivered is an integer on the wire")
    func deliverEvent() throws {
        let record = try firstLine(of: "a_boot") { $0.routingKey == "deliver.compute.compute-1" }
        let event = try BusEvent(record: record)
        #expect(event.kind == .deliver)
        #expect(event.queue == "compute.compute-1")
        #expect(event.exchange == "nova")
        #expect(event.routingKey == "compute.compute-1")
        #expect(event.redelivered == false)
        var redelivered = record
        redelivered.headers.entries = redelivered.headers.entries.map {
            $0.key == "redelivered" ? ($0.key, .integer(1, tag: UInt8(ascii: "I"))) : $0
        }
        #expect(try BusEvent(record: redelivered).redelivered)
    }

    @Test("the default exchange is publish. with an empty name; its routing key is the reply queue")
    func defaultExchange() throws {
        let event = try BusEvent(record: try firstLine(of: "a_boot") { $0.routingKey == "publish." })
        #expect(event.exchange == "")
        #expect(event.routingKey.hasPrefix("reply_"))
    }

    @Test("a tap-mode record is a publish on the tapped exchange with the message's own properties")
    func tapRecord() throws {
        var record = try firstLine(of: "a_boot") { $0.routingKey == "publish.nova" }
        record.mode = .tap
        record.exchange = "nova"
        record.routingKey = "conductor"
        record.properties.expiration = "60000"
        record.headers = AMQPTable([("traceparent", .string("00-0424ecbc6e3d4ce5b95b09756eb2f7e9-ac1a54d975733260-01"))])
        let event = try BusEvent(record: record)
        #expect(event.kind == .publish && event.source == .tap)
        #expect(event.exchange == "nova" && event.routingKey == "conductor")
        #expect(event.properties.expirationMilliseconds == 60000)
        #expect(event.properties.headers?["traceparent"] != nil)
        #expect(event.routedQueues == nil)
    }

    @Test("AMQP field types of every tag read from the fixture mapping and write back")
    func fieldTypes() throws {
        let json = try JSONValue(parsing: Array(#"""
            {"s": "text", "b": {"$bytes_b64": "/w=="}, "x": {"$bytes_b64": "AAE="}, "t": true, "i": -5, "l": 9007199254740993,
             "f": 1.5, "d": 2.25, "D": {"$decimal": "3.14"}, "T": {"$timestamp": 1795987561}, "V": null,
             "F": {"inner": 1}, "A": ["a", 2]}
            """#.utf8))
        let types = try JSONValue(parsing: Array(#"""
            {"s": "S", "b": "S", "x": "x", "t": "t", "i": "b", "l": "l", "f": "f", "d": "d", "D": "D", "T": "T", "V": "V",
             "F": {"F": {"inner": "I"}}, "A": {"A": ["S", "s"]}}
            """#.utf8))
        let table = try AMQPTable(json: json, types: types)
        #expect(table["s"] == .string("text"))
        #expect(table["b"] == .bytes([0xFF], tag: UInt8(ascii: "S")))
        #expect(table["x"] == .bytes([0, 1], tag: UInt8(ascii: "x")))
        #expect(table["l"] == .integer(9_007_199_254_740_993, tag: UInt8(ascii: "l")))
        #expect(table["T"] == .timestamp(1_795_987_561))
        #expect(table["F"]?.tableValue?["inner"] == .integer(1, tag: UInt8(ascii: "I")))
        #expect(table["A"] == .array([.string("a"), .integer(2, tag: UInt8(ascii: "s"))]))
        #expect(AMQPValue.table(table).jsonValue == json)
        #expect(AMQPValue.table(table).typeJSON["F"] == types)
        #expect(throws: AMQPJSONError.self) { try AMQPTable(json: json, types: .object([JSONMember(key: "s", value: .string("Q"))])) }
    }

    @Test("bad lines are rejected with their line number and reason", arguments: [
        ("not json", "invalid_json"), ("[1]", "not_an_object"),
        (#"{"captured_at": 1, "body_b64": ""}"#, "missing_field"),
        (#"{"routing_key": "publish.nova", "body_b64": ""}"#, "missing_field"),
        (#"{"routing_key": "publish.nova", "captured_at": 1}"#, "missing_field"),
        (#"{"routing_key": "publish.nova", "captured_at": 1, "body_b64": "!!"}"#, "invalid_base64"),
        (#"{"routing_key": "publish.nova", "captured_at": 1, "body_b64": "", "headers": {"a": 1}, "header_types": {"a": "?"}}"#, "invalid_headers"),
    ])
    func badLines(line: String, reason: String) {
        do {
            _ = try BusMessage(line: Array(line.utf8), lineNumber: 7)
            Issue.record("\(line) was accepted")
        } catch {
            #expect(error.line == 7 && error.reason.rawValue == "fixture_\(reason)", "\(error)")
        }
    }

    @Test("lines split across chunks of any size; CRLF and a missing final newline are fine")
    func lineSplitting() {
        let text = Array("a\r\nbb\n\n  \nccc".utf8)
        for chunkSize in 1...text.count {
            var splitter = LineSplitter()
            var lines: [String] = []
            var numbers: [Int] = []
            var offset = 0
            while offset < text.count {
                splitter.feed(text[offset..<min(offset + chunkSize, text.count)]) { lines.append(String(decoding: $0, as: UTF8.self)); numbers.append($1) }
                offset += chunkSize
            }
            splitter.finish { lines.append(String(decoding: $0, as: UTF8.self)); numbers.append($1) }
            #expect(lines == ["a", "bb", "ccc"])
            #expect(numbers == [1, 2, 5])
        }
    }

    func firstLine(of fixture: String, where predicate: (BusMessage) -> Bool) throws -> BusMessage {
        var found: BusMessage?
        var splitter = LineSplitter()
        splitter.feed(try Repository.bytes(Repository.fixture("\(fixture).jsonl"))) { line, number in
            if found == nil, let record = try? BusMessage(line: line, lineNumber: number), predicate(record) { found = record }
        }
        return try #require(found)
    }
}

@Suite("oslo.messaging decoding")
struct OsloDecodingTests {
    @Test("a call: method, namespace, version, ids, reply queue, monitor timeout and the allow-listed context")
    func call() throws {
        let body = OsloBody.envelope(#"""
            {"method": "select_destinations", "args": {"spec_obj": {"nova_object.data": {"x": [1, 2, {"y": null}]}}},
             "namespace": "compute_task", "version": "4.5", "_msg_id": "ed6b73babc834617b536360f7e9d5427",
             "_reply_q": "reply_21173341bfe249fd8d6fad47e222676a", "_timeout": 4, "_unique_id": "93e8a78945fd4a6aab73f11b6fddd328",
             "_context_auth_token": "SECRET-TOKEN", "_context_request_id": "req-045abbdf-1f3d-417c-932a-979bcf79b405",
             "_context_global_request_id": null, "_context_user_id": "u1", "_context_project_id": "p1",
             "_context_service_catalog": [{"endpoints": [{"url": "http://internal"}]}],
             "_context_traceparent": "00-0424ecbc6e3d4ce5b95b09756eb2f7e9-ac1a54d975733260-03",
             "_context_tracestate": "rojo=00f067aa0ba902b7"}
            """#)
        let message = try OsloDecoder.decode(body)
        #expect(message.kind == .request && message.isCall)
        #expect(message.envelopeVersion == "2.0")
        #expect(message.method == "select_destinations" && message.namespace == "compute_task" && message.version == "4.5")
        #expect(message.msgID == "ed6b73babc834617b536360f7e9d5427")
        #expect(message.replyQueue == "reply_21173341bfe249fd8d6fad47e222676a")
        #expect(message.monitorTimeout == 4)
        #expect(message.uniqueID == "93e8a78945fd4a6aab73f11b6fddd328")
        #expect(message.context.requestID == "req-045abbdf-1f3d-417c-932a-979bcf79b405")
        #expect(message.context.globalRequestID == nil)
        #expect(message.context.userID == "u1" && message.context.projectID == "p1")
        #expect(message.context.traceParent?.flags == 3)
        #expect(message.context.traceState == "rojo=00f067aa0ba902b7")
        #expect(!"\(message)".contains("SECRET-TOKEN") && !"\(message)".contains("internal"))
    }

    @Test("a bare v1 message decodes like the envelope's inner message")
    func bareMessage() throws {
        let message = try OsloDecoder.decode(Array(#"{"method": "ping", "args": {}, "_unique_id": "u"}"#.utf8))
        #expect(message.kind == .request && message.envelopeVersion == nil && message.method == "ping" && !message.isCall)
    }

    @Test("replies: final with a remote failure, and a heartbeat")
    func replies() throws {
        let failure = #"{"class": "InstanceNotFound", "module": "nova.exception", "message": "Instance x could not be found.", "tb": ["Traceback (most recent call last):\n", "  File \"/usr/lib/python3/nova/compute/manager.py\""], "args": [], "kwargs": {"code": 404}}"#
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("result"); writer.null()
        writer.key("failure"); writer.string(failure)
        writer.key("ending"); writer.bool(true)
        writer.key("_msg_id"); writer.string("m1")
        writer.key("_unique_id"); writer.string("u2")
        writer.endObject()
        let reply = try OsloDecoder.decode(OsloBody.envelope(String(decoding: writer.bytes, as: UTF8.self)))
        #expect(reply.kind == .reply && !reply.isHeartbeat)
        #expect(reply.failure == RemoteFailure(className: "InstanceNotFound", module: "nova.exception", message: "Instance x could not be found."))
        #expect(reply.failure?.qualifiedName == "nova.exception.InstanceNotFound")
        #expect(!"\(reply)".contains("manager.py"), "the traceback never leaves the decoder")
        let heartbeat = try OsloDecoder.decode(OsloBody.envelope(#"{"result": null, "failure": null, "ending": false, "_msg_id": "m1", "_unique_id": "u3"}"#))
        #expect(heartbeat.isHeartbeat && heartbeat.failure == nil)
    }

    @Test("a notification: message id, publisher, event type, priority, timestamp")
    func notification() throws {
        let message = try OsloDecoder.decode(OsloBody.envelope(#"""
            {"message_id": "489d7244-8ec0-4632-9a12-32038e39a672", "publisher_id": "nova-compute:compute-1",
             "event_type": "instance.create.start", "priority": "INFO", "payload": {"nova_object.data": {}},
             "timestamp": "2026-11-29 21:22:29.683524", "_unique_id": "8854801ffbec4124b897c775eb9215e7",
             "_context_request_id": "req-186d2c6a-a62e-4358-a049-cddc89f6f640"}
            """#))
        #expect(message.kind == .notification)
        #expect(message.messageID == "489d7244-8ec0-4632-9a12-32038e39a672")
        #expect(message.publisherID == "nova-compute:compute-1" && message.eventType == "instance.create.start")
        #expect(message.priority == "INFO" && message.timestamp == "2026-11-29 21:22:29.683524")
    }

    @Test("osprofiler trace_info keeps base_id and parent_id, never hmac_key")
    func traceInfo() throws {
        let message = try OsloDecoder.decode(OsloBody.envelope(#"""
            {"method": "m", "args": {}, "_unique_id": "u",
             "_context_trace_info": {"hmac_key": "SECRET_KEY", "base_id": "f763b4aa-124e-4b33-97a8-16b4254b3a85",
                                     "parent_id": "a76d8b0e-3123-424b-bdb8-bee037e24947"}}
            """#))
        #expect(message.context.traceInfo?.baseID.hex == "f763b4aa124e4b3397a816b4254b3a85")
        #expect(message.context.traceInfo?.parentSpanID.hex == "bdb8bee037e24947")
        #expect(!"\(message)".contains("SECRET_KEY"))
    }

    @Test("a malformed traceparent or tracestate is dropped; the rest of the message is kept")
    func malformedTraceContext() throws {
        let message = try OsloDecoder.decode(OsloBody.envelope(#"""
            {"method": "m", "args": {}, "_unique_id": "u", "_context_request_id": "req-1",
             "_context_traceparent": "00-zzzz-ac1a54d975733260-01", "_context_tracestate": "x=1",
             "_context_trace_info": {"base_id": "not-a-uuid", "parent_id": "also-not"}}
            """#))
        #expect(message.method == "m" && message.context.requestID == "req-1")
        #expect(message.context.traceParent == nil && message.context.traceState == nil && message.context.traceInfo == nil)
        #expect(message.context.rejectedFields == ["_context_traceparent:invalid", "_context_trace_info:invalid"])
        let bad = try OsloDecoder.decode(OsloBody.envelope(#"{"method": "m", "_context_traceparent": 12, "_context_trace_info": "x"}"#))
        #expect(bad.context.rejectedFields == ["_context_traceparent:wrong_type", "_context_trace_info:wrong_type"])
    }

    @Test("bodies that are not usable oslo.messaging messages fail with a stable reason", arguments: [
        ("plain text", "not_json_object"),
        ("[1, 2]", "not_json_object"),
        (#"{"oslo.version": "2.0", "oslo.message": {"method": "m"}}"#, "envelope_message_not_string"),
        (#"{"oslo.version": "2.0", "oslo.message": "not json"}"#, "inner_not_json_object"),
        (#"{"oslo.version": "2.0", "oslo.message": "{\"method\": "}"#, "inner_json_unexpected_end"),
        (#"{"oslo.version": "2.0", "oslo.message": "{}"}"#, "not_oslo"),
        (#"{"hello": "world"}"#, "not_oslo"),
        (#"{"method": 5}"#, "wrong_type"),
        (#"{"method": "m", "_msg_id": ["x"]}"#, "wrong_type"),
        (#"{"ending": "yes"}"#, "wrong_type"),
        (#"{"method": "m""#, "json_unexpected_end"),
        (#"{"method": "m"} trailing"#, "json_trailing_data"),
    ])
    func rejects(body: String, reason: String) {
        do {
            _ = try OsloDecoder.decode(Array(body.utf8))
            Issue.record("\(body) was accepted")
        } catch {
            #expect(error.reason.rawValue == "oslo_\(reason)", "\(body): \(error)")
        }
    }
}
