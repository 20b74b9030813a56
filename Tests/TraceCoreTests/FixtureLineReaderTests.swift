import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// `BusMessage(line:)` reads capture-shaped lines with a fast reader (no JSON value trees) and everything else with the
/// reference reader: both must give the same record or the same error on every line.
@Suite("Fixture lines: the fast reader agrees with the reference")
struct FixtureLineReaderTests {
    /// Every capture the repository ships (the fixtures' top level, not the golden spans).
    static let captures: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: Repository.fixture("").path)) ?? []
        return names.filter { $0.hasSuffix(".jsonl") && !$0.hasSuffix(".spans.jsonl") }.sorted()
    }()

    typealias Outcome = Result<BusMessage, FixtureError>

    static func outcomes(_ line: [UInt8]) -> (read: Outcome, reference: Outcome, fast: BusMessage?) {
        (Result { () throws(FixtureError) in try BusMessage(line: line, lineNumber: 3) },
         Result { () throws(FixtureError) in try BusMessage(referenceLine: line, lineNumber: 3) },
         BusMessage.fastLine(line, lineNumber: 3))
    }

    @Test("every line of every capture, and its rewritten form, is read by the fast reader, equal to the reference")
    func captureLines() throws {
        #expect(Self.captures.count >= 19)
        var lines = 0
        var failures: [String] = []
        for capture in Self.captures {
            var splitter = LineSplitter()
            splitter.feed(try Repository.bytes(Repository.fixture(capture))) { line, number in
                for form in [line, (try? BusMessage(referenceLine: line, lineNumber: number))?.jsonLine() ?? []] {
                    let (_, reference, fast) = Self.outcomes(form)
                    lines += 1
                    guard case .success(let expected) = reference else {
                        failures.append("\(capture):\(number): the reference rejects it: \(reference)")
                        return
                    }
                    if fast != expected { failures.append("\(capture):\(number): fast \(String(describing: fast))") }
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(lines > 2_000)
    }

    /// A capture's firehose publish line, to vary.
    static let base = #"{"seq": 7, "captured_at": 1795987307648094109, "mode": "firehose", "exchange": "amq.rabbitmq.trace", "routing_key": "publish.nova", "redelivered": false, "properties": {"content_type": null, "priority": null}, "headers": HEADERS, "header_types": TYPES, "body_b64": "e30=", "body_len": 2}"#
    static let headers = #"{"exchange_name": "nova", "routing_keys": ["conductor"], "properties": {"priority": 0, "delivery_mode": 2, "headers": {}, "content_type": "application/json"}, "node": "rabbit@a", "channel": 1, "routed_queues": ["conductor"]}"#
    static let types = #"{"exchange_name": "S", "routing_keys": {"A": ["S"]}, "properties": {"F": {"priority": "I", "delivery_mode": "I", "headers": {"F": {}}, "content_type": "S"}}, "node": "S", "channel": "I", "routed_queues": {"A": ["S"]}}"#

    /// Headers without nested tables (an untyped object is left to the reference: it may be `{"$bytes_b64": ...}`).
    static let flat = #"{"exchange_name": "nova", "routing_keys": ["conductor", 5], "node": "rabbit@a", "channel": 1, "x": true}"#

    static func line(headers: String = headers, types: String = types, replacing: [(String, String)] = []) -> [UInt8] {
        var text = base.replacingOccurrences(of: "HEADERS", with: headers).replacingOccurrences(of: "TYPES", with: types)
        for (old, new) in replacing { text = text.replacingOccurrences(of: old, with: new) }
        return Array(text.utf8)
    }

    /// Variants the fast reader must read itself (and equal to the reference).
    static let fastVariants: [(String, [UInt8])] = [
        ("the capture shape", line()),
        ("types in another order than the headers", line(types: #"{"routed_queues": {"A": ["S"]}, "channel": "b", "node": "S", "properties": {"F": {"content_type": "S", "headers": {"F": {}}, "delivery_mode": "B", "priority": "u"}}, "routing_keys": {"A": ["S"]}, "exchange_name": "S"}"#)),
        ("a header without a type, and types of absent headers", line(headers: flat, types: #"{"nothing": "S", "exchange_name": "S", "node": "S"}"#)),
        ("no header_types at all: types inferred", Array(base.replacingOccurrences(of: #", "header_types": TYPES"#, with: "").replacingOccurrences(of: "HEADERS", with: flat).utf8)),
        ("header_types null", line(headers: flat, types: "null")),
        ("a type repeated: the first counts", line(headers: flat, types: #"{"channel": "b", "channel": "I", "exchange_name": "S"}"#)),
        ("fewer array types than elements", line(headers: #"{"routed_queues": ["a", "b", 3]}"#, types: #"{"routed_queues": {"A": ["S"]}}"#)),
        ("void, bool and an escaped key", line(headers: #"{"v": null, "t": true, "k\u0065y": "x", "x\"y": "\n"}"#, types: #"{"v": "V", "t": "t", "key": "S"}"#)),
        ("no mode: told by the routing key", line(replacing: [(#""mode": "firehose", "#, "")])),
        ("tap properties", line(replacing: [(#""content_type": null"#, #""content_type": "application/json", "expiration": "60000", "delivery_mode": 2"#)])),
        ("unknown members skipped, negative seq", line(replacing: [(#""seq": 7"#, #""seq": -7, "extra": [1, {"a": "\ud800"}]"#)])),
    ]

    @Test("capture-shaped variants are read by the fast reader, equal to the reference", arguments: fastVariants.indices)
    func fastVariant(index: Int) {
        let (name, line) = Self.fastVariants[index]
        let (read, reference, fast) = Self.outcomes(line)
        guard case .success(let expected) = reference else {
            Issue.record("\(name): the reference rejects it: \(reference)")
            return
        }
        #expect(fast == expected, "\(name)")
        #expect(read == reference, "\(name)")
    }

    /// Variants left to the reference reader (or rejected by both alike): the outcome of `BusMessage(line:)` must be
    /// the reference's, record or error.
    static let otherVariants: [(String, [UInt8])] = [
        ("invalid UTF-8 in a type no header uses", Array(line(types: #"{"zz": "SX"}"#).map { $0 == UInt8(ascii: "X") ? 0xFF : $0 })),
        ("an invalid escape in a type no header uses", line(types: #"{"zz": "\q"}"#)),
        ("a non-ASCII key", line(headers: #"{"k\u00e9y": "x"}"#, types: #"{"kéy": "S"}"#)),
        ("a type key canonically equal to the header's (KELVIN SIGN is K)", line(headers: #"{"K": 5}"#, types: #"{"\u212a": "b"}"#)),
        ("a header repeated", line(headers: #"{"a": "x", "a": 5}"#, types: #"{"a": "S"}"#)),
        ("a header of the wrong type", line(headers: #"{"a": 5}"#, types: #"{"a": "S"}"#)),
        ("an unknown type letter", line(types: #"{"node": "Q"}"#)),
        ("a float, a timestamp, bytes", line(headers: #"{"f": 1.5, "t": {"$timestamp": 5}, "x": {"$bytes_b64": "AA=="}}"#, types: #"{"f": "d", "t": "T", "x": "x"}"#)),
        ("an inferred float and table", line(headers: #"{"f": 1.5, "t": {"a": 1}}"#, types: "{}")),
        ("F with a non-object", line(headers: #"{"p": {"a": 1}}"#, types: #"{"p": {"F": 3}}"#)),
        ("a type object with two members", line(headers: #"{"p": {"a": 1}}"#, types: #"{"p": {"F": {}, "A": []}}"#)),
        ("V with a value", line(headers: #"{"v": 5}"#, types: #"{"v": "V"}"#)),
        ("headers not an object", line(headers: "[1]")),
        ("header_types not an object", line(types: "[1]")),
        ("nested 40 deep", line(headers: String(repeating: #"{"a": "#, count: 40) + "1" + String(repeating: "}", count: 40), types: "{}")),
        ("types nested 200 deep", line(types: String(repeating: "[", count: 200) + String(repeating: "]", count: 200))),
        ("seq not an integer", line(replacing: [(#""seq": 7"#, #""seq": 7.5"#)])),
        ("captured_at a string", line(replacing: [(#""captured_at": 1795987307648094109"#, #""captured_at": "1""#)])),
        ("captured_at past 2191", line(replacing: [(#""captured_at": 1795987307648094109"#, #""captured_at": 9000000000000000000"#)])),
        ("captured_at past Int64", line(replacing: [(#""captured_at": 1795987307648094109"#, #""captured_at": 99999999999999999999"#)])),
        ("a member repeated", line(replacing: [(#""seq": 7"#, #""seq": 7, "seq": 8"#)])),
        ("mode null", line(replacing: [(#""mode": "firehose""#, #""mode": null"#)])),
        ("an unknown mode", line(replacing: [(#""mode": "firehose""#, #""mode": "x""#)])),
        ("invalid base64", line(replacing: [(#""e30=""#, #""e30""#)])),
        ("body not a string", line(replacing: [(#""e30=""#, "5")])),
        ("no routing key", line(replacing: [(#""routing_key": "publish.nova", "#, "")])),
        ("a property of another kind", line(replacing: [(#""priority": null"#, #""priority": [1]"#)])),
        ("redelivered a number", line(replacing: [(#""redelivered": false"#, #""redelivered": 1"#)])),
        ("trailing data", line() + Array(" x".utf8)),
        ("not an object", Array("[1]".utf8)),
    ]

    @Test("other lines get the reference's outcome", arguments: otherVariants.indices)
    func otherVariant(index: Int) {
        let (name, line) = Self.otherVariants[index]
        let (read, reference, fast) = Self.outcomes(line)
        #expect(read == reference, "\(name)")
        if case .failure = reference { #expect(fast == nil, "\(name): the fast reader accepted what the reference rejects") }
        if case .success(let expected) = reference, let fast { #expect(fast == expected, "\(name)") }
    }
}
