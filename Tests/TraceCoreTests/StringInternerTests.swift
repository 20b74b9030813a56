import Testing

@testable import TraceCore

/// `StringInterner`: a hit is always the same bytes, a collision only a miss, and what it does not hold (short, long,
/// invalid UTF-8) is read as `UTF8Text.string` reads it.
@Suite struct StringInternerTests {
    static func read(_ interner: StringInterner, _ text: String) -> String? {
        Array(text.utf8).withUnsafeBufferPointer(interner.string)
    }

    @Test("the same bytes again are a hit and the same string; other bytes in the same slot replace it")
    func hitsAndCollisions() {
        let interner = StringInterner(slots: 1)   // one slot: every other string collides
        let request = "req-2b1f6d4e-8a0c-4f6e-9d3b-5c7a1e2f4b6d"
        let user = "9f2c4a6e8b0d1f3a5c7e9b1d3f5a7c9e"
        #expect(Self.read(interner, request) == request)
        #expect(Self.read(interner, request) == request)
        #expect((interner.hits, interner.misses) == (1, 1))
        #expect(Self.read(interner, user) == user, "a collision reads the new bytes, not the slot's string")
        #expect(Self.read(interner, request) == request)
        #expect((interner.hits, interner.misses) == (1, 3))
        // Same length, same first and last eight bytes, one byte different in the middle: compared, not assumed.
        let twin = "req-2b1f6d4e-8a0c-4f6e-9d3b-5c7a1e2f4b6d".replacingOccurrences(of: "9d3b", with: "9d3c")
        #expect(Self.read(interner, twin) == twin)
        #expect(Self.read(interner, request) == request)
        #expect((interner.hits, interner.misses) == (1, 5))
    }

    @Test("short, long and non-ASCII strings read as UTF8Text reads them; invalid UTF-8 is nil, never a held string")
    func outsideTheTable() {
        let interner = StringInterner()
        #expect(Self.read(interner, "compute") == "compute")
        let long = String(repeating: "x", count: StringInterner.maximumLength + 1)
        #expect(Self.read(interner, long) == long)
        #expect(Self.read(interner, long) == long)
        #expect((interner.hits, interner.misses) == (0, 0), "neither is looked up")
        let accented = "instance-é-0123456789abcdef"
        #expect(Self.read(interner, accented) == accented)
        #expect(Self.read(interner, accented) == accented)
        #expect(interner.hits == 1)
        var invalid = Array("0123456789abcdef0123".utf8)
        invalid[10] = 0xC3
        #expect(invalid.withUnsafeBufferPointer(interner.string) == nil)
        #expect(invalid.withUnsafeBufferPointer(interner.string) == nil)
    }

    @Test("memory is bounded: the table keeps one string per slot, however many different strings come")
    func bounded() {
        let interner = StringInterner(slots: 8)
        for index in 0..<10_000 {
            let id = "req-\(index)-0123456789abcdef"
            #expect(Self.read(interner, id) == id)
        }
        #expect(interner.misses == 10_000 && interner.heldCount <= 8)
    }

    @Test("concatenated parts equal a + b + c + d at every length and with non-ASCII parts; a repeat shares storage")
    func concatenated() {
        let interner = StringInterner(slots: 64)
        let parts = ["", "a", "nova", ":", "compute", ".{server}", "é", "publish ", "scheduler_fanout_{id}",
                     String(repeating: "q", count: 40), "ünïcode-", "select_destinations"]
        for a in parts { for b in parts { for c in parts.prefix(6) { for d in parts.prefix(4) {
            let joined = interner.concatenated(a, b, c, d)
            #expect(joined == a + b + c + d)
            #expect(joined.utf8.count == a.utf8.count + b.utf8.count + c.utf8.count + d.utf8.count)
        } } } }
        #expect(interner.hits > 0 && interner.misses > 0)
        var first = interner.concatenated("process ", "nova:compute.{server}", ":", "compute.{server}")
        var again = interner.concatenated("process nova:", "compute.{server}:compute", ".{server}")
        #expect(first == again)
        #expect(first.withUTF8 { UInt(bitPattern: $0.baseAddress) } == again.withUTF8 { UInt(bitPattern: $0.baseAddress) },
                "the second join is the first's string, not a new allocation")
    }
}
