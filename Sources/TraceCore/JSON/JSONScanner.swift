/// Why a JSON text could not be read. `reason` strings are stable: they label decode-failure counters.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case unexpectedEnd = "json_unexpected_end"
        case unexpectedByte = "json_unexpected_byte"
        case invalidEscape = "json_invalid_escape"
        case invalidUTF8 = "json_invalid_utf8"
        case invalidNumber = "json_invalid_number"
        case tooDeep = "json_too_deep"
        case trailingData = "json_trailing_data"
    }

    public var code: Code
    /// Byte offset where reading stopped.
    public var offset: Int

    public var description: String { "\(code.rawValue) at byte \(offset)" }
}

/// A forward-only reader over one JSON text that can skip values without building them.
///
/// oslo.messaging bodies are mostly `args` and `_context_service_catalog`, which the agent never needs, so the
/// decoder walks the members of an object and materializes only the few it reads. Skipping is iterative, so a
/// hostile 10k-deep nesting costs a counter, not the stack; building a `JSONValue` is depth-limited.
public struct JSONScanner {
    public let bytes: [UInt8]
    public private(set) var offset: Int

    /// The deepest nesting `parseValue()` builds; deeper input fails with `.tooDeep` instead of exhausting the stack.
    public static let maximumDepth = 128

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    // MARK: Bytes

    @inline(__always)
    mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x0A, 0x0D, 0x09: offset += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, not consumed.
    public mutating func peek() -> UInt8? {
        skipWhitespace()
        return offset < bytes.count ? bytes[offset] : nil
    }

    func error(_ code: JSONError.Code) -> JSONError { JSONError(code: code, offset: offset) }

    mutating func expect(_ byte: UInt8) throws(JSONError) {
        skipWhitespace()
        guard offset < bytes.count else { throw error(.unexpectedEnd) }
        guard bytes[offset] == byte else { throw error(.unexpectedByte) }
        offset += 1
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONError) {
        let count = literal.utf8CodeUnitCount
        guard offset + count <= bytes.count else { throw error(.unexpectedEnd) }
        let matches = literal.withUTF8Buffer { expected in
            for index in 0..<count where bytes[offset + index] != expected[index] { return false }
            return true
        }
        guard matches else { throw error(.unexpectedByte) }
        offset += count
    }

    /// Fails unless only whitespace is left.
    public mutating func expectEnd() throws(JSONError) {
        skipWhitespace()
        guard offset == bytes.count else { throw error(.trailingData) }
    }

    // MARK: Objects

