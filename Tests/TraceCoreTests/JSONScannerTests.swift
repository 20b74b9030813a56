import Foundation
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
        var method: String?
        try JSONScanner.scan(Array(#"{"args": {"x": [1, {"y": "}"}], "z": []}, "method": "m"}"#.utf8)) {
            (scanner) throws(JSONError) in
            try scanner.readObject { (key, scanner) throws(JSONError) in
                if key == "method" { method = try scanner.readString() } else { try scanner.skipValue() }
            }
        }
        #expect(method == "m")
    }

    @Test("10k levels of nesting: skipping costs no stack, building fails cleanly")
    func deepNesting() throws {
        let deep = Array((String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)).utf8)
        try JSONScanner.scan(deep) { (scanner) throws(JSONError) in
            try scanner.skipValue()
            try scanner.expectEnd()
        }
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
        #expect(throws: JSONError.self) {
            try JSONScanner.scan(Array(text.utf8)) { (scanner) throws(JSONError) in
                try scanner.skipValue()
                try scanner.expectEnd()
            }
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

/// The targeted scanner and base64 decoder against Foundation (the general implementations) on real input.
@Suite("JSON scanner against Foundation")
struct JSONScannerFoundationTests {
    @Test("every capture line, envelope and inner message reads as Foundation reads it", arguments: GroundTruthTests.fixtures)
    func capturesAgree(fixture: String) throws {
        var lines = 0
        var splitter = LineSplitter()
        var failures: [String] = []
        let check: ([UInt8], Int) -> Void = { line, number in
            lines += 1
            do {
                try Self.expectSame(line)
                let foundation = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
                let text = try #require(foundation["body_b64"] as? String)
                let wire = try #require(Data(base64Encoded: text))
                let record = try BusMessage(line: line, lineNumber: number)
                #expect(record.body == [UInt8](wire))
                // kombu_compression (j_gzip, k_bz2): the oslo.messaging JSON is the decompressed body.
                let body = Data(try BusEvent(record: record).decodableBody())
                try Self.expectSame([UInt8](body))
                let envelope = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
                if let inner = envelope["oslo.message"] as? String {
                    // The scanner's unescaped bytes of oslo.message are Foundation's string.
                    let unescaped = try JSONScanner.scan([UInt8](body)) { (scanner) throws(JSONError) -> [UInt8]? in
                        var result: [UInt8]?
                        try scanner.readObject { (key, scanner) throws(JSONError) in
                            if key == "oslo.message" { result = try scanner.readStringBytes() } else { try scanner.skipValue() }
                        }
                        return result
                    }
                    #expect(unescaped == Array(inner.utf8))
                    try Self.expectSame(Array(inner.utf8))
                }
            } catch {
                failures.append("line \(number): \(error)")
            }
        }
        splitter.feed(try Repository.bytes(Repository.fixture("\(fixture).jsonl")), check)
        splitter.finish(check)
        #expect(lines > 0)
        #expect(failures.isEmpty, "\(failures.prefix(3))")
    }

    @Test("strings with every kind of escape read back as Foundation wrote them")
    func escapesAgree() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [Character] = ["a", "\"", "\\", "/", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{01}", "\u{1F}", "é",
                                     "€", "😀", "\u{7F}", " ", "{", "}", "[", "]", ",", ":"]
        for _ in 0..<2_000 {
            let length = Int.random(in: 0..<40, using: &generator)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            let encoded = [UInt8](try JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed]))
            let value = try JSONValue(parsing: encoded)
            #expect(value == .array([.string(text)]), "\(String(decoding: encoded, as: UTF8.self))")
        }
        // \u escapes, including a surrogate pair, that Foundation's writer never produces.
        let escaped = Array(#"["\u0041\u00e9\u20AC\ud83d\ude00\u0000"]"#.utf8)
        #expect(try JSONValue(parsing: escaped) == .array([.string("Aé€😀\u{0}")]))
    }

    @Test("base64: the same bytes as Foundation for every length, nil for what Foundation rejects")
    func base64Agrees() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = Array(Data(bytes).base64EncodedString().utf8)
            #expect(text.withUnsafeBufferPointer(Base64.decode) == bytes)
        }
        for bad in ["***", "QQ", "QQ=", "Q===", "QUJD\n", " QUJD", "QUJ-", "QUJ_", "=QUJ"] {
            let text = Array(bad.utf8)
            #expect(Data(base64Encoded: bad) == nil, "Foundation accepts \(bad)")
            #expect(text.withUnsafeBufferPointer(Base64.decode) == nil, "\(bad)")
        }
        // Stricter than Foundation, which reads `=` inside the last quad (`QQ=A` as "A\0"): padding only at the end.
        for bad in ["QQ=A", "QU=D"] {
            #expect(Array(bad.utf8).withUnsafeBufferPointer(Base64.decode) == nil, "\(bad)")
        }
    }

    /// Parses `bytes` with both readers and compares the values (numbers by their double value).
    static func expectSame(_ bytes: [UInt8]) throws {
        let ours = try JSONValue(parsing: bytes)
        let foundation = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        #expect(same(ours, foundation), "\(String(decoding: bytes.prefix(200), as: UTF8.self))")
    }

    static func same(_ ours: JSONValue, _ theirs: Any) -> Bool {
        switch ours {
        case .null: return theirs is NSNull
        case .bool(let flag):
            return (theirs as? Bool) == flag
        case .number(let text): return (theirs as? NSNumber)?.doubleValue == Double(text)
        case .string(let text): return (theirs as? String) == text
        case .array(let values):
            guard let array = theirs as? [Any], array.count == values.count else { return false }
            return zip(values, array).allSatisfy { same($0, $1) }
        case .object(let members):
            guard let dictionary = theirs as? [String: Any], dictionary.count == Set(members.map(\.key)).count else { return false }
            return members.allSatisfy { member in dictionary[member.key].map { same(member.value, $0) } ?? false }
        }
    }
}
