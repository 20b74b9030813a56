/// Standard base64 (RFC 4648 §4, padded) decoding straight from a byte view into the result's storage.
///
/// Every replayed line carries its body as base64 (6 KB for a typical oslo.messaging body): Foundation's decoder
/// needs a `String` first (an allocation and a UTF-8 validation of the whole text) and a `Data` after. This reads the
/// line's bytes in place. It accepts what Foundation's `Data(base64Encoded:)` accepts with no options (the standard
/// alphabet, a length that is a multiple of four, at most two `=` at the end), except that `=` may only be padding
/// (Foundation also reads `QQ=A`); a test checks it against Foundation on every fixture body and on malformed inputs.
public enum Base64 {
    /// The decoded bytes, or nil if `text` is not padded standard base64.
    public static func decode(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        decoding.withUnsafeBufferPointer { decoding in decode(text, decoding) }
    }

    private static func decode(_ text: UnsafeBufferPointer<UInt8>, _ decoding: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let count = text.count
        guard count % 4 == 0 else { return nil }
        if count == 0 { return [] }
        var padding = 0
        if text[count - 1] == UInt8(ascii: "=") { padding += 1 }
        if text[count - 2] == UInt8(ascii: "=") { padding += 1 }
        let length = count / 4 * 3 - padding
        var valid = true
        let result = [UInt8](unsafeUninitializedCapacity: length) { output, initialized in
            var written = 0
            var index = 0
            // Whole quads, the last one only if it has no padding.
            let fullEnd = padding == 0 ? count : count - 4
            while index < fullEnd {
                let a = decoding[Int(text[index])], b = decoding[Int(text[index + 1])]
                let c = decoding[Int(text[index + 2])], d = decoding[Int(text[index + 3])]
                guard (a | b | c | d) & 0x80 == 0 else {
                    valid = false
                    break
                }
                let triple = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                output[written] = UInt8(truncatingIfNeeded: triple >> 16)
                output[written + 1] = UInt8(truncatingIfNeeded: triple >> 8)
                output[written + 2] = UInt8(truncatingIfNeeded: triple)
                written += 3
                index += 4
            }
            if valid, padding > 0 {
                let a = decoding[Int(text[index])], b = decoding[Int(text[index + 1])]
                let c = padding == 2 ? 0 : decoding[Int(text[index + 2])]
                if (a | b | c) & 0x80 != 0 {
                    valid = false
                } else {
                    let triple = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6
                    output[written] = UInt8(truncatingIfNeeded: triple >> 16)
                    written += 1
                    if padding == 1 {
                        output[written] = UInt8(truncatingIfNeeded: triple >> 8)
                        written += 1
                    }
                }
            }
            initialized = written
        }
        return valid ? result : nil
    }

    /// 0...63 for the alphabet, 0x80 for anything else (including `=`, which only the padding check accepts).
    private static let decoding: [UInt8] = {
        var table = [UInt8](repeating: 0x80, count: 256)
        for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(byte)] = UInt8(index)
        }
        return table
    }()
}
