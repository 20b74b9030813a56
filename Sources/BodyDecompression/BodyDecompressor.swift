import CBrotli
import CBzip2
import CLZMA
import CZlib
import CZstd

/// Why a compressed body yields no bytes to decode; `reason` labels the skip counter (`compression_<reason>`).
public struct DecompressionError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        /// The output would exceed the limit (a decompression bomb, or a body larger than the limit allows).
        case tooLarge = "too_large"
        /// Not data of the codec, a failed integrity check, truncated, or bytes after the end of the stream.
        case corrupt
        /// The decoder itself could not run (out of memory): not the body's fault.
        case failed = "decoder_failed"
    }

    public var reason: Reason
    public var detail: String

    public init(_ reason: Reason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}

/// Decompresses message bodies with Debian's C libraries, with a hard limit on the output.
///
/// Every codec runs through the libraries' streaming interfaces into a buffer that grows (doubling) up to
/// `limit + 1` bytes and no further: a decompression bomb costs at most `limit` bytes of output and is reported as
/// `tooLarge`, never an out-of-memory. The decoders' own memory is bounded too (zlib 32 KiB window, bzip2 about
/// 4 MiB, zstd's window capped from the limit, brotli 16 MiB window, liblzma under `lzmaMemoryLimit`). zlib, zstd and
/// xz decoders are kept between bodies (`DecoderPool`, at most 4 each) and reset before each; bzip2 has no reset and
/// brotli none that keeps memory, so theirs are created per body (`Benchmarks/decompression.sh` measures each).
///
/// Strictness: one compressed stream (frame) per body, as kombu writes; bytes after its end are `corrupt`.
public enum BodyDecompressor {
    /// 16 MiB: over 1000× the largest oslo.messaging body in the shipped captures (14 KB), and a bound on what one
    /// message can make the agent allocate.
    public static let defaultLimit = 16 * 1024 * 1024
    /// The largest limit accepted (larger values are clamped): the zlib and bzip2 interfaces count in 32 bits.
    public static let maximumLimit = 1 << 30
    /// liblzma's memory limit for one decoder: `xz -9` needs 65 MiB, Python's default (preset 6) 9 MiB.
    public static let lzmaMemoryLimit: UInt64 = 80 * 1024 * 1024

    /// The decompressed body. `limit` bounds the output in bytes (clamped to 0...`maximumLimit`).
    public static func decompress(
        _ body: [UInt8], _ codec: BodyCompression, limit: Int = defaultLimit
    ) throws(DecompressionError) -> [UInt8] {
        let limit = min(max(limit, 0), maximumLimit)
        guard !body.isEmpty else {
            throw DecompressionError(.corrupt, "the body is empty; \(codec.contentType) data is never empty")
        }
        switch codec {
        case .zlib: return try inflate(body, limit: limit)
        case .bzip2: return try bunzip2(body, limit: limit)
        case .lzma: return try unxz(body, limit: limit)
        case .zstd: return try unzstd(body, limit: limit)
        case .brotli: return try unbrotli(body, limit: limit)
        }
    }

    // MARK: - The streaming loop shared by every codec

    /// What one call of a library's decode function did.
    struct Step {
        enum Outcome {
            case progress
            case end
            case corrupt(String)
            case tooLarge(String)
            case failed(String)
        }

        var consumed: Int
        var produced: Int
        var outcome: Outcome
    }

