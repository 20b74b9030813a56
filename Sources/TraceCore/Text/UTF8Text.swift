/// Bytes to `String` on the hot path.
public enum UTF8Text {
    /// The bytes as a `String` if they are valid UTF-8. ASCII (nearly every value on the bus) skips the validation:
    /// the standard library's generic `String(validating:as:)` costs a runtime metadata lookup on every call, which
    /// showed up at 3 % of the decoding profile.
    @inline(__always)
    public static func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        isASCII(bytes) ? String(decoding: bytes, as: UTF8.self) : String(validating: bytes, as: UTF8.self)
    }

    @inline(__always)
    public static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var combined: UInt8 = 0
        for byte in bytes { combined |= byte }
        return combined < 0x80
    }
}
