import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// `OsloDecoder.decode` walks an envelope's `oslo.message` in its escaped form and falls back to unescaping it
/// (`decodeUnescaping`, the reference) for anything else: the two must give the same message or the same error on every
/// body, and the escaped walk must actually be what reads the bodies oslo.messaging writes.
@Suite("oslo.messaging bodies read in their escaped form agree with the unescaping reference")
struct EscapedReadingTests {
    typealias Outcome = Result<OsloMessage, OsloDecodingError>

    /// `interner`: decode through one (as the pipeline does), so its hits are held to the reference too.
    static func outcomes(_ body: [UInt8], interner: StringInterner? = nil) -> (decoded: Outcome, reference: Outcome, inPlace: Bool) {
        (Result { () throws(OsloDecodingError) in try OsloDecoder.decode(body, interner: interner) },
         Result { () throws(OsloDecodingError) in try OsloDecoder.decodeUnescaping(body) },
         OsloDecoder.readInPlace(body) != nil)
    }

    /// Every body of every capture (decompressed as the pipeline does).
    static let bodies: [(String, [UInt8])] = {
        var bodies: [(String, [UInt8])] = []
        for capture in FixtureLineReaderTests.captures {
            guard let bytes = try? Repository.bytes(Repository.fixture(capture)) else { continue }
            var splitter = LineSplitter()
            splitter.feed(bytes) { line, number in
                guard let record = try? BusMessage(line: line, lineNumber: number),
                    let event = try? BusEvent(record: record), let body = try? event.decodableBody()
                else { return }
                bodies.append(("\(capture):\(number)", body))
            }
        }
        return bodies
    }()

    @Test("every capture's body: the same message, and every envelope read in place (with and without an interner)")
    func captureBodies() {
        #expect(Self.bodies.count > 1_000)
        var envelopes = 0
        var failures: [String] = []
        let interner = StringInterner()
        for (name, body) in Self.bodies {
            let (decoded, reference, inPlace) = Self.outcomes(body)
            if decoded != reference { failures.append("\(name): \(decoded) != \(reference)") }
            let (interned, _, _) = Self.outcomes(body, interner: interner)
            if interned != reference { failures.append("\(name) interned: \(interned) != \(reference)") }
            guard case .success(let message) = reference, message.envelopeVersion != nil else { continue }
            envelopes += 1
            if !inPlace { failures.append("\(name): an envelope the escaped walk did not read") }
        }
        #expect(envelopes > 1_000)
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        // Request, user and project IDs and reply queues repeat across a capture's messages: most reads are hits.
        #expect(interner.hits > interner.misses, "hits \(interner.hits), misses \(interner.misses)")
    }

    @Test("every capture's body cut short, and with one byte changed: the same answer or the same error")
    func damagedBodies() {
        var compared = 0
        var failures: [String] = []
        // Through one interner, as the pipeline reads: damaged strings (a UTF-8 lead byte, a cut) must neither be
        // taken from it nor leave it holding something the next body would read wrongly.
        let interner = StringInterner()
        // Every 20th body, cut at 64 points and changed at 64 points, so the suite stays quick.
        for (name, body) in Self.bodies.enumerated().filter({ $0.offset % 20 == 0 }).map(\.element) {
            let step = max(1, body.count / 64)
            for cut in stride(from: 0, to: body.count, by: step) {
                let (decoded, reference, _) = Self.outcomes(Array(body[..<cut]), interner: interner)
                if decoded != reference { failures.append("\(name) cut at \(cut): \(decoded) != \(reference)") }
                for replacement in [UInt8(ascii: "\\"), UInt8(ascii: "\""), 0x0A, UInt8(ascii: "}"), 0xC3] {
                    var changed = body
                    changed[cut] = replacement
                    let (decoded, reference, _) = Self.outcomes(changed, interner: interner)
                    if decoded != reference { failures.append("\(name) byte \(cut) = \(replacement): \(decoded) != \(reference)") }
                    compared += 1
                }
            }
        }
        #expect(compared > 15_000)
        #expect(failures.isEmpty, "\(failures.prefix(3))")
    }

