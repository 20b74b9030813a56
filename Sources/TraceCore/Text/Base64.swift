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
        tables.withUnsafeBufferPointer { tables in decode(text, tables) }
    }

    /// Four characters become three bytes with four lookups, three ORs and one four-byte store: each table holds its
    /// character's six bits already shifted to where they land in the little-endian word of output bytes, and bit
    /// 24 for a character outside the alphabet, so one comparison checks all four.
    private static func decode(_ text: UnsafeBufferPointer<UInt8>, _ tables: UnsafeBufferPointer<UInt32>) -> [UInt8]? {
        let count = text.count
        guard count % 4 == 0 else { return nil }
        if count == 0 { return [] }
        var padding = 0
        if text[count - 1] == UInt8(ascii: "=") { padding += 1 }
        if text[count - 2] == UInt8(ascii: "=") { padding += 1 }
        let length = count / 4 * 3 - padding
        var valid = true
        // One spare byte: the four-byte store of the last whole quad writes one past its three.
        let result = [UInt8](unsafeUninitializedCapacity: length + 1) { output, initialized in
            let out = UnsafeMutableRawPointer(output.baseAddress!)
            var written = 0
            var index = 0
            // Whole quads, the last one only if it has no padding.
            let fullEnd = padding == 0 ? count : count - 4
            while index < fullEnd {
                let word = tables[Int(text[index])] | tables[256 + Int(text[index + 1])]
                    | tables[512 + Int(text[index + 2])] | tables[768 + Int(text[index + 3])]
                guard word < 0x0100_0000 else {
                    valid = false
                    break
                }
                out.storeBytes(of: word.littleEndian, toByteOffset: written, as: UInt32.self)
                written += 3
                index += 4
            }
            if valid, padding > 0 {
                let c = padding == 2 ? 0 : tables[512 + Int(text[index + 2])]
                let word = tables[Int(text[index])] | tables[256 + Int(text[index + 1])] | c
                if word >= 0x0100_0000 {
                    valid = false
                } else {
                    output[written] = UInt8(truncatingIfNeeded: word)
                    written += 1
                    if padding == 1 {
                        output[written] = UInt8(truncatingIfNeeded: word >> 8)
                        written += 1
                    }
                }
            }
            initialized = written
        }
        guard valid else { return nil }
        assert(result.count == length)
        return result
    }

    /// The four lookup tables, 256 entries each (see `decode`).
    private static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0x0100_0000, count: 1024)
        for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            let value = UInt32(index)
            let character = Int(byte)
            tables[character] = value << 2
            tables[256 + character] = value >> 4 | (value & 0xF) << 12
            tables[512 + character] = (value >> 2) << 8 | (value & 0x3) << 22
            tables[768 + character] = value << 16
        }
        return tables
    }()
}