    /// Walks the members of the object at the cursor. `body` gets each key and must consume exactly that member's
    /// value (read, parse or skip it).
    public mutating func readObject(
        _ body: (_ key: String, _ scanner: inout JSONScanner) throws(JSONError) -> Void
    ) throws(JSONError) {
        try expect(UInt8(ascii: "{"))
        if peek() == UInt8(ascii: "}") {
            offset += 1
            return
        }
        while true {
            skipWhitespace()
            let key = try readString()
            try expect(UInt8(ascii: ":"))
            try body(key, &self)
            skipWhitespace()
            guard offset < bytes.count else { throw error(.unexpectedEnd) }
            switch bytes[offset] {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "}"): offset += 1; return
            default: throw error(.unexpectedByte)
            }
        }
    }

    /// True (and consumed) when the value at the cursor is `null`.
    public mutating func readNull() throws(JSONError) -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try expectLiteral("null")
        return true
    }

    // MARK: Scalars

    /// Reads a string value, unescaped and validated as UTF-8.
    public mutating func readString() throws(JSONError) -> String {
        let raw = try readStringBytes()
        guard let string = String(validating: raw, as: UTF8.self) else { throw error(.invalidUTF8) }
        return string
    }

    /// Reads a string value as its unescaped bytes (for a JSON document embedded in a string).
    public mutating func readStringBytes() throws(JSONError) -> [UInt8] {
        try expect(UInt8(ascii: "\""))
        let start = offset
        // Fast path: no escapes.
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                let result = Array(bytes[start..<offset])
                offset += 1
                return result
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error(.unexpectedByte) }
            offset += 1
        }
        // Escapes: copy the runs between them in bulk (an oslo.message string is kilobytes of escaped JSON).
        var result: [UInt8] = []
        result.reserveCapacity(offset - start + min(bytes.count - offset, 1 << 16))
        result.append(contentsOf: bytes[start..<offset])
        while offset < bytes.count {
            var runEnd = offset
            while runEnd < bytes.count {
                let byte = bytes[runEnd]
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                runEnd += 1
            }
            if runEnd > offset {
                result.append(contentsOf: bytes[offset..<runEnd])
                offset = runEnd
                continue
            }
            let byte = bytes[offset]
            switch byte {
            case UInt8(ascii: "\""):
                offset += 1
                return result
            case UInt8(ascii: "\\"):
                offset += 1
                guard offset < bytes.count else { throw error(.unexpectedEnd) }
                let escaped = bytes[offset]
                offset += 1
                switch escaped {
                case UInt8(ascii: "\""): result.append(0x22)
                case UInt8(ascii: "\\"): result.append(0x5C)
                case UInt8(ascii: "/"): result.append(0x2F)
                case UInt8(ascii: "b"): result.append(0x08)
                case UInt8(ascii: "f"): result.append(0x0C)
                case UInt8(ascii: "n"): result.append(0x0A)
                case UInt8(ascii: "r"): result.append(0x0D)
                case UInt8(ascii: "t"): result.append(0x09)
                case UInt8(ascii: "u"): try appendUnicodeEscape(to: &result)
                default: throw error(.invalidEscape)
                }
            default:
                if byte < 0x20 { throw error(.unexpectedByte) }
                result.append(byte)
                offset += 1
            }
        }
        throw error(.unexpectedEnd)
    }

    private mutating func readHex4() throws(JSONError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw error(.unexpectedEnd) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = hexValue(bytes[offset]) else { throw error(.invalidEscape) }
            value = value << 4 | UInt32(digit)
            offset += 1
        }
        return value
    }

    private mutating func appendUnicodeEscape(to result: inout [UInt8]) throws(JSONError) {
        var scalar = try readHex4()
        if (0xD800...0xDBFF).contains(scalar) {
            // A high surrogate must be followed by an escaped low surrogate.
            guard offset + 2 <= bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u")
            else { throw error(.invalidEscape) }
            offset += 2
            let low = try readHex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw error(.invalidEscape) }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(scalar) {
            throw error(.invalidEscape)
        }
        guard let unicode = Unicode.Scalar(scalar) else { throw error(.invalidEscape) }
        result.append(contentsOf: UTF8.encode(unicode)!)
    }

    /// Reads a number token as its exact text (so nanosecond timestamps keep every digit).
    public mutating func readNumberText() throws(JSONError) -> String {
        skipWhitespace()
        let start = offset
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        let integerStart = offset
        while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
        guard offset > integerStart else { throw error(.invalidNumber) }
        if bytes[integerStart] == UInt8(ascii: "0"), offset - integerStart > 1 { throw error(.invalidNumber) }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            let fractionStart = offset
            while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
            guard offset > fractionStart else { throw error(.invalidNumber) }
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E") {
            offset += 1
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") {
                offset += 1
            }
            let exponentStart = offset
            while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
            guard offset > exponentStart else { throw error(.invalidNumber) }
        }
        return String(decoding: bytes[start..<offset], as: UTF8.self)
    }

    /// Reads `true` or `false`.
    public mutating func readBool() throws(JSONError) -> Bool {
        switch peek() {
        case UInt8(ascii: "t"): try expectLiteral("true"); return true
        case UInt8(ascii: "f"): try expectLiteral("false"); return false
        case nil: throw error(.unexpectedEnd)
        default: throw error(.unexpectedByte)
        }
    }

    // MARK: Whole values

    /// Skips one value of any kind without building it. Iterative: nesting depth costs no call stack.
    public mutating func skipValue() throws(JSONError) {
        var open: [Bool] = []  // one entry per open container: true for an object
        while true {
            guard let byte = peek() else { throw error(.unexpectedEnd) }
            switch byte {
            case UInt8(ascii: "{"):
                offset += 1
                if peek() == UInt8(ascii: "}") {
                    offset += 1
                } else {
                    open.append(true)
                    try skipStringBody()
                    try expect(UInt8(ascii: ":"))
                    continue
                }
            case UInt8(ascii: "["):
                offset += 1
                if peek() == UInt8(ascii: "]") {
                    offset += 1
                } else {
                    open.append(false)
                    continue
                }
            case UInt8(ascii: "\""): try skipStringBody()
            case UInt8(ascii: "t"): try expectLiteral("true")
            case UInt8(ascii: "f"): try expectLiteral("false")
            case UInt8(ascii: "n"): try expectLiteral("null")
            default: _ = try readNumberText()
            }
            // A value is complete: close containers until a separator announces the next value.
            while let isObject = open.last {
                guard let next = peek() else { throw error(.unexpectedEnd) }
                offset += 1
                if next == UInt8(ascii: ",") {
                    if isObject {
                        try skipStringBody()
                        try expect(UInt8(ascii: ":"))
                    }
                    break
                }
                guard next == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
                    offset -= 1
                    throw error(.unexpectedByte)
                }
                open.removeLast()
            }
            if open.isEmpty { return }
        }
    }

    private mutating func skipStringBody() throws(JSONError) {
        try expect(UInt8(ascii: "\""))
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                offset += 1
                return
            }
            if byte == UInt8(ascii: "\\") {
                offset += 2
                continue
            }
            if byte < 0x20 { throw error(.unexpectedByte) }
            offset += 1
        }
        throw error(.unexpectedEnd)
    }

    /// Builds the value at the cursor (depth-limited by `maximumDepth`).
    public mutating func parseValue() throws(JSONError) -> JSONValue {
        try parseValue(depth: 0)
    }

    private mutating func parseValue(depth: Int) throws(JSONError) -> JSONValue {
        guard depth < Self.maximumDepth else { throw error(.tooDeep) }
        guard let byte = peek() else { throw error(.unexpectedEnd) }
        switch byte {
        case UInt8(ascii: "{"):
            var members: [JSONMember] = []
            try readObject { (key, scanner) throws(JSONError) in
                members.append(JSONMember(key: key, value: try scanner.parseValue(depth: depth + 1)))
            }
            return .object(members)
        case UInt8(ascii: "["):
            offset += 1
            var elements: [JSONValue] = []
            if peek() == UInt8(ascii: "]") {
                offset += 1
                return .array(elements)
            }
            while true {
                elements.append(try parseValue(depth: depth + 1))
                guard let next = peek() else { throw error(.unexpectedEnd) }
                offset += 1
                if next == UInt8(ascii: "]") { return .array(elements) }
                guard next == UInt8(ascii: ",") else {
                    offset -= 1
                    throw error(.unexpectedByte)
                }
            }
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool(try readBool())
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        default:
            return .number(try readNumberText())
        }
    }
}

@inline(__always)
func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

@inline(__always)
func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
