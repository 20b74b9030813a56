@testable import BodyDecompression
import Foundation
import Testing

@testable import TraceCore
import TestSupport

/// Bodies compressed by kombu (oslo.messaging's `kombu_compression`), with vectors made by kombu's own compression
/// functions (tools/compression_vectors.py → fixtures/compressed/).
@Suite("Compressed bodies")
struct CompressionTests {
    /// The captures in fixtures/compressed/: a_boot with every body compressed, by kombu alias and content type.
    static let codecs: [(alias: String, codec: BodyCompression)] = [
        ("gzip", .zlib), ("bzip2", .bzip2), ("xz", .lzma), ("zstd", .zstd), ("brotli", .brotli),
    ]
    static let aliases = codecs.map(\.alias)

    static func records(_ name: String) throws -> [BusMessage] {
        let bytes = try Repository.bytes(Repository.fixture(name))
        var lines: [([UInt8], Int)] = []
        var splitter = LineSplitter()
        splitter.feed(bytes) { lines.append(($0, $1)) }
        splitter.finish { lines.append(($0, $1)) }
        return try lines.map { try BusMessage(line: $0.0, lineNumber: $0.1) }
    }

    static func codec(_ alias: String) throws -> BodyCompression {
        try #require(codecs.first { $0.alias == alias }?.codec)
    }

    /// Replays events through one pipeline; `limit` is the decompression limit.
    static func replay(_ events: [BusEvent], limit: Int = BusEvent.defaultDecompressionLimit) -> (spans: [Span], stats: PipelineStats) {
        var options = SynthesisOptions()
        options.decompressionLimit = limit
        var pipeline = EventPipeline(options: options)
        var spans: [Span] = []
        for (index, event) in events.enumerated() { spans += pipeline.process(event: event, location: "event \(index)") }
        spans += pipeline.finish()
        return (spans, pipeline.stats)
    }

    static func events(_ name: String) throws -> [BusEvent] {
        try records(name).map { try BusEvent(record: $0) }
    }

    static func withoutBodySize(_ spans: [Span]) -> [Span] {
        spans.map { span in
            var span = span
            span.attributes.removeAll { $0.key == "messaging.message.body.size" }
            return span
        }
    }

    static func compressed(_ event: BusEvent, body: [UInt8], header: AMQPValue) -> BusEvent {
        var event = event
        event.body = body
        var headers = event.properties.headers ?? AMQPTable()
        headers.entries.removeAll { $0.key == "compression" }
        headers.entries.append((key: "compression", value: header))
        event.properties.headers = headers
        return event
    }

    // MARK: - Real kombu output

    @Test("a capture compressed by kombu replays to exactly the spans of the plain one", arguments: aliases)
    func roundTrip(alias: String) throws {
        let codec = try Self.codec(alias)
        let plainEvents = try Self.events("a_boot.jsonl")
        let events = try Self.events("compressed/a_boot.\(alias).jsonl")
        #expect(events.count == plainEvents.count)
        for (event, plain) in zip(events, plainEvents) {
            // The vectors are real: every body is compressed, under kombu's content type.
            #expect(event.compressionHeader == .string(codec.contentType))
            #expect(event.body != plain.body)
        }
        let plain = Self.replay(plainEvents)
        let replayed = Self.replay(events)
        #expect(replayed.stats.skipped.isEmpty, "\(replayed.stats.firstExample)")
        #expect(replayed.stats.messageKinds == plain.stats.messageKinds)
        #expect(!plain.spans.isEmpty)
        #expect(Self.withoutBodySize(replayed.spans) == Self.withoutBodySize(plain.spans))
        // The body size stays the wire (compressed) size.
        let wireSizes = Set(events.map { Int64($0.body.count) })
        let sizes = replayed.spans.compactMap { span -> Int64? in
            if case .int(let size)? = span[attribute: "messaging.message.body.size"] { return size }
            return nil
        }
        #expect(!sizes.isEmpty)
        #expect(sizes.allSatisfy(wireSizes.contains))
    }

