import Foundation
import OTLPProto
import Testing

@testable import TraceCore
import TestSupport

@Suite("OTLP encoding")
struct OTLPEncodingTests {
    @Test("protobuf: every span of every capture survives a round trip through the generated OTLP types",
          arguments: GroundTruthTests.fixtures)
    func protobufRoundTrip(fixture: String) throws {
        let replay = try Replay(fixture: fixture)
        let request = ExportTraceServiceRequest(spans: replay.spans, extraResourceAttributes: [Attribute("cluster", .string("cp-1"))])
        let decoded = try ExportTraceServiceRequest(serializedBytes: try request.serializedBytes() as [UInt8])
        var byID: [Data: Opentelemetry_Proto_Trace_V1_Span] = [:]
        for resourceSpans in decoded.resourceSpans {
            let attributes = Dictionary(uniqueKeysWithValues: resourceSpans.resource.attributes.map { ($0.key, $0.value.stringValue) })
            #expect(attributes["service.namespace"] == "openstack")
            #expect(attributes["cluster"] == "cp-1")
            for span in resourceSpans.scopeSpans.flatMap(\.spans) {
                byID[span.spanID] = span
                #expect(attributes["service.name"] != nil)
            }
        }
        #expect(byID.count == replay.spans.count)
        for span in replay.spans {
            let proto = try #require(byID[Data(span.spanID.bytes)])
            #expect(proto.traceID == Data(span.traceID.bytes))
            #expect(proto.parentSpanID == Data(span.parentSpanID?.bytes ?? []))
            #expect(proto.kind.rawValue == span.kind.rawValue)
            #expect(proto.name == span.name)
            #expect(proto.startTimeUnixNano == UInt64(span.startTime) && proto.endTimeUnixNano == UInt64(span.endTime))
            #expect(proto.status.code.rawValue == span.status.code.rawValue)
            #expect(proto.attributes.count == span.attributes.count)
        }
    }

    @Test("OTLP/JSON uses hex IDs, integer enums and string nanoseconds")
    func jsonMapping() throws {
        let span = Span(
            traceID: TraceID(uuid: "0424ecbc6e3d4ce5b95b09756eb2f7e9")!, spanID: SpanID(0xAC1A_54D9_7573_3260),
            parentSpanID: SpanID(0xE086_B220_19F7_2BB5), name: "conductor.schedule_and_build_instances", kind: .producer,
            startTime: 1_795_987_374_329_912_929, endTime: 1_795_987_374_329_912_929,
            attributes: [Attribute("messaging.message.body.size", .int(12787))], status: .error("boom"),
            resource: ServiceIdentity(service: "nova-api", host: "api-1"))
        let json = try JSONValue(parsing: OTLPJSONEncoder.encode([span]))
        let encoded = try #require(json["resourceSpans"]?.arrayValue.first?["scopeSpans"]?.arrayValue.first?["spans"]?.arrayValue.first)
        #expect(encoded["traceId"] == .string("0424ecbc6e3d4ce5b95b09756eb2f7e9"))
        #expect(encoded["spanId"] == .string("ac1a54d975733260"))
        #expect(encoded["parentSpanId"] == .string("e086b22019f72bb5"))
        #expect(encoded["kind"] == .number("4"))
        #expect(encoded["startTimeUnixNano"] == .string("1795987374329912929"))
        #expect(encoded["status"]?["code"] == .number("2"))
        #expect(encoded["attributes"]?.arrayValue.first?["value"]?["intValue"] == .string("12787"))
        #expect(encoded["flags"] == .number(String(0x301)))
    }
}

/// Decodes the CLI's output with the official OpenTelemetry protobuf bindings (Python `opentelemetry-proto`), an
/// independent receiver: anything they reject fails the test.
@Suite("Independent OTLP receiver")
struct IndependentReceiverTests {
    @Test("the official bindings accept otlp-json and otlp-proto output of every capture, span for span",
          arguments: GroundTruthTests.fixtures)
    func officialBindingsAccept(fixture: String) throws {
        let replay = try Replay(fixture: fixture)
        let expectedTraces = Set(replay.spans.map(\.traceID.hex))
        for format in ["otlp-json", "otlp-proto"] {
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(fixture)-\(UUID()).\(format)")
            defer { try? FileManager.default.removeItem(at: output) }
            let cli = try CLI.run(["replay", Repository.fixture("\(fixture).jsonl").path, "--format", format, "--output", output.path, "--quiet"])
            #expect(cli.status == 0, "\(cli.stderr)")
            let check = try CLI.python([Repository.root.appendingPathComponent("tools/otlp_check.py").path,
                                        format == "otlp-json" ? "json" : "proto", output.path])
            try #require(check.status == 0, "opentelemetry-proto rejected \(fixture) \(format): \(check.stderr)")
            let summary = try JSONValue(parsing: Array(check.stdout.utf8))
            #expect(summary["spans"]?.int64Value == Int64(replay.spans.count), "\(fixture) \(format)")
            #expect(Set(summary["trace_ids"]?.arrayValue.compactMap(\.stringValue) ?? []) == expectedTraces)
        }
    }

    @Test("e_otel: our trace IDs are exactly the traces the services exported themselves")
    func sameTracesAsTheServices() throws {
        let replay = try Replay(fixture: "e_otel")
        let truth = try Truth(fixture: "e_otel")
        let theirs = Set(truth.json["otel"]?["trace_ids"]?.arrayValue.compactMap(\.stringValue) ?? [])
        #expect(!theirs.isEmpty)
        #expect(Set(replay.spans.map(\.traceID.hex)) == theirs)
    }
}

