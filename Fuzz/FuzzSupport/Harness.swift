import BodyDecompression
import Foundation
import RabbitMQ
import SwiftProtobuf
import TraceCore

/// One function per fuzz target: each drives a decoder on arbitrary bytes through the same code the agent runs,
/// then through what consumes its output (synthesis, OTLP encoding), and checks invariants that must hold for any
/// input. A trap here is a finding: libFuzzer saves the input; `Fuzz/regressions/` keeps it as a test.
public enum Harness {
    /// A capture line: fixture reader → bus event → oslo decoding → synthesis → OTLP protobuf and JSON.
    public static func fixtureLine(_ bytes: UnsafeBufferPointer<UInt8>) {
        let line = Array(bytes)
        var pipeline = EventPipeline()
        var spans = pipeline.process(line: line, number: 1)
        spans += pipeline.finish()
        encode(spans)
        // The fast reader of capture-shaped lines and the reference reader agree on every line: the same record or
        // the same error.
        let read = Result { () throws(FixtureError) in try BusMessage(line: line, lineNumber: 1) }
        let reference = Result { () throws(FixtureError) in try BusMessage(referenceLine: line, lineNumber: 1) }
        precondition(read == reference, "the fast line reader differs from the reference: \(read) vs \(reference)")
        if let record = try? BusMessage(line: line, lineNumber: 1) {
            // What the reader accepts, the writer writes so that the reader accepts it again, unchanged.
            let rewritten = record.jsonLine()
            guard let again = try? BusMessage(line: rewritten, lineNumber: 1) else {
                fatalError("a record we read cannot be read back after writing it: \(String(decoding: rewritten, as: UTF8.self))")
            }
            precondition(again.jsonLine() == rewritten, "writing a record is not stable")
        }
    }

    /// An AMQP field table on the wire (message headers): librabbitmq's decoder → our conversion (with and without
    /// an interner, as a connection keeps one) → the capture format's typed JSON → read back.
    public static func fieldTable(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let table = AMQPTable.decode(wire: Array(bytes)) else { return }
        func captured(_ headers: AMQPTable) -> [UInt8] {
            BusMessage(
                seq: 1, capturedAt: 0, mode: .firehose, exchange: "amq.rabbitmq.trace", routingKey: "publish.nova",
                redelivered: false, properties: MessageProperties(), headers: headers, body: []
            ).jsonLine()
        }
        let line = captured(table)
        // Compared as captured (every key, value and type tag), not with `==`: a NaN float is not equal to itself.
        let interned = AMQPTable.decode(wire: Array(bytes), interner: fieldTableInterner).map(captured)
        precondition(interned == line, "converting through the interner differs: \(String(decoding: line, as: UTF8.self))")
        guard (try? BusMessage(line: line, lineNumber: 1)) != nil else {
            fatalError("headers decoded from the wire cannot be captured and read back: \(String(decoding: line, as: UTF8.self))")
        }
        _ = try? BusEvent(record: BusMessage(line: line, lineNumber: 1))
    }

    /// One interner per harness across inputs, as a pipeline or a connection keeps one; small, so that collisions and
    /// replacements happen all the time. libFuzzer runs one input at a time.
    nonisolated(unsafe) static let osloInterner = StringInterner(slots: 16)
    nonisolated(unsafe) static let fieldTableInterner = StringInterner(slots: 16)

    /// A message body: the oslo.messaging decoder (whose escaped walk must agree with the unescaping reference, with
    /// and without an interner), then synthesis of a publish and a delivery of it.
    public static func oslo(_ bytes: UnsafeBufferPointer<UInt8>) {
        let body = Array(bytes)
        let decoded = Result { () throws(OsloDecodingError) in try OsloDecoder.decode(body) }
        let reference = Result { () throws(OsloDecodingError) in try OsloDecoder.decodeUnescaping(body) }
        precondition(decoded == reference, "the escaped walk and the unescaping reference disagree: \(decoded) != \(reference)")
        let interned = Result { () throws(OsloDecodingError) in try OsloDecoder.decode(body, interner: osloInterner) }
        precondition(interned == reference, "decoding through the interner differs: \(interned) != \(reference)")
        guard case .success(let message) = decoded else { return }
        var synthesizer = SpanSynthesizer()
        let publish = BusEvent(kind: .publish, time: 1_000, exchange: "nova", routingKey: "conductor",
                               routedQueues: ["conductor"], connection: "a -> b", source: .firehose, body: body)
        var deliver = publish
        deliver.kind = .deliver
        deliver.time = 2_000
        deliver.queue = "conductor"
        deliver.routedQueues = nil
        var spans = synthesizer.process(publish, message)
        spans += synthesizer.process(deliver, message)
        spans += synthesizer.finish()
        for span in spans {
            precondition(span.startTime <= span.endTime, "a span ends before it starts")
            precondition(!span.spanID.isZero && !span.traceID.isZero, "an all-zero ID")
        }
        encode(spans)
    }