    /// Calls `step` with the unread input and the free output until the stream ends, growing the output up to
    /// `limit + 1` bytes. `step` never sees an empty output buffer.
    static func drive(
        _ input: [UInt8], _ codec: BodyCompression, limit: Int,
        _ step: (UnsafeBufferPointer<UInt8>, UnsafeMutableBufferPointer<UInt8>) -> Step
    ) throws(DecompressionError) -> [UInt8] {
        // JSON compresses 5 to 20×: most bodies fit the first buffer.
        let (estimate, overflow) = input.count.multipliedReportingOverflow(by: 8)
        var output = [UInt8](repeating: 0, count: min(limit + 1, max(16 * 1024, overflow ? limit + 1 : estimate)))
        var consumed = 0
        var produced = 0
        while true {
            let result = input.withUnsafeBufferPointer { source in
                output.withUnsafeMutableBufferPointer { destination in
                    step(UnsafeBufferPointer(rebasing: source[consumed...]),
                         UnsafeMutableBufferPointer(rebasing: destination[produced...]))
                }
            }
            consumed += result.consumed
            produced += result.produced
            switch result.outcome {
            case .corrupt(let detail):
                throw DecompressionError(.corrupt, "\(codec.contentType) body is corrupt: \(detail)")
            case .tooLarge(let detail):
                throw DecompressionError(.tooLarge, "\(codec.contentType) body: \(detail)")
            case .failed(let detail):
                throw DecompressionError(.failed, "\(codec.contentType) decoder failed: \(detail)")
            case .end:
                guard produced <= limit else { throw tooLarge(codec, input, limit: limit) }
                guard consumed == input.count else {
                    throw DecompressionError(
                        .corrupt, "\(codec.contentType) body is corrupt: \(input.count - consumed) bytes follow the "
                            + "end of the compressed stream")
                }
                output.removeLast(output.count - produced)
                return output
            case .progress:
                if produced == output.count {
                    guard output.count <= limit else { throw tooLarge(codec, input, limit: limit) }
                    let grown = min(limit + 1, output.count * 2)
                    output.append(contentsOf: repeatElement(0, count: grown - output.count))
                } else if consumed == input.count || (result.consumed == 0 && result.produced == 0) {
                    throw DecompressionError(
                        .corrupt, "\(codec.contentType) body is truncated: the compressed stream ends early, after "
                            + "\(consumed) of \(input.count) bytes read and \(produced) bytes of output")
                }
            }
        }
    }

    private static func tooLarge(_ codec: BodyCompression, _ input: [UInt8], limit: Int) -> DecompressionError {
        DecompressionError(
            .tooLarge, "\(codec.contentType) body of \(input.count) bytes decompresses to more than the limit of "
                + "\(limit) bytes (a decompression bomb, or raise the limit)")
    }

    // MARK: - Codecs

    /// Inflate states kept between bodies (`DecoderPool`): `inflateReset` instead of a new state and window per body.
    static let zlibPool = DecoderPool<UnsafeMutablePointer<z_stream>> { stream in
        inflateEnd(stream)
        stream.deallocate()
    }

    /// zlib or gzip format (zlib detects which from the header).
    static func inflate(_ body: [UInt8], limit: Int) throws(DecompressionError) -> [UInt8] {
        let stream: UnsafeMutablePointer<z_stream>
        if let idle = zlibPool.take(reset: { inflateReset($0) == Z_OK }) {
            stream = idle
        } else {
            stream = .allocate(capacity: 1)
            stream.initialize(to: z_stream())
            let status = tb_inflate_init_zlib_or_gzip(stream)
            guard status == Z_OK else {
                stream.deallocate()
                throw DecompressionError(.failed, "zlib inflateInit2 failed with status \(status)")
            }
        }
        defer { zlibPool.put(stream) }
        return try drive(body, .zlib, limit: limit) { input, output in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.pointee.avail_in = uInt(input.count)
            stream.pointee.next_out = output.baseAddress
            stream.pointee.avail_out = uInt(output.count)
            let status = CZlib.inflate(stream, Z_NO_FLUSH)
            let outcome: Step.Outcome
            switch status {
            case Z_STREAM_END: outcome = .end
            case Z_OK, Z_BUF_ERROR: outcome = .progress
            case Z_NEED_DICT: outcome = .corrupt("the stream needs a preset dictionary")
            case Z_MEM_ERROR: outcome = .failed("zlib is out of memory")
            default: outcome = .corrupt(stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)")
            }
            return Step(consumed: input.count - Int(stream.pointee.avail_in),
                        produced: output.count - Int(stream.pointee.avail_out), outcome: outcome)
        }
    }

