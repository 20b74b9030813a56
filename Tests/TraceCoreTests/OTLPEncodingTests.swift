import Foundation
import OTLPProto
import Testing

@testable import TraceCore

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

/// Runs the built `trace-bridge` binary and the test venv's Python.
enum CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The `trace-bridge` executable built beside the test bundle (`make test` builds it first).
    static var executable: URL {
        let productsDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let beside = productsDirectory.appendingPathComponent("trace-bridge")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return Repository.root.appendingPathComponent(".build/debug/trace-bridge")
    }

    /// The Python with `opentelemetry-proto`: `TRACE_BRIDGE_PYTHON`, else the repository's `.venv` (`make test`
    /// creates it). Missing is a failure, not a skip.
    static var pythonExecutable: URL {
        if let path = ProcessInfo.processInfo.environment["TRACE_BRIDGE_PYTHON"] { return URL(fileURLWithPath: path) }
        return Repository.root.appendingPathComponent(".venv/bin/python")
    }

    static func run(_ arguments: [String], stdin: Data? = nil) throws -> Result {
        try execute(executable, arguments, stdin: stdin)
    }

    static func python(_ arguments: [String]) throws -> Result {
        let python = pythonExecutable
        try #require(FileManager.default.isExecutableFile(atPath: python.path),
                     "no Python with opentelemetry-proto at \(python.path): run `make test` (it creates .venv)")
        return try execute(python, arguments, stdin: nil)
    }

    static func execute(_ executable: URL, _ arguments: [String], stdin: Data?) throws -> Result {
        try #require(FileManager.default.isExecutableFile(atPath: executable.path), "\(executable.path) is not built: run `make test`")
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        // stderr goes to a file, stdout to a pipe drained before waiting, so no output size can block the child.
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("tb-stderr-\(UUID())")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let out = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: errorFile)
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderrData = (try? Data(contentsOf: errorFile)) ?? Data()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                      stderr: String(decoding: stderrData, as: UTF8.self))
    }
}
