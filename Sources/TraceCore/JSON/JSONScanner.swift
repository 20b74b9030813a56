#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
///
/// This is the agent's hot path (every byte of every message passes through it), so it reads through an unsafe
/// buffer pointer that is only valid inside `scan` (no array retain/release or bounds check per byte), finds the
/// end of a string eight bytes at a time, and hands object keys to the caller as a view of the document's bytes
/// (`JSONKey`) instead of a new `String` each.
public struct JSONScanner {
    /// The document; valid only inside the `scan` call that made this scanner.
    @usableFromInline let buffer: UnsafeBufferPointer<UInt8>
    public internal(set) var offset: Int
    /// The document is the content of a JSON string, read without unescaping it (`readEmbeddedDocument`): `\"` is its
    /// quote, and a raw `"` ends it.
    @usableFromInline let escaped: Bool

    /// The deepest nesting `parseValue()` builds; deeper input fails with `.tooDeep` instead of exhausting the stack.
    public static let maximumDepth = 128

    @usableFromInline init(buffer: UnsafeBufferPointer<UInt8>, offset: Int = 0, escaped: Bool = false) {
        self.buffer = buffer
        self.offset = offset
        self.escaped = escaped
    }

    /// Runs `body` with a scanner over `bytes`. The scanner must not escape `body`.
    @inlinable
    public static func scan<R, E: Error>(_ bytes: [UInt8], _ body: (inout JSONScanner) throws(E) -> R) throws(E) -> R {
        try bytes.withUnsafeBufferPointer { (buffer) throws(E) -> R in
            var scanner = JSONScanner(buffer: buffer)
            return try body(&scanner)
        }
    }

    /// Runs `body` with a scanner over memory the caller keeps valid for the call.
    @inlinable
    public static func scan<R, E: Error>(
        _ buffer: UnsafeBufferPointer<UInt8>, _ body: (inout JSONScanner) throws(E) -> R
    ) throws(E) -> R {
        var scanner = JSONScanner(buffer: buffer)
        return try body(&scanner)
    }

    var count: Int { buffer.count }

    // MARK: Bytes