    static func bunzip2(_ body: [UInt8], limit: Int) throws(DecompressionError) -> [UInt8] {
        var stream = bz_stream()
        let status = BZ2_bzDecompressInit(&stream, 0, 0)
        guard status == BZ_OK else {
            throw DecompressionError(.failed, "BZ2_bzDecompressInit failed with status \(status)")
        }
        defer { BZ2_bzDecompressEnd(&stream) }
        return try drive(body, .bzip2, limit: limit) { input, output in
            stream.next_in = UnsafeMutableRawPointer(mutating: input.baseAddress)?.assumingMemoryBound(to: CChar.self)
            stream.avail_in = UInt32(input.count)
            stream.next_out = UnsafeMutableRawPointer(output.baseAddress)?.assumingMemoryBound(to: CChar.self)
            stream.avail_out = UInt32(output.count)
            let status = BZ2_bzDecompress(&stream)
            let outcome: Step.Outcome
            switch status {
            case BZ_STREAM_END: outcome = .end
            case BZ_OK: outcome = .progress
            case BZ_DATA_ERROR_MAGIC: outcome = .corrupt("not bzip2 data (no BZh signature)")
            case BZ_DATA_ERROR: outcome = .corrupt("the data fails bzip2's integrity check")
            case BZ_MEM_ERROR: outcome = .failed("libbz2 is out of memory")
            default: outcome = .corrupt("libbz2 status \(status)")
            }
            return Step(consumed: input.count - Int(stream.avail_in), produced: output.count - Int(stream.avail_out),
                        outcome: outcome)
        }
    }

    /// xz decoders kept between bodies (`DecoderPool`): liblzma re-initializes a used stream in place and keeps its
    /// dictionary when the next body asks for the same size (kombu's preset 6: 8 MiB, allocated per body otherwise).
    static let lzmaPool = DecoderPool<UnsafeMutablePointer<lzma_stream>> { stream in
        lzma_end(stream)
        stream.deallocate()
    }

    /// xz or legacy .lzma (liblzma's auto decoder), as Python's `lzma.decompress` accepts both.
    static func unxz(_ body: [UInt8], limit: Int) throws(DecompressionError) -> [UInt8] {
        let stream = lzmaPool.take() ?? {
            let stream = UnsafeMutablePointer<lzma_stream>.allocate(capacity: 1)
            stream.initialize(to: lzma_stream())
            return stream
        }()
        // Re-initializing a used stream is allowed and reuses its memory; a failure leaves nothing allocated.
        let status = lzma_auto_decoder(stream, lzmaMemoryLimit, 0)
        defer { lzmaPool.put(stream) }
        guard status == LZMA_OK else {
            throw DecompressionError(.failed, "lzma_auto_decoder failed with status \(status.rawValue)")
        }
        return try drive(body, .lzma, limit: limit) { input, output in
            stream.pointee.next_in = input.baseAddress
            stream.pointee.avail_in = input.count
            stream.pointee.next_out = output.baseAddress
            stream.pointee.avail_out = output.count
            let status = lzma_code(stream, LZMA_FINISH)
            let outcome: Step.Outcome
            switch status {
            case LZMA_STREAM_END: outcome = .end
            case LZMA_OK, LZMA_BUF_ERROR: outcome = .progress
            case LZMA_FORMAT_ERROR: outcome = .corrupt("not xz or lzma data")
            case LZMA_OPTIONS_ERROR: outcome = .corrupt("unsupported xz options")
            case LZMA_DATA_ERROR: outcome = .corrupt("the data fails xz's integrity check")
            case LZMA_MEMLIMIT_ERROR:
                outcome = .tooLarge("the stream needs \(lzma_memusage(stream)) bytes of decoder memory, over the "
                    + "limit of \(lzmaMemoryLimit)")
            case LZMA_MEM_ERROR: outcome = .failed("liblzma is out of memory")
            default: outcome = .corrupt("liblzma status \(status.rawValue)")
            }
            return Step(consumed: input.count - stream.pointee.avail_in,
                        produced: output.count - stream.pointee.avail_out, outcome: outcome)
        }
    }

