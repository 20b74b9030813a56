import BodyDecompression

/// Bodies that kombu compressed (oslo.messaging's `kombu_compression`): the `compression` header of the original
/// message (firehose: inside the `properties` table; tap: the message's own headers, both in `properties.headers`)
/// names the codec, and the body is decompressed before it is decoded.
///
/// Only the decoder sees the decompressed bytes: the event keeps the wire body, so `messaging.message.body.size`
/// stays the size on the wire and the content-derived span IDs stay those every agent derives from the same bytes.
extension BusEvent {
    /// The `compression` header's value when it asks for decompression: kombu's consumers decompress when the
    /// header is present and non-empty, so an empty string (or a void) means plain.
    public var compressionHeader: AMQPValue? {
        guard let value = properties.headers?["compression"] else { return nil }
        switch value {
        case .void: return nil
        case .string(let text) where text.isEmpty: return nil
        case .bytes(let bytes, _) where bytes.isEmpty: return nil
        default: return value
        }
    }

    /// The body the oslo.messaging decoder should read: the wire body, or its decompression (at most `limit` bytes).
    /// Errors: `unknown_codec` (the header names no codec kombu registers), `too_large` (the output passed `limit`:
    /// a decompression bomb), `corrupt` (not the codec's data, truncated, failed check), `decoder_failed`.
    public func decodableBody(limit: Int = BodyDecompressor.defaultLimit) throws(BusEventError) -> [UInt8] {
        guard let header = compressionHeader else { return body }
        let name: String
        switch header {
        case .string(let text): name = text
        case .bytes(let bytes, _): name = String(decoding: bytes, as: UTF8.self)
        default:
            throw BusEventError(reason: .compressionUnknownCodec, detail: "the compression header is not a string: \(header)")
        }
        guard let codec = BodyCompression(header: name) else {
            let known = BodyCompression.allCases.map(\.contentType).joined(separator: ", ")
            throw BusEventError(
                reason: .compressionUnknownCodec,
                detail: "compression \"\(name.prefix(100))\" is not a codec kombu registers (known: \(known))")
        }
        do {
            return try BodyDecompressor.decompress(body, codec, limit: limit)
        } catch {
            throw BusEventError(reason: .compression(error.reason), detail: error.detail)
        }
    }
}

extension BusEvent {
    /// `BodyDecompressor.defaultLimit` (16 MiB), so that callers of the pipeline need not import the codec target.
    public static let defaultDecompressionLimit = BodyDecompressor.defaultLimit
    /// `BodyDecompressor.maximumLimit` (1 GiB): the zlib and bzip2 interfaces count in 32 bits.
    public static let maximumDecompressionLimit = BodyDecompressor.maximumLimit
}