    @inline(__always)
    mutating func skipWhitespace() {
        while offset < count {
            switch buffer[offset] {
            case 0x20: offset += 1
            // Escaped, a raw line break or tab is not whitespace of the document but a control byte of the string
            // that holds it, which ends the read (the unescaping path then reports it).
            case 0x0A, 0x0D, 0x09:
                if escaped { return }
                offset += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, not consumed (escaped: `"` for `\"`, nil at the raw quote that ends the document).
    public mutating func peek() -> UInt8? {
        skipWhitespace()
        guard offset < count else { return nil }
        let byte = buffer[offset]
        if escaped, byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            let (decoded, width) = escapedByte(at: offset)
            return width == 0 ? nil : decoded
        }
        return byte
    }

    func error(_ code: JSONError.Code) -> JSONError { JSONError(code: code, offset: offset) }

    @inline(__always)
    mutating func expect(_ byte: UInt8) throws(JSONError) {
        skipWhitespace()
        guard offset < count else { throw error(.unexpectedEnd) }
        guard buffer[offset] == byte else { throw error(.unexpectedByte) }
        offset += 1
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONError) {
        let length = literal.utf8CodeUnitCount
        guard offset + length <= count else { throw error(.unexpectedEnd) }
        let start = offset
        let matches = literal.withUTF8Buffer { expected in
            for index in 0..<length where buffer[start + index] != expected[index] { return false }
            return true
        }
        guard matches else { throw error(.unexpectedByte) }
        offset += length
    }

    /// Fails unless only whitespace is left (escaped: before the raw quote that ends the string holding the document).
    public mutating func expectEnd() throws(JSONError) {
        skipWhitespace()
        if escaped {
            guard offset < count, buffer[offset] == UInt8(ascii: "\"") else { throw error(.trailingData) }
            return
        }
        guard offset == count else { throw error(.trailingData) }
    }

    /// The index of the first byte at or after `start` that ends a run of plain string content (`"`, `\` or a
    /// control byte), or `count`. Eight bytes per step (`plainBytes`).
    @inline(__always)
    func endOfPlainRun(from start: Int) -> Int {
        var index = start
        if let base = buffer.baseAddress {
            let raw = UnsafeRawPointer(base)
            while index + 8 <= count {
                let plain = Self.plainBytes(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
                if plain < 8 { return index + plain }
                index += 8
            }
        }
        while index < count {
            let byte = buffer[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { return index }
            index += 1
        }
        return count
    }

    /// How many of the eight bytes of `word` (first byte lowest) come before the first `"`, `\` or control byte:
    /// 8 when none does. Each test flags a byte's top bit where it holds, and the lowest flag is exact (borrows only
    /// ever flag bytes above a real match).
    @inline(__always)
    static func plainBytes(_ word: UInt64) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let flags = ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash | (word &- ones &* 0x20) & ~word)
            & 0x8080_8080_8080_8080
        return flags.trailingZeroBitCount >> 3
    }

    // MARK: Objects

    /// Walks the members of the object at the cursor. `body` gets each key and must consume exactly that member's
    /// value (read, parse or skip it).
    public mutating func readObject(
        _ body: (_ key: JSONKey, _ scanner: inout JSONScanner) throws(JSONError) -> Void
    ) throws(JSONError) {
        try expect(UInt8(ascii: "{"))
        if peek() == UInt8(ascii: "}") {
            offset += 1
            return
        }
        while true {
            skipWhitespace()
            let key = try readKey()
            try expect(UInt8(ascii: ":"))
            try body(key, &self)
            skipWhitespace()
            guard offset < count else { throw error(.unexpectedEnd) }
            switch buffer[offset] {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "}"): offset += 1; return
            default: throw error(.unexpectedByte)
            }
        }
    }

    /// An object key: a view of the document's bytes when it has no escapes (nearly always), else its unescaped copy.
    mutating func readKey() throws(JSONError) -> JSONKey {
        if escaped { return try readEscapedKey() }
        try expect(UInt8(ascii: "\""))
        let start = offset
        let end = endOfPlainRun(from: start)
        if end < count, buffer[end] == UInt8(ascii: "\"") {
            let raw = UnsafeBufferPointer(rebasing: buffer[start..<end])
            if !Self.isASCII(raw), String(validating: raw, as: UTF8.self) == nil { throw error(.invalidUTF8) }
            offset = end + 1
            return JSONKey(raw: raw, unescaped: nil)
        }
        offset = start - 1
        let unescaped = try readStringBytes()
        guard unescaped.withUnsafeBufferPointer(Self.string) != nil else { throw error(.invalidUTF8) }
        return JSONKey(raw: UnsafeBufferPointer(start: nil, count: 0), unescaped: unescaped)
    }

    @inline(__always)
    static func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String? { UTF8Text.string(bytes) }

    @inline(__always)
    static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool { UTF8Text.isASCII(bytes) }

    /// True (and consumed) when the value at the cursor is `null`.
    public mutating func readNull() throws(JSONError) -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try expectLiteral("null")
        return true
    }

    // MARK: Scalars

    /// Reads a string value, unescaped and validated as UTF-8.
    public mutating func readString() throws(JSONError) -> String {
        if escaped { return try readEscapedString() }
        try expect(UInt8(ascii: "\""))
        let start = offset
        let end = endOfPlainRun(from: start)
        if end < count, buffer[end] == UInt8(ascii: "\"") {
            guard let string = Self.string(UnsafeBufferPointer(rebasing: buffer[start..<end])) else {
                throw error(.invalidUTF8)
            }
            offset = end + 1
            return string
        }
        offset = start - 1
        let raw = try readStringBytes()
        guard let string = raw.withUnsafeBufferPointer(Self.string) else { throw error(.invalidUTF8) }
        return string
    }