    /// The inner message (as `json.dumps` would write it) put in an envelope string escaped by hand, so that the
    /// escapes the walk must read, and those it must leave to the reference, are each there.
    static func envelope(_ escapedInner: String, version: String = #""oslo.version": "2.0", "#) -> [UInt8] {
        Array(#"{\#(version)"oslo.message": "\#(escapedInner)"}"#.utf8)
    }

    static let variants: [(String, [UInt8], inPlace: Bool)] = [
        ("the json.dumps shape", envelope(#"{\"method\": \"ping\", \"args\": {\"instance_uuid\": \"6f0e6f5e-7a3c-4e1b-9a0e-1d2c3b4a5f60\"}, \"_context_request_id\": \"req-1\", \"_unique_id\": \"u1\"}"#), true),
        ("escapes of the message's own: a quote, a backslash, a line break, a non-ASCII letter", envelope(#"{\"method\": \"p\\\"i\\\\n\\ng\\u00e9\", \"_context_request_id\": \"r\\/1\", \"_unique_id\": \"u\"}"#), true),
        ("an escaped key", envelope(#"{\"meth\\u006fd\": \"ping\", \"_unique_id\": \"u\"}"#), true),
        ("escaped strings skipped inside args", envelope(#"{\"method\": \"m\", \"args\": {\"x\": [\"a\\\"b\", \"c\\\\\", {\"d\\\"\": \"\\u1234\"}]}, \"_unique_id\": \"u\"}"#), true),
        ("a slash escaped at the envelope's level", envelope(#"{\"method\": \"a\/b\", \"_unique_id\": \"u\"}"#), true),
        ("a reply with a serialized failure", envelope(#"{\"failure\": \"{\\\"class\\\": \\\"NoValidHost\\\", \\\"module\\\": \\\"nova.exception\\\", \\\"message\\\": \\\"No valid host\\\", \\\"tb\\\": [\\\"x\\\"]}\", \"result\": null, \"ending\": true, \"_msg_id\": \"m\"}"#), true),
        ("spaces around the message", envelope(#"  {\"method\": \"m\"}  "#), true),
        ("no version", envelope(#"{\"method\": \"m\"}"#, version: ""), true),
        ("a bare v1 message", Array(#"{"method": "m", "args": {}, "_unique_id": "u"}"#.utf8), true),
        // Left to the reference:
        ("a \\u escape at the envelope's level", envelope(#"{\"method\": \"caf\u00e9\"}"#), false),
        ("a structural quote as \\u0022", envelope(#"{\u0022method\": \"m\"}"#), false),
        ("line breaks as whitespace", envelope(#"{\n\"method\": \"m\"\n}"#), false),
        ("a raw line break in the string", Array("{\"oslo.message\": \"{\\\"method\\\":\n\\\"m\\\"}\"}".utf8), false),
        ("a tab escaped inside a string of the message", envelope(#"{\"method\": \"a\tb\"}"#), false),
        ("two oslo.message members", Array(#"{"oslo.message": "{\"method\": \"a\"}", "oslo.message": "{\"method\": \"b\"}"}"#.utf8), false),
        ("oslo.message not a string", Array(#"{"oslo.message": {"method": "m"}}"#.utf8), false),
        ("the message not an object", envelope(#"[1]"#), false),
        ("trailing data after the message", envelope(#"{\"method\": \"m\"} x"#), false),
        ("the string ends inside the message", Array(#"{"oslo.message": "{\"method\": \"m"}"#.utf8), false),
        ("the string ends inside an escape of the message", Array(#"{"oslo.message": "{\"method\": \"m\\"}"#.utf8), false),
        ("invalid UTF-8 in a key", Array(#"{"oslo.message": "{\"m"#.utf8) + [0xC3] + Array(#"\": \"m\"}"}"#.utf8), false),
        ("not oslo", envelope(#"{\"hello\": \"world\"}"#), true),
    ]

    @Test("escaped forms the walk reads, and those it leaves to the reference", arguments: variants.indices)
    func variant(index: Int) {
        let (name, body, expectedInPlace) = Self.variants[index]
        let (decoded, reference, inPlace) = Self.outcomes(body)
        #expect(decoded == reference, "\(name)")
        #expect(inPlace == expectedInPlace, "\(name)")
    }

    @Test("what the escaped walk reads is the message's content, unescaped once more")
    func readsContent() throws {
        let message = try OsloDecoder.decode(Self.variants[1].1)
        #expect(message.method == "p\"i\\n\ngé")
        #expect(message.context.requestID == "r/1")
        let reply = try OsloDecoder.decode(Self.variants[5].1)
        #expect(reply.failure?.className == "NoValidHost")
        #expect(reply.failure?.message == "No valid host")
        let skipped = try OsloDecoder.decode(Self.variants[0].1)
        #expect(skipped.subject == "6f0e6f5e-7a3c-4e1b-9a0e-1d2c3b4a5f60")
    }
}