    /// zstd contexts kept between bodies (`DecoderPool`): a `DCtx` is ~110 KB of state, created per body otherwise.
    static let zstdPool = DecoderPool<OpaquePointer> { ZSTD_freeDCtx($0) }

    static func unzstd(_ body: [UInt8], limit: Int) throws(DecompressionError) -> [UInt8] {
        let context: OpaquePointer
        // Back to a clean state: no frame half read, the window limit set below for this call's limit.
        if let idle = zstdPool.take(reset: { ZSTD_isError(ZSTD_DCtx_reset($0, ZSTD_reset_session_and_parameters)) == 0 }) {
            context = idle
        } else {
            guard let created = ZSTD_createDCtx() else {
                throw DecompressionError(.failed, "ZSTD_createDCtx failed (out of memory)")
            }
            context = created
        }
        defer { zstdPool.put(context) }
        // The window a frame may ask for: enough for any body within the limit (at least zstd's minimum, 1 KiB),
        // at most zstd's own default maximum (128 MiB).
        var windowLog: Int32 = 10
        while windowLog < 27 && (1 << windowLog) < limit { windowLog += 1 }
        ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, windowLog)
        return try drive(body, .zstd, limit: limit) { input, output in
            var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            var destination = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let result = ZSTD_decompressStream(context, &destination, &source)
            let outcome: Step.Outcome
            if ZSTD_isError(result) != 0 {
                if ZSTD_getErrorCode(result) == ZSTD_error_frameParameter_windowTooLarge {
                    outcome = .tooLarge("the frame needs a window over \(1 << windowLog) bytes")
                } else {
                    outcome = .corrupt(String(cString: ZSTD_getErrorName(result)))
                }
            } else {
                outcome = result == 0 ? .end : .progress
            }
            return Step(consumed: source.pos, produced: destination.pos, outcome: outcome)
        }
    }

    static func unbrotli(_ body: [UInt8], limit: Int) throws(DecompressionError) -> [UInt8] {
        guard let state = BrotliDecoderCreateInstance(nil, nil, nil) else {
            throw DecompressionError(.failed, "BrotliDecoderCreateInstance failed (out of memory)")
        }
        defer { BrotliDecoderDestroyInstance(state) }
        return try drive(body, .brotli, limit: limit) { input, output in
            var availableIn = input.count
            var nextIn = input.baseAddress
            var availableOut = output.count
            var nextOut = output.baseAddress
            let result = BrotliDecoderDecompressStream(state, &availableIn, &nextIn, &availableOut, &nextOut, nil)
            let outcome: Step.Outcome
            switch result {
            case BROTLI_DECODER_RESULT_SUCCESS: outcome = .end
            case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT, BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT: outcome = .progress
            default:
                let code = BrotliDecoderGetErrorCode(state)
                if code == BROTLI_DECODER_ERROR_ALLOC_RING_BUFFER_1 || code == BROTLI_DECODER_ERROR_ALLOC_RING_BUFFER_2
                    || code == BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES || code == BROTLI_DECODER_ERROR_ALLOC_TREE_GROUPS
                    || code == BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MAP || code == BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES {
                    outcome = .failed("libbrotlidec is out of memory")
                } else {
                    outcome = .corrupt(String(cString: BrotliDecoderErrorString(code)))
                }
            }
            return Step(consumed: input.count - availableIn, produced: output.count - availableOut, outcome: outcome)
        }
    }
}
