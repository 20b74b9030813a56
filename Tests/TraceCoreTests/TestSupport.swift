import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// Replays a fixture through the same pipeline as `trace-bridge replay`.
struct Replay {
    var spans: [Span]
    var pipeline: EventPipeline

    init(fixture name: String, options: SynthesisOptions = SynthesisOptions()) throws {
        try self.init(bytes: Repository.bytes(Repository.fixture("\(name).jsonl")), options: options)
    }

    init(bytes: [UInt8], options: SynthesisOptions = SynthesisOptions(), reducesToVisibility: Bool = false) {
        var pipeline = EventPipeline(options: options, reducesToVisibility: reducesToVisibility)
        var spans: [Span] = []
        var splitter = LineSplitter()
        splitter.feed(bytes) { line, number in spans += pipeline.process(line: line, number: number) }
        splitter.finish { line, number in spans += pipeline.process(line: line, number: number) }
        spans += pipeline.finish()
        self.spans = spans
        self.pipeline = pipeline
    }

    /// Replays records already decoded (a capture reordered as a cluster would deliver it).
    init(records: [BusMessage], options: SynthesisOptions = SynthesisOptions()) {
        var pipeline = EventPipeline(options: options)
        var spans: [Span] = []
        for record in records { spans += pipeline.process(record: record) }
        spans += pipeline.finish()
        self.spans = spans
        self.pipeline = pipeline
    }

    func spans(kind: Span.Kind, messageID: String) -> [Span] {
        spans.filter { $0.kind == kind && $0[attribute: "messaging.message.id"] == .string(messageID) }
    }

    func span(_ id: SpanID) -> Span? { spans.first { $0.spanID == id } }
}

/// A fixture's ground truth (`X.truth.json`), read with the project's own JSON reader.
struct Truth {
    let json: JSONValue

    init(fixture name: String) throws {
        json = try JSONValue(parsing: Repository.bytes(Repository.fixture("\(name).truth.json")))
    }

    var operations: [JSONValue] {
        guard case .array(let operations)? = json["operations"] else { return [] }
        return operations
    }

    func operation(uniqueID: String) -> JSONValue? {
        operations.first { $0["unique_id"]?.stringValue == uniqueID }
    }
}

extension JSONValue {
    var arrayValue: [JSONValue] {
        if case .array(let values) = self { return values }
        return []
    }
}

/// One line per fixture with the fidelity figures, printed by the ground-truth suite.
func report(_ line: String) {
    print("fidelity: \(line)")
}