    /// Reads a string value and lends its unescaped bytes to `body`: a view of the document itself when the string
    /// has no escapes (a base64 body, say), so nothing is copied.
    public mutating func withStringBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) throws(JSONError) -> R {
        if escaped { return try withEscapedStringBytes(body) }
        try expect(UInt8(ascii: "\""))
        let start = offset
        let end = endOfPlainRun(from: start)
        if end < count, buffer[end] == UInt8(ascii: "\"") {
            offset = end + 1
            return body(UnsafeBufferPointer(rebasing: buffer[start..<end]))
        }
        offset = start - 1
        return try readStringBytes().withUnsafeBufferPointer(body)
    }

    /// Reads a string value as its unescaped bytes (for a JSON document embedded in a string, like `oslo.message`).
    ///
    /// One pass: the result is allocated once with room for the rest of the document (a string's unescaped bytes are
    /// never more than its escaped ones), the plain runs between escapes are copied in bulk, and the closing quote
    /// ends it. Only past 1 MiB of remaining document does it first find the end, so as not to over-allocate.
    public mutating func readStringBytes() throws(JSONError) -> [UInt8] {
        if escaped { return try readEscapedStringBytes() }
        try expect(UInt8(ascii: "\""))
        let start = offset
        let firstEnd = endOfPlainRun(from: start)
        if firstEnd < count, buffer[firstEnd] == UInt8(ascii: "\"") {
            offset = firstEnd + 1
            return Array(buffer[start..<firstEnd])
        }
        var capacity = count - start
        if capacity > 1 << 20 {
            var end = firstEnd
            while end < count, buffer[end] == UInt8(ascii: "\\") { end = endOfPlainRun(from: end + 2) }
            capacity = min(end, count) - start
        }
        var failure: JSONError?
        var end = count
        let result = [UInt8](unsafeUninitializedCapacity: capacity) { output, initialized in
            var written = 0
            var index = start
            func fail(_ code: JSONError.Code, at offset: Int) {
                failure = JSONError(code: code, offset: offset)
                initialized = written
            }
            while true {
                let runEnd = endOfPlainRun(from: index)
                let run = runEnd - index
                if run > 0 {
                    guard written + run <= capacity else { return fail(.unexpectedEnd, at: count) }
                    output.baseAddress!.advanced(by: written).initialize(from: buffer.baseAddress! + index, count: run)
                    written += run
                    index = runEnd
                }
                guard index < count else { return fail(.unexpectedEnd, at: count) }
                let byte = buffer[index]
                if byte == UInt8(ascii: "\"") {
                    end = index
                    initialized = written
                    return
                }
                guard byte == UInt8(ascii: "\\") else { return fail(.unexpectedByte, at: index) }
                guard index + 1 < count, written < capacity else { return fail(.unexpectedEnd, at: count) }
                let escapeByte = buffer[index + 1]
                index += 2
                let decoded: UInt8
                switch escapeByte {
                case UInt8(ascii: "\""): decoded = 0x22
                case UInt8(ascii: "\\"): decoded = 0x5C
                case UInt8(ascii: "/"): decoded = 0x2F
                case UInt8(ascii: "b"): decoded = 0x08
                case UInt8(ascii: "f"): decoded = 0x0C
                case UInt8(ascii: "n"): decoded = 0x0A
                case UInt8(ascii: "r"): decoded = 0x0D
                case UInt8(ascii: "t"): decoded = 0x09
                case UInt8(ascii: "u"):
                    // Six escaped bytes become at most three (a surrogate pair: twelve become four).
                    guard let (scalar, consumed) = Self.unicodeEscape(buffer, at: index, end: count) else {
                        return fail(.invalidEscape, at: index)
                    }
                    for byte in UTF8.encode(scalar)! {
                        output[written] = byte
                        written += 1
                    }
                    index += consumed
                    continue
                default:
                    return fail(.invalidEscape, at: index - 1)
                }
                output[written] = decoded
                written += 1
            }
        }
        if let failure {
            offset = failure.offset
            throw failure
        }
        offset = end + 1
        return result
    }

    /// Decodes the four hex digits at `index` (after `\u`), and a following `\uXXXX` low surrogate when the first is
    /// a high one: the scalar and how many bytes after `index` it used; nil when the escape is invalid.
    private static func unicodeEscape(
        _ buffer: UnsafeBufferPointer<UInt8>, at index: Int, end: Int
    ) -> (scalar: Unicode.Scalar, consumed: Int)? {
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= end else { return nil }
            var value: UInt32 = 0
            for offset in at..<at + 4 {
                guard let digit = hexValue(buffer[offset]) else { return nil }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        guard var scalar = hex4(index) else { return nil }
        var consumed = 4
        if (0xD800...0xDBFF).contains(scalar) {
            // A high surrogate must be followed by an escaped low surrogate.
            guard index + 6 <= end, buffer[index + 4] == UInt8(ascii: "\\"), buffer[index + 5] == UInt8(ascii: "u"),
                let low = hex4(index + 6), (0xDC00...0xDFFF).contains(low)
            else { return nil }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            consumed = 10
        } else if (0xDC00...0xDFFF).contains(scalar) {
            return nil
        }
        guard let unicode = Unicode.Scalar(scalar) else { return nil }
        return (unicode, consumed)
    }

    /// Reads a number token as its exact text (so nanosecond timestamps keep every digit).
    public mutating func readNumberText() throws(JSONError) -> String {
        let range = try readNumberRange()
        return String(decoding: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self)
    }

    /// Reads a number token as an integer: nil (the token consumed) when it has a fraction or an exponent or does not
    /// fit an `Int64`, as `Int64(text)` would say of its text, without making the text.
    mutating func readInteger() throws(JSONError) -> Int64? {
        let range = try readNumberRange()
        var index = range.lowerBound
        let negative = buffer[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        var value: Int64 = 0
        while index < range.upperBound {
            let byte = buffer[index]
            guard isDigit(byte) else { return nil }
            let digit = Int64(byte - UInt8(ascii: "0"))
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !overflow, !overflow2 else { return nil }
            value = next
            index += 1
        }
        return value
    }

    private mutating func readNumberRange() throws(JSONError) -> Range<Int> {
        skipWhitespace()
        let start = offset
        if offset < count, buffer[offset] == UInt8(ascii: "-") { offset += 1 }
        let integerStart = offset
        while offset < count, isDigit(buffer[offset]) { offset += 1 }
        guard offset > integerStart else { throw error(.invalidNumber) }
        if buffer[integerStart] == UInt8(ascii: "0"), offset - integerStart > 1 { throw error(.invalidNumber) }
        if offset < count, buffer[offset] == UInt8(ascii: ".") {
            offset += 1
            let fractionStart = offset
            while offset < count, isDigit(buffer[offset]) { offset += 1 }
            guard offset > fractionStart else { throw error(.invalidNumber) }
        }
        if offset < count, buffer[offset] == UInt8(ascii: "e") || buffer[offset] == UInt8(ascii: "E") {
            offset += 1
            if offset < count, buffer[offset] == UInt8(ascii: "+") || buffer[offset] == UInt8(ascii: "-") {
                offset += 1
            }
            let exponentStart = offset
            while offset < count, isDigit(buffer[offset]) { offset += 1 }
            guard offset > exponentStart else { throw error(.invalidNumber) }
        }
        return start..<offset
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

    /// Skips one value of any kind without building it. Iterative: nesting depth costs no call stack. The open
    /// containers live in a 64-bit stack (1 = object), spilling to an array only past 64 levels.
    public mutating func skipValue() throws(JSONError) {
        var depth = 0
        var kinds: UInt64 = 0
        var spilled: [Bool] = []
        func isObject(_ depth: Int) -> Bool {
            depth <= 64 ? kinds >> UInt64(depth - 1) & 1 == 1 : spilled[depth - 65]
        }
        func push(_ object: Bool) {
            depth += 1
            if depth <= 64 {
                if object { kinds |= 1 << UInt64(depth - 1) } else { kinds &= ~(1 << UInt64(depth - 1)) }
            } else {
                spilled.append(object)
            }
        }
        func pop() {
            if depth > 64 { spilled.removeLast() }
            depth -= 1
        }
        while true {
            guard let byte = peek() else { throw error(.unexpectedEnd) }
            switch byte {
            case UInt8(ascii: "{"):
                offset += 1
                if peek() == UInt8(ascii: "}") {
                    offset += 1
                } else {
                    push(true)
                    try skipStringBody()
                    try expect(UInt8(ascii: ":"))
                    continue
                }
            case UInt8(ascii: "["):
                offset += 1
                if peek() == UInt8(ascii: "]") {
                    offset += 1
                } else {
                    push(false)
                    continue
                }
            case UInt8(ascii: "\""): try skipStringBody()
            case UInt8(ascii: "t"): try expectLiteral("true")
            case UInt8(ascii: "f"): try expectLiteral("false")
            case UInt8(ascii: "n"): try expectLiteral("null")
            default: _ = try readNumberRange()
            }
            // A value is complete: close containers until a separator announces the next value.
            while depth > 0 {
                let object = isObject(depth)
                guard let next = peek() else { throw error(.unexpectedEnd) }
                offset += 1
                if next == UInt8(ascii: ",") {
                    if object {
                        try skipStringBody()
                        try expect(UInt8(ascii: ":"))
                    }
                    break
                }
                guard next == (object ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
                    offset -= 1
                    throw error(.unexpectedByte)
                }
                pop()
            }
            if depth == 0 { return }
        }
    }

    private mutating func skipStringBody() throws(JSONError) {
        if escaped { return try skipEscapedStringBody() }
        try expect(UInt8(ascii: "\""))
        while true {
            offset = endOfPlainRun(from: offset)
            guard offset < count else { throw error(.unexpectedEnd) }
            switch buffer[offset] {
            case UInt8(ascii: "\""):
                offset += 1
                return
            case UInt8(ascii: "\\"):
                offset += 2
            default:
                throw error(.unexpectedByte)
            }
        }
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
                members.append(JSONMember(key: key.string, value: try scanner.parseValue(depth: depth + 1)))
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

/// An object key as `readObject` hands it over: compared against literals without building a `String`
/// (`switch key { case "method": ... }`), or turned into one with `string`. Valid only inside the member's callback.
public struct JSONKey {
    let raw: UnsafeBufferPointer<UInt8>
    let unescaped: [UInt8]?

    /// The key as a `String` (validated UTF-8 when it was read).
    public var string: String {
        if let unescaped { return String(decoding: unescaped, as: UTF8.self) }
        return String(decoding: raw, as: UTF8.self)
    }

    @inline(__always)
    func equals(_ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { expected in
            if let unescaped { return unescaped.elementsEqual(expected) }
            guard raw.count == expected.count else { return false }
            guard let base = raw.baseAddress, let other = expected.baseAddress else { return true }
            return memcmp(base, other, raw.count) == 0
        }
    }

    /// Only ASCII bytes (as read).
    var isASCII: Bool {
        if let unescaped { return unescaped.withUnsafeBufferPointer(UTF8Text.isASCII) }
        return UTF8Text.isASCII(raw)
    }

    /// The same key bytes as `other` (both as read: the unescaped bytes when there were escapes).
    func sameBytes(as other: JSONKey) -> Bool {
        func withBytes<R>(_ key: JSONKey, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
            if let unescaped = key.unescaped { return unescaped.withUnsafeBufferPointer(body) }
            return body(key.raw)
        }
        return withBytes(self) { mine in
            withBytes(other) { theirs in
                guard mine.count == theirs.count else { return false }
                guard let a = mine.baseAddress, let b = theirs.baseAddress else { return true }
                return memcmp(a, b, mine.count) == 0
            }
        }
    }

    public static func == (key: JSONKey, literal: StaticString) -> Bool { key.equals(literal) }

    public static func ~= (literal: StaticString, key: JSONKey) -> Bool { key.equals(literal) }
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
