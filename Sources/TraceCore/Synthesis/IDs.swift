import Crypto

/// A 16-byte OpenTelemetry trace ID.
public struct TraceID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// From 16 bytes, big-endian (the wire order of W3C and OTLP).
    public init(bytes: some Collection<UInt8>) {
        precondition(bytes.count == 16, "a trace ID has 16 bytes")
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    /// From a UUID in any of its usual spellings (`req-` prefix, dashes, upper case): its 16 bytes.
    public init?(uuid text: some StringProtocol) {
        // Once or more per message (request IDs): the hex digits go straight into the two halves.
        var utf8 = Substring(text).utf8[...]
        if utf8.starts(with: "req-".utf8) { utf8 = utf8.dropFirst(4) }
        var high: UInt64 = 0
        var low: UInt64 = 0
        var digits = 0
        for byte in utf8 where byte != UInt8(ascii: "-") {
            guard let value = hexValue(byte), digits < 32 else { return nil }
            if digits < 16 { high = high << 4 | UInt64(value) } else { low = low << 4 | UInt64(value) }
            digits += 1
        }
        guard digits == 32 else { return nil }
        self.init(high: high, low: low)
    }

    public var isZero: Bool { high == 0 && low == 0 }
    public var bytes: [UInt8] { bigEndianBytes(high) + bigEndianBytes(low) }
    public var hex: String { hexString(bytes) }
    public var description: String { hex }

    public static func < (lhs: TraceID, rhs: TraceID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

/// An 8-byte OpenTelemetry span ID.
public struct SpanID: Hashable, Sendable, CustomStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    public init(bytes: some Collection<UInt8>) {
        precondition(bytes.count == 8, "a span ID has 8 bytes")
        var value: UInt64 = 0
        for byte in bytes { value = value << 8 | UInt64(byte) }
        self.value = value
    }

    public var isZero: Bool { value == 0 }
    public var bytes: [UInt8] { bigEndianBytes(value) }
    public var hex: String { hexString(bytes) }
    public var description: String { hex }
}

/// The deterministic span ID scheme: part of the wire contract between agents (docs/synthesis.md, "Span IDs").
///
/// `SpanID = first 8 bytes of SHA-256( role 0x1F identity [0x1F queue [0x1F connection 0x1F channel]] )`, UTF-8,
/// where role is one of `send`, `receive`, `call`, `process`, and identity is the message's `_unique_id`, else its
/// `message_id`, else a hash of exchange, routing key and body. The consumer's broker connection name and channel
/// number are added for deliveries from a stream queue only (scheme v2), where every listener reads the same queue.
/// An all-zero result is replaced by `SpanIDScheme.zeroReplacement`. Two agents that see the same message (control
/// plane and hypervisor, a redelivery, a replay) derive the same IDs, so a consumer span names its producer span as
/// parent without any shared state.
public enum SpanIDScheme {
    public enum Role: String, Sendable {
        case send
        case receive
        case call
        case process
    }

    /// Replaces an all-zero hash (invalid in OTLP); fixed so every agent agrees.
    public static let zeroReplacement = SpanID(0x7472_6163_6562_7264)  // "tracebrd"

    /// The consumer a delivery from a shared (stream) queue went to, as the firehose deliver event names it: the
    /// broker's name of the consumer's connection and the channel number. The broker generates both, so every
    /// agent that sees the delivery (whatever it binds) derives the same ID.
    public struct Consumer: Hashable, Sendable {
        public var connection: String
        public var channel: Int64?

        public init(connection: String, channel: Int64?) {
            self.connection = connection
            self.channel = channel
        }
    }

    /// `consumer` only for deliveries from a stream queue (scheme v2); classic and quorum queues keep the v1 IDs.
    public static func spanID(role: Role, identity: String, queue: String? = nil, consumer: Consumer? = nil) -> SpanID {
        // Several per message: the pieces go to the hash in place, and the ID is read off the digest directly.
        var hasher = SHA256()
        update(&hasher, role.rawValue)
        update(&hasher, separator)
        update(&hasher, identity)
        if let queue {
            update(&hasher, separator)
            update(&hasher, queue)
            if let consumer {
                update(&hasher, separator)
                update(&hasher, consumer.connection)
                update(&hasher, separator)
                // Decimal; empty when the deliver event had no `channel` header.
                update(&hasher, consumer.channel.map { String($0) } ?? "")
            }
        }
        let id = SpanID(hasher.finalize().withUnsafeBytes { UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) })
        return id.isZero ? zeroReplacement : id
    }

    private static let separator = "\u{1F}"

    @inline(__always)
    private static func update(_ hasher: inout SHA256, _ text: String) {
        var text = text
        text.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
    }

    /// The identity of a message without `_unique_id` or `message_id`: hex SHA-256 of exchange 0x1F routing key
    /// 0x1F body, so the publish and every delivery of the same bytes agree.
    public static func contentIdentity(exchange: String, routingKey: String, body: [UInt8]) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(exchange.utf8) + [0x1F] + Array(routingKey.utf8) + [0x1F])
        hasher.update(data: body)
        return "sha256:" + hexString(Array(hasher.finalize()))
    }

    /// The trace ID of a message that carries no trace context and no request ID: the first 16 bytes of
    /// SHA-256("trace" 0x1F identity).
    public static func traceID(identity: String) -> TraceID {
        var hasher = SHA256()
        update(&hasher, "trace")
        update(&hasher, separator)
        update(&hasher, identity)
        let id = hasher.finalize().withUnsafeBytes { digest in
            TraceID(high: UInt64(bigEndian: digest.loadUnaligned(as: UInt64.self)),
                    low: UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
        return id.isZero ? TraceID(high: 0, low: zeroReplacement.value) : id
    }
}

func bigEndianBytes(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
}

func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// The 16 bytes of a UUID written as 32 hex digits, with or without dashes and a `req-` prefix; nil otherwise.
func uuidBytes(_ text: some StringProtocol) -> [UInt8]? {
    var hex: [UInt8] = []
    hex.reserveCapacity(32)
    var utf8 = Substring(text).utf8[...]
    if utf8.starts(with: "req-".utf8) { utf8 = utf8.dropFirst(4) }
    for byte in utf8 where byte != UInt8(ascii: "-") {
        guard let value = hexValue(byte), hex.count < 32 else { return nil }
        hex.append(value)
    }
    guard hex.count == 32 else { return nil }
    return (0..<16).map { hex[2 * $0] << 4 | hex[2 * $0 + 1] }
}