    @Test("each body decompresses to exactly kombu's input, also when the limit is exactly its size", arguments: aliases)
    func exactBodies(alias: String) throws {
        let codec = try Self.codec(alias)
        let plain = try Self.records("a_boot.jsonl")
        let compressed = try Self.records("compressed/a_boot.\(alias).jsonl")
        for (record, original) in zip(compressed, plain) {
            #expect(try BodyDecompressor.decompress(record.body, codec) == original.body)
        }
        let largest = try #require(zip(compressed, plain).max { $0.1.body.count < $1.1.body.count })
        #expect(try BodyDecompressor.decompress(largest.0.body, codec, limit: largest.1.body.count) == largest.1.body)
        #expect(throws: DecompressionError.self) {
            try BodyDecompressor.decompress(largest.0.body, codec, limit: largest.1.body.count - 1)
        }
        do {
            _ = try BodyDecompressor.decompress(largest.0.body, codec, limit: largest.1.body.count - 1)
        } catch {
            #expect(error.reason == .tooLarge)
        }
    }

    @Test("kombu's aliases decode as its consumers' get_decoder resolves them; bz2 is not one of them")
    func aliasesResolve() throws {
        for (alias, codec) in Self.codecs {
            #expect(BodyCompression(header: alias) == codec)
            #expect(BodyCompression(header: codec.contentType) == codec)
        }
        #expect(BodyCompression(header: "zlib") == .zlib)
        #expect(BodyCompression(header: "bzip") == .bzip2)
        #expect(BodyCompression(header: "lzma") == .lzma)
        #expect(BodyCompression(header: "zstandard") == .zstd)
        #expect(BodyCompression(header: "bz2") == nil)
        #expect(BodyCompression(header: "Application/X-Gzip") == nil)
    }

    @Test("a gzip file under application/x-gzip and legacy .lzma under application/x-lzma decode too")
    func otherFormats() throws {
        let json = try JSONValue(parsing: Repository.bytes(Repository.fixture("compressed/other.json")))
        for name in ["gzip_file", "lzma_alone"] {
            let vector = try #require(json[name])
            let codec = try #require(vector["compression"]?.stringValue.flatMap(BodyCompression.init(header:)))
            let data = try #require(vector["data_b64"]?.stringValue.flatMap { Data(base64Encoded: $0).map { [UInt8]($0) } })
            let plain = try #require(vector["plain_b64"]?.stringValue.flatMap { Data(base64Encoded: $0).map { [UInt8]($0) } })
            #expect(try BodyDecompressor.decompress(data, codec) == plain, "\(name)")
        }
    }

    // MARK: - Hostile and broken bodies

    @Test("a decompression bomb (1 GiB of zeros; zlib 128 MiB) stops at the limit and is counted, the rest kept",
          arguments: aliases)
    func bomb(alias: String) throws {
        let codec = try Self.codec(alias)
        let json = try JSONValue(parsing: Repository.bytes(Repository.fixture("compressed/bombs.json")))
        let vector = try #require(json[codec.contentType])
        let data = try #require(vector["data_b64"]?.stringValue.flatMap { Data(base64Encoded: $0).map { [UInt8]($0) } })
        #expect(vector["decompressed_size"]?.int64Value ?? 0 >= 128 << 20)
        // A 1 MiB limit keeps the test cheap (it runs again under TSan and ASan); the default limit behaves the same.
        let limit = 1 << 20
        do {
            let output = try BodyDecompressor.decompress(data, codec, limit: limit)
            Issue.record("a \(data.count)-byte bomb decompressed to \(output.count) bytes past the \(limit)-byte limit")
        } catch {
            #expect(error.reason == .tooLarge)
            #expect(error.detail.contains("\(limit)"))
        }
        try expectSkippedAmidCapture(alias: alias, body: data, header: .string(codec.contentType),
                                     reason: .compressionTooLarge, limit: limit)
    }

    /// Inserts one bad message (a copy of a compressed request with `body` and `header`) into the middle of the
    /// compressed capture: it is skipped under `reason`, counted once, and every other span is as without it.
    func expectSkippedAmidCapture(alias: String, body: [UInt8], header: AMQPValue, reason: SkipReason,
                                  limit: Int = BusEvent.defaultDecompressionLimit) throws {
        let events = try Self.events("compressed/a_boot.\(alias).jsonl")
        let clean = Self.replay(events, limit: limit)
        var bad = Self.compressed(events[0], body: body, header: header)
        bad.time = events[events.count / 2].time
        var mixed = events
        mixed.insert(bad, at: events.count / 2)
        let replayed = Self.replay(mixed, limit: limit)
        #expect(replayed.stats.skipped == [reason: 1], "\(replayed.stats.firstExample)")
        #expect(replayed.stats.firstExample[reason]?.isEmpty == false)
        #expect(replayed.spans == clean.spans)
    }

    @Test("truncated, corrupt, trailing and empty bodies are skipped as compression_corrupt", arguments: aliases)
    func corrupt(alias: String) throws {
        let codec = try Self.codec(alias)
        let record = try Self.records("compressed/a_boot.\(alias).jsonl")[0]
        let plainBody = try Self.records("a_boot.jsonl")[0].body
        let cases: [(String, [UInt8])] = [
            ("truncated", Array(record.body.dropLast(record.body.count / 3))),
            ("cut after the header", Array(record.body.prefix(3))),
            ("trailing bytes", record.body + Array("garbage".utf8)),
            ("plain JSON under the header", plainBody),
            ("empty", []),
        ]
        for (name, body) in cases {
            do {
                _ = try BodyDecompressor.decompress(body, codec)
                Issue.record("\(alias) \(name): decompressed")
            } catch {
                #expect(error.reason == .corrupt, "\(alias) \(name): \(error)")
                #expect(error.detail.contains(codec.contentType), "the detail names the codec: \(error.detail)")
            }
        }
        try expectSkippedAmidCapture(alias: alias, body: cases[0].1, header: .string(codec.contentType),
                                     reason: .compressionCorrupt)
    }

    @Test("decoders kept between bodies: after a truncated, damaged or too-large body the next one decodes exactly, also from several tasks at once",
          arguments: aliases)
    func pooledDecoders(alias: String) async throws {
        let codec = try Self.codec(alias)
        let plain = try Self.records("a_boot.jsonl").map(\.body)
        let compressed = try Self.records("compressed/a_boot.\(alias).jsonl").map(\.body)
        // Each body after a failure that leaves its decoder mid-stream: the decoder goes back to the pool that way,
        // and must be reset before the next body.
        for (index, body) in compressed.enumerated() {
            var bad = body
            var limit = BodyDecompressor.defaultLimit
            switch index % 3 {
            case 0: bad.removeLast(body.count / 2)
            case 1: bad[body.count / 2] ^= 0x55   // codecs without a checksum may still decode it: ignored
            default: limit = plain[index].count / 2
            }
            _ = try? BodyDecompressor.decompress(bad, codec, limit: limit)
            #expect(try BodyDecompressor.decompress(body, codec) == plain[index], "\(alias) body \(index)")
        }
        // Eight tasks at once, half of them failing a truncated body between good ones: no decoder is shared.
        try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var matched = 0
                    for (index, body) in compressed.enumerated() {
                        if task % 2 == 0 { _ = try? BodyDecompressor.decompress(Array(body.prefix(body.count / 2)), codec) }
                        if try BodyDecompressor.decompress(body, codec) == plain[index] { matched += 1 }
                    }
                    return matched
                }
            }
            for try await matched in group { #expect(matched == compressed.count, "\(alias): bodies decoded exactly") }
        }
    }

    @Test("the decoder pool keeps at most its capacity, hands back the most recent, destroys the rest and what it holds at the end")
    func decoderPool() {
        let destroyed = Locked<[Int]>([])
        do {
            let pool = DecoderPool<Int>(capacity: 2) { decoder in destroyed.withLock { $0.append(decoder) } }
            #expect(pool.take() == nil)
            pool.put(1)
            pool.put(2)
            pool.put(3)   // over capacity: destroyed at once
            #expect(destroyed.withLock { $0 } == [3])
            #expect(pool.idleCount == 2)
            #expect(pool.take() == 2)
            pool.put(4)
            #expect(pool.idleCount == 2)
        }
        #expect(destroyed.withLock { $0.sorted() } == [1, 3, 4], "the pool's deinit destroys the decoders it held")
    }

    @Test("an integrity check catches a flipped byte where the format has one (zlib adler32, bzip2 and xz CRC)",
          arguments: ["gzip", "bzip2", "xz"])
    func checksum(alias: String) throws {
        let codec = try Self.codec(alias)
        var body = try Self.records("compressed/a_boot.\(alias).jsonl")[0].body
        body[body.count - 6] ^= 0x55
        #expect(throws: DecompressionError.self) { try BodyDecompressor.decompress(body, codec) }
    }

    @Test("an unknown codec is skipped with a reason naming the header value")
    func unknownCodec() throws {
        let events = try Self.events("compressed/a_boot.gzip.jsonl")
        try expectSkippedAmidCapture(alias: "gzip", body: events[0].body, header: .string("application/x-snappy"),
                                     reason: .compressionUnknownCodec)
        let bad = Self.compressed(events[0], body: events[0].body, header: .string("bz2"))
        var pipeline = EventPipeline()
        _ = pipeline.process(event: bad, location: "line 7")
        let example = try #require(pipeline.stats.firstExample[.compressionUnknownCodec])
        #expect(example.contains("line 7") && example.contains("\"bz2\""), "\(example)")
        try expectSkippedAmidCapture(alias: "gzip", body: events[0].body, header: .integer(1, tag: UInt8(ascii: "I")),
                                     reason: .compressionUnknownCodec)
    }

    @Test("an empty compression header means a plain body, as for kombu's consumers")
    func emptyHeader() throws {
        let plain = try Self.events("a_boot.jsonl")
        let marked = plain.map { Self.compressed($0, body: $0.body, header: .string("")) }
        #expect(Self.replay(marked).spans == Self.replay(plain).spans)
        #expect(Self.replay(marked).stats.skipped.isEmpty)
    }

    @Test("a lower limit applies to every codec: the capture is then skipped as too large")
    func configuredLimit() throws {
        let events = try Self.events("compressed/a_boot.zstd.jsonl")
        let result = Self.replay(events, limit: 100)
        #expect(result.stats.skipped == [.compressionTooLarge: events.count])
    }

    @Test("tap mode: the compression header is the message's own")
    func tapMode() throws {
        let record = try Self.records("compressed/a_boot.gzip.jsonl")[0]
        let plain = try Self.records("a_boot.jsonl")[0]
        let firehose = try BusEvent(record: record)
        let tap = BusMessage(
            seq: 1, capturedAt: record.capturedAt, mode: .tap, exchange: firehose.exchange,
            routingKey: firehose.routingKey, redelivered: false, properties: firehose.properties,
            headers: try #require(firehose.properties.headers), body: record.body)
        let event = try BusEvent(record: tap)
        #expect(event.compressionHeader == .string("application/x-gzip"))
        #expect(try event.decodableBody() == plain.body)
    }
}
