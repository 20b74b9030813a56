import Foundation
import OTLPProto
import SwiftProtobuf
import Testing

@testable import TraceCore
import TestSupport

/// The direct OTLP writer must produce exactly swift-protobuf's bytes for the same spans: swift-protobuf is the
/// reference (generated from the official .proto files), the direct writer is what the agent runs.
@Suite("OTLP protobuf encoder")
struct OTLPProtobufEncoderTests {
    @Test("byte for byte swift-protobuf's encoding of every capture's spans", arguments: GroundTruthTests.fixtures)
    func identicalOnCaptures(fixture: String) throws {
        let replay = try Replay(fixture: fixture)
        #expect(!replay.spans.isEmpty)
        for extra in [[], [Attribute("cluster", .string("cp-1")), Attribute("deployment.environment", .string("prod"))]] {
            let direct = OTLPProtobufEncoder.encode(replay.spans, extraResourceAttributes: extra)
            let reference: [UInt8] = try ExportTraceServiceRequest(spans: replay.spans, extraResourceAttributes: extra)
                .serializedBytes()
            #expect(direct == reference, "\(fixture): \(direct.count) vs \(reference.count) bytes")
        }
    }

    @Test("byte for byte swift-protobuf's encoding of edge cases: defaults, negative and large numbers, long strings")
    func identicalOnEdgeCases() throws {
        let spans = Self.edgeCaseSpans()
        let direct = OTLPProtobufEncoder.encode(spans)
        let reference: [UInt8] = try ExportTraceServiceRequest(spans: spans).serializedBytes()
        #expect(direct == reference)
        // And one request per span (single-span requests exercise the smallest lengths).
        for span in spans {
            let one: [UInt8] = try ExportTraceServiceRequest(spans: [span]).serializedBytes()
            #expect(OTLPProtobufEncoder.encode([span]) == one, "\(span.name)")
        }
        let decoded = try ExportTraceServiceRequest(serializedBytes: direct)
        #expect(decoded.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }.count == spans.count)
    }

    @Test("no spans: an empty request, as swift-protobuf writes it")
    func empty() throws {
        #expect(OTLPProtobufEncoder.encode([]) == (try ExportTraceServiceRequest(spans: []).serializedBytes() as [UInt8]))
    }

    static func edgeCaseSpans() -> [Span] {
        let long = String(repeating: "é-ünïcødé ", count: 2_000)  // a length needing a three-byte varint
        var spans: [Span] = []
        let values: [AttributeValue] = [
            .string(""), .string("x"), .string(long), .int(0), .int(-1), .int(.min), .int(.max), .int(127), .int(128),
            .bool(false), .bool(true), .double(0), .double(-0.0), .double(.nan), .double(.infinity), .double(1e-300),
        ]
        for (index, value) in values.enumerated() {
            spans.append(Span(
                traceID: TraceID(high: UInt64(index), low: 0), spanID: SpanID(UInt64(index) << 56 | 1),
                parentSpanID: index % 2 == 0 ? nil : SpanID(.max), parentIsRemote: index % 3 == 0,
                traceState: [nil, "", "vendor=1"][index % 3], name: index == 1 ? "" : "op \(index)",
                kind: [.internal, .server, .client, .producer, .consumer][index % 5],
                startTime: [0, -5, 1, Int64.max][index % 4], endTime: [0, 1_795_987_374_329_912_929][index % 2],
                attributes: [Attribute(index == 2 ? "" : "key.\(index)", value), Attribute("n", .int(Int64(index)))],
                events: index % 4 == 0 ? [] : [
                    Span.Event(name: index == 3 ? "" : "exception", time: [0, -1, 42][index % 3], attributes: []),
                    Span.Event(name: "e", time: 1, attributes: [Attribute("exception.message", value)]),
                ],
                status: [.unset, .error(""), .error("boom: \(long)"), Span.Status(code: .ok, message: "")][index % 4],
                resource: ServiceIdentity(service: "svc-\(index % 3)", host: index % 2 == 0 ? nil : "host-\(index)")))
        }
        // Enough spans in one resource that the scope's length needs several varint bytes.
        for index in 0..<300 {
            spans.append(Span(
                traceID: TraceID(high: 1, low: UInt64(index)), spanID: SpanID(UInt64(index) + 1), parentSpanID: nil,
                name: "bulk", kind: .producer, startTime: 1, endTime: 2, resource: ServiceIdentity(service: "bulk")))
        }
        return spans
    }
}
