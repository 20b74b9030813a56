/// A W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header).
///
/// Any flags byte is accepted: oslo.messaging emits `-03` (the level-2 random-trace-id flag) on SDK-rooted traces.
public struct TraceParent: Equatable, Hashable, Sendable {
    public var version: UInt8
    public var traceID: TraceID
    /// The sender's span: the parent of whatever the receiver does.
    public var parentID: SpanID
    public var flags: UInt8

    public init(version: UInt8 = 0, traceID: TraceID, parentID: SpanID, flags: UInt8) {
        self.version = version
        self.traceID = traceID
        self.parentID = parentID
        self.flags = flags
    }

    /// Parses a header value; nil when it is malformed (per the spec the receiver then starts a new trace).
    ///
    /// Rules: `version-traceid-parentid-flags`, lowercase hex; version `ff` is invalid; version `00` is exactly 55
    /// characters; a higher version may append `-<more>`; all-zero trace or parent IDs are invalid.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 55, utf8.count <= 512 else { return nil }
        func hexByte(_ at: Int) -> UInt8? {
            guard let high = lowerHex(utf8[at]), let low = lowerHex(utf8[at + 1]) else { return nil }
            return high << 4 | low
        }
        guard let version = hexByte(0), version != 0xFF, utf8[2] == UInt8(ascii: "-"),
            utf8[35] == UInt8(ascii: "-"), utf8[52] == UInt8(ascii: "-"), let flags = hexByte(53)
        else { return nil }
        if version == 0 {
            guard utf8.count == 55 else { return nil }
        } else if utf8.count > 55 {
            guard utf8[55] == UInt8(ascii: "-") else { return nil }
        }
        var trace = [UInt8](repeating: 0, count: 16)
        for index in 0..<16 {
            guard let byte = hexByte(3 + index * 2) else { return nil }
            trace[index] = byte
        }
        var parent = [UInt8](repeating: 0, count: 8)
        for index in 0..<8 {
            guard let byte = hexByte(36 + index * 2) else { return nil }
            parent[index] = byte
        }
        let traceID = TraceID(bytes: trace)
        let parentID = SpanID(bytes: parent)
        guard !traceID.isZero, !parentID.isZero else { return nil }
        self.init(version: version, traceID: traceID, parentID: parentID, flags: flags)
    }

    public var headerValue: String {
        "\(hex2(version))-\(traceID.hex)-\(parentID.hex)-\(hex2(flags))"
    }
}

/// W3C `tracestate` validation: at most 32 list members, at most 512 characters, each member `key=value` with the
/// spec's character sets. An invalid tracestate is dropped on its own; the traceparent stays.
public enum TraceState {
    public static func isValid(_ text: String) -> Bool {
        guard text.utf8.count <= 512 else { return false }
        var members = 0
        for rawMember in text.split(separator: ",", omittingEmptySubsequences: false) {
            let member = rawMember.trimmingSpacesAndTabs()
            if member.isEmpty { continue }
            members += 1
            guard members <= 32, let equals = member.firstIndex(of: "=") else { return false }
            let key = member[..<equals]
            let value = member[member.index(after: equals)...]
            guard !key.isEmpty, key.utf8.count <= 256, !value.isEmpty, value.utf8.count <= 256 else { return false }
            guard key.utf8.allSatisfy(isKeyByte), let first = key.utf8.first,
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) || isDigit(first)
            else { return false }
            guard value.utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "=") }),
                value.utf8.last != 0x20
            else { return false }
        }
        return true
    }

    private static func isKeyByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || isDigit(byte)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "*")
            || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "@")
    }
}

extension Substring {
    fileprivate func trimmingSpacesAndTabs() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}

@inline(__always)
func lowerHex(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    default: nil
    }
}

func hex2(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
}
