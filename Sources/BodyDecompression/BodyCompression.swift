/// A compression codec a message body can carry, named by the `compression` message header.
///
/// kombu (oslo.messaging's `kombu_compression`) compresses the body and sets `compression` to the codec's content
/// type (kombu/compression.py: `register(..., content_type, aliases)`); its consumers look the value up as a content
/// type or an alias, exactly as written, so this does the same: what kombu's own consumers decode, we decode.
public enum BodyCompression: String, CaseIterable, Sendable {
    /// Python's `zlib.compress`: zlib format (RFC 1950) despite the content type. A gzip file (RFC 1952) under the
    /// same name decodes as well.
    case zlib = "application/x-gzip"
    case bzip2 = "application/x-bz2"
    /// Python's `lzma.compress`: the xz container by default; the legacy `.lzma` format decodes as well.
    case lzma = "application/x-lzma"
    case zstd = "application/zstd"
    case brotli = "application/x-brotli"

    /// The content type kombu writes in the `compression` header.
    public var contentType: String { rawValue }

    /// kombu's aliases for the codec (what `kombu_compression` and `Producer.publish(compression=)` accept).
    public var aliases: [String] {
        switch self {
        case .zlib: ["gzip", "zlib"]
        case .bzip2: ["bzip2", "bzip"]
        case .lzma: ["lzma", "xz"]
        case .zstd: ["zstd", "zstandard"]
        case .brotli: ["brotli"]
        }
    }

    /// The codec a `compression` header value names (content type or alias, as kombu's `get_decoder` resolves it),
    /// or nil for a value kombu would not know either.
    public init?(header value: String) {
        if let codec = BodyCompression(rawValue: value) {
            self = codec
            return
        }
        guard let codec = Self.allCases.first(where: { $0.aliases.contains(value) }) else { return nil }
        self = codec
    }
}
