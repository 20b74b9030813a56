import Foundation
import TestSupport
import Testing
import TraceCore

@testable import RabbitMQ

/// A connection converts every delivery's headers through one `StringInterner`: the tables must be exactly those
/// converted without it, and the repeated strings must really be shared.
@Suite("Header strings shared across deliveries")
struct HeaderInterningTests {
    /// The FieldTable fuzz seeds: firehose and tap header tables of the captures, on the wire.
    static func seeds() throws -> [[UInt8]] {
        let directory = Repository.root.appendingPathComponent("Fuzz/corpus/FieldTable")
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map {
            try Repository.bytes(directory.appendingPathComponent($0))
        }
    }

    /// As a capture writes it: every key, value and type tag.
    static func captured(_ table: AMQPTable) -> String {
        let record = BusMessage(
            seq: 1, capturedAt: 0, mode: .firehose, exchange: "amq.rabbitmq.trace", routingKey: "publish.nova",
            redelivered: false, properties: MessageProperties(), headers: table, body: [])
        return String(decoding: record.jsonLine(), as: UTF8.self)
    }

    @Test("every seed table converts the same through one interner, twice, and the second pass hits")
    func seedTables() throws {
        let seeds = try Self.seeds()
        #expect(seeds.count > 10)
        let interner = StringInterner(slots: 1024)
        var decoded = 0
        for pass in 0..<2 {
            let hitsBefore = interner.hits
            for seed in seeds {
                guard let plain = AMQPTable.decode(wire: seed) else { continue }
                let shared = try #require(AMQPTable.decode(wire: seed, interner: interner))
                #expect(Self.captured(shared) == Self.captured(plain))
                decoded += 1
            }
            if pass == 1 { #expect(interner.hits - hitsBefore > 100, "repeated header strings are found again") }
        }
        #expect(decoded > 20)
    }

    @Test("long strings are shared, invalid UTF-8 stays bytes in values and is repaired in keys")
    func sharingAndInvalidText() throws {
        let connection = Array("10.0.0.5:41234 -> 10.0.0.1:5672".utf8)
        let invalid: [UInt8] = Array("a-long-enough-value".utf8) + [0xC3, 0x28]
        let wire = Self.table([
            (Array("connection".utf8), UInt8(ascii: "S"), connection),
            (Array("routed_queues_or_so".utf8) + [0xFF], UInt8(ascii: "S"), Array("x".utf8)),
            (Array("opaque".utf8), UInt8(ascii: "S"), invalid),
        ])
        let interner = StringInterner(slots: 1024)
        let first = try #require(AMQPTable.decode(wire: wire, interner: interner))
        let second = try #require(AMQPTable.decode(wire: wire, interner: interner))
        let plain = try #require(AMQPTable.decode(wire: wire))
        #expect(first == plain && second == plain)
        #expect(plain["opaque"] == .bytes(invalid, tag: UInt8(ascii: "S")))
        #expect(plain.entries[1].key == "routed_queues_or_so\u{FFFD}")
        var a = try #require(first["connection"]?.stringValue)
        var b = try #require(second["connection"]?.stringValue)
        #expect(a == "10.0.0.5:41234 -> 10.0.0.1:5672")
        let storage = a.withUTF8 { UInt(bitPattern: $0.baseAddress) }
        #expect(b.withUTF8 { UInt(bitPattern: $0.baseAddress) } == storage, "the second delivery shares the first's string")
    }

    /// A field table on the wire: a 4-byte big-endian size, then each entry as a short-string key, a type tag and,
    /// for `S`, a 4-byte big-endian length and the bytes.
    static func table(_ entries: [(key: [UInt8], tag: UInt8, value: [UInt8])]) -> [UInt8] {
        func bigEndian(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
        var body: [UInt8] = []
        for entry in entries {
            body += [UInt8(entry.key.count)] + entry.key + [entry.tag] + bigEndian(entry.value.count) + entry.value
        }
        return bigEndian(body.count) + body
    }
}
