/// Reading a JSON document that is the content of a JSON string without unescaping it first.
///
/// oslo.messaging sends every message as `{"oslo.version": "2.0", "oslo.message": "<the message as a JSON string>"}`,
/// so the message is escaped once more: its quotes are `\"`, its own escapes `\\\"` and `\\\\`. Unescaping it into a
/// buffer and walking that was a third of the decoder's time (a copy of ~5 KB per message, and a second pass over the
/// same bytes, bound by one unpredictable branch per escaped quote). In escaped mode the scanner walks the string's
/// bytes as they lie: `\"` is the quote, `\\` the backslash, `\/` the slash, a raw `"` ends the document.
///
/// It reads only what Python's `json.dumps` writes (`ensure_ascii`, no line breaks: those three escapes and plain
/// bytes). Any other escape (`\uXXXX`, `\n`) or any error throws, and the caller falls back to unescaping: so what the
/// escaped read accepts, it reads exactly as the unescaping path would, and everything else gets that path's answer
/// and error. `OsloDecoder` relies on this; the Oslo fuzzer and `EscapedReadingTests` compare the two on every body.
extension JSONScanner {
    /// Runs `body` with an escaped-mode scanner over the string at the cursor, which must hold one JSON document and
    /// nothing after it but spaces; consumes the string.
    public mutating func readEmbeddedDocument<R>(
        _ body: (inout JSONScanner) throws(JSONError) -> R
    ) throws(JSONError) -> R {
        try expect(UInt8(ascii: "\""))
        var inner = JSONScanner(buffer: buffer, offset: offset, escaped: true)
        let result = try body(&inner)
        try inner.expectEnd()
        offset = inner.offset + 1
        return result
    }

    /// The document byte at `index` of the string and how many string bytes hold it; width 0 at the raw quote that
    /// ends the document, at a control byte, at the buffer's end, or at an escape this reader leaves to unescaping.
    @inline(__always)
    func escapedByte(at index: Int) -> (byte: UInt8, width: Int) {
        guard index < count else { return (0, 0) }
        let byte = buffer[index]
        if byte == UInt8(ascii: "\"") || byte < 0x20 { return (0, 0) }
        guard byte == UInt8(ascii: "\\") else { return (byte, 1) }
        guard index + 1 < count else { return (0, 0) }
        switch buffer[index + 1] {
        case UInt8(ascii: "\""): return (UInt8(ascii: "\""), 2)
        case UInt8(ascii: "\\"): return (UInt8(ascii: "\\"), 2)
        case UInt8(ascii: "/"): return (UInt8(ascii: "/"), 2)
        default: return (0, 0)
        }
    }

    /// Moves past spaces to the document's quote (`\"`), not consuming it; throws when something else is there.
    @inline(__always)
    mutating func atEscapedQuote() throws(JSONError) {
        skipWhitespace()
        guard offset + 1 < count, buffer[offset] == UInt8(ascii: "\\"), buffer[offset + 1] == UInt8(ascii: "\"") else {
            throw error(.unexpectedByte)
        }
    }

    /// Consumes the document's quote (`\"`) at the cursor, after spaces.
    @inline(__always)
    mutating func expectEscapedQuote() throws(JSONError) {
        try atEscapedQuote()
        offset += 2
    }

    /// The end of a document string that has no escape of its own (the `\"` closing it follows the plain run), or
    /// nil; the cursor stays put. The common case: IDs, keys, names.
    @inline(__always)
    func plainEscapedStringEnd(from start: Int) -> Int? {
        let end = endOfPlainRun(from: start)
        guard end + 1 < count, buffer[end] == UInt8(ascii: "\\"), buffer[end + 1] == UInt8(ascii: "\"") else {
            return nil
        }
        return end
    }

    mutating func skipEscapedStringBody() throws(JSONError) {
        try expectEscapedQuote()
        while true {
            offset = endOfPlainRun(from: offset)
            guard offset + 1 < count, buffer[offset] == UInt8(ascii: "\\") else { throw error(.unexpectedByte) }
            switch buffer[offset + 1] {
            case UInt8(ascii: "\""):
                offset += 2
                return
            case UInt8(ascii: "/"):
                offset += 2
            case UInt8(ascii: "\\"):
                // The document's own escape: the byte it escapes follows, escaped once more when it is a quote, a
                // backslash or a slash. Skipped unchecked, as the unescaping path's skip does.
                let (_, width) = escapedByte(at: offset + 2)
                guard width > 0 else { throw error(.invalidEscape) }
                offset += 2 + width
            default:
                throw error(.invalidEscape)
            }
        }
    }

    /// The document string at the cursor as the unescaping path would see it (quotes included), consumed: for the
    /// rare string with an escape of its own, read then by an ordinary scanner.
    mutating func escapedStringToken() throws(JSONError) -> [UInt8] {
        try expectEscapedQuote()
        var token: [UInt8] = []
        // Room for the rest of the document at once (a serialized failure is kilobytes), as `readStringBytes` does.
        token.reserveCapacity(min(count - offset, 1 << 20) + 1)
        token.append(UInt8(ascii: "\""))
        var index = offset
        while true {
            let runEnd = endOfPlainRun(from: index)
            token.append(contentsOf: buffer[index..<runEnd])
            index = runEnd
            let (byte, width) = escapedByte(at: index)
            guard width > 0 else {
                offset = index
                throw error(.unexpectedByte)
            }
            index += width
            token.append(byte)
            if byte == UInt8(ascii: "\"") {
                offset = index
                return token
            }
            if byte == UInt8(ascii: "\\") {
                let (escapedByte, escapedWidth) = escapedByte(at: index)
                guard escapedWidth > 0 else {
                    offset = index
                    throw error(.invalidEscape)
                }
                token.append(escapedByte)
                index += escapedWidth
            }
        }
    }

    mutating func readEscapedKey() throws(JSONError) -> JSONKey {
        try atEscapedQuote()
        if let end = plainEscapedStringEnd(from: offset + 2) {
            let raw = UnsafeBufferPointer(rebasing: buffer[(offset + 2)..<end])
            if !Self.isASCII(raw), String(validating: raw, as: UTF8.self) == nil { throw error(.invalidUTF8) }
            offset = end + 2
            return JSONKey(raw: raw, unescaped: nil)
        }
        let unescaped = try readEscapedStringBytes()
        guard unescaped.withUnsafeBufferPointer(Self.string) != nil else { throw error(.invalidUTF8) }
        return JSONKey(raw: UnsafeBufferPointer(start: nil, count: 0), unescaped: unescaped)
    }

    mutating func readEscapedString() throws(JSONError) -> String {
        guard let string = try withEscapedStringBytes(Self.string) else { throw error(.invalidUTF8) }
        return string
    }

    mutating func withEscapedStringBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) throws(JSONError) -> R {
        try atEscapedQuote()
        if let end = plainEscapedStringEnd(from: offset + 2) {
            let start = offset + 2
            offset = end + 2
            return body(UnsafeBufferPointer(rebasing: buffer[start..<end]))
        }
        return try readEscapedStringBytes().withUnsafeBufferPointer(body)
    }

    mutating func readEscapedStringBytes() throws(JSONError) -> [UInt8] {
        let token = try escapedStringToken()
        return try JSONScanner.scan(token) { (scanner) throws(JSONError) in try scanner.readStringBytes() }
    }
}