    /// A traceparent / tracestate value.
    public static func traceParent(_ bytes: UnsafeBufferPointer<UInt8>) {
        let text = String(decoding: bytes, as: UTF8.self)
        if let parsed = TraceParent(text) {
            // A version-00 value round-trips exactly; what we accept we can print and accept again.
            precondition(TraceParent(parsed.headerValue) == parsed, "traceparent does not round-trip")
            if parsed.version == 0 { precondition(parsed.headerValue == text, "version 00 must round-trip exactly") }
        }
        _ = TraceState.isValid(text)
    }

    /// A compressed body: the first byte picks the codec (`BodyCompression.allCases`, modulo), the rest is the data,
    /// decompressed with a 64 KiB limit (cheap, so more inputs run; bombs still reach it). The limit is exact: what
    /// decodes fits a limit of exactly its size and not one byte less (a zstd frame whose window exceeds the smaller
    /// limit may be refused as too large instead).
    public static func decompression(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let first = bytes.first else { return }
        let codec = BodyCompression.allCases[Int(first) % BodyCompression.allCases.count]
        let data = Array(bytes.dropFirst())
        let limit = 1 << 16
        let output: [UInt8]
        do {
            output = try BodyDecompressor.decompress(data, codec, limit: limit)
        } catch {
            precondition(!error.detail.isEmpty, "an error without a detail")
            return
        }
        precondition(output.count <= limit, "\(output.count) bytes out, over the limit of \(limit)")
        do throws(DecompressionError) {
            let again = try BodyDecompressor.decompress(data, codec, limit: output.count)
            precondition(again == output, "the same data decodes differently")
        } catch {
            precondition(codec == .zstd && error.reason == .tooLarge, "a limit of exactly the output failed: \(error)")
        }
        guard !output.isEmpty else { return }
        do throws(DecompressionError) {
            _ = try BodyDecompressor.decompress(data, codec, limit: output.count - 1)
            preconditionFailure("\(output.count) bytes fit a limit of \(output.count - 1)")
        } catch {
            precondition(error.reason == .tooLarge, "one byte under the output size is not too_large: \(error)")
        }
    }

    /// The targets by name, as tools/fuzz.sh and the corpus directories name them.
    public static let all: [(name: String, run: @Sendable (UnsafeBufferPointer<UInt8>) -> Void)] = [
        ("FixtureLine", fixtureLine), ("FieldTable", fieldTable), ("Oslo", oslo), ("TraceParent", traceParent),
        ("Decompression", decompression),
    ]

    public static var names: [String] { all.map(\.name) }

    public static func named(_ name: String) -> (@Sendable (UnsafeBufferPointer<UInt8>) -> Void)? {
        all.first { $0.name == name }?.run
    }

    static func encode(_ spans: [Span]) {
        guard !spans.isEmpty else { return }
        _ = OTLPJSONEncoder.encode(spans)
        _ = try? ExportTraceServiceRequest(spans: spans).serializedBytes() as [UInt8]
    }
}

/// Without libFuzzer (a normal build) the fuzz executable runs one harness over files and directories: the seed
/// corpus and every regression input, as `make test` does (FuzzRegressionTests).
public enum CorpusRunner {
    public static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let harness = Harness.named(name), arguments.count > 1 else {
            print("usage: FuzzDecoders \(Harness.names.joined(separator: "|")) FILE_OR_DIRECTORY...  (runs each input through the harness)")
            exit(64)
        }
        var inputs = 0
        for path in arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                print("no such file or directory: \(path)")
                exit(66)
            }
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                [UInt8](data).withUnsafeBufferPointer { harness($0) }
                inputs += 1
            }
        }
        print("ran \(inputs) inputs")
    }
}
