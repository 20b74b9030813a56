import Testing

@testable import TraceCore
import TestSupport

@Suite("JSON scanner")
struct JSONScannerTests {
    @Test("parses every kind of value and keeps number text exact")
    func parsesValues() throws {
        let value = try JSONValue(parsing: Array(#"{"a": [1, -2.5e3, true, false, null], "t": 1795987561029583194, "s": "x\"\\\/\n\u00e9\ud83d\ude00"}"#.utf8))
        #expect(value["a"] == .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]))
        #expect(value["t"]?.int64Value == 1_795_987_561_029_583_194)
        #expect(value["s"]?.stringValue == "x\"\\/\né😀")
    }

    @Test("skipValue walks past nested values without building them, and lands on the next member")
    func skipsValues() throws {
        var scanner = JSONScanner(Array(#"{"args": {"x": [1, {"y": "}"}], "z": []}, "method": "m"}"#.utf8))
        var method: String?
        try scanner.readObject { (key, scanner) throws(JSONError) in
            if key == "method" { method = try scanner.readString() } else { try scanner.skipValue() }
        }
        #expect(method == "m")
    }

    @Test("10k levels of nesting: skipping costs no stack, building fails cleanly")
    func deepNesting() throws {
        let deep = Array((String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)).utf8)
        var scanner = JSONScanner(deep)
        try scanner.skipValue()
        try scanner.expectEnd()
        #expect(throws: JSONError.self) { try JSONValue(parsing: deep) }
    }

    @Test("rejects malformed text", arguments: [
        "", "{", "{\"a\" 1}", "[1,]", "{\"a\":1,}", "\"unterminated", "01", "1.", "-", "tru", "\"\\x\"",
        "\"\\ud800\"", "{\"a\":1} x", "\"a\u{01}b\"", "[1 2]", "{1:2}",
    ])
    func rejectsMalformed(text: String) {
        #expect(throws: JSONError.self) { try JSONValue(parsing: Array(text.utf8)) }
    }

    /// Skipping checks structure, not the escapes inside skipped strings (they are never read).
    @Test("skipping rejects malformed structure", arguments: [
        "", "{", "{\"a\" 1}", "[1,]", "{\"a\":1,}", "\"unterminated", "01", "1.", "-", "tru", "{\"a\":1} x", "[1 2]", "{1:2}",
        "[}", "{\"a\":1]",
    ])
    func skippingRejectsMalformed(text: String) {
        var scanner = JSONScanner(Array(text.utf8))
        #expect(throws: JSONError.self) {
            try scanner.skipValue()
            try scanner.expectEnd()
        }
    }

    @Test("rejects invalid UTF-8 in strings")
    func invalidUTF8() {
        #expect(throws: JSONError.self) { try JSONValue(parsing: [0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test("the writer's output reads back to the same value")
    func writerRoundTrip() throws {
        let value = JSONValue.object([
            JSONMember(key: "k\"ey", value: .array([.string("a\nb\u{07}"), .number("12"), .null, .bool(true)])),
            JSONMember(key: "empty", value: .object([])),
        ])
        var writer = JSONWriter()
        writer.value(value)
        #expect(try JSONValue(parsing: writer.bytes) == value)
    }
}
